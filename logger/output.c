/*
 * Outputs.  Field names are kebab-case and follow QEMU's migration statistics
 * where QEMU has a name (dirty-rate, ...), with units in the name otherwise.
 */
#include <inttypes.h>

#include "logger/output.h"
#include "util/json.h"
#include "util/io.h"

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

/* The whole run's dirty rate, as a dirty-rate calculation reports it: the
 * epochs' dirty pages over their running time, in MiB/s. */
static double run_dirty_rate(const struct run_summary *r)
{
	return epoch_dirty_rate(r->dirty_pages, r->epoch_ns);
}

static void table_epoch(struct sink *s, const struct epoch_rec *e)
{
	char lost[24] = "-", exits[24] = "-";

	char extra[24] = "-";

	/* The header above the first row this sink prints, which is not
	 * epoch 1 for a guest that came in by migration.  An epoch the host's
	 * clock ended counts the workload's stores, not its pages, and pages
	 * minus stores means nothing. */
	if (!s->rows++)
		fprintf(s->f, "%6s %8s %8s %6s %6s %10s %10s %8s %9s\n", "epoch", "dirty",
			e->time_based ? "stores" : "workload", "extra", "lost", "MiB/s",
			"harvest-us", "exits", "ring-full");
	/* Nor for an epoch split by a migration: its pages are this side's. */
	if (!e->time_based && !e->partial)
		snprintf(extra, sizeof(extra), "%" PRId64,
			 (int64_t)e->dirty_pages - (int64_t)e->workload_pages);
	if (e->verified)
		snprintf(lost, sizeof(lost), "%" PRIu64, e->lost_pages);
	/* exits are absent on kernels without binary stats */
	if (e->stats[VSTAT_EXITS] != UINT64_MAX)
		snprintf(exits, sizeof(exits), "%" PRIu64, e->stats[VSTAT_EXITS]);
	fprintf(s->f,
		"%6" PRIu64 " %8" PRIu64 " %8" PRIu64 " %6s %6s %10.1f %10.1f %8s %9" PRIu64 "\n",
		e->epoch, e->dirty_pages, e->workload_pages, extra, lost, e->dirty_rate_mibs,
		us(e->harvest_ns), exits, e->ring_full_exits);
	io_flush(s->f);
}

/* With several vCPUs, one row each over the whole run. */
static void table_vcpus(FILE *f, const struct run_summary *r)
{
	const struct vcpu_figs *v = &r->vcpu;
	const char *src = vcpu_source_name(v->source);
	fprintf(f, "%6s %8s %10s %8s %9s   (dirty: %s)\n", "vcpu", "dirty", "MiB/s", "exits",
		"ring-full",
		v->source == VCPU_SOURCE_RING	 ? "each vCPU's dirty ring"
		: v->source == VCPU_SOURCE_GUEST ? "the guest's count per CPU"
						 : "not per vCPU with this log");
	for (uint32_t i = 0; i < v->nr; i++) {
		char dirty[24] = "-", rate[24] = "-", exits[24] = "-";
		if (src) {
			snprintf(dirty, sizeof(dirty), "%" PRIu64, v->dirty_pages[i]);
			snprintf(rate, sizeof(rate), "%.1f",
				 epoch_dirty_rate(v->dirty_pages[i], r->epoch_ns));
		}
		if (v->exits[i] != UINT64_MAX)
			snprintf(exits, sizeof(exits), "%" PRIu64, v->exits[i]);
		fprintf(f, "%6u %8s %10s %8s %9" PRIu64 "\n", i, dirty, rate, exits,
			v->ring_full_exits[i]);
	}
}

