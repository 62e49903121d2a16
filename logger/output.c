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

static void table_epoch(struct sink *s, const struct epoch_rec *e)
{
	char lost[24] = "-", exits[24] = "-";

	if (e->epoch == 1)
		fprintf(s->f, "%6s %8s %8s %6s %6s %10s %10s %8s %9s\n", "epoch", "dirty",
			"workload", "extra", "lost", "MiB/s", "harvest-us", "exits", "ring-full");
	if (e->verified)
		snprintf(lost, sizeof(lost), "%" PRIu64, e->lost_pages);
	/* exits are absent on kernels without binary stats */
	if (e->stats[VSTAT_EXITS] != UINT64_MAX)
		snprintf(exits, sizeof(exits), "%" PRIu64, e->stats[VSTAT_EXITS]);
	fprintf(s->f,
		"%6" PRIu64 " %8" PRIu64 " %8" PRIu64 " %6" PRId64
		" %6s %10.1f %10.1f %8s %9" PRIu64 "\n",
		e->epoch, e->dirty_pages, e->workload_pages,
		(int64_t)e->dirty_pages - (int64_t)e->workload_pages, lost, e->dirty_rate_mibs,
		us(e->harvest_ns), exits, e->ring_full_exits);
	io_flush(s->f);
}

static void table_summary(struct sink *s, const struct run_summary *r)
{
	for (int i = 0; i < r->nr_ext; i++)
		if (r->ext[i]->table_before_summary)
			r->ext[i]->table_before_summary(r->ext[i], s->f);
	fprintf(s->f,
		"%s/%s: %" PRIu64 " epochs, %" PRIu64 " dirty pages (%" PRIu64
		" written by the workload), ",
		r->mode, r->workload, r->epochs, r->dirty_pages, r->workload_pages);
	if (r->verified)
		fprintf(s->f, "%" PRIu64 " lost pages\n", r->lost_pages);
	else
		fprintf(s->f, "not verified (use --verify)\n");
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
}

static void json_stats(FILE *f, const uint64_t *stats)
{
	for (int k = 0; k < VSTAT_NR; k++)
		if (stats[k] != UINT64_MAX)
			fprintf(f, ",\"%s\":%" PRIu64, vstat_json_names[k], stats[k]);
}

static void json_epoch(struct sink *s, const struct epoch_rec *e)
{
	FILE *f = s->f;
	fprintf(f, "{\"epoch\":%" PRIu64 ",\"mode\":", e->epoch);
	json_string(f, e->mode);
	fprintf(f, ",\"workload\":");
	json_string(f, e->workload);
	fprintf(f,
		",\"dirty-pages\":%" PRIu64 ",\"log-entries\":%" PRIu64
		",\"workload-pages\":%" PRIu64,
		e->dirty_pages, e->log_entries, e->workload_pages);
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
		",\"dirty-rate-mibs\":%.3f,\"harvest-us\":%.1f,\"epoch-us\":%.1f"
		",\"ring-full-exits\":%" PRIu64,
		e->dirty_rate_mibs, us(e->harvest_ns), us(e->epoch_ns), e->ring_full_exits);
	if (e->file_world)
		fprintf(f,
			",\"guest-dirty-pages\":%" PRIu64 ",\"guest-written-pages\":%" PRIu64
			",\"guest-page-writes\":%" PRIu64 ",\"device-dirty-pages\":%" PRIu64,
			e->guest_dirty_pages, e->guest_written_pages, e->guest_page_writes,
			e->device_dirty_pages);
	for (int i = 0; i < e->nr_ext; i++)
		if (e->ext[i]->json_epoch)
			e->ext[i]->json_epoch(e->ext[i], f, e->verified);
	json_stats(f, e->stats);
	fprintf(f, "}\n");
	io_flush(f);
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
		",\"dirty-pages\":%" PRIu64 ",\"log-entries\":%" PRIu64
		",\"workload-pages\":%" PRIu64 ",\"boot-dirty-pages\":%" PRIu64,
		r->mem_bytes, r->wss_pages, r->epochs, r->dirty_pages, r->log_entries,
		r->workload_pages, r->boot_dirty_pages);
	if (r->verified)
		fprintf(f, ",\"lost-pages\":%" PRIu64, r->lost_pages);
	else
		fprintf(f, ",\"lost-pages\":null");
	fprintf(f,
		",\"ring-full-exits\":%" PRIu64 ",\"dirty-log-ioctls\":%" PRIu64
		",\"harvest-us\":%.1f,\"total-time-ms\":%.3f,\"guest-check\":%s",
		r->ring_full_exits, r->kvm_calls, us(r->harvest_ns), (double)r->total_ns / 1e6,
		r->guest_check_failed ? "\"failed\""
		: r->migrated	      ? "\"migrated\""
				      : "\"passed\"");
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
