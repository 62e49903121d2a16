/*
 * Guests with several vCPUs (--vcpus): one worker per vCPU, each on a
 * thread of the VMM's own (docs/architecture.md, "vCPU threads").
 *
 *   usage      --vcpus 0 and 9, --vcpus with a file workload, --share without --vcpus 2 or more, a
 * working set smaller than the vCPUs, --reaper-us without the ring or out of range: 2, each with
 * its one line modes      every log mode KVM keeps itself (bitmap, clear, ring) with 2 and 4 vCPUs,
 * random: 0 lost pages, the guest's own check passing, and per-vCPU figures for as many vCPUs. With
 * the bitmap logs the per-vCPU pages are the guest's own counts, whose partitions do not overlap:
 * they sum to the epoch's workload pages.  With the ring they are each vCPU's ring, every dirty
 * page in at least one: they sum to at least the epoch's dirty pages, and every vCPU wrote some.
 *   shared     --share 100: all four vCPUs write all over the working set,
 *              two of them often the same page in one epoch, so the
 *              per-CPU counts sum to more than the pages any CPU wrote;
 *              still 0 lost and the check passing
 *   small ring a 256-entry ring per vCPU with four vCPUs each making
 *              ~500 stores an epoch, no reaper thread: ring-full exits from the vCPUs other
 *              than 0 too, their per-vCPU counts summing to the run's,
 *              and 0 lost
 *   reaper     the same rings with the reaper thread every 1 ms: its
 *              passes empty them, 0 lost
 *   race       bitmap and clear harvested every 0.3 ms by a host thread
 *              while four vCPUs store, the epoch's last harvest and the
 *              oracle with them stopped: 0 lost, so a page stored after a
 *              harvest returned is in a later one; dropping the mid-epoch
 *              harvests instead loses pages (the test's teeth)
 *   limit      --dirty-limit 1 with four vCPUs and 256-entry rings: each
 *              vCPU's rate at most the limit plus a ring's worth over the
 *              run, and vCPUs held out of the guest for a while
 *   migrate    a live migration of two vCPUs in bitmap, clear and ring:
 *              both states move, the RAM hashes at the switch-over and at
 *              the destination agree, the destination finishes the epochs
 *              with 0 lost and the guest's check passing
 *   throttle   --throttle dirty-limit over a 4 MiB/s link: the guest's
 *              two vCPUs outrun it, the limit comes on (not auto-converge's
 *              percentage), the migration completes, hashes agreeing
 *   ipi        the guest's IPI test (in-kernel LAPIC, x2APIC): CPU 0's IPIs
 *              to each other CPU all arrive, 2 and 4 vCPUs, and the run
 *              goes on with 0 lost
 *   json       run --vcpus 4 --log ring --json -: the arrays
 *              vcpu-dirty-pages, vcpu-dirty-rate-mibs, vcpu-exits and
 *              vcpu-ring-full-exits of length 4 in every epoch and the
 *              summary
 *   teeth      the oracle, with four vCPUs, catches a ring log that never
 *              reads vCPU 1's ring; the guest's check catches a page
 *              changed behind one CPU's back
 *   files      every file workload under wp, dbit and scan with two vCPUs
 *              verifies (0 lost, image equal); db and shared2 run a
 *              process on each CPU (both vCPUs exit) and their cleanings
 *              send TLB shootdowns; lossy fails verification
 *   ring files db on two vCPUs with the default dirty ring: no overflow,
 *              0 lost, the image equal
 *   migrate files  db on two vCPUs (a writer on each, the in-kernel LAPICs)
 *              migrates over the CLI in bitmap, clear and ring: both sides
 *              exit 0, the destination verifies the RAM checksum, the
 *              oracle (0 lost) and the image
 *   noflush    policy noflush: run as is, its result reported (the race
 *              needs another CPU's stale TLB entry, which this platform
 *              may never keep); with the stale-TLB test hook the race is
 *              certain: --verify finds the lost stores in the image and
 *              compare counts missed pages, where wp with the same
 *              workload misses none
 *
 * Needs /dev/kvm for all but the usage cases; without it those run and the
 * suite exits 77 (skipped).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <unistd.h>

#include "abi/boot.h"
#include "logger/dlog/dlog.h"
#include "logger/session.h"
#include "logger/verify/oracle.h"
#include "util/time.h"
#include "tests/lib/ds_json.h"
#include "tests/lib/ds_migrate.h"
#include "tests/lib/ds_proc.h"
#include "tests/lib/ds_session.h"
#include "tests/lib/ds_test.h"

#define CHECK DS_CHECK

static void test_usage(void)
{
	/* Not static: ARGS makes compound literals, which live in the block. */
	const struct {
		const char *const *args, *why;
	} cases[] = {
	    {ARGS("run", "--vcpus", "0"), "--vcpus 0: out of range (1..8)"},
	    {ARGS("run", "--vcpus", "9"), "--vcpus 9: out of range (1..8)"},
	    {ARGS("run", "--vcpus", "two"), "--vcpus two: not a number"},
	    {ARGS("run", "--share", "50"), "--share: for a guest with --vcpus 2 or more"},
	    {ARGS("run", "--vcpus", "4", "--share", "101"), "--share 101: out of range (0..100)"},
	    {ARGS("run", "--reaper-us", "100"), "--reaper-us: for --log ring"},
	    {ARGS("run", "--log", "ring", "--reaper-us", "1000001"),
	     "--reaper-us 1000001: out of range (0..1000000)"},
	    {ARGS("run", "--dirty-limit", "10"), "--dirty-limit: for --log ring"},
	    {ARGS("run", "--log", "ring", "--dirty-limit", "10", "--reaper-us", "500"),
	     "--dirty-limit: not with --reaper-us 500"},
	    {ARGS("run", "--log", "ring", "--dirty-limit", "0"), "--dirty-limit 0: out of range"},
	    {ARGS("run", "--vcpus", "4", "--wss", "3"), "--wss 3: fewer pages than --vcpus 4"},
	    {ARGS("run", "--migrate-to", "unix:/nonexistent/x.sock", "--throttle", "dirty-limit"),
	     "--throttle dirty-limit: for --log ring"},
	    {ARGS("run", "--migrate-to", "unix:/nonexistent/x.sock", "--throttle", "fast"),
	     "--throttle fast: auto, dirty-limit or off"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ds_proc p;
		ds_proc_run(&p, NULL, cases[i].args);
		ds_proc_check_exit(&p, 2, ARGS(cases[i].why));
		ds_proc_free(&p);
	}
	/* The stale-TLB hook is for noflush on several vCPUs only. */
	const struct ds_proc_opts hook = {.env = "DIRTYSCOPE_TEST_STALE_TLB=1"};
	ds_expect_fail(2, &hook, ARGS("DIRTYSCOPE_TEST_STALE_TLB=1: a test hook"),
		       ARGS("run", "--vcpus", "2", "--workload", "db", "--policy", "wp"));
	ds_expect_fail(2, &hook, ARGS("with --policy noflush and --vcpus 2"),
		       ARGS("run", "--workload", "db", "--policy", "noflush"));
}