static void table_summary(struct sink *s, const struct run_summary *r)
{
	/* A run that failed on the way has said why on stderr; a totals line
	 * would read as a finished run. */
	if (!r->completed)
		return;
	for (int i = 0; i < r->nr_ext; i++)
		if (r->ext[i]->table_before_summary)
			r->ext[i]->table_before_summary(r->ext[i], s->f);
	/* File workloads report stores (or appends), not distinct pages, and
	 * run under a policy worth naming beside the log mode. */
	char per[48] = "";
	if (r->epoch_ms)
		snprintf(per, sizeof(per), " of %u ms", r->epoch_ms);
	fprintf(s->f,
		"%s/%s%s%s: %" PRIu64 " epoch%s%s, %" PRIu64 " dirty pages (%" PRIu64 " %s), ",
		r->mode, r->workload, r->policy ? "/" : "", r->policy ? r->policy : "", r->epochs,
		r->epochs == 1 ? "" : "s", per, r->dirty_pages, r->workload_pages,
		r->policy || r->epoch_ms ? "stores by the workload" : "written by the workload");
	if (r->verified)
		fprintf(s->f, "%" PRIu64 " lost pages\n", r->lost_pages);
	else
		fprintf(s->f, "not verified (use --verify)\n");
	if (r->partial_epoch && r->first_epoch)
		fprintf(s->f,
			"epoch %" PRIu64 " began at the source: its row counts the pages dirtied "
			"here, its workload count the whole epoch\n",
			r->partial_epoch);
	else if (r->partial_epoch)
		fprintf(s->f,
			"epoch %" PRIu64 " was open at the switch-over: it ends at the "
			"destination, which reports it\n",
			r->partial_epoch);
	if (r->vcpu.nr > 1)
		table_vcpus(s->f, r);
	for (int i = 0; i < r->nr_ext; i++)
		if (r->ext[i]->table_after_summary)
			r->ext[i]->table_after_summary(r->ext[i], s->f, r->verified);
	io_flush(s->f);
}

void output_table_sink(struct sink *s, FILE *f)
{
	s->epoch = table_epoch;
	s->summary = table_summary;
	s->f = f;
	s->rows = 0;
}

static void json_stats(FILE *f, const uint64_t *stats)
{
	for (int k = 0; k < VSTAT_NR; k++)
		if (stats[k] != UINT64_MAX)
			fprintf(f, ",\"%s\":%" PRIu64, vstat_json_names[k], stats[k]);
}

/* Per-vCPU arrays (epoch.h, struct vcpu_figs), as QEMU's vcpu-dirty-rate
 * gives one rate per vCPU: dirty pages and rate are null where the log
 * cannot tell vCPUs apart and the guest's count does not apply. */
static void json_vcpus(FILE *f, const struct vcpu_figs *v, uint64_t ns)
{
	const char *src = vcpu_source_name(v->source);
	fprintf(f, ",\"vcpus\":%u,\"vcpu-dirty-source\":", v->nr);
	json_string_or_null(f, src);
	fprintf(f, ",\"vcpu-dirty-pages\":");
	if (!src) {
		fprintf(f, "null,\"vcpu-dirty-rate-mibs\":null");
	} else {
		for (uint32_t i = 0; i < v->nr; i++)
			fprintf(f, "%c%" PRIu64, i ? ',' : '[', v->dirty_pages[i]);
		fprintf(f, "],\"vcpu-dirty-rate-mibs\":");
		for (uint32_t i = 0; i < v->nr; i++)
			fprintf(f, "%c%.3f", i ? ',' : '[',
				epoch_dirty_rate(v->dirty_pages[i], ns));
		fprintf(f, "]");
	}
	fprintf(f, ",\"vcpu-exits\":");
	for (uint32_t i = 0; i < v->nr; i++) {
		fprintf(f, "%c", i ? ',' : '[');
		if (v->exits[i] == UINT64_MAX)
			fprintf(f, "null");
		else
			fprintf(f, "%" PRIu64, v->exits[i]);
	}
	fprintf(f, "],\"vcpu-ring-full-exits\":");
	for (uint32_t i = 0; i < v->nr; i++)
		fprintf(f, "%c%" PRIu64, i ? ',' : '[', v->ring_full_exits[i]);
	fprintf(f, "],\"vcpu-held-ms\":");
	for (uint32_t i = 0; i < v->nr; i++)
		fprintf(f, "%c%.3f", i ? ',' : '[', (double)v->held_ns[i] / 1e6);
	fprintf(f, "]");
}

