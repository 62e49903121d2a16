/*
 * Epochs by the host's clock (run --epoch-ms) and the progress line
 * (logger/session_int.h).  The ticker thread only kicks; all of this runs
 * on the vCPU thread with the guest stopped, in the kicked handler or a
 * hypercall's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "abi/hcall.h"
#include "logger/session_int.h"
#include "util/log.h"
#include "util/time.h"

#define PROGRESS_NS 1000000000ull /* the progress line: every second */

/* The guest's published store count (include/abi/hcall.h), read while it
 * may run: a count that goes back is a broken guest. */
static int guest_stores(struct session *s, uint64_t *out)
{
	const struct abi_progress *p =
	    (const void *)(s->vm.mem.host +
			   mem_gpa_to_index(&s->vm.mem, ABI_PROGRESS_GPA) * ABI_PAGE_SIZE);
	uint64_t n = __atomic_load_n(&p->stores, __ATOMIC_RELAXED);
	if (n < s->stores) {
		log_err("guest failed: its store count went back from %" PRIu64 " to %" PRIu64,
			s->stores, n);
		return -EFAULT;
	}
	*out = n;
	return 0;
}

void session_progress_clear(struct session *s)
{
	if (!s->progress_shown)
		return;
	fputs("\r\033[K", stderr);
	s->progress_shown = false;
}

/* Whether the open epoch is past the run's last one: the tail of a run
 * delimited by time, from its last epoch's end to the guest's DONE. */
bool session_in_tail(const struct session *s)
{
	return s->cfg->epoch_ms && s->epoch > s->cfg->wl.epochs;
}

/*
 * SYNC in a run delimited by time: the end of one of the guest's rounds,
 * not of an epoch.  Its claims are checked all the same; the reply says
 * whether to go on (an epoch is still open) or stop (the last one ended).
 */
int session_time_sync(struct session *s, const struct hcall *hc)
{
	const struct boot_workload *wl = &s->cfg->wl;
	if (s->epoch == 0 || hc->args[0] != s->rounds + 1)
		return session_guest_protocol("sync for round", hc->args[0], s->rounds + 1);
	if (hc->args[1] > wl->wss_pages || hc->args[1] > wl->writes_per_epoch)
		return session_guest_protocol("workload pages", hc->args[1], wl->wss_pages);
	int ret = session_cpu_pages(s, hc);
	if (ret)
		return ret;
	s->rounds++;
	__atomic_store_n(&s->vm.hc_reply,
			 session_in_tail(s) ? ABI_HC_REPLY_STOP : ABI_HC_REPLY_CONTINUE,
			 __ATOMIC_RELEASE);
	return 0;
}

/*
 * The progress line (TICK_PROGRESS, vCPU stopped), once an epoch has run
 * for a second: the epoch, its time so far, the guest's stores, and the
 * dirty rate so far, from a harvest into the open epoch (the pages stay in
 * it; the epoch's end harvests the rest).  On stderr, rewritten in place.
 */
static int progress_show(struct session *s)
{
	uint64_t now_ns = time_now_ns(), elapsed = now_ns - s->epoch_start_ns, stores;
	if (s->epoch == 0 || session_in_tail(s) || elapsed < PROGRESS_NS)
		return 0;
	int ret = session_timed_harvest(s);
	if (ret)
		return ret;
	ret = s->file_world ? 0 : guest_stores(s, &stores);
	if (ret)
		return ret;
	char what[64] = "";
	if (!s->file_world)
		snprintf(what, sizeof(what), ", %" PRIu64 " stores", stores - s->stores);
	fprintf(stderr, "\r\033[Kepoch %" PRIu64 ": %.1f s%s, %" PRIu64 " pages dirty, %.1f MiB/s",
		s->epoch, (double)elapsed / 1e9, what, s->dirty.count,
		epoch_dirty_rate(s->dirty.count, elapsed));
	s->progress_shown = true;
	return 0;
}

int session_clock_start(struct session *s)
{
	/* A migration kicks the vCPU for its own ends: no progress line
	 * beside it. */
	bool progress = s->cfg->progress && !s->mo && !s->cfg->incoming;
	if (!s->cfg->epoch_ms && !progress)
		return 0;
	return ticker_start(&s->tick, &s->vm, (uint64_t)s->cfg->epoch_ms * 1000000,
			    progress ? PROGRESS_NS : 0);
}

int session_clock_kicked(struct session *s)
{
	unsigned int due = ticker_take(&s->tick);
	if ((due & TICK_EPOCH) && s->cfg->epoch_ms && s->epoch >= 1 && !session_in_tail(s)) {
		uint64_t now;
		int ret = guest_stores(s, &now);
		if (ret)
			return ret;
		ret = session_close_epoch(s, now - s->stores);
		s->stores = now;
		if (ret)
			return ret;
		if (session_in_tail(s)) {
			ticker_stop(&s->tick); /* the last epoch is over */
			__atomic_store_n(&s->vm.hc_reply, ABI_HC_REPLY_STOP, __ATOMIC_RELEASE);
		}
		return 0;
	}
	if (due & TICK_PROGRESS)
		return progress_show(s);
	return 0;
}
