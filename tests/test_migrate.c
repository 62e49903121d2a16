/*
 * Live migration under KVM, source and destination in separate processes
 * (tests/ds_migrate.h):
 *
 *   - every log mode (bitmap, clear, ring): the random workload moves after
 *     epoch 2; RAM hashed by this test at the switch-over (source, guest
 *     stopped) equals RAM hashed before the destination runs; the
 *     destination runs the remaining epochs, its dirty log verified, and
 *     the guest's own data check passes; round 0 covers all of RAM
 *   - a file workload (db) moves with its disk; the image ends right
 *   - under a bandwidth cap the switch-over follows the downtime rule
 *     round by round; auto-converge throttles a guest that outruns the link
 *   - faults: the link cut mid-stream (the source runs on, retries, and the
 *     second attempt lands); the destination hanging up before its ACK
 *     with no retries (the guest finishes at the source, nothing lost); one
 *     flipped byte (refused as corrupt, the source says why and runs on)
 *   - teeth: a page changed on the destination makes the hashes differ and
 *     the guest's check fail; a write the source's dirty log lost (a store
 *     after the final harvest, never sent: migrate_config.test_lose_page)
 *     makes the destination refuse END's RAM checksum, and the source's
 *     guest, which never saw that store, runs on unharmed
 *
 * A case whose guest finished its workload before the switch-over runs
 * again with more epochs (run_until_moved): on nested paging the guest can
 * outrun round 0.
 *
 * Needs /dev/kvm; exits 77 (skipped) with a reason when it cannot open it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "logger/verify/fileverify.h"
#include "tests/lib/ds_json.h"
#include "tests/lib/ds_migrate.h"
#include "tests/lib/ds_session.h"
#include "tests/lib/ds_test.h"

#define MIB    (1ULL << 20)
#define RAM    (64 * MIB)
#define WSS    300
#define EPOCHS 12
#define AFTER  2

static void plan_anon(struct ds_mig_plan *p, const char *mode, uint64_t wss, uint32_t epochs)
{
	memset(p, 0, sizeof(*p));
	ds_session_config(&p->src, mode, ABI_WL_RANDOM, RAM, wss, epochs, NULL);
	p->mig = (struct migrate_config){.after_epoch = AFTER,
					 .downtime_limit_ms = MIGRATE_DEFAULT_DOWNTIME_MS,
					 .max_rounds = MIGRATE_DEFAULT_MAX_ROUNDS,
					 .retry_delay_ms = 100};
	p->recv_mode = mode;
	p->recv_verify = true;
}

/* The epochs of the run in progress (flip_pages needs them). */
static uint32_t run_epochs = EPOCHS;

/*
 * ds_migrate_run, run again with four times the epochs (three times at most) when
 * the guest finished its workload before the switch-over.  The workloads
 * are sized for a guest emulated at about 10^6 instructions a second next
 * to a native host (PVM); under real nested paging (the emulated KVM host)
 * the guest is faster than the host side and can finish before round 0
 * is out.  What each case asserts does not depend on the count; *epochs
 * is the count of the run returned (the source's workload's).
 */
static int run_until_moved(struct ds_mig_plan *p, struct ds_mig_side *s, struct ds_mig_side *d,
			   uint32_t *epochs)
{
	for (int again = 0;; again++) {
		run_epochs = *epochs;
		int ret = ds_migrate_run(p, s, d);
		if (ret || s->mig.completed || again == 3 ||
		    !strstr(s->mig.failure, "the guest stopped before the switch-over"))
			return ret;
		printf("\n    the guest finished its %u epochs before the switch-over; again "
		       "with %u",
		       *epochs, *epochs * 4);
		*epochs *= 4;
		p->src.wl.epochs = *epochs;
	}
}

