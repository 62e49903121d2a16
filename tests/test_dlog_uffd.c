/*
 * The uffd dirty-log mode: userfaultfd async write-protection of the VMM's
 * guest-RAM mapping, harvested with PAGEMAP_SCAN.
 *
 *   - PAGEMAP_SCAN regions become RAM indexes exactly; bad regions are refused
 *   - host stores into a guest_mem mapping (plain stores, and pread() into it
 *     as the virtio-blk device does) are harvested exactly, in both slots,
 *     once; reads are not writes; more written runs than one scan's output
 *     vector holds are all collected
 *   - under KVM, the guest's stores: in every harvest the uffd set equals KVM's
 *     dirty bitmap of the same run, whether the RAM was registered before or
 *     after KVM_SET_USER_MEMORY_REGION (the measurement of
 *     tests/probe_uffd_kvm.c, asserted so a kernel that changes it is noticed)
 *   - sessions in uffd mode: every workload, zero lost pages, bounded extra;
 *     RAM over 4 GiB; a file workload whose device stores into guest RAM are
 *     caught by the mode itself even when the session drops the device's
 *     own reports
 *
 * Exits 77 (skipped) with a reason when the kernel cannot track writes this
 * way; without /dev/kvm the host-only cases run and the suite reports skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi/hcall.h"
#include "abi/pcache.h"
#include "abi/wlfile.h"
#include "fs/dsfs.h"
#include "logger/session.h"
#include "logger/dlog/uffd_track.h"
#include "tests/lib/ds_session.h"
#include "tests/lib/ds_test.h"

#define PG 4096ull

/* As tests/test_kvm.c: pages an epoch may dirty beyond the workload's. */
#define KVM_EXTRA_MAX(wss) (4 + ((wss) + 32767) / 32768 + abi_workload_pt_pages(wss))

static void test_regions(void)
{
	struct frameset s;
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 64), 0);
	uint64_t b = 0x7f0000000000ull;
	struct page_region ok[] = {
	    {b, b + PG, 0}, {b + 5 * PG, b + 8 * PG, 0}, {b + 63 * PG, b + 64 * PG, 0}};
	CU_ASSERT_EQUAL(uffd_regions_to_frames(ok, 3, b, 64, &s), 5);
	CU_ASSERT_EQUAL(s.count, 5);
	CU_ASSERT(frameset_test(&s, 0) && frameset_test(&s, 5) && frameset_test(&s, 7));
	CU_ASSERT(frameset_test(&s, 63) && !frameset_test(&s, 8) && !frameset_test(&s, 4));
	CU_ASSERT_EQUAL(uffd_regions_to_frames(ok, 3, b, 64, NULL), 5);
	CU_ASSERT_EQUAL(uffd_regions_to_frames(ok, 0, b, 64, NULL), 0);

	struct page_region bad[][1] = {
	    {{b + 1, b + PG, 0}},	     /* unaligned start */
	    {{b, b + PG + 8, 0}},	     /* unaligned end */
	    {{b + PG, b + PG, 0}},	     /* empty */
	    {{b + 2 * PG, b + PG, 0}},	     /* reversed */
	    {{b - PG, b + PG, 0}},	     /* before the range */
	    {{b + 63 * PG, b + 65 * PG, 0}}, /* past its end */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(uffd_regions_to_frames(bad[i], 1, b, 64, NULL), -ERANGE);
	frameset_free(&s);
}

/* The uffd mode bound to guest RAM with no KVM behind it: vm_created and
 * harvest touch only vm->mem. */
struct host_rig {
	struct vm vm;
	struct dlog d;
	struct frameset got;
};

static int rig_open(struct host_rig *r, uint64_t ram)
{
	struct dlog_config cfg = {0};
	memset(r, 0, sizeof(*r));
	int ret = mem_create(&r->vm.mem, ram);
	if (ret)
		return ret;
	if ((ret = dlog_init(&r->d, &dlog_mode_uffd, &cfg, &r->vm))) {
		mem_destroy(&r->vm.mem);
		return ret;
	}
	return frameset_init(&r->got, r->vm.mem.nr_pages);
}

static void rig_close(struct host_rig *r)
{
	frameset_free(&r->got);
	dlog_teardown(&r->d);
	mem_destroy(&r->vm.mem);
}