/* Every epoch's per-vCPU figures, checked as they come. */
struct capture {
	struct sink sink;
	uint32_t nr;
	uint64_t epochs;
	uint64_t bad_nr;	 /* epochs whose figures are not for nr vCPUs */
	uint64_t guest_sum_off;	 /* guest source: per-CPU pages do not sum to the union */
	uint64_t guest_sum_over; /* guest source: sum above the union (shared pages) */
	uint64_t ring_sum_under; /* ring source: per-vCPU pages sum below the dirty pages */
	uint64_t idle_vcpu;	 /* a vCPU without a dirty page in an epoch */
	uint64_t ring_full_diff; /* per-vCPU ring-full exits do not sum to the epoch's */
	uint64_t ring_full_ap;	 /* ring-full exits of vCPUs other than 0 */
	uint64_t ring_full;	 /* the epochs' ring-full exits */
	enum vcpu_source source;
};

static void capture_epoch(struct sink *s, const struct epoch_rec *e)
{
	struct capture *c = (struct capture *)s;
	const struct vcpu_figs *v = &e->vcpu;
	c->epochs++;
	c->source = v->source;
	if (v->nr != c->nr) {
		c->bad_nr++;
		return;
	}
	uint64_t sum = 0, full = 0;
	for (uint32_t i = 0; i < v->nr; i++) {
		sum += v->dirty_pages[i];
		full += v->ring_full_exits[i];
		if (i > 0)
			c->ring_full_ap += v->ring_full_exits[i];
		if (v->dirty_pages[i] == 0)
			c->idle_vcpu++;
	}
	if (full != e->ring_full_exits)
		c->ring_full_diff++;
	c->ring_full += e->ring_full_exits;
	if (v->source == VCPU_SOURCE_GUEST && sum < e->workload_pages)
		c->guest_sum_off++;
	if (v->source == VCPU_SOURCE_GUEST && sum > e->workload_pages)
		c->guest_sum_over++;
	if (v->source == VCPU_SOURCE_RING && sum < e->dirty_pages)
		c->ring_sum_under++;
}

static void config(struct session_config *cfg, struct capture *cap, const char *mode,
		   uint32_t vcpus, uint64_t wss, uint32_t epochs)
{
	memset(cap, 0, sizeof(*cap));
	cap->sink.epoch = capture_epoch;
	cap->nr = vcpus;
	ds_session_config(cfg, mode, ABI_WL_RANDOM, 256ull << 20, wss, epochs, &cap->sink);
	cfg->wl.nr_cpus = vcpus;
}

static void test_modes(void)
{
	static const char *const modes[] = {"bitmap", "clear", "ring"};
	static const uint32_t nr[] = {2, 4};
	for (int m = 0; m < 3; m++) {
		for (int k = 0; k < 2; k++) {
			struct session_config cfg;
			struct capture cap;
			struct run_summary sum;
			config(&cfg, &cap, modes[m], nr[k], 512, 4);
			int ret = session_run(&cfg, &sum);
			printf("\n    %s, %u vCPUs: ret %d, %llu epochs, lost %llu, check %s",
			       modes[m], nr[k], ret, (unsigned long long)cap.epochs,
			       (unsigned long long)sum.lost_pages,
			       sum.guest_check_failed ? "failed" : "passed");
			CU_ASSERT_EQUAL(ret, 0);
			CU_ASSERT_EQUAL(cap.epochs, 4);
			CU_ASSERT_EQUAL(sum.lost_pages, 0);
			CU_ASSERT_FALSE(sum.guest_check_failed);
			CU_ASSERT_EQUAL(cap.bad_nr, 0);
			CU_ASSERT_EQUAL(sum.vcpu.nr, nr[k]);
			CU_ASSERT_EQUAL(cap.ring_full_diff, 0);
			CU_ASSERT_EQUAL(cap.idle_vcpu, 0);
			CU_ASSERT_EQUAL(cap.source, m == 2 ? VCPU_SOURCE_RING : VCPU_SOURCE_GUEST);
			/* Private partitions: each page is one CPU's. */
			CU_ASSERT_EQUAL(cap.guest_sum_off, 0);
			CU_ASSERT_EQUAL(cap.guest_sum_over, 0);
			CU_ASSERT_EQUAL(cap.ring_sum_under, 0);
			for (uint32_t i = 0; i < nr[k]; i++)
				CU_ASSERT(sum.vcpu.exits[i] != UINT64_MAX && sum.vcpu.exits[i] > 0);
		}
	}
}

