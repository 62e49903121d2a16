/*
 * Integration tests of dirtyscope compare (logger/compare/compare.c), under KVM.
 *
 *   - db and shared2 under wp, dbit and scan: no missed page in any epoch,
 *     and every page the guest calls dirty, or writes back, was in the
 *     host's KVM dirty set in that epoch or an earlier one since its last
 *     writeback.  That second check
 *     is made here independently of the compare code: the test maps the
 *     dirty frames to file pages itself, through the guest's index read with
 *     pcview_index_entry, not through the mirror.
 *   - the same under lossy: missed pages appear, and each one's bytes in
 *     guest RAM really differ from the image (read here with pread), while
 *     the guest's own index says the page is clean.
 *   - the frame classes add up (every dirty frame is a file page or in
 *     exactly one other class), an honest guest tells no lie, a private
 *     mapping's stores are counted as copy-on-write copies, and the picture
 *     draws as many missed cells as the counts say.
 *   - teeth: a host view with the file pages' frames removed (as a dirty
 *     log that lost stores would give) makes compare report unexplained
 *     guest-dirty pages.
 *
 * Needs /dev/kvm; exits 77 (skipped) with a reason when it cannot open it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logger/compare/compare.h"
#include "logger/guestview/pcview.h"
#include "tests/lib/ds_session.h"
#include "tests/lib/ds_test.h"

static char dir[] = "/tmp/dirtyscope-compare-XXXXXX";

#define MAX_PAGES 64

/* The test's own bookkeeping, per page of the workload's file. */
struct check {
	struct sink sink; /* wraps the compare sink */
	struct compare cmp;
	const char *image;
	uint32_t policy;
	bool drop_file_frames; /* teeth: hide the file's frames from compare */
	uint64_t start_block;  /* the file's extent on the image */
	uint32_t ino;
	uint64_t host_last[MAX_PAGES]; /* last epoch the host saw it dirty */
	uint64_t wb_last[MAX_PAGES];   /* last epoch the guest wrote it back */
	uint64_t guest_dirty_seen, wb_seen, not_host_dirty;
	uint64_t missed_checked, missed_same, missed_flagged;
	uint64_t class_sum_bad, epochs;
	uint64_t broken; /* checks check_epoch could not finish (DS_REQUIRE) */
};

/* The file page each RAM frame holds, from the guest's own index. */
static void index_map(const struct epoch_rec *e, uint32_t ino, int64_t *page_of_frame,
		      uint64_t npages)
{
	for (uint64_t i = 0; i < e->mem->nr_pages; i++)
		page_of_frame[i] = -1;
	for (uint64_t p = 0; p < npages; p++) {
		uint64_t en = 0;
		char why[128];
		if (pcview_index_entry(e->view, e->mem, ino, p, &en, why, sizeof(why)) ||
		    !(en & ABI_PCE_PRESENT))
			continue;
		int64_t idx = mem_gpa_to_index(e->mem, en & ~ABI_PCE_FLAGS);
		if (idx >= 0)
			page_of_frame[idx] = (int64_t)p;
	}
}