static void print_sides(const char *what, const struct ds_mig_side *s, const struct ds_mig_side *d)
{
	const struct migrate_stats *m = &s->mig;
	printf("\n    %s: source ret %d, %s after %u attempt(s), %llu rounds, %llu bytes, "
	       "downtime %.1f ms, %llu epochs here; destination ret %d, %s, epochs %llu-%llu, "
	       "guest check %s; hashes %016llx %016llx",
	       what, s->ret, m->completed ? "migrated" : "not migrated", m->attempts,
	       (unsigned long long)m->rounds, (unsigned long long)m->transferred,
	       (double)m->downtime_ns / 1e6, (unsigned long long)s->sum.epochs, d->ret,
	       d->resumed ? "resumed" : "never ran", (unsigned long long)d->sum.first_epoch,
	       (unsigned long long)(d->sum.first_epoch + d->sum.epochs - 1),
	       d->sum.guest_check_failed ? "failed" : "passed", (unsigned long long)s->hash,
	       (unsigned long long)d->hash);
	if (m->failure[0])
		printf("\n      last failure: %s", m->failure);
}

/*
 * The source's migration objects as --json writes them, QEMU's fields
 * checked against each other and against what the destination counted on
 * its own (bytes and pages read): a field computed wrongly breaks one of
 * these equalities, not just a range.
 */