static void test_shared(void)
{
	struct session_config cfg;
	struct capture cap;
	struct run_summary sum;
	config(&cfg, &cap, "bitmap", 4, 256, 4);
	cfg.wl.share_pct = 100;
	int ret = session_run(&cfg, &sum);
	printf("\n    4 vCPUs sharing 256 pages: ret %d, workload pages %llu, per-CPU sums "
	       "above it in %llu of %llu epochs",
	       ret, (unsigned long long)sum.workload_pages, (unsigned long long)cap.guest_sum_over,
	       (unsigned long long)cap.epochs);
	CU_ASSERT_EQUAL(ret, 0);
	CU_ASSERT_EQUAL(sum.lost_pages, 0);
	CU_ASSERT_FALSE(sum.guest_check_failed);
	CU_ASSERT_EQUAL(cap.guest_sum_off, 0);
	/* 64 random picks each over 256 pages: two CPUs meet on a page in
	 * every epoch but with odds far below one in a million. */
	CU_ASSERT_EQUAL(cap.guest_sum_over, 4);
}

/* Four vCPUs with 256-entry rings writing 2048 pages: the setting of the
 * ring tests below, with the reaper's period and a dirty limit. */
static int run_small_rings(struct capture *cap, struct run_summary *sum, uint32_t epochs,
			   uint32_t reaper_us, uint32_t dirty_limit_mibs)
{
	struct session_config cfg;
	config(&cfg, cap, "ring", 4, 2048, epochs);
	cfg.dlog.ring_entries = 256;
	cfg.dlog.reaper_us = reaper_us;
	cfg.dirty_limit_mibs = dirty_limit_mibs;
	return session_run(&cfg, sum);
}

static void test_small_ring(void)
{
	struct capture cap;
	struct run_summary sum;
	/* No reaper thread: the vCPUs' own ring-full exits are the point. */
	int ret = run_small_rings(&cap, &sum, 3, 0, 0);
	printf("\n    4 rings of 256, no reaper thread: ret %d, %llu ring-full exits, %llu of them "
	       "by vCPUs 1-3, "
	       "lost %llu",
	       ret, (unsigned long long)sum.ring_full_exits, (unsigned long long)cap.ring_full_ap,
	       (unsigned long long)sum.lost_pages);
	CU_ASSERT_EQUAL(ret, 0);
	CU_ASSERT_EQUAL(sum.lost_pages, 0);
	CU_ASSERT_FALSE(sum.log_overflowed);
	CU_ASSERT(cap.ring_full_ap > 0);
	CU_ASSERT_EQUAL(cap.ring_full_diff, 0);
	/* The summary's per-vCPU figures cover the epochs, boot left out. */
	uint64_t full = 0;
	for (uint32_t i = 0; i < 4; i++)
		full += sum.vcpu.ring_full_exits[i];
	CU_ASSERT_EQUAL(full, cap.ring_full);
}

/* The same small rings with the reaper thread emptying them every 1 ms:
 * it does the work the ring-full exits did, and nothing is lost. */
static void test_reaper(void)
{
	struct capture cap;
	struct run_summary sum;
	int ret = run_small_rings(&cap, &sum, 3, 1000, 0);
	printf("\n    4 rings of 256, reaper every 1 ms: ret %d, %llu passes (%llu by the thread, "
	       "largest %llu entries), %llu ring-full exits, lost %llu",
	       ret, (unsigned long long)sum.reaper_passes,
	       (unsigned long long)sum.reaper_thread_passes,
	       (unsigned long long)sum.reaper_max_pass, (unsigned long long)sum.ring_full_exits,
	       (unsigned long long)sum.lost_pages);
	CU_ASSERT_EQUAL(ret, 0);
	CU_ASSERT_EQUAL(sum.lost_pages, 0);
	CU_ASSERT_FALSE(sum.log_overflowed);
	CU_ASSERT(sum.reaper_thread_passes > 0);
	CU_ASSERT(sum.reaper_max_pass <= 4 * 256);
}

/*
 * Dirty-limit: four vCPUs held at 1 MiB/s each (256 pages a second) with
 * 256-entry rings.  Each vCPU's rate over the run stays within the limit
 * plus one ring's worth over the run's time (the limit acts when a ring
 * fills), and vCPUs were held out of the guest for a while.  Wall-clock
 * figures only bound the rate from above: a busy machine makes the guest
 * slower, which the bound allows.
 */
static void test_dirty_limit(void)
{
	struct capture cap;
	struct run_summary sum;
	int ret = run_small_rings(&cap, &sum, 2, 0, 1);
	double secs = (double)sum.epoch_ns / 1e9, ring_mib = 256.0 * 4096 / (1 << 20);
	double bound = 1.0 + ring_mib / (secs > 0 ? secs : 1);
	printf("\n    limit 1 MiB/s, %.2f s of epochs, bound %.2f MiB/s:", secs, bound);
	CU_ASSERT_EQUAL(ret, 0);
	CU_ASSERT_EQUAL(sum.lost_pages, 0);
	CU_ASSERT_EQUAL(sum.dirty_limit_mibs, 1);
	uint64_t held = 0;
	for (uint32_t i = 0; i < 4; i++) {
		double rate = epoch_dirty_rate(sum.vcpu.dirty_pages[i], sum.epoch_ns);
		printf(" vCPU %u %.2f MiB/s (held %.0f ms)", i, rate,
		       (double)sum.vcpu.held_ns[i] / 1e6);
		CU_ASSERT(rate <= bound);
		held += sum.vcpu.held_ns[i];
	}
	/* The workers meet at every epoch's end, so a vCPU the others wait
	 * for may never need holding; someone must have been. */
	CU_ASSERT(held > 0);
}