static int64_t rig_harvest(struct host_rig *r)
{
	frameset_clear(&r->got);
	int64_t n = dlog_harvest(&r->d, &r->got);
	frameset_sort(&r->got);
	return n;
}

static void test_host_stores(void)
{
	struct host_rig r;
	/* 4.5 GiB: two slots; RAM index 786432 is GPA 4 GiB (slot 1, page 0). */
	CU_ASSERT_EQUAL_FATAL(rig_open(&r, 4608ull << 20), 0);
	struct guest_mem *m = &r.vm.mem;
	CU_ASSERT_EQUAL(r.d.kvm_calls, 1); /* the initial UFFDIO_WRITEPROTECT */
	CU_ASSERT_EQUAL(rig_harvest(&r), 0);
	/* 4.5 chunks of 1 GiB: five walks for an empty harvest */
	CU_ASSERT_EQUAL(r.d.kvm_calls, 1 + 5);

	uint64_t slot1 = mem_gpa_to_index(m, 4ull << 30);
	CU_ASSERT_EQUAL(slot1, 786432);
	uint8_t *p = mem_gpa_to_hva(m, 4ull << 30, PG);
	CU_ASSERT_EQUAL(p, m->host + slot1 * PG);
	m->host[0] = 1;
	m->host[17 * PG + 4095] = 1;
	p[8] = 1;
	m->host[(m->nr_pages - 1) * PG] = 1;

	/* A disk read into guest RAM, as the virtio-blk device does it: pread()
	 * into an unaligned buffer spanning pages 100..102. */
	char path[] = "/tmp/dirtyscope-uffd-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	unlink(path);
	char buf[2 * PG];
	memset(buf, 0xa5, sizeof(buf));
	CU_ASSERT_EQUAL(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	CU_ASSERT_EQUAL(pread(fd, m->host + 100 * PG + 2048, sizeof(buf), 0), (ssize_t)sizeof(buf));
	close(fd);

	uint64_t want[] = {0, 17, 100, 101, 102, slot1, m->nr_pages - 1};
	CU_ASSERT_EQUAL(rig_harvest(&r), 7);
	CU_ASSERT_EQUAL(r.got.count, 7);
	for (int i = 0; i < 7; i++)
		CU_ASSERT_EQUAL(r.got.list[i], want[i]);

	/* Harvested pages are protected again: nothing until the next store. */
	CU_ASSERT_EQUAL(rig_harvest(&r), 0);
	/* Reads, of written and of never-touched pages, are not writes. */
	volatile uint8_t sum = 0;
	for (uint64_t i = 0; i < 4096; i++)
		sum += m->host[i * PG];
	sum += p[0];
	CU_ASSERT_EQUAL(rig_harvest(&r), 0);
	m->host[17 * PG] = sum + 1;
	CU_ASSERT_EQUAL(rig_harvest(&r), 1);
	CU_ASSERT_EQUAL(r.got.list[0], 17);

	/* A read-only look does not re-arm: the page stays written. */
	m->host[5 * PG] = 1;
	CU_ASSERT_EQUAL(uffd_track_peek(r.d.uffd, NULL), 1);
	CU_ASSERT_EQUAL(uffd_track_peek(r.d.uffd, NULL), 1);
	CU_ASSERT_EQUAL(rig_harvest(&r), 1);
	rig_close(&r);
}

/* More disjoint written runs than one PAGEMAP_SCAN's output vector: the
 * walk stops when the vector fills and must resume where it stopped. */
static void test_many_regions(void)
{
	struct host_rig r;
	CU_ASSERT_EQUAL_FATAL(rig_open(&r, 64ull << 20), 0);
	uint64_t n = 3 * UFFD_TRACK_VEC + 7;
	for (uint64_t i = 0; i < n; i++)
		r.vm.mem.host[2 * i * PG] = 1;
	uint64_t calls = r.d.kvm_calls;
	CU_ASSERT_EQUAL(rig_harvest(&r), (int64_t)n);
	CU_ASSERT_EQUAL(r.got.count, n);
	CU_ASSERT_EQUAL(r.d.kvm_calls - calls, 4); /* three full vectors and the rest */
	int exact = 1;
	for (uint64_t i = 0; i < r.got.count; i++)
		exact &= r.got.list[i] == 2 * i;
	CU_ASSERT(exact);
	CU_ASSERT_EQUAL(rig_harvest(&r), 0);
	rig_close(&r);
}

static void test_mode_table(void)
{
	const struct dlog_mode *m = dlog_find("uffd");
	CU_ASSERT_PTR_EQUAL_FATAL(m, &dlog_mode_uffd);
	char why[160] = "";
	struct dlog_config cfg = {0};
	int ret = m->supported(NULL, &cfg, why, sizeof(why));
	if (ret)
		printf("\n    uffd unsupported: %s", why);
	CU_ASSERT_EQUAL(ret, 0);
}

/*
 * Under KVM: the same run logged by KVM's dirty bitmap and by the uffd mode
 * at once, compared at every hypercall.
 */
struct twin {
	struct vm vm;
	struct dlog kvm, uffd;
	struct frameset a, b;
	uint64_t harvests, unequal, kvm_pages, uffd_pages;
};

static int twin_compare(struct twin *t)
{
	frameset_clear(&t->a);
	frameset_clear(&t->b);
	if (dlog_harvest(&t->kvm, &t->a) < 0 || dlog_harvest(&t->uffd, &t->b) < 0)
		return -EIO;
	int same = t->a.count == t->b.count;
	for (uint64_t i = 0; same && i < t->a.count; i++)
		same = frameset_test(&t->b, t->a.list[i]);
	t->unequal += !same;
	t->harvests++;
	t->kvm_pages += t->a.count;
	t->uffd_pages += t->b.count;
	return 0;
}

static int twin_hcall(void *ctx, const struct hcall *hc)
{
	if (hc->nr == ABI_HC_DONE)
		return 1;
	return twin_compare(ctx);
}

static void twin_run(int after, uint32_t wl, uint64_t mem, uint64_t wss, uint32_t epochs)
{
	struct twin *t = calloc(1, sizeof(*t));
	struct dlog_config cfg = ds_dlog_config();
	struct boot_workload bw = ds_anon_workload(wl, wss, epochs);
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL_FATAL(vm_create(&t->vm, "/dev/kvm", mem), 0);
	CU_ASSERT_EQUAL_FATAL(dlog_init(&t->kvm, &dlog_mode_bitmap, &cfg, &t->vm), 0);
	if (!after)
		CU_ASSERT_EQUAL_FATAL(dlog_init(&t->uffd, &dlog_mode_uffd, &cfg, &t->vm), 0);
	CU_ASSERT_EQUAL_FATAL(vm_register_memory(&t->vm, KVM_MEM_LOG_DIRTY_PAGES), 0);
	CU_ASSERT_EQUAL_FATAL(vm_load_guest(&t->vm, &bw), 0);
	if (after)
		CU_ASSERT_EQUAL_FATAL(dlog_init(&t->uffd, &dlog_mode_uffd, &cfg, &t->vm), 0);
	CU_ASSERT_EQUAL_FATAL(vm_create_vcpus(&t->vm), 0);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&t->a, t->vm.mem.nr_pages), 0);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&t->b, t->vm.mem.nr_pages), 0);
	CU_ASSERT(dlog_harvest(&t->kvm, NULL) >= 0);
	CU_ASSERT(dlog_harvest(&t->uffd, NULL) >= 0);

	/* Control: a VMM store is the host's alone. */
	t->vm.mem.host[(t->vm.mem.nr_pages - 1) * PG] = 1;
	CU_ASSERT_EQUAL(twin_compare(t), 0);
	CU_ASSERT_EQUAL(t->a.count, 0);
	CU_ASSERT_EQUAL(t->b.count, 1);
	t->unequal = t->harvests = t->kvm_pages = t->uffd_pages = 0;

	struct vm_handlers h = {.ctx = t, .hcall = twin_hcall};
	int ret = vm_run(&t->vm, &h);
	printf("\n    %s slots, wl %u, %llu MiB: %llu harvests, kvm %llu pages, uffd %llu, "
	       "%llu unequal",
	       after ? "after" : "before", wl, (unsigned long long)(mem >> 20),
	       (unsigned long long)t->harvests, (unsigned long long)t->kvm_pages,
	       (unsigned long long)t->uffd_pages, (unsigned long long)t->unequal);
	CU_ASSERT_EQUAL(ret, 0);
	CU_ASSERT_EQUAL(t->harvests, 1 + epochs); /* READY and every SYNC */
	CU_ASSERT(t->kvm_pages >= epochs * (wl == ABI_WL_SEQ ? wss : 1));
	CU_ASSERT_EQUAL(t->unequal, 0);
	CU_ASSERT_EQUAL(t->uffd_pages, t->kvm_pages);

	frameset_free(&t->b);
	frameset_free(&t->a);
	dlog_teardown(&t->uffd);
	dlog_teardown(&t->kvm);
	vm_destroy(&t->vm);
	free(t);
}