static void check_qemu_fields(const struct ds_mig_side *s, const struct ds_mig_side *d)
{
	struct migrate_report rep;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CU_ASSERT_FATAL(f != NULL);
	migrate_report_source(&rep, &s->mig);
	rep.ext.json_before_summary(&rep.ext, f);
	fclose(f);

	struct ds_jsonl j;
	DS_JSONL_PARSE(&j, "the source's migration objects", text);
	free(text);
	struct json_object *m = ds_jsonl_find(&j, "migration", 0);
	size_t rounds = ds_jsonl_count(&j, "migration-round");
	CU_ASSERT_FATAL(m != NULL && rounds >= 2);
	struct json_object *last = ds_jsonl_find(&j, "migration-round", rounds - 2);
	struct json_object *fin = ds_jsonl_find(&j, "migration-round", rounds - 1);

	/* Pages: QEMU's duplicate (zero) and normal split what was sent, as
	 * the destination counted it; normal-bytes is in bytes. */
	int64_t dup = DS_JSON_INT(m, "duplicate"), normal = DS_JSON_INT(m, "normal");
	CU_ASSERT_EQUAL(dup + normal, (int64_t)d->in.pages);
	CU_ASSERT_EQUAL(dup, (int64_t)d->in.zero_pages);
	CU_ASSERT_EQUAL(DS_JSON_INT(m, "normal-bytes"), normal * 4096);
	CU_ASSERT_EQUAL(DS_JSON_INT(m, "page-size"), 4096);
	CU_ASSERT(normal > 0 && dup > 0);
	/* Bytes: pre-copy and downtime split what the destination read.
	 * Pre-copy is HELLO (header, its metadata, the config) and the rounds
	 * the guest ran through, to the byte; downtime the final round and
	 * what follows it. */
	int64_t pre = DS_JSON_INT(m, "precopy-bytes"), down = DS_JSON_INT(m, "downtime-bytes");
	CU_ASSERT_EQUAL(pre + down, (int64_t)d->in.bytes);
	CU_ASSERT_EQUAL(pre + down, DS_JSON_INT(m, "transferred"));
	int64_t rounds_pre = 0;
	for (size_t r = 0; r + 1 < rounds; r++)
		rounds_pre += DS_JSON_INT(ds_jsonl_find(&j, "migration-round", r), "bytes");
	CU_ASSERT_EQUAL(pre - rounds_pre,
			(int64_t)(sizeof(struct migstream_rec) + sizeof(struct migstream_hello) +
				  sizeof(struct migrate_hello_cfg)));
	CU_ASSERT(down > DS_JSON_INT(fin, "bytes"));
	CU_ASSERT_EQUAL(DS_JSON_INT(fin, "bytes"), DS_JSON_INT(m, "final-round-bytes"));
	/* total is QEMU's: the guest's RAM, not bytes sent.  That it exceeds
	 * what was sent is this test's fact (a small working set), not a rule. */
	CU_ASSERT_EQUAL(DS_JSON_INT(m, "total"), (int64_t)RAM);
	CU_ASSERT(DS_JSON_INT(m, "total") >= pre + down);
	/* remaining is bytes: none once completed; per round, the pages the
	 * harvest after it found. */
	CU_ASSERT_EQUAL(DS_JSON_INT(m, "remaining"), 0);
	CU_ASSERT_EQUAL(DS_JSON_INT(fin, "remaining"), 0);
	for (size_t r = 0; r + 1 < rounds; r++) {
		struct json_object *o = ds_jsonl_find(&j, "migration-round", r);
		CU_ASSERT_EQUAL(DS_JSON_INT(o, "remaining"), DS_JSON_INT(o, "dirty-pages") * 4096);
		CU_ASSERT_EQUAL(DS_JSON_INT(o, "remaining-pages"), DS_JSON_INT(o, "dirty-pages"));
	}
	/* Rates over the transfer time (total-time less setup-time), as QEMU
	 * computes mbps at completion; within the printed rounding. */
	double xfer_s = (DS_JSON_NUM(m, "total-time-ms") - DS_JSON_NUM(m, "setup-time-ms")) / 1e3;
	CU_ASSERT_FATAL(xfer_s > 0);
	double mbps = (double)(pre + down) * 8 / 1e6 / xfer_s;
	double pps = (double)(dup + normal) / xfer_s;
	CU_ASSERT(fabs(DS_JSON_NUM(m, "mbps") - mbps) <= mbps * 0.01 + 0.01);
	CU_ASSERT(fabs(DS_JSON_NUM(m, "pages-per-second") - pps) <= pps * 0.01 + 1);
	/* What query-migrate showed last while the guest ran: the last
	 * pre-copy round's estimate (ms), dirty rate and throttle. */
	CU_ASSERT(fabs(DS_JSON_NUM(m, "expected-downtime") -
		       DS_JSON_NUM(last, "expected-downtime-ms")) < 0.002);
	CU_ASSERT(
	    fabs(DS_JSON_NUM(m, "dirty-pages-rate") - DS_JSON_NUM(last, "dirty-pages-rate")) <= 1);
	CU_ASSERT_EQUAL(DS_JSON_INT(m, "cpu-throttle-percentage"),
			DS_JSON_INT(last, "throttle-pct"));
	CU_ASSERT(DS_JSON_INT(m, "cpu-throttle-percentage") <= DS_JSON_INT(m, "throttle-pct"));
	ds_jsonl_free(&j);
}