/*
 * IPIs through the in-kernel LAPIC (ABI_BOOT_F_TEST_IPI, guest/ipi.c): the
 * VMM creates the irqchip, CPU 0 sends each other CPU 200 IPIs and waits
 * for each to be taken (a panic, so a failed run, if one never is), logs
 * the round trips, and the workload runs on as usual, 0 lost.
 */
static void test_ipi(void)
{
	static const uint32_t nr[] = {2, 4};
	for (int k = 0; k < 2; k++) {
		struct session_config cfg;
		struct capture cap;
		struct run_summary sum;
		config(&cfg, &cap, "bitmap", nr[k], 512, 2);
		cfg.wl.flags = ABI_BOOT_F_TEST_IPI;
		cfg.echo_console = getenv("DS_CONSOLE") != NULL;
		fprintf(stderr, "\n    (the guest's IPI round trips, %u vCPUs:)\n", nr[k]);
		int ret = session_run(&cfg, &sum);
		printf("\n    IPIs to %u vCPUs: ret %d, lost %llu", nr[k] - 1, ret,
		       (unsigned long long)sum.lost_pages);
		CU_ASSERT_EQUAL(ret, 0);
		CU_ASSERT_EQUAL(sum.lost_pages, 0);
		CU_ASSERT_FALSE(sum.guest_check_failed);
	}
}

/*
 * The race between a store and a harvest, on purpose: a host thread
 * harvests bitmap (or clear) over and over while four vCPUs store, and at
 * each epoch's end, with the vCPUs stopped, the last harvest and the
 * oracle run.  A page written after a mid-epoch KVM_GET_DIRTY_LOG returned
 * must be in a later harvest, or the oracle counts it lost.  Teeth: the
 * same run with the mid-epoch harvests thrown away must lose pages.
 */
struct race {
	struct vm vm;
	struct dlog d;
	struct oracle o;
	struct frameset set;
	pthread_mutex_t m;
	bool drop; /* teeth: forget what the thread harvests */
	volatile int stop;
	uint64_t lost, syncs, thread_harvests, thread_pages, done;
	int err;
};

static void race_lost(void *ctx, uint64_t index)
{
	(void)ctx;
	(void)index;
}

static int race_hcall(void *ctx, const struct hcall *hc)
{
	struct race *r = ctx;
	if (hc->nr == ABI_HC_DONE) {
		r->done = 1;
		return 1;
	}
	if (hc->nr != ABI_HC_READY && hc->nr != ABI_HC_SYNC)
		return -EPROTO;
	/* vCPUs stopped (vm.h): the epoch's last harvest, then the oracle. */
	pthread_mutex_lock(&r->m);
	int64_t n = dlog_harvest(&r->d, &r->set);
	if (n < 0)
		r->err = (int)n;
	else
		r->lost += oracle_check(&r->o, &r->set, race_lost, r);
	frameset_clear(&r->set);
	r->syncs++;
	pthread_mutex_unlock(&r->m);
	return n < 0 ? (int)n : 0;
}

static void *race_thread(void *p)
{
	struct race *r = p;
	while (!r->stop) {
		pthread_mutex_lock(&r->m);
		r->d.vcpu_running = true;
		uint64_t before = r->set.count;
		int64_t n = dlog_harvest(&r->d, r->drop ? NULL : &r->set);
		r->d.vcpu_running = false;
		if (n < 0 && !r->err)
			r->err = (int)n;
		if (n > 0 && r->syncs > 0) {
			r->thread_harvests++;
			r->thread_pages += r->drop ? (uint64_t)n : r->set.count - before;
		}
		pthread_mutex_unlock(&r->m);
		usleep(300);
	}
	return NULL;
}

static void race_run(const char *mode, bool drop, struct race *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->m, NULL);
	r->drop = drop;
	struct boot_workload wl = ds_anon_workload(ABI_WL_RANDOM, 2048, 6);
	wl.nr_cpus = 4;
	struct dlog_config dc = dlog_config_default();
	pthread_t t;
	bool thread = false;
	int ret = vm_create(&r->vm, "/dev/kvm", 256ull << 20);
	CU_ASSERT_EQUAL_FATAL(ret, 0);
	if ((ret = dlog_init(&r->d, dlog_find(mode), &dc, &r->vm)) ||
	    (ret = vm_register_memory(&r->vm, KVM_MEM_LOG_DIRTY_PAGES)) ||
	    (ret = vm_load_guest(&r->vm, &wl)) || (ret = vm_create_vcpus(&r->vm)) ||
	    (ret = frameset_init(&r->set, r->vm.mem.nr_pages)) ||
	    (ret = dlog_harvest(&r->d, NULL) < 0 ? -EIO : 0) ||
	    (ret = oracle_init(&r->o, r->vm.mem.host, r->vm.mem.nr_pages)))
		goto out;
	if ((ret = -pthread_create(&t, NULL, race_thread, r)))
		goto out;
	thread = true;
	struct vm_handlers h = {.ctx = r, .hcall = race_hcall};
	ret = vm_run(&r->vm, &h);