static void json_epoch(struct sink *s, const struct epoch_rec *e)
{
	FILE *f = s->f;
	fprintf(f, "{\"epoch\":%" PRIu64 ",\"mode\":", e->epoch);
	json_string(f, e->mode);
	fprintf(f, ",\"workload\":");
	json_string(f, e->workload);
	fprintf(f, ",\"dirty-pages\":%" PRIu64 ",\"log-entries\":%" PRIu64, e->dirty_pages,
		e->log_entries);
	/* By time, the guest knows its stores but not the epoch's pages. */
	if (e->time_based)
		fprintf(f, ",\"workload-pages\":null,\"workload-stores\":%" PRIu64,
			e->workload_pages);
	else
		fprintf(f, ",\"workload-pages\":%" PRIu64, e->workload_pages);
	fprintf(f, ",\"partial\":%s", e->partial ? "true" : "false");
	fprintf(f, ",\"slot-dirty-pages\":[");
	for (int i = 0; i < e->nr_slots; i++)
		fprintf(f, "%s%" PRIu64, i ? "," : "", e->slot_pages[i]);
	fprintf(f, "]");
	if (e->verified) {
		fprintf(f, ",\"lost-pages\":%" PRIu64 ",\"lost-gpas\":[", e->lost_pages);
		for (uint64_t i = 0; i < e->lost_listed; i++)
			fprintf(f, "%s%" PRIu64, i ? "," : "", e->lost_gpa[i]);
		fprintf(f, "],\"lost-gpas-truncated\":%s",
			e->lost_listed < e->lost_pages ? "true" : "false");
	} else {
		fprintf(f, ",\"lost-pages\":null");
	}
	fprintf(f,
		",\"dirty-rate-mibs\":%.3f,\"harvest-us\":%.1f,\"harvest-get-us\":%.1f"
		",\"harvest-clear-us\":%.1f,\"epoch-us\":%.1f,\"ring-full-exits\":%" PRIu64,
		e->dirty_rate_mibs, us(e->harvest_ns), us(e->harvest_ns - e->harvest_clear_ns),
		us(e->harvest_clear_ns), us(e->epoch_ns), e->ring_full_exits);
	if (e->file_world)
		fprintf(f,
			",\"guest-dirty-pages\":%" PRIu64 ",\"guest-written-pages\":%" PRIu64
			",\"guest-page-writes\":%" PRIu64 ",\"device-dirty-pages\":%" PRIu64,
			e->guest_dirty_pages, e->guest_written_pages, e->guest_page_writes,
			e->device_dirty_pages);
	for (int i = 0; i < e->nr_ext; i++)
		if (e->ext[i]->json_epoch)
			e->ext[i]->json_epoch(e->ext[i], f, e->verified);
	if (e->vcpu.nr)
		json_vcpus(f, &e->vcpu, e->epoch_ns);
	json_stats(f, e->stats);
	fprintf(f, "}\n");
	io_flush(f);
}

static const char *const image_check_names[] = {
    [RUN_IMAGE_NOT_CHECKED] = "not-checked",
    [RUN_IMAGE_PASSED] = "passed",
    [RUN_IMAGE_FAILED] = "failed",
    [RUN_IMAGE_ERROR] = "error",
};

/* Every verdict that can fail a run, and how the run ended: a script reads
 * "exit-code" and "failed-check" rather than re-deriving them. */
static void json_verdicts(FILE *f, const struct run_summary *r)
{
	fprintf(f, ",\"image-check\":\"%s\",\"image-pages-differ\":",
		image_check_names[r->image_check]);
	if (r->image_check == RUN_IMAGE_PASSED || r->image_check == RUN_IMAGE_FAILED)
		fprintf(f, "%" PRIu64, r->image_pages_differ);
	else
		fprintf(f, "null");
	fprintf(f, ",\"dirty-log-overflow\":%s,\"completed\":%s,\"failed-check\":",
		r->log_overflowed ? "true" : "false", r->completed ? "true" : "false");
	json_string_or_null(f, r->failed_check);
	fprintf(f, ",\"failure\":");
	json_string_or_null(f, ds_fail_name(r->fail));
	fprintf(f, ",\"exit-code\":%d,\"error\":", ds_fail_exit(r->fail));
	json_string_or_null(f, r->error);
}

