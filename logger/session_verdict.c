/*
 * How a run ended (logger/session_int.h): the image check of a file
 * workload and the verdicts of the summary, so that every check that can
 * fail a run is named in its outputs.
 */
#include <errno.h>

#include "logger/session_int.h"
#include "logger/verify/fileverify.h"
#include "util/log.h"

/* The image check (cfg->verify_image): the verdict into the summary.
 * Returns 0 with a verdict, or -errno when the host could not read the
 * image (printed), which gives none. */
int session_check_image(struct session *s)
{
	long v = fileverify_image(s->cfg->image_path, &s->cfg->wl, stderr);
	enum ds_fail f = fileverify_fail(v);
	if (f != DS_FAIL_NONE && f != DS_FAIL_CHECK) {
		s->sum.image_check = RUN_IMAGE_ERROR;
		return v < 0 ? (int)v : -EIO;
	}
	s->sum.image_check = f ? RUN_IMAGE_FAILED : RUN_IMAGE_PASSED;
	s->sum.image_pages_differ = v > 0 ? (uint64_t)v : 0;
	return 0;
}

/* The summary's verdicts (logger/epoch.h): how the run ended, which check
 * failed it, and the first error printed on the way. */
void session_summarize(struct session *s)
{
	struct run_summary *r = &s->sum;
	r->log_overflowed = s->dlog.overflowed;
	r->fail = s->fail;
	r->failed_check = NULL;
	if (r->fail == DS_FAIL_CHECK) {
		/* In the order they are found: the harvests, the journal's
		 * commits, the guest's own check at its end, the image last. */
		if (r->lost_pages)
			r->failed_check = "lost-pages";
		else if (r->log_overflowed)
			r->failed_check = "dirty-log-overflow";
		else if (s->hostwb && s->hw.stats.mismatches)
			r->failed_check = "host-writeback-check";
		else if (r->guest_check_failed)
			r->failed_check = "guest-check";
		else if (r->image_check == RUN_IMAGE_FAILED)
			r->failed_check = "image-check";
		else if (r->migration_unverified)
			r->failed_check = "migration-check";
	}
	r->error = r->fail ? log_first_err() : NULL;
}