out:
	r->stop = 1;
	if (thread)
		pthread_join(t, NULL);
	CU_ASSERT_EQUAL(ret, 0);
	CU_ASSERT_EQUAL(r->err, 0);
	CU_ASSERT_EQUAL(r->done, 1);
	oracle_free(&r->o);
	frameset_free(&r->set);
	dlog_teardown(&r->d);
	vm_destroy(&r->vm);
	pthread_mutex_destroy(&r->m);
}

static void test_harvest_race(void)
{
	static const char *const modes[] = {"bitmap", "clear"};
	for (int m = 0; m < 2; m++) {
		struct race r;
		race_run(modes[m], false, &r);
		printf("\n    %s, harvested every 0.3 ms while 4 vCPUs store: %llu epochs, %llu "
		       "mid-epoch harvests found %llu pages, lost %llu",
		       modes[m], (unsigned long long)r.syncs - 1,
		       (unsigned long long)r.thread_harvests, (unsigned long long)r.thread_pages,
		       (unsigned long long)r.lost);
		CU_ASSERT_EQUAL(r.syncs, 7); /* READY and six epochs */
		CU_ASSERT(r.thread_harvests > 0);
		CU_ASSERT_EQUAL(r.lost, 0);
		/* Teeth: the mid-epoch harvests' pages dropped are lost pages. */
		race_run(modes[m], true, &r);
		printf("; dropping them: %llu mid-epoch pages, lost %llu",
		       (unsigned long long)r.thread_pages, (unsigned long long)r.lost);
		CU_ASSERT(r.thread_pages > 0);
		CU_ASSERT(r.lost > 0);
	}
}

/*
 * A live migration of a guest with two vCPUs, in every KVM log mode: the
 * source parks both, saves both states (each vCPU's own record in the
 * stream), the destination loads both and runs them on; the RAM hashes
 * taken at the switch-over and before the destination resumes agree, and
 * the guest's own check passes there over both workers' pages.  Sized so
 * that the guest is still running when the migration is done, whatever
 * the host's speed: 400 epochs, most of which the destination runs.
 */
static void test_migrate(void)
{
	static const char *const modes[] = {"bitmap", "clear", "ring"};
	for (int m = 0; m < 3; m++) {
		struct ds_mig_plan p;
		struct ds_mig_side src, dst;
		memset(&p, 0, sizeof(p));
		ds_session_config(&p.src, modes[m], ABI_WL_RANDOM, 64ull << 20, 1024, 400, NULL);
		p.src.wl.nr_cpus = 2;
		p.mig = (struct migrate_config){.after_epoch = 2,
						.downtime_limit_ms = MIGRATE_DEFAULT_DOWNTIME_MS,
						.max_rounds = MIGRATE_DEFAULT_MAX_ROUNDS,
						.retry_delay_ms = 100,
						.quiet = true};
		p.recv_mode = modes[m];
		p.recv_verify = true;
		p.timeout_s = 300;
		CU_ASSERT_EQUAL_FATAL(ds_migrate_run(&p, &src, &dst), 0);
		printf("\n    %s, 2 vCPUs: source ret %d, %s, %llu epochs there; destination ret "
		       "%d, %llu vCPUs, epochs from %llu, check %s, lost %llu; hashes %016llx "
		       "%016llx",
		       modes[m], src.ret, src.sum.migrated ? "migrated" : "not migrated",
		       (unsigned long long)src.sum.epochs, dst.ret,
		       (unsigned long long)dst.sum.vcpu.nr, (unsigned long long)dst.sum.first_epoch,
		       dst.sum.guest_check_failed ? "failed" : "passed",
		       (unsigned long long)dst.sum.lost_pages, (unsigned long long)src.hash,
		       (unsigned long long)dst.hash);
		CU_ASSERT_FATAL(src.reported && dst.reported);
		CU_ASSERT_EQUAL(src.ret, 0);
		CU_ASSERT(src.sum.migrated);
		CU_ASSERT(src.hashed && dst.hashed);
		CU_ASSERT_EQUAL(src.hash, dst.hash);
		CU_ASSERT(src.mig.verified && dst.in.verified);
		CU_ASSERT(dst.resumed);
		CU_ASSERT_EQUAL(dst.ret, 0);
		CU_ASSERT_EQUAL(dst.sum.vcpu.nr, 2);
		CU_ASSERT_FALSE(dst.sum.guest_check_failed);
		CU_ASSERT(dst.sum.completed);
		CU_ASSERT_EQUAL(dst.sum.lost_pages, 0);
		CU_ASSERT_EQUAL(dst.sum.first_epoch + dst.sum.epochs - 1, 400);
	}
}

/*
 * --throttle dirty-limit: a guest of two vCPUs that dirties faster than a
 * 4 MiB/s link carries trips the trigger, the limit (1 MiB/s a vCPU) comes
 * on, and the migration completes with the hashes agreeing.
 */