/* The destination took over and finished: the common assertions. */
static void check_moved(const struct ds_mig_side *s, const struct ds_mig_side *d, uint32_t epochs)
{
	CU_ASSERT_FATAL(s->reported && d->reported);
	CU_ASSERT_EQUAL(s->ret, 0);
	CU_ASSERT(s->sum.migrated);
	CU_ASSERT(s->mig.completed);
	CU_ASSERT(s->hashed && d->hashed);
	CU_ASSERT_EQUAL(s->hash, d->hash);
	CU_ASSERT_EQUAL(s->mig.ram_checksum, d->in.ram_checksum);
	/* The late verification: the source's VERDICT, taken after GO, matched
	 * what the destination received, and the source heard so. */
	CU_ASSERT(s->mig.verified && d->in.verified);
	CU_ASSERT(s->mig.verify_failure[0] == 0 && d->in.verify_failure[0] == 0);
	CU_ASSERT(d->resumed);
	CU_ASSERT_EQUAL(d->ret, 0);
	CU_ASSERT_FALSE(d->sum.guest_check_failed);
	CU_ASSERT_EQUAL(d->sum.lost_pages, 0);
	CU_ASSERT_EQUAL(s->sum.lost_pages, 0);
	/* The source closed epochs 1..k, the destination ran k+1..epochs. */
	CU_ASSERT(d->sum.first_epoch > AFTER);
	CU_ASSERT_EQUAL(s->sum.epochs, d->sum.first_epoch - 1);
	CU_ASSERT_EQUAL(d->sum.first_epoch + d->sum.epochs - 1, epochs);
	CU_ASSERT(s->mig.rounds >= 2);
	CU_ASSERT(s->mig.dirty_sync_count >= 2);
	CU_ASSERT(s->mig.downtime_ns > 0 && s->mig.downtime_ns <= s->mig.total_ns);
	CU_ASSERT(s->mig.transferred > 0);
	CU_ASSERT_EQUAL(s->mig.transferred, d->in.bytes);
	CU_ASSERT_EQUAL(s->mig.pages, d->in.pages);
	CU_ASSERT_FATAL(s->mig.nr_round >= 2);
	CU_ASSERT_EQUAL(s->mig.round[0].pages, RAM / 4096);
	CU_ASSERT(s->mig.round[s->mig.nr_round - 1].final);
	check_qemu_fields(s, d);
}

static void test_modes(void)
{
	/* Every mode built on KVM's own log, from the mode table. */
	for (int i = 0; dlog_modes[i]; i++) {
		if (!dlog_modes[i]->kvm_log)
			continue;
		struct ds_mig_plan p;
		struct ds_mig_side s, d;
		uint32_t epochs = EPOCHS;
		plan_anon(&p, dlog_modes[i]->name, WSS, epochs);
		CU_ASSERT_EQUAL_FATAL(run_until_moved(&p, &s, &d, &epochs), 0);
		print_sides(dlog_modes[i]->name, &s, &d);
		check_moved(&s, &d, epochs);
		CU_ASSERT_EQUAL(s.mig.attempts, 1);
	}
}

static void test_file(void)
{
	char image[] = "/tmp/dirtyscope-migdb-XXXXXX";
	int fd = mkstemp(image);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(ds_file_image(image, ABI_WL_DB, 32), 0);
	struct ds_mig_plan p;
	struct ds_mig_side s, d;
	plan_anon(&p, "bitmap", WSS, EPOCHS);
	ds_file_config(&p.src, image, ABI_WL_DB, ABI_POLICY_WP, 32, 8, 48, NULL);
	p.src.wl.flush_every = 200;
	p.src.wl.sync_every = 10;
	uint32_t epochs = p.src.wl.epochs;
	CU_ASSERT_EQUAL_FATAL(run_until_moved(&p, &s, &d, &epochs), 0);
	print_sides("db/wp", &s, &d);
	check_moved(&s, &d, epochs);
	long bad = fileverify_image(image, &p.src.wl, stderr);
	printf("\n    image pages differing from the workload's content: %ld", bad);
	CU_ASSERT_EQUAL(bad, 0);
	unlink(image);
}

/* Each pre-copy round but the last ended with more left than fits the
 * limit; the last either fit it or hit max_rounds. */
static void check_rule(const struct migrate_stats *m, const struct migrate_config *c)
{
	uint64_t last = m->nr_round - 2; /* the final round is the vCPU-stopped one */
	for (uint64_t i = 0; i < last; i++)
		CU_ASSERT(m->round[i].expected_ms > (double)c->downtime_limit_ms);
	CU_ASSERT(m->round[last].expected_ms <= (double)c->downtime_limit_ms ||
		  m->round[last].round + 1 == c->max_rounds);
	/* Each round resends what the harvest after the one before found;
	 * the final one that and what the last harvest found. */
	for (uint64_t i = 0; i + 2 < m->nr_round; i++)
		CU_ASSERT_EQUAL(m->round[i + 1].pages, m->round[i].dirty_pages);
	CU_ASSERT(m->round[last + 1].pages >= m->round[last].dirty_pages);
}

