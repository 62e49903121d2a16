/*
 * Live migration's figures in the table and JSON outputs (docs/migration.md
 * defines every field).  The source writes one "migration-round" object per
 * round and one "migration" object; the destination one "migration-in"
 * object; both before the run's summary object, through a report_ext
 * (util/report.h).
 */
#include <inttypes.h>
#include <stdio.h>

#include "logger/migrate/migrate.h"
#include "util/json.h"

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/*
 * The completed migration under QEMU's names and units (query-migrate's
 * MigrationInfo and its `ram` MigrationStats, flattened), as it would
 * read when the migration completed.  QEMU's `total` is the guest's RAM,
 * not bytes sent; its mbps and pages-per-second are over the transfer
 * time (total-time less setup-time), as QEMU computes mbps at completion.
 * docs/migration.md's table says where a unit or a period differs.
 */
static void json_qemu(FILE *f, const struct migrate_stats *m)
{
	uint64_t normal = m->pages - m->zero_pages;
	double xfer_s = (double)(m->total_ns - m->setup_ns) / 1e9;

	fprintf(f,
		",\"total\":%" PRIu64 ",\"remaining\":0,\"duplicate\":%" PRIu64
		",\"normal\":%" PRIu64 ",\"normal-bytes\":%" PRIu64 ",\"page-size\":%u"
		",\"mbps\":%.3f,\"pages-per-second\":%.0f,\"precopy-bytes\":%" PRIu64
		",\"downtime-bytes\":%" PRIu64 ",\"dirty-pages-rate\":%.0f"
		",\"cpu-throttle-percentage\":%u,\"dirty-limit-throttle\":%s"
		",\"expected-downtime\":%.3f",
		m->ram_bytes, m->zero_pages, normal, normal * MIGSTREAM_PAGE, MIGSTREAM_PAGE,
		xfer_s > 0 ? (double)m->transferred * 8 / 1e6 / xfer_s : 0,
		xfer_s > 0 ? (double)m->pages / xfer_s : 0, m->precopy_bytes, m->downtime_bytes,
		m->last_dirty_rate, m->last_throttle_pct, m->dirty_limit_on ? "true" : "false",
		m->last_expected_ms);
}

static void json_migration(FILE *f, const struct migrate_stats *m)
{
	for (uint64_t i = 0; i < m->nr_round; i++) {
		const struct migrate_round *r = &m->round[i];
		fprintf(f,
			"{\"migration-round\":%" PRIu64 ",\"pages\":%" PRIu64
			",\"zero-pages\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"dirty-pages\":%" PRIu64
			",\"dirty-pages-rate\":%.1f,\"mbps\":%.2f,\"remaining\":%" PRIu64
			",\"remaining-pages\":%" PRIu64
			",\"expected-downtime-ms\":%.3f,\"duration-ms\":%.3f,\"throttle-pct\":%u,"
			"\"final\":%s}\n",
			r->round, r->pages, r->zero_pages, r->bytes, r->dirty_pages, r->dirty_rate,
			r->mbps, r->remaining * MIGSTREAM_PAGE, r->remaining, r->expected_ms,
			ms(r->duration_ns), r->throttle_pct, r->final ? "true" : "false");
	}
	fprintf(f, "{\"migration\":\"%s\",\"attempts\":%u", m->completed ? "completed" : "failed",
		m->attempts);
	if (m->completed)
		fprintf(f,
			",\"total-time-ms\":%.3f,\"setup-time-ms\":%.3f,\"downtime-ms\":%.3f"
			",\"transferred\":%" PRIu64 ",\"dirty-sync-count\":%" PRIu64
			",\"rounds\":%" PRIu64 ",\"pages\":%" PRIu64 ",\"zero-pages\":%" PRIu64
			",\"nonzero-first-round\":%" PRIu64 ",\"redirtied-pages\":%" PRIu64
			",\"ideal-bytes\":%" PRIu64 ",\"final-round-bytes\":%" PRIu64
			",\"bandwidth-mbps\":%.2f,\"throttle-pct\":%u,\"ram-checksum\":\"%#" PRIx64
			"\"",
			ms(m->total_ns), ms(m->setup_ns), ms(m->downtime_ns), m->transferred,
			m->dirty_sync_count, m->rounds, m->pages, m->zero_pages, m->nonzero_first,
			m->redirtied, m->ideal_bytes, m->final_bytes, m->bandwidth * 8 / 1e6,
			m->throttle_pct, m->ram_checksum);
	if (m->completed) {
		json_qemu(f, m);
		fprintf(f, ",\"verified\":%s,\"verify-ms\":%.3f", m->verified ? "true" : "false",
			ms(m->verify_ns));
		if (!m->verified) {
			fprintf(f, ",\"verify-failure\":");
			json_string(f, m->verify_failure);
		}
	}
	if (m->completed)
		fprintf(f,
			",\"downtime-stop-ms\":%.3f,\"downtime-final-round-ms\":%.3f"
			",\"downtime-end-ms\":%.3f,\"downtime-ack-ms\":%.3f",
			ms(m->down_pause_ns), ms(m->down_final_ns), ms(m->down_end_ns),
			ms(m->down_ack_ns));
	fprintf(f, ",\"transferred-all-attempts\":%" PRIu64, m->transferred_all);
	if (m->failure[0]) {
		fprintf(f, ",\"last-failure\":");
		json_string(f, m->failure);
	}
	fprintf(f, "}\n");
}