static void test_migrate_dirty_limit(void)
{
	struct ds_mig_plan p;
	struct ds_mig_side src, dst;
	memset(&p, 0, sizeof(p));
	ds_session_config(&p.src, "ring", ABI_WL_RANDOM, 64ull << 20, 2048, 400, NULL);
	p.src.wl.nr_cpus = 2;
	p.src.dlog.ring_entries = 256;
	p.src.dlog.reaper_us = 0;
	p.src.dirty_limit_mibs = 1;
	p.mig = (struct migrate_config){.after_epoch = 2,
					.downtime_limit_ms = MIGRATE_DEFAULT_DOWNTIME_MS,
					.max_rounds = MIGRATE_DEFAULT_MAX_ROUNDS,
					.max_bandwidth = 4ull << 20,
					.throttle_dirty_limit = true,
					.retry_delay_ms = 100,
					.quiet = true};
	p.recv_mode = "ring";
	p.recv_verify = true;
	p.timeout_s = 300;
	CU_ASSERT_EQUAL_FATAL(ds_migrate_run(&p, &src, &dst), 0);
	printf("\n    4 MiB/s link, 2 vCPUs: %s after %llu rounds, dirty limit %s, vCPUs held "
	       "%.0f ms in all; destination ret %d, check %s; hashes %016llx %016llx",
	       src.sum.migrated ? "migrated" : "not migrated", (unsigned long long)src.mig.rounds,
	       src.mig.dirty_limit_on ? "on" : "never on", (double)src.sum.limit_held_ns / 1e6,
	       dst.ret, dst.sum.guest_check_failed ? "failed" : "passed",
	       (unsigned long long)src.hash, (unsigned long long)dst.hash);
	CU_ASSERT_EQUAL(src.ret, 0);
	CU_ASSERT(src.sum.migrated);
	CU_ASSERT(src.mig.dirty_limit_on);
	CU_ASSERT_EQUAL(src.mig.throttle_pct, 0); /* not auto-converge's */
	CU_ASSERT_EQUAL(src.hash, dst.hash);
	CU_ASSERT_EQUAL(dst.ret, 0);
	CU_ASSERT_FALSE(dst.sum.guest_check_failed);
	CU_ASSERT_EQUAL(dst.sum.lost_pages, 0);
}

/* An array of n numbers (nulls allowed only where `nulls`). */
static void check_array(struct json_object *o, const char *key, size_t n, const char *what)
{
	struct json_object *a = NULL;
	if (!CHECK(json_object_object_get_ex(o, key, &a) && json_object_is_type(a, json_type_array),
		   "%s: %s is not an array: %.300s", what, key, ds_json_text(o)))
		return;
	CHECK(json_object_array_length(a) == n, "%s: %s has %zu entries, not %zu", what, key,
	      json_object_array_length(a), n);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *x = json_object_array_get_idx(a, i);
		CHECK(json_object_is_type(x, json_type_int) ||
			  json_object_is_type(x, json_type_double),
		      "%s: %s[%zu] is not a number", what, key, i);
	}
}

static void test_json(void)
{
	struct ds_proc p;
	struct ds_jsonl j;
	ds_expect_ok(&p, ARGS("run", "--vcpus", "4", "--log", "ring", "--workload", "random",
			      "--epochs", "3", "--verify", "--json", "-"));
	if (!DS_JSONL_PARSE(&j, p.cmd, p.out))
		goto out;
	struct json_object *sum = DS_JSONL_SUMMARY(&j);
	CHECK(DS_JSONL_EPOCHS(&j, 1) == 3 && j.n == 4, "%s: not epochs 1..3 and the summary",
	      p.cmd);
	DS_JSON_INT_EQ(sum, "lost-pages", 0);
	DS_JSON_INT_EQ(sum, "vcpus", 4);
	DS_JSON_STR_EQ(sum, "vcpu-dirty-source", "ring");
	for (size_t i = 0; i < j.n; i++) {
		static const char *const keys[] = {"vcpu-dirty-pages", "vcpu-dirty-rate-mibs",
						   "vcpu-exits", "vcpu-ring-full-exits"};
		for (int k = 0; k < 4; k++)
			check_array(j.obj[i], keys[k], 4, p.cmd);
	}
out:
	ds_jsonl_free(&j);
	ds_proc_free(&p);
}

/* A ring log that never reads vCPU 1's ring: every page only vCPU 1
 * named is hidden.  vCPU 1 stamps new content on the pages of its own
 * partition every epoch, so the oracle must see them all. */
static int64_t lossy_harvest(struct dlog *d, struct frameset *out)
{
	struct frameset tmp;
	if (frameset_init(&tmp, d->vm->mem.nr_pages))
		return -ENOMEM;
	int64_t n = dlog_mode_ring.harvest(d, &tmp);
	for (uint64_t i = 0; n > 0 && i < tmp.count; i++) {
		uint64_t idx = tmp.list[i];
		bool others = false;
		for (uint32_t c = 0; c < d->nr_rings; c++)
			others |= c != 1 && frameset_test(&d->vcpu_dirty[c], idx);
		if (out && others)
			frameset_add(out, idx);
	}
	frameset_free(&tmp);
	return n;
}

static void test_teeth(void)
{
	struct dlog_mode lossy = dlog_mode_ring;
	lossy.name = "lossy-test";
	lossy.harvest = lossy_harvest;
	struct session_config cfg;
	struct capture cap;
	struct run_summary sum;
	config(&cfg, &cap, "ring", 4, 512, 3);
	cfg.mode = &lossy;
	int ret = session_run(&cfg, &sum);
	printf("\n    hiding vCPU 1's ring: ret %d, lost %llu (vCPU 1 wrote %llu pages)", ret,
	       (unsigned long long)sum.lost_pages, (unsigned long long)sum.vcpu.dirty_pages[1]);
	CU_ASSERT_EQUAL(ret, 1);
	/* At least the workload pages vCPU 1 wrote: ~80 an epoch. */
	CU_ASSERT(sum.lost_pages >= 3 * 50);

	config(&cfg, &cap, "bitmap", 4, 512, 2);
	cfg.wl.flags = ABI_BOOT_F_TEST_BAD_CHECK;
	fprintf(stderr, "\n    (a failed self-check follows; it is expected)\n");
	ret = session_run(&cfg, &sum);
	CU_ASSERT_EQUAL(ret, 1);
	CU_ASSERT(sum.guest_check_failed);
}