static void check_epoch(struct sink *s, const struct epoch_rec *e)
{
	struct check *ck = (struct check *)s;
	const struct abi_pc_desc *d = &e->view->desc;
	uint64_t npages = 0;
	for (uint32_t i = 0; i < d->nr_files; i++)
		if (d->files[i].ino == ck->ino)
			npages = d->files[i].npages;
	/* Called inside session_run: no FATAL asserts (tests/lib/ds_test.h). */
	if (!DS_REQUIRE(npages > 0 && npages <= MAX_PAGES, &ck->broken))
		return;
	int64_t *page_of_frame = malloc(e->mem->nr_pages * sizeof(*page_of_frame));
	if (!DS_REQUIRE(page_of_frame != NULL, &ck->broken))
		return;
	index_map(e, ck->ino, page_of_frame, npages);

	/* Independent view: host-dirty pages and written-back pages. */
	for (uint64_t i = 0; i < e->dirty->count; i++) {
		int64_t p = page_of_frame[e->dirty->list[i]];
		if (p >= 0)
			ck->host_last[p] = e->epoch;
	}
	const struct pcview *v = e->view;
	for (uint64_t i = v->nr_dirty; i < v->nr_dirty + v->nr_written; i++) {
		uint32_t p = v->ents[i].index;
		if (v->ents[i].ino != ck->ino || p >= npages)
			continue;
		/* Written back: a store since its previous writeback was seen
		 * (scan's dirty list is often empty at an epoch's end, so this
		 * is where scan is checked). */
		ck->wb_seen++;
		if (!ck->host_last[p] || ck->host_last[p] < ck->wb_last[p])
			ck->not_host_dirty++;
		ck->wb_last[p] = e->epoch;
	}
	for (uint64_t i = 0; i < v->nr_dirty; i++) {
		uint32_t p = v->ents[i].index;
		if (v->ents[i].ino != ck->ino || p >= npages)
			continue;
		ck->guest_dirty_seen++;
		/* Dirty now: the host saw it written since its last writeback. */
		if (!ck->host_last[p] || ck->host_last[p] < ck->wb_last[p])
			ck->not_host_dirty++;
	}

	/* Feed compare, with the file's frames removed for the teeth test. */
	struct epoch_rec doctored = *e;
	struct frameset fs;
	if (ck->drop_file_frames) {
		if (!DS_REQUIRE(frameset_init(&fs, e->mem->nr_pages) == 0, &ck->broken)) {
			free(page_of_frame);
			return;
		}
		for (uint64_t i = 0; i < e->dirty->count; i++)
			if (page_of_frame[e->dirty->list[i]] < 0)
				frameset_add(&fs, e->dirty->list[i]);
		doctored.dirty = &fs;
	}
	ck->cmp.sink.epoch(&ck->cmp.sink, &doctored);
	if (ck->drop_file_frames)
		frameset_free(&fs);
	free(page_of_frame);
	ck->epochs++;

	/* The classes add up to the dirty set. */
	const struct compare_counts *k = &ck->cmp.last;
	uint64_t sum = k->host;
	for (int c = 1; c < MIRROR_CLASS_NR; c++)
		sum += k->host_only[c];
	if (sum != k->host_frames)
		ck->class_sum_bad++;

	/* Every missed page: RAM and image really differ, the index is clean. */
	int fd = open(ck->image, O_RDONLY);
	if (!DS_REQUIRE(fd >= 0, &ck->broken))
		return;
	for (uint64_t i = 0; i < ck->cmp.missed_listed; i++) {
		const struct compare_page *m = &ck->cmp.missed[i];
		uint8_t img[4096];
		CU_ASSERT_EQUAL(
		    pread(fd, img, sizeof(img), (off_t)((ck->start_block + m->index) * 4096)),
		    4096);
		const void *ram = mem_gpa_to_hva(e->mem, m->gpa, 4096);
		if (!DS_REQUIRE(ram != NULL, &ck->broken))
			break;
		ck->missed_checked++;
		if (!memcmp(ram, img, sizeof(img)))
			ck->missed_same++;
		uint64_t en = 0;
		char why[128];
		CU_ASSERT_EQUAL(
		    pcview_index_entry(e->view, e->mem, m->ino, m->index, &en, why, sizeof(why)),
		    0);
		if ((en & ~ABI_PCE_FLAGS) != m->gpa || (en & ABI_PCE_DIRTY))
			ck->missed_flagged++;
	}
	close(fd);
}

struct outcome {
	int ret;
	struct compare_counts total;
	uint64_t guest_dirty_seen, wb_seen, not_host_dirty;
	uint64_t missed_checked, missed_same, missed_flagged, class_sum_bad, epochs;
	uint64_t plot_missed_cells;
};

/* Count the picture's missed cells, as the legend states them. */
static uint64_t plot_missed(const struct compare *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(compare_plot(c, f), 0);
	fclose(f);
	unsigned long long n = 0;
	const char *at = buf ? strstr(buf, "missed (") : NULL;
	CU_ASSERT(at != NULL);
	if (at)
		n = strtoull(at + strlen("missed ("), NULL, 10);
	free(buf);
	return n;
}

