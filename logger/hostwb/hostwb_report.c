/*
 * Host writeback's figures in the outputs (docs/hostwb.md defines each):
 * one commit's in every epoch row, the run's in the summary.
 */
#include <inttypes.h>

#include "logger/hostwb/hostwb.h"

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static const struct hostwb *of(const struct report_ext *x)
{
	return report_container(x, struct hostwb, report);
}

/* One commit's figures or the run's. */
static void json_stats(FILE *f, const struct hostwb_stats *h, bool verified)
{
	fprintf(f,
		",\"host-wb-commits\":%" PRIu64 ",\"host-wb-pages\":%" PRIu64
		",\"host-wb-staged-blocks\":%" PRIu64 ",\"host-wb-blocks\":%" PRIu64
		",\"host-wb-extents\":%" PRIu64 ",\"host-wb-unbacked\":%" PRIu64
		",\"host-wb-deferred\":%" PRIu64 ",\"host-wb-gather-us\":%.1f"
		",\"host-wb-commit-us\":%.1f",
		h->commits, h->pages, h->staged_blocks, h->blocks, h->extents, h->unbacked,
		h->deferred, us(h->gather_ns), us(h->commit_ns));
	if (verified)
		fprintf(f, ",\"host-wb-mismatches\":%" PRIu64, h->mismatches);
	else
		fprintf(f, ",\"host-wb-mismatches\":null");
}

static void json_epoch(const struct report_ext *x, FILE *f, bool verified)
{
	json_stats(f, &of(x)->last, verified);
}

static void json_summary(const struct report_ext *x, FILE *f, bool verified)
{
	const struct hostwb *hw = of(x);

	fprintf(f, ",\"host-wb-interval\":%" PRIu32, hw->cfg.interval);
	json_stats(f, &hw->stats, verified);
	fprintf(f,
		",\"host-wb-listed\":%" PRIu64 ",\"host-wb-guest-flushes\":%" PRIu64
		",\"host-cleaned-pages\":%" PRIu64,
		hw->stats.listed, hw->stats.flushes, hw->stats.host_cleaned);
}

static void table_after_summary(const struct report_ext *x, FILE *f, bool verified)
{
	const struct hostwb_stats *h = &of(x)->stats;

	fprintf(f,
		"host writeback: %" PRIu64 " commits, %" PRIu64 " pages from guest RAM and %" PRIu64
		" blocks the guest wrote, in %" PRIu64 " extents; guest cleaned %" PRIu64 "",
		h->commits, h->pages, h->staged_blocks, h->extents, h->host_cleaned);
	if (verified)
		fprintf(f, "; image behind RAM after a commit: %" PRIu64 " pages\n", h->mismatches);
	else
		fputc('\n', f);
}

void hostwb_report_init(struct hostwb *hw)
{
	hw->report = (struct report_ext){.json_epoch = json_epoch,
					 .json_summary = json_summary,
					 .table_after_summary = table_after_summary};
}