static void test_guest_stores_seen(void)
{
	twin_run(0, ABI_WL_SEQ, 256ull << 20, 256, 4);
	twin_run(1, ABI_WL_SEQ, 256ull << 20, 256, 4);
	twin_run(0, ABI_WL_RANDOM, 256ull << 20, 2048, 4);
	twin_run(1, ABI_WL_HOTCOLD, 256ull << 20, 2048, 4);
	twin_run(0, ABI_WL_RANDOM, 4608ull << 20, 2048, 2);
}

struct capture {
	struct sink sink;
	uint64_t epochs, under, bad_extra, max_extra, wss;
	uint64_t min_slot[MEM_MAX_SLOTS];
};

static void capture_epoch(struct sink *s, const struct epoch_rec *e)
{
	struct capture *c = (struct capture *)s;
	if (c->epochs++ == 0)
		for (int i = 0; i < MEM_MAX_SLOTS; i++)
			c->min_slot[i] = UINT64_MAX;
	if (e->dirty_pages < e->workload_pages) {
		c->under++;
		return;
	}
	uint64_t extra = e->dirty_pages - e->workload_pages;
	if (extra > c->max_extra)
		c->max_extra = extra;
	if (!e->file_world && extra > KVM_EXTRA_MAX(c->wss))
		c->bad_extra++;
	for (int i = 0; i < e->nr_slots; i++)
		if (e->slot_pages[i] < c->min_slot[i])
			c->min_slot[i] = e->slot_pages[i];
}