static struct outcome run(uint32_t workload, uint32_t policy, bool drop)
{
	struct outcome o = {0};
	struct check *ck = calloc(1, sizeof(*ck));
	CU_ASSERT_FATAL(ck != NULL);
	char image[sizeof(dir) + 32];
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	CU_ASSERT_EQUAL_FATAL(ds_file_image(image, workload, 32), 0);
	struct dsfs_image img;
	char why[256];
	CU_ASSERT_EQUAL_FATAL(dsfs_open(image, O_RDONLY, &img, why, sizeof(why)), 0);
	int ino = dsfs_find(&img, abi_wl_file_name(workload));
	CU_ASSERT_FATAL(ino >= 0);
	ck->ino = (uint32_t)ino;
	ck->start_block = img.meta.inodes[ino].start_block;
	dsfs_close(&img);

	ck->image = image;
	ck->policy = policy;
	ck->drop_file_frames = drop;
	ck->sink.epoch = check_epoch;
	struct compare_config cc = {.image_path = image,
				    .policy = policy,
				    .policy_name = policy_name_of(policy),
				    .mode_name = "bitmap",
				    .workload_name = abi_wl_file_name(workload),
				    .report = stderr};
	CU_ASSERT_EQUAL_FATAL(compare_init(&ck->cmp, &cc), 0);

	/* 48 stores an epoch, msync every 20: each epoch ends with pages the
	 * guest still calls dirty, so "dirty now" is tested, not just
	 * "written back". */
	struct session_config cfg;
	ds_file_config(&cfg, image, workload, policy, 32, 4, 48, &ck->sink);
	cfg.wl.sync_every = 20;
	cfg.wl.flush_every = 200;
	o.ret = session_run(&cfg, NULL);
	o.total = ck->cmp.total;
	o.guest_dirty_seen = ck->guest_dirty_seen;
	o.not_host_dirty = ck->not_host_dirty;
	o.wb_seen = ck->wb_seen;
	o.missed_checked = ck->missed_checked;
	o.missed_same = ck->missed_same;
	o.missed_flagged = ck->missed_flagged;
	o.class_sum_bad = ck->class_sum_bad;
	o.epochs = ck->epochs;
	CU_ASSERT_EQUAL(ck->cmp.error, 0);
	CU_ASSERT_EQUAL(ck->broken, 0);
	if (!ck->cmp.error && ck->epochs)
		o.plot_missed_cells = plot_missed(&ck->cmp);
	compare_free(&ck->cmp);
	free(ck);
	unlink(image);
	printf("\n    %s/%s%s: ret %d, guest-dirty %llu and written %llu checked host-dirty, "
	       "both %llu, g-only %llu, h-only %llu, pte-D %llu, missed %llu (checked %llu), "
	       "unexplained %llu",
	       abi_wl_file_name(workload), policy_name_of(policy),
	       drop ? " (file frames dropped)" : "", o.ret, (unsigned long long)o.guest_dirty_seen,
	       (unsigned long long)o.wb_seen, (unsigned long long)o.total.both,
	       (unsigned long long)o.total.guest_only,
	       (unsigned long long)o.total.host_only[MIRROR_FILE],
	       (unsigned long long)o.total.pte_dirty, (unsigned long long)o.total.missed,
	       (unsigned long long)o.missed_checked, (unsigned long long)o.total.unexplained);
	return o;
}