/* "tlb: N shootdowns" from the guest's log on stderr: N, or -1. */
static long shootdowns(const char *err)
{
	const char *t = strstr(err, "tlb: ");
	return t ? strtol(t + 5, NULL, 10) : -1;
}

/* The summary of a run --json - on two vCPUs: 0 lost, the image passed;
 * returns vCPU 1's exits (0 when absent). */
static int64_t files_summary(const struct ds_proc *p)
{
	struct ds_jsonl j;
	int64_t exits1 = 0;
	if (!DS_JSONL_PARSE(&j, p->cmd, p->out))
		return 0;
	struct json_object *sum = DS_JSONL_SUMMARY(&j), *arr;
	if (sum) {
		DS_JSON_INT_EQ(sum, "lost-pages", 0);
		DS_JSON_INT_EQ(sum, "vcpus", 2);
		DS_JSON_STR_EQ(sum, "image-check", "passed");
		if ((arr = DS_JSON_GET(sum, "vcpu-exits", json_type_array)) &&
		    json_object_array_length(arr) == 2)
			exits1 = json_object_get_int64(json_object_array_get_idx(arr, 1));
	}
	ds_jsonl_free(&j);
	return exits1;
}

static void test_files(void)
{
	static const char *const wls[] = {"db", "log", "shared2", "private", "forkcow", "mixed"};
	static const char *const pols[] = {"wp", "dbit", "scan"};
	for (size_t w = 0; w < sizeof(wls) / sizeof(wls[0]); w++)
		for (size_t k = 0; k < sizeof(pols) / sizeof(pols[0]); k++) {
			struct ds_proc p;
			ds_expect_ok(&p,
				     ARGS("run", "--vcpus", "2", "--workload", wls[w], "--policy",
					  pols[k], "--verify", "--quiet", "--json", "-"));
			int64_t exits1 = files_summary(&p);
			long n = shootdowns(p.err);
			printf("\n    %s/%s: vCPU 1 exits %lld, %ld shootdowns", wls[w], pols[k],
			       (long long)exits1, n);
			CHECK(n >= 0, "%s: no shootdown count in the guest's log: %s", p.cmd,
			      p.err);
			/* Two processes, one on each CPU, sharing the file's pages:
			 * cleaning one's pages must reach the other CPU. */
			if (!strcmp(wls[w], "db") || !strcmp(wls[w], "shared2")) {
				CHECK(exits1 > 0, "%s: vCPU 1 never exited", p.cmd);
				CHECK(n > 0, "%s: no TLB shootdown", p.cmd);
			}
			ds_proc_free(&p);
		}
	static const char *const lossy[] = {"db", "shared2", "mixed"};
	for (size_t w = 0; w < sizeof(lossy) / sizeof(lossy[0]); w++)
		ds_expect_exit(1, NULL, ARGS("differ from what the workload wrote"),
			       ARGS("run", "--vcpus", "2", "--workload", lossy[w], "--policy",
				    "lossy", "--verify", "--quiet"));
}

static void test_ring_files(void)
{
	struct ds_proc p;
	ds_expect_ok(&p, ARGS("run", "--vcpus", "2", "--log", "ring", "--workload", "db",
			      "--verify", "--quiet", "--json", "-"));
	files_summary(&p);
	ds_proc_free(&p);
}

/*
 * db on two vCPUs migrates through the CLI, as a user would: `receive
 * --verify` in the background, `run --migrate-to` in front, each log mode.
 * A guest that finishes before the switch-over (a fast or busy host) runs
 * again with more epochs.
 */
static void test_migrate_files(void)
{
	char dir[] = "/tmp/test_smp.XXXXXX", addr[200], sock[160], img[160];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/mig.sock", dir);
	snprintf(addr, sizeof(addr), "unix:%s", sock);
	snprintf(img, sizeof(img), "%s/db.img", dir);
	static const char *const logs[] = {"bitmap", "clear", "ring"};
	static const char *const tries[] = {"12", "96"};
	for (size_t l = 0; l < sizeof(logs) / sizeof(logs[0]); l++)
		for (size_t t = 0; t < sizeof(tries) / sizeof(tries[0]); t++) {
			struct ds_proc r, p;
			unlink(img);
			CU_ASSERT_EQUAL(
			    ds_proc_run(&p, NULL,
					ARGS("mkimage", img, "--size", "1M", "--file", "db:256K")),
			    0);
			ds_proc_free(&p);
			ds_proc_start(&r, NULL,
				      ARGS("receive", "--listen", addr, "--image", img, "--log",
					   logs[l], "--verify"));
			for (int i = 0; i < 100 && access(sock, F_OK); i++)
				usleep(50000);
			ds_proc_run(&p, NULL,
				    ARGS("run", "--vcpus", "2", "--workload", "db", "--image", img,
					 "--epochs", tries[t], "--log", logs[l], "--migrate-to",
					 addr, "--migrate-retries", "0"));
			ds_proc_finish(&r);
			bool again = p.code == 5 &&
				     strstr(p.err, "the guest stopped before the switch-over") &&
				     t + 1 < sizeof(tries) / sizeof(tries[0]);
			if (!again) {
				printf("\n    %s, %s epochs: source exit %d, destination exit %d",
				       logs[l], tries[t], p.code, r.code);
				ds_proc_check_exit(&p, 0, NULL);
				ds_proc_check_exit(&r, 0, NULL);
				CHECK(
				    strstr(r.out, "verified") && strstr(r.out, " 0 lost pages"),
				    "receive: no RAM checksum verified or no \"0 lost pages\": %s",
				    r.out);
			}
			ds_proc_free(&p);
			ds_proc_free(&r);
			if (!again)
				break;
			printf("\n    %s: %s epochs ran out before the switch-over; again", logs[l],
			       tries[t]);
		}
	unlink(img);
	unlink(sock);
	rmdir(dir);
}