static void json_summary(struct sink *s, const struct run_summary *r)
{
	FILE *f = s->f;
	for (int i = 0; i < r->nr_ext; i++)
		if (r->ext[i]->json_before_summary)
			r->ext[i]->json_before_summary(r->ext[i], f);
	fprintf(f, "{\"summary\":true,\"mode\":");
	json_string(f, r->mode);
	fprintf(f, ",\"workload\":");
	json_string(f, r->workload);
	fprintf(f,
		",\"mem-bytes\":%" PRIu64 ",\"wss-pages\":%" PRIu64 ",\"epochs\":%" PRIu64
		",\"dirty-pages\":%" PRIu64 ",\"log-entries\":%" PRIu64,
		r->mem_bytes, r->wss_pages, r->epochs, r->dirty_pages, r->log_entries);
	if (r->epoch_ms)
		fprintf(f,
			",\"epoch-ms\":%u,\"workload-pages\":null,\"workload-stores\":%" PRIu64
			",\"tail-dirty-pages\":%" PRIu64,
			r->epoch_ms, r->workload_pages, r->tail_dirty_pages);
	else
		fprintf(f, ",\"epoch-ms\":null,\"workload-pages\":%" PRIu64, r->workload_pages);
	fprintf(f, ",\"boot-dirty-pages\":%" PRIu64, r->boot_dirty_pages);
	fprintf(f, ",\"partial-epoch\":");
	if (r->partial_epoch)
		fprintf(f, "%" PRIu64, r->partial_epoch);
	else
		fprintf(f, "null");
	if (r->verified)
		fprintf(f, ",\"lost-pages\":%" PRIu64, r->lost_pages);
	else
		fprintf(f, ",\"lost-pages\":null");
	fprintf(f,
		",\"dirty-rate-mibs\":%.3f,\"epoch-us\":%.1f,\"ring-full-exits\":%" PRIu64
		",\"dirty-log-ioctls\":%" PRIu64 ",\"harvest-us\":%.1f,\"harvest-get-us\":%.1f"
		",\"harvest-clear-us\":%.1f,\"total-time-ms\":%.3f,\"guest-check\":%s",
		run_dirty_rate(r), us(r->epoch_ns), r->ring_full_exits, r->kvm_calls,
		us(r->harvest_ns), us(r->harvest_ns - r->harvest_clear_ns), us(r->harvest_clear_ns),
		(double)r->total_ns / 1e6,
		r->guest_check_failed ? "\"failed\""
		: r->migrated	      ? "\"migrated\""
		: r->completed	      ? "\"passed\""
				      : "\"not-checked\"");
	json_verdicts(f, r);
	if (r->policy) {
		fprintf(f, ",\"policy\":");
		json_string(f, r->policy);
		fprintf(f,
			",\"guest-page-writes\":%" PRIu64 ",\"device-dirty-pages\":%" PRIu64
			",\"blk-requests\":%" PRIu64 ",\"blk-bytes-read\":%" PRIu64
			",\"blk-bytes-written\":%" PRIu64,
			r->guest_page_writes, r->device_dirty_pages, r->blk_requests,
			r->blk_bytes_read, r->blk_bytes_written);
	}
	for (int i = 0; i < r->nr_ext; i++)
		if (r->ext[i]->json_summary)
			r->ext[i]->json_summary(r->ext[i], f, r->verified);
	if (r->vcpu.nr)
		json_vcpus(f, &r->vcpu, r->epoch_ns);
	fprintf(f, ",\"dirty-limit-mibs\":");
	if (r->dirty_limit_mibs)
		fprintf(f, "%u,\"dirty-limit-held-ms\":%.3f", r->dirty_limit_mibs,
			(double)r->limit_held_ns / 1e6);
	else
		fprintf(f, "null");
	if (r->reaper) {
		fprintf(f, ",\"reaper-us\":");
		if (r->reaper_us)
			fprintf(f, "%u", r->reaper_us);
		else
			fprintf(f, "null");
		fprintf(f,
			",\"reaper-passes\":%" PRIu64 ",\"reaper-thread-passes\":%" PRIu64
			",\"reaper-max-pass\":%" PRIu64,
			r->reaper_passes, r->reaper_thread_passes, r->reaper_max_pass);
	}
	json_stats(f, r->stats);
	fprintf(f, "}\n");
	io_flush(f);
}

void output_json_sink(struct sink *s, FILE *f)
{
	s->epoch = json_epoch;
	s->summary = json_summary;
	s->f = f;
}