static void check_exact(uint32_t policy)
{
	static const uint32_t wls[] = {ABI_WL_DB, ABI_WL_SHARED2};
	for (size_t i = 0; i < 2; i++) {
		struct outcome o = run(wls[i], policy, false);
		CU_ASSERT_EQUAL(o.ret, 0);
		CU_ASSERT_EQUAL(o.epochs, 4);
		CU_ASSERT_EQUAL(o.total.missed, 0);
		CU_ASSERT_EQUAL(o.plot_missed_cells, 0);
		CU_ASSERT_EQUAL(o.not_host_dirty, 0);
		CU_ASSERT_EQUAL(o.total.unexplained, 0);
		CU_ASSERT_EQUAL(o.total.mirror_errors, 0);
		CU_ASSERT_EQUAL(o.class_sum_bad, 0);
		CU_ASSERT(o.total.both > 0);
		CU_ASSERT(o.wb_seen > 0);
		/* Pages left dirty at epoch ends: by flag (wp) or D bit (dbit);
		 * scan learns of them only when it scans, and PTE D shows them. */
		if (policy == ABI_POLICY_SCAN) {
			CU_ASSERT(o.total.pte_dirty > 0);
		} else {
			CU_ASSERT(o.guest_dirty_seen > 0);
		}
		CU_ASSERT(o.total.host_only[MIRROR_PAGETABLE] + o.total.host_only[MIRROR_KERNEL] >
			  0);
	}
}

static void test_wp(void)
{
	check_exact(ABI_POLICY_WP);
}

static void test_dbit(void)
{
	check_exact(ABI_POLICY_DBIT);
}

static void test_scan(void)
{
	check_exact(ABI_POLICY_SCAN);
}

/* lossy: missed pages appear, and each really differs from the image. */
static void test_lossy_missed(void)
{
	static const uint32_t wls[] = {ABI_WL_DB, ABI_WL_SHARED2};
	for (size_t i = 0; i < 2; i++) {
		struct outcome o = run(wls[i], ABI_POLICY_LOSSY, false);
		CU_ASSERT_EQUAL(o.ret, 0);
		CU_ASSERT(o.total.missed > 0);
		CU_ASSERT(o.missed_checked > 0);
		CU_ASSERT_EQUAL(o.missed_same, 0);
		CU_ASSERT_EQUAL(o.missed_flagged, 0);
		CU_ASSERT_EQUAL(o.plot_missed_cells, o.total.missed);
		/* The host saw every store: nothing the guest calls dirty is
		 * unexplained, and the missed pages are host-dirty. */
		CU_ASSERT_EQUAL(o.total.unexplained, 0);
		CU_ASSERT_EQUAL(o.not_host_dirty, 0);
		CU_ASSERT(o.total.host_only[MIRROR_FILE] > 0);
	}
}

/* MAP_PRIVATE stores make private copies: the cow class. */
static void test_private_is_cow(void)
{
	struct outcome o = run(ABI_WL_PRIVATE, ABI_POLICY_WP, false);
	CU_ASSERT_EQUAL(o.ret, 0);
	CU_ASSERT(o.total.host_only[MIRROR_COW] > 0);
	CU_ASSERT_EQUAL(o.total.missed, 0);
	CU_ASSERT_EQUAL(o.total.mirror_errors, 0);
	CU_ASSERT_EQUAL(o.class_sum_bad, 0);
}

/* Teeth: hide the file's frames from compare, as a dirty log that lost the
 * stores would, and the guest's dirty pages become unexplained. */
static void test_lost_stores_are_unexplained(void)
{
	struct outcome o = run(ABI_WL_DB, ABI_POLICY_WP, true);
	CU_ASSERT_EQUAL(o.ret, 0);
	CU_ASSERT(o.guest_dirty_seen > 0);
	CU_ASSERT_EQUAL(o.total.host, 0);
	CU_ASSERT(o.total.unexplained > 0);
	CU_ASSERT(o.total.guest_only > 0);
}

static const struct ds_case cases[] = {
    {"wp: db and shared2 exact, every guest-dirty page host-dirty", test_wp},
    {"dbit: db and shared2 exact, every guest-dirty page host-dirty", test_dbit},
    {"scan: db and shared2 exact, every guest-dirty page host-dirty", test_scan},
    {"lossy: missed pages, each differing from the image", test_lossy_missed},
    {"private mapping stores are cow frames", test_private_is_cow},
    {"teeth: lost host stores show as unexplained", test_lost_stores_are_unexplained},
    {NULL, NULL},
};

int main(void)
{
	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "test_compare: /dev/kvm not usable: %s\n", strerror(errno));
		return 77;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	int ret = ds_run_suite("compare", cases);
	rmdir(dir);
	return ret;
}