/* compare's distinct missed pages, or -1; *shootdowns its summary's
 * guest-tlb-shootdowns. */
static int64_t compare_missed(const char *const *args, const struct ds_proc_opts *o,
			      int64_t *shootdowns)
{
	struct ds_proc p;
	struct ds_jsonl j;
	int64_t missed = -1;
	*shootdowns = -1;
	ds_proc_run(&p, o, args);
	CHECK(p.code == 0, "%s: exit %d; stderr: %s", p.cmd, p.code, p.err);
	if (p.code == 0 && DS_JSONL_PARSE(&j, p.cmd, p.out)) {
		struct json_object *o2 = ds_jsonl_find(&j, "distinct", 0), *d;
		if (CHECK(o2 != NULL, "%s: no distinct counts", p.cmd) &&
		    (d = DS_JSON_GET(o2, "distinct", json_type_object))) {
			missed = DS_JSON_INT(d, "missed-pages");
			*shootdowns = DS_JSON_INT(o2, "guest-tlb-shootdowns");
		}
		ds_jsonl_free(&j);
	}
	ds_proc_free(&p);
	return missed;
}

static void test_noflush(void)
{
	struct ds_proc p;
	/* As is: whether a stale entry survives depends on the CPUs. */
	ds_proc_run(&p, NULL,
		    ARGS("run", "--vcpus", "2", "--workload", "db", "--policy", "noflush",
			 "--epochs", "8", "--verify", "--quiet"));
	CHECK(p.code == 0 || p.code == 1, "%s: exit %d; stderr: %s", p.cmd, p.code, p.err);
	printf("\n    noflush as is: exit %d (%s)", p.code,
	       p.code ? "the race showed" : "this platform hid the race");
	ds_proc_free(&p);

	/* With the hook the stale entry is certain: writer 1 keeps storing
	 * through mappings writer 0's msyncs cleaned. */
	const struct ds_proc_opts hook = {.env = "DIRTYSCOPE_TEST_STALE_TLB=1"};
	ds_proc_run(&p, &hook,
		    ARGS("run", "--vcpus", "2", "--workload", "db", "--policy", "noflush",
			 "--epochs", "8", "--verify", "--quiet"));
	ds_proc_check_exit(&p, 1,
			   ARGS("mappings left stale", "differ from what the workload wrote"));
	ds_proc_free(&p);
	int64_t sd, sd_wp;
	int64_t missed = compare_missed(ARGS("compare", "--vcpus", "2", "--workload", "db",
					     "--policy", "noflush", "--epochs", "8", "--json", "-"),
					&hook, &sd);
	int64_t missed_wp = compare_missed(ARGS("compare", "--vcpus", "2", "--workload", "db",
						"--policy", "wp", "--epochs", "8", "--json", "-"),
					   NULL, &sd_wp);
	printf("\n    compare, stale TLB kept: missed %lld pages, %lld shootdowns; wp: missed "
	       "%lld, %lld shootdowns",
	       (long long)missed, (long long)sd, (long long)missed_wp, (long long)sd_wp);
	CHECK(missed > 0, "compare did not see noflush's missed pages (%lld)", (long long)missed);
	/* What tells the two apart is the shootdown. */
	CHECK(sd == 0 && sd_wp > 0, "shootdowns: noflush %lld, wp %lld", (long long)sd,
	      (long long)sd_wp);
	CHECK(missed_wp == 0, "compare saw wp miss %lld pages", (long long)missed_wp);
}

static const struct ds_case plain_cases[] = {
    {"usage: --vcpus and --share out of range or out of place: 2", test_usage},
    {NULL, NULL},
};

static const struct ds_case kvm_cases[] = {
    {"every KVM log, 2 and 4 vCPUs: 0 lost, per-vCPU figures", test_modes},
    {"four vCPUs sharing every page: 0 lost, per-CPU counts overlap", test_shared},
    {"a small ring per vCPU: ring-full exits from every vCPU, 0 lost", test_small_ring},
    {"the same rings with the reaper thread: 0 lost", test_reaper},
    {"a harvest racing four storing vCPUs loses nothing (bitmap, clear)", test_harvest_race},
    {"dirty-limit holds each of four vCPUs at 1 MiB/s", test_dirty_limit},
    {"IPIs through the in-kernel LAPIC arrive, 2 and 4 vCPUs", test_ipi},
    {"live migration with two vCPUs, every KVM log: hashes agree, check passes", test_migrate},
    {"--throttle dirty-limit: a guest outrunning the link is held, and moves",
     test_migrate_dirty_limit},
    {"run --vcpus 4 --json: per-vCPU arrays of 4", test_json},
    {"teeth: a hidden page and a page changed behind a CPU are caught", test_teeth},
    {"every file workload on two vCPUs: wp, dbit, scan verify; lossy fails", test_files},
    {"db on two vCPUs with the default ring: no overflow, 0 lost", test_ring_files},
    {"db on two vCPUs migrates through the CLI, every KVM log: verified", test_migrate_files},
    {"noflush: a stale TLB entry loses stores; verify and compare see it", test_noflush},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_partly_kvm("test_smp", plain_cases, kvm_cases);
}