static void test_convergence(void)
{
	struct ds_mig_plan p;
	struct ds_mig_side s, d;

	/* A link faster than the guest dirties: each round is shorter than
	 * the one before, until the rest fits the limit. */
	uint32_t epochs = 60;
	plan_anon(&p, "bitmap", 1024, epochs);
	p.mig.max_bandwidth = 256 * MIB;
	p.mig.downtime_limit_ms = 1;
	CU_ASSERT_EQUAL_FATAL(run_until_moved(&p, &s, &d, &epochs), 0);
	print_sides("256 MiB/s, 1 ms", &s, &d);
	for (uint64_t i = 0; i < s.mig.nr_round; i++)
		printf("\n      round %llu: %llu pages, %.1f mbps, expected %.2f ms",
		       (unsigned long long)i, (unsigned long long)s.mig.round[i].pages,
		       s.mig.round[i].mbps, s.mig.round[i].expected_ms);
	check_moved(&s, &d, epochs);
	check_rule(&s.mig, &p.mig);
	/* The cap held while the guest ran (with room for the pacing's
	 * granularity); the final round, guest stopped, is not capped. */
	for (uint64_t i = 0; i < s.mig.nr_round; i++)
		CU_ASSERT(s.mig.round[i].final || s.mig.round[i].mbps < 256 * 8.39 * 1.1);

	/* A guest that outruns the link: auto-converge throttles it, and
	 * max_rounds forces the switch-over if it still does not fit.  The
	 * throttle starts when the guest dirties more than half of what the
	 * link carries, twice in a row: at 2 MiB/s (512 pages/s) it must dirty
	 * over 256 pages a second.  It dirties about 1800 on an idle machine
	 * and still about 700 with both cores busy beside it; at 8 MiB/s the
	 * loaded guest fell short and the throttle never started. */
	epochs = 100;
	plan_anon(&p, "bitmap", 1024, epochs);
	p.mig.max_bandwidth = 2 * MIB;
	p.mig.downtime_limit_ms = 50;
	p.mig.max_rounds = 6;
	p.mig.throttle_auto = true;
	CU_ASSERT_EQUAL_FATAL(run_until_moved(&p, &s, &d, &epochs), 0);
	print_sides("2 MiB/s, 50 ms, auto-converge", &s, &d);
	printf(", throttle up to %u%%", s.mig.throttle_pct);
	check_moved(&s, &d, epochs);
	check_rule(&s.mig, &p.mig);
	CU_ASSERT(s.mig.throttle_pct >= MIGRATE_THROTTLE_INITIAL);
}

static void test_cut_and_retry(void)
{
	struct ds_mig_plan p;
	struct ds_mig_side s, d[2];
	uint32_t epochs = 40;
	plan_anon(&p, "bitmap", WSS, epochs);
	p.mig.retries = 2;
	p.mig.test_cut_after_bytes = 200000;
	p.receivers = 2;
	CU_ASSERT_EQUAL_FATAL(run_until_moved(&p, &s, d, &epochs), 0);
	print_sides("cut after 200000 bytes, then retried", &s, &d[1]);
	CU_ASSERT(d[0].reported);
	CU_ASSERT_FALSE(d[0].resumed);
	CU_ASSERT_EQUAL(d[0].ret, -ECONNRESET);
	CU_ASSERT_EQUAL(s.mig.attempts, 2);
	CU_ASSERT(s.mig.transferred_all > s.mig.transferred);
	check_moved(&s, &d[1], epochs);
}