static void config(struct session_config *cfg, struct capture *cap, uint32_t workload, uint64_t mem,
		   uint64_t wss, uint32_t epochs)
{
	memset(cap, 0, sizeof(*cap));
	cap->sink.epoch = capture_epoch;
	cap->wss = wss;
	ds_session_config(cfg, "uffd", workload, mem, wss, epochs, &cap->sink);
}

static void test_sessions(void)
{
	static const uint32_t wls[] = {ABI_WL_SEQ, ABI_WL_RANDOM, ABI_WL_HOTCOLD};
	for (int w = 0; w < 3; w++) {
		struct session_config cfg;
		struct capture cap;
		struct run_summary sum;
		config(&cfg, &cap, wls[w], 256ull << 20, 512, 20);
		int ret = session_run(&cfg, &sum);
		printf("\n    uffd/%u: ret %d, %llu epochs, lost %llu, max extra %llu, %llu ioctls",
		       wls[w], ret, (unsigned long long)cap.epochs,
		       (unsigned long long)sum.lost_pages, (unsigned long long)cap.max_extra,
		       (unsigned long long)sum.kvm_calls);
		CU_ASSERT_EQUAL(ret, 0);
		CU_ASSERT_EQUAL(cap.epochs, 20);
		CU_ASSERT_EQUAL(sum.lost_pages, 0);
		CU_ASSERT(sum.verified);
		CU_ASSERT_EQUAL(cap.under, 0);
		CU_ASSERT_EQUAL(cap.bad_extra, 0);
		if (wls[w] == ABI_WL_SEQ)
			CU_ASSERT_EQUAL(sum.workload_pages, 20 * 512);
		/* One walk per harvest (256 MiB is one chunk) while the written
		 * runs fit one output vector, as seq's do: arm, boot and 20
		 * epochs, plus the initial UFFDIO_WRITEPROTECT. */
		if (wls[w] == ABI_WL_SEQ)
			CU_ASSERT_EQUAL(sum.kvm_calls, 23);
		CU_ASSERT(sum.kvm_calls >= 23);
	}

	/* RAM over 4 GiB: both slots' pages, RAM indexes across the hole. */
	struct session_config cfg;
	struct capture cap;
	struct run_summary sum;
	config(&cfg, &cap, ABI_WL_RANDOM, 4608ull << 20, 2048, 3);
	int ret = session_run(&cfg, &sum);
	printf("\n    uffd 4.5 GiB: ret %d, lost %llu, min slot pages %llu / %llu", ret,
	       (unsigned long long)sum.lost_pages, (unsigned long long)cap.min_slot[0],
	       (unsigned long long)cap.min_slot[1]);
	CU_ASSERT_EQUAL(ret, 0);
	CU_ASSERT_EQUAL(sum.lost_pages, 0);
	CU_ASSERT_EQUAL(cap.under, 0);
	CU_ASSERT(cap.min_slot[0] > 500);
	CU_ASSERT(cap.min_slot[1] > 500);
}