static void json_incoming(FILE *f, const struct migin_stats *in, uint64_t first_epoch)
{
	fprintf(f,
		"{\"migration-in\":true,\"bytes\":%" PRIu64 ",\"records\":%" PRIu64
		",\"pages\":%" PRIu64 ",\"zero-pages\":%" PRIu64 ",\"rounds\":%" PRIu64
		",\"receive-time-ms\":%.3f,\"load-time-ms\":%.3f,\"handshake-ms\":%.3f"
		",\"verified\":%s,\"verify-ms\":%.3f,\"ram-checksum\":\"%#" PRIx64
		"\",\"first-epoch\":%" PRIu64,
		in->bytes, in->records, in->pages, in->zero_pages, in->rounds, ms(in->receive_ns),
		ms(in->load_ns), ms(in->handshake_ns), in->verified ? "true" : "false",
		ms(in->verify_ns), in->ram_checksum, first_epoch);
	if (!in->verified) {
		fprintf(f, ",\"verify-failure\":");
		json_string(f, in->verify_failure);
	}
	fprintf(f, "}\n");
}

static void table_migration(FILE *f, const struct migrate_stats *m)
{
	if (!m->completed) {
		fprintf(f, "migration: not completed after %u attempts: %s\n", m->attempts,
			m->failure[0] ? m->failure : "the guest finished first");
		return;
	}
	fprintf(f,
		"migration: completed in %.1f ms (setup %.1f ms), downtime %.1f ms, %" PRIu64
		" bytes in %" PRIu64 " rounds (%" PRIu64 " pages, %" PRIu64
		" zero), %.0f mbps, %" PRIu64 " dirty syncs, attempt %u\n"
		"migration: downtime = stop %.1f + final round %.1f + state and END %.1f + "
		"destination until ACK %.1f ms\n"
		"migration: RAM checksum %s by the destination %.1f ms after GO%s%s\n",
		ms(m->total_ns), ms(m->setup_ns), ms(m->downtime_ns), m->transferred, m->rounds,
		m->pages, m->zero_pages, m->bandwidth * 8 / 1e6, m->dirty_sync_count, m->attempts,
		ms(m->down_pause_ns), ms(m->down_final_ns), ms(m->down_end_ns), ms(m->down_ack_ns),
		m->verified ? "verified" : "NOT verified", ms(m->verify_ns),
		m->verified ? "" : ": ", m->verify_failure);
}

static void table_incoming(FILE *f, const struct migin_stats *in, uint64_t first_epoch)
{
	fprintf(f,
		"incoming migration: %" PRIu64 " bytes, %" PRIu64 " pages (%" PRIu64
		" zero) in %" PRIu64 " rounds, resumed in epoch %" PRIu64 "; RAM checksum %#" PRIx64
		" %s %.1f ms after GO%s%s\n",
		in->bytes, in->pages, in->zero_pages, in->rounds, first_epoch, in->ram_checksum,
		in->verified ? "verified" : "NOT verified", ms(in->verify_ns),
		in->verified ? "" : ": ", in->verify_failure);
}

static void src_json(const struct report_ext *x, FILE *f)
{
	json_migration(f, report_container(x, struct migrate_report, ext)->m);
}

static void src_table(const struct report_ext *x, FILE *f)
{
	table_migration(f, report_container(x, struct migrate_report, ext)->m);
}

void migrate_report_source(struct migrate_report *r, const struct migrate_stats *m)
{
	*r = (struct migrate_report){
	    .ext = {.json_before_summary = src_json, .table_before_summary = src_table}, .m = m};
}

static void in_json(const struct report_ext *x, FILE *f)
{
	const struct migrate_report *r = report_container(x, struct migrate_report, ext);
	json_incoming(f, r->in, r->first_epoch);
}

static void in_table(const struct report_ext *x, FILE *f)
{
	const struct migrate_report *r = report_container(x, struct migrate_report, ext);
	table_incoming(f, r->in, r->first_epoch);
}

void migrate_report_incoming(struct migrate_report *r, const struct migin_stats *in,
			     uint64_t first_epoch)
{
	*r = (struct migrate_report){
	    .ext = {.json_before_summary = in_json, .table_before_summary = in_table},
	    .in = in,
	    .first_epoch = first_epoch};
}