/* No destination took over: the source ran every epoch itself. */
static void check_stayed(const struct ds_mig_side *s, const struct ds_mig_side *d, uint32_t epochs)
{
	CU_ASSERT_FATAL(s->reported && d->reported);
	CU_ASSERT_FALSE(d->resumed);
	CU_ASSERT_FALSE(s->sum.migrated);
	CU_ASSERT_FALSE(s->mig.completed);
	CU_ASSERT_EQUAL(s->ret, 0);
	CU_ASSERT_EQUAL(s->sum.epochs, epochs);
	CU_ASSERT_EQUAL(s->sum.lost_pages, 0);
	CU_ASSERT_FALSE(s->sum.guest_check_failed);
}

static void test_drop_before_ack(void)
{
	struct ds_mig_plan p;
	struct ds_mig_side s, d;
	plan_anon(&p, "ring", WSS, EPOCHS);
	p.drop_before_ack[0] = 1;
	CU_ASSERT_EQUAL_FATAL(ds_migrate_run(&p, &s, &d), 0);
	print_sides("destination hangs up before ACK", &s, &d);
	CU_ASSERT_EQUAL(d.ret, -ECONNRESET);
	check_stayed(&s, &d, EPOCHS);
	CU_ASSERT_EQUAL(s.mig.attempts, 1);
}

static void test_corrupt(void)
{
	struct ds_mig_plan p;
	struct ds_mig_side s, d;
	plan_anon(&p, "clear", WSS, EPOCHS);
	p.flip_byte = 300000; /* inside round 0's data */
	CU_ASSERT_EQUAL_FATAL(ds_migrate_run(&p, &s, &d), 0);
	print_sides("one byte flipped", &s, &d);
	CU_ASSERT_EQUAL(d.ret, -EPROTO);
	check_stayed(&s, &d, EPOCHS);
	CU_ASSERT(strstr(s.mig.failure, "refused") != NULL);
	CU_ASSERT(strstr(s.mig.failure, "corrupt") != NULL);
}

/* Flip word 0 of one page the random workload wrote, on the destination:
 * the guest's check covers word 0 of every page.  A workload page holds
 * epoch << 32 | n in word 0 and seed ^ page ^ epoch << 40 in word
 * 1 + (epoch * 7 + page) % 511 (guest/workload.c). */
static void flip_pages(int i, const struct guest_mem *m)
{
	(void)i;
	for (uint64_t k = 0; k < m->nr_pages; k++) {
		uint64_t *w = mem_gpa_to_hva(m, mem_index_to_gpa(m, k), 4096);
		uint64_t e = w[0] >> 32;
		if (e < 1 || e > run_epochs)
			continue;
		for (uint64_t pg = 0; pg < WSS; pg++) {
			if (w[1 + (e * 7 + pg) % 511] == (42ULL ^ pg ^ e << 40)) {
				w[0] ^= 1ULL << 20;
				return;
			}
		}
	}
}

/* The guest moved (GO), but the late verification failed: both sides
 * fail with 1, and the destination stopped its guest early. */
static void check_unverified(const struct ds_mig_side *s, const struct ds_mig_side *d,
			     uint32_t epochs)
{
	CU_ASSERT_FATAL(s->reported && d->reported);
	CU_ASSERT(s->mig.completed && s->sum.migrated);
	CU_ASSERT_FALSE(s->mig.verified);
	CU_ASSERT_EQUAL(s->ret, 1);
	CU_ASSERT(d->resumed);
	CU_ASSERT_FALSE(d->in.verified);
	CU_ASSERT_EQUAL(d->ret, 1);
	CU_ASSERT_FALSE(d->sum.guest_check_failed);
	/* Stopped: it never reached the workload's last epoch. */
	CU_ASSERT(d->sum.first_epoch + d->sum.epochs - 1 < epochs);
	/* Both summaries name the check that failed, as their JSON does. */
	CU_ASSERT(s->sum.failed_check && !strcmp(s->sum.failed_check, "migration-check"));
	CU_ASSERT(d->sum.failed_check && !strcmp(d->sum.failed_check, "migration-check"));
}