/*
 * The virtio-blk device's stores into guest RAM miss KVM's log, so the
 * session adds them itself (test_files shows the oracle finding them lost
 * under bitmap when it does not).  uffd sees them in the host's page tables:
 * with the session's device reports dropped, nothing is lost.
 */
static void test_device_stores(void)
{
	char image[] = "/tmp/dirtyscope-uffd-img-XXXXXX";
	int fd = mkstemp(image);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	/* run 0: uffd; run 1: uffd without the device's reports; run 2, the
	 * control: bitmap without them, which must lose the device's pages */
	for (int run = 0; run < 3; run++) {
		int drop = run > 0;
		struct dsfs_file_spec f = {.capacity = 32 * PG, .size = 32 * PG};
		char why[256];
		snprintf(f.name, sizeof(f.name), "%s", abi_wl_file_name(ABI_WL_PRIVATE));
		int ret = dsfs_mkimage(image, (1 + 32 + 8) * PG, &f, 1, why, sizeof(why));
		if (ret)
			printf("\n    mkimage: %s", why);
		CU_ASSERT_EQUAL_FATAL(ret, 0);

		struct session_config cfg;
		struct capture cap;
		struct run_summary sum;
		config(&cfg, &cap, ABI_WL_PRIVATE, 64ull << 20, 32, 4);
		cfg.image_path = image;
		cfg.policy_name = "wp";
		cfg.wl.writes_per_epoch = 48;
		cfg.wl.policy = ABI_POLICY_WP;
		cfg.wl.flush_every = 200;
		cfg.wl.cache_pages = 6;
		cfg.wl.sync_every = 10;
		cfg.wl.seed = 7;
		cfg.test_drop_device_writes = drop;
		if (run == 2) {
			cfg.mode = &dlog_mode_bitmap;
			fprintf(stderr, "\n    (lost-page reports of the bitmap control follow; "
					"they are expected)\n");
		}
		ret = session_run(&cfg, &sum);
		printf("\n    private, %s, device reports %s: ret %d, lost %llu, device pages %llu",
		       cfg.mode->name, drop ? "dropped" : "kept", ret,
		       (unsigned long long)sum.lost_pages,
		       (unsigned long long)sum.device_dirty_pages);
		CU_ASSERT_EQUAL(cap.epochs, 4);
		if (run < 2) {
			CU_ASSERT_EQUAL(ret, 0);
			CU_ASSERT_EQUAL(sum.lost_pages, 0);
		} else {
			CU_ASSERT_EQUAL(ret, 1);
			CU_ASSERT(sum.lost_pages > 0);
		}
	}
	unlink(image);
}

int main(void)
{
	char why[160];
	if (uffd_track_probe(why, sizeof(why))) {
		printf("test_dlog_uffd: skipped: %s\n", why);
		return 77;
	}
	static const struct ds_case host[] = {
	    {"PAGEMAP_SCAN regions to RAM indexes", test_regions},
	    {"mode table lists uffd, supported here", test_mode_table},
	    {"host stores into guest RAM are harvested exactly", test_host_stores},
	    {"more written runs than one scan's vector", test_many_regions},
	    {NULL, NULL},
	};
	static const struct ds_case kvm[] = {
	    {"guest stores: uffd equals KVM's dirty bitmap", test_guest_stores_seen},
	    {"sessions: every workload, 0 lost; RAM over 4 GiB", test_sessions},
	    {"device stores into guest RAM caught without device reports", test_device_stores},
	    {NULL, NULL},
	};
	int ret = ds_run_suite("uffd-host", host);
	int fd = open("/dev/kvm", O_RDWR);
	if (fd < 0) {
		printf("test_dlog_uffd: KVM cases skipped: cannot open /dev/kvm: %s\n",
		       strerror(errno));
		return ret ? ret : 77;
	}
	close(fd);
	return ds_run_suite("uffd-kvm", kvm) | ret;
}