static void test_teeth(void)
{
	struct ds_mig_plan p;
	struct ds_mig_side s, d;

	uint32_t epochs = EPOCHS;
	plan_anon(&p, "bitmap", WSS, epochs);
	p.recv_hook = flip_pages;
	p.recv_verify = false; /* the oracle would call the flip a lost page */
	CU_ASSERT_EQUAL_FATAL(run_until_moved(&p, &s, &d, &epochs), 0);
	print_sides("destination page flipped", &s, &d);
	CU_ASSERT(d.reported && d.resumed);
	CU_ASSERT(s.hashed && d.hashed);
	CU_ASSERT_NOT_EQUAL(s.hash, d.hash);
	CU_ASSERT_EQUAL(d.ret, 1);
	CU_ASSERT(d.sum.guest_check_failed);

	/* A store the dirty log lost: the destination already runs the guest
	 * when the source's late VERDICT arrives; it finds the RAM it received
	 * is not the source's, stops its guest before the workload's end and
	 * fails (1), and the source, told so, fails too (1). */
	epochs = EPOCHS;
	plan_anon(&p, "bitmap", WSS, epochs);
	p.mig.test_lose_page = true;
	CU_ASSERT_EQUAL_FATAL(run_until_moved(&p, &s, &d, &epochs), 0);
	print_sides("source lost a dirty page", &s, &d);
	printf("\n      source: %s\n      destination: %s", s.mig.verify_failure,
	       d.in.verify_failure);
	check_unverified(&s, &d, epochs);
	CU_ASSERT_EQUAL(s.mig.test_lost, 1);
	CU_ASSERT(strstr(d.in.verify_failure, "guest RAM checksum") != NULL);
	CU_ASSERT(strstr(d.in.verify_failure, "not the source's") != NULL);
	CU_ASSERT(strstr(s.mig.verify_failure, "refused the RAM it received") != NULL);
	CU_ASSERT(strstr(s.mig.verify_failure, "guest RAM checksum") != NULL);
	/* The test's own witness: the hashes differ by the lost store. */
	CU_ASSERT(s.hashed && d.hashed);
	CU_ASSERT_NOT_EQUAL(s.hash, d.hash);
}

/* A source that dies after GO, before VERDICT: the destination's RAM is
 * vouched for by nobody; it stops the guest and fails. */
static void test_no_verdict(void)
{
	struct ds_mig_plan p;
	struct ds_mig_side s, d;

	uint32_t epochs = EPOCHS;
	plan_anon(&p, "bitmap", WSS, epochs);
	p.mig.test_no_verdict = true;
	CU_ASSERT_EQUAL_FATAL(run_until_moved(&p, &s, &d, &epochs), 0);
	print_sides("source hangs up after GO, no VERDICT", &s, &d);
	printf("\n      destination: %s", d.in.verify_failure);
	check_unverified(&s, &d, epochs);
	CU_ASSERT(strstr(d.in.verify_failure, "no VERDICT record") != NULL);
	CU_ASSERT_EQUAL(s.hash, d.hash); /* the RAM was right: nobody said so */
}

static const struct ds_case cases[] = {
    {"every log mode: the guest moves mid-workload, hashes agree, its check passes", test_modes},
    {"a file workload moves with its disk", test_file},
    {"slow link: the downtime rule round by round; auto-converge", test_convergence},
    {"link cut mid-stream: the source runs on, retries, lands", test_cut_and_retry},
    {"destination hangs up before ACK: the guest finishes at the source", test_drop_before_ack},
    {"a flipped byte: refused as corrupt, the source runs on", test_corrupt},
    {"teeth: a changed page and a lost dirty page are caught", test_teeth},
    {"no VERDICT after GO: the destination stops the guest, both fail", test_no_verdict},
    {NULL, NULL},
};

int main(void)
{
	int fd = open("/dev/kvm", O_RDWR);
	if (fd < 0) {
		printf("test_migrate: skipped: /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	close(fd);
	return ds_run_suite("migrate", cases);
}
