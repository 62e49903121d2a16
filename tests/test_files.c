/*
 * Integration tests of the guest's file world, under KVM.
 *
 *   - every file workload under wp, dbit and scan: after the run (the
 *     workload's final msync/fsync, then the kernel's final writeback) the
 *     image holds exactly the bytes the workload's seed says it wrote
 *     (private and forkcow: the file's initial content only, forkcow's
 *     parent and child having checked their own data in the guest); the
 *     dirty-log oracle finds no lost page (device writes into guest RAM are
 *     accounted); nothing outside the file's extent changed on the image
 *   - the same with a page cache far smaller than the file (eviction)
 *   - lossy: the image check catches the stores the policy loses (the
 *     oracle's teeth), while the dirty log itself loses nothing
 *   - the guest's published view: dirty and written-back pages are reported
 *   - bad input: a user program's invalid system calls (badsys) and hostile
 *     virtio descriptors (badblk) fail cleanly inside the guest; a corrupt
 *     or truncated image is refused by the guest's mount, never half-used
 *
 * Needs /dev/kvm; exits 77 (skipped) with a reason when it cannot open it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi/pcache.h"
#include "abi/wlfile.h"
#include "fs/dsfs.h"
#include "logger/verify/fileverify.h"
#include "logger/guestview/pcview.h"
#include "logger/session.h"
#include "tests/lib/ds_session.h"
#include "tests/lib/ds_test.h"
#include "vmm/wlnames.h"

static char dir[] = "/tmp/dirtyscope-files-XXXXXX";

struct capture {
	struct sink sink;
	uint64_t epochs;
	uint64_t guest_dirty, guest_written, guest_writes, device_pages;
	uint64_t view_checked, view_bad; /* dirty view entries vs the guest's index */
};

static void capture_epoch(struct sink *s, const struct epoch_rec *e)
{
	struct capture *c = (struct capture *)s;
	c->epochs++;
	c->guest_dirty += e->guest_dirty_pages;
	c->guest_written += e->guest_written_pages;
	c->guest_writes += e->guest_page_writes;
	c->device_pages += e->device_dirty_pages;
	/*
	 * Every page the guest lists as dirty must be what its own page-cache
	 * index (read through the published descriptor) holds at that index;
	 * except under dbit, where a D bit alone can make a page dirty, the
	 * index entry carries the dirty flag too.
	 */
	const struct pcview *v = e->view;
	for (uint64_t i = 0; v && i < v->nr_dirty; i++) {
		uint64_t entry = 0;
		char why[128];
		int ret = pcview_index_entry(v, e->mem, v->ents[i].ino, v->ents[i].index, &entry,
					     why, sizeof(why));
		c->view_checked++;
		if (ret || (entry & ~ABI_PCE_FLAGS) != v->ents[i].gpa ||
		    !(entry & ABI_PCE_PRESENT) ||
		    (v->policy != ABI_POLICY_DBIT && !(entry & ABI_PCE_DIRTY)))
			c->view_bad++;
	}
}

/* A fresh image holding the workload's file, as `dirtyscope run` makes it,
 * with spare blocks after it that the guest must leave alone. */
static void make_image(const char *path, uint32_t workload, uint64_t pages)
{
	CU_ASSERT_EQUAL_FATAL(ds_file_image(path, workload, pages), 0);
}

static uint64_t outside_hash(const char *path)
{
	struct dsfs_image img;
	char why[256];
	uint64_t h = 0;
	CU_ASSERT_EQUAL_FATAL(dsfs_open(path, O_RDONLY, &img, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(dsfs_hash_outside_extents(&img, &h), 0);
	dsfs_close(&img);
	return h;
}

struct result {
	int ret;
	long bad_pages; /* fileverify_image */
	uint64_t lost;
	struct capture cap;
	uint64_t outside_before, outside_after;
};

static uint32_t test_flags; /* ABI_BOOT_F_* for the next run() */
static bool drop_device_writes;

static struct result run(uint32_t workload, uint32_t policy, uint64_t pages, uint32_t epochs,
			 uint64_t writes, uint64_t cache_pages, uint64_t sync_every)
{
	struct result r = {0};
	char image[sizeof(dir) + 32];
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	make_image(image, workload, pages);
	r.outside_before = outside_hash(image);

	struct session_config cfg;
	r.cap.sink.epoch = capture_epoch;
	ds_file_config(&cfg, image, workload, policy, pages, epochs, writes, &r.cap.sink);
	cfg.wl.flush_every = 200;
	cfg.wl.cache_pages = cache_pages;
	cfg.wl.sync_every = sync_every;
	cfg.wl.flags = test_flags;
	cfg.test_drop_device_writes = drop_device_writes;

	struct run_summary sum;
	r.ret = session_run(&cfg, &sum);
	r.lost = sum.lost_pages;
	r.bad_pages = fileverify_image(image, &cfg.wl, stderr);
	r.outside_after = outside_hash(image);
	unlink(image);
	return r;
}

static const uint32_t file_workloads[] = {ABI_WL_DB,	  ABI_WL_LOG,	  ABI_WL_SHARED2,
					  ABI_WL_PRIVATE, ABI_WL_FORKCOW, ABI_WL_MIXED};

static void check_exact(uint32_t policy, uint64_t cache_pages)
{
	for (size_t w = 0; w < sizeof(file_workloads) / sizeof(file_workloads[0]); w++) {
		/* msync every 10 stores: epochs (48 stores) end with dirty pages. */
		struct result r = run(file_workloads[w], policy, 32, 4, 48, cache_pages, 10);
		printf("\n    %s/%s cache %llu: ret %d, image pages differing %ld, lost %llu, "
		       "guest wrote %llu pages, device dirtied %llu, view entries checked %llu",
		       policy_name_of(policy), wl_name_of(file_workloads[w]),
		       (unsigned long long)cache_pages, r.ret, r.bad_pages,
		       (unsigned long long)r.lost, (unsigned long long)r.cap.guest_writes,
		       (unsigned long long)r.cap.device_pages,
		       (unsigned long long)r.cap.view_checked);
		CU_ASSERT_EQUAL(r.ret, 0);
		CU_ASSERT_EQUAL(r.bad_pages, 0);
		CU_ASSERT_EQUAL(r.lost, 0);
		CU_ASSERT_EQUAL(r.cap.epochs, 4);
		CU_ASSERT_EQUAL(r.outside_before, r.outside_after);
		CU_ASSERT_EQUAL(r.cap.view_bad, 0);
		/* Every workload but forkcow/private writes its file back while it
		 * runs; the device's stores into guest RAM are counted. */
		CU_ASSERT(r.cap.device_pages > 0);
		if (file_workloads[w] != ABI_WL_PRIVATE && file_workloads[w] != ABI_WL_FORKCOW) {
			CU_ASSERT(r.cap.guest_writes > 0 && r.cap.guest_written > 0);
			/* scan only learns of mapped stores when it scans, so its
			 * view at an epoch's end may truthfully list nothing; a
			 * tiny cache may have evicted (written) every dirty page. */
			if (policy != ABI_POLICY_SCAN && !cache_pages)
				CU_ASSERT(r.cap.view_checked > 0);
		}
	}
}

static void test_wp(void)
{
	check_exact(ABI_POLICY_WP, 0);
}

static void test_dbit(void)
{
	check_exact(ABI_POLICY_DBIT, 0);
}

static void test_scan(void)
{
	check_exact(ABI_POLICY_SCAN, 0);
}

/* A page cache of 6 pages for 32-page files: eviction writes dirty victims
 * back (after taking their D bits) and re-reads them later. */
static void test_eviction(void)
{
	check_exact(ABI_POLICY_WP, 6);
	check_exact(ABI_POLICY_DBIT, 6);
	check_exact(ABI_POLICY_SCAN, 6);
}

/*
 * lossy: writeback clears the page flag but leaves the PTEs writable, so
 * stores after a page's first msync are never written.  The image check
 * must see it; the dirty log (the host's view) must still lose nothing.
 */
static void test_lossy_loses(void)
{
	static const uint32_t wls[] = {ABI_WL_DB, ABI_WL_SHARED2, ABI_WL_MIXED};
	for (int i = 0; i < 3; i++) {
		struct result r = run(wls[i], ABI_POLICY_LOSSY, 32, 4, 48, 0, 12);
		printf("\n    lossy/%u: ret %d, image pages differing %ld, lost %llu", wls[i],
		       r.ret, r.bad_pages, (unsigned long long)r.lost);
		CU_ASSERT_EQUAL(r.ret, 0);
		CU_ASSERT(r.bad_pages > 0);
		CU_ASSERT_EQUAL(r.lost, 0);
		CU_ASSERT_EQUAL(r.outside_before, r.outside_after);
	}
	/* Without msync before the end there is no writeback to lose a store
	 * after: the same workload is then exact, so the loss above is the
	 * policy's, not the workload's or the checker's. */
	struct result r = run(ABI_WL_DB, ABI_POLICY_LOSSY, 32, 4, 48, 0, 0);
	CU_ASSERT_EQUAL(r.ret, 0);
	CU_ASSERT_EQUAL(r.bad_pages, 0);
}

/* forkcow's teeth: with a fork that shares private pages instead of
 * copying them, parent and child see each other's stores, and the
 * workload's own check must fail the run. */
static void test_forkcow_catches_broken_cow(void)
{
	test_flags = ABI_BOOT_F_TEST_NO_COW;
	struct result r = run(ABI_WL_FORKCOW, ABI_POLICY_WP, 32, 4, 48, 0, 12);
	test_flags = 0;
	CU_ASSERT_EQUAL(r.ret, -EFAULT);
}

/*
 * The virtio-blk device's stores into guest RAM (a disk read filling a
 * page-cache page, status bytes, the used ring) are invisible to KVM's dirty
 * log.  With them reported, the oracle finds nothing lost (the runs above);
 * with them dropped, it must find the pages the reads filled.
 *
 * Both runs prefault every frame at boot (ABI_BOOT_F_TEST_PREFAULT): on
 * nested paging KVM logs a frame that was not yet mapped at the guest's
 * first access, so a disk read into a fresh frame, which the guest then
 * reads, would be logged by that fault and the dropped report would go
 * unseen.  With every frame mapped before the first epoch only the
 * device's report can put those pages in the log, on every platform.
 */
static void test_device_writes_reported(void)
{
	/* private with a 6-page cache: its final pread pass re-reads evicted
	 * pages from disk into frames the guest itself never stores to. */
	test_flags = ABI_BOOT_F_TEST_PREFAULT;
	struct result ok = run(ABI_WL_PRIVATE, ABI_POLICY_WP, 32, 4, 48, 6, 10);
	drop_device_writes = true;
	struct result r = run(ABI_WL_PRIVATE, ABI_POLICY_WP, 32, 4, 48, 6, 10);
	drop_device_writes = false;
	test_flags = 0;
	printf("\n    device writes reported: lost %llu, device pages %llu; dropped: ret %d, "
	       "lost %llu",
	       (unsigned long long)ok.lost, (unsigned long long)ok.cap.device_pages, r.ret,
	       (unsigned long long)r.lost);
	CU_ASSERT_EQUAL(ok.ret, 0);
	CU_ASSERT_EQUAL(ok.lost, 0);
	CU_ASSERT_EQUAL(r.ret, 1);
	/* Not every re-read changes its frame (a freed frame may get the same
	 * page back, byte for byte), but many do. */
	CU_ASSERT(r.lost >= 4);
}

/* badsys: every invalid system call gets its errno, faulting children are
 * killed, and the kernel finishes the run. */
static void test_badsys(void)
{
	struct result r = run(ABI_WL_BADSYS, ABI_POLICY_WP, 16, 0, 1, 0, 0);
	CU_ASSERT_EQUAL(r.ret, 0);
	CU_ASSERT_EQUAL(r.lost, 0);
	CU_ASSERT_EQUAL(r.outside_before, r.outside_after);
}

/* badblk: the device refuses every hostile descriptor (the guest checks the
 * answers) and keeps working. */
static void test_badblk(void)
{
	struct result r = run(ABI_WL_BADBLK, ABI_POLICY_WP, 16, 0, 1, 0, 0);
	CU_ASSERT_EQUAL(r.ret, 0);
	CU_ASSERT_EQUAL(r.lost, 0);
}

/* Run the guest on an image the host does not check first: the guest's
 * mount must refuse it as a whole (a panic naming the reason). */
static int run_raw(const char *image)
{
	struct session_config cfg;
	ds_file_config(&cfg, image, ABI_WL_DB, ABI_POLICY_WP, 16, 1, 4, NULL);
	cfg.verify = false;
	return session_run(&cfg, NULL);
}

static void test_bad_images(void)
{
	char image[sizeof(dir) + 32];
	snprintf(image, sizeof(image), "%s/bad.img", dir);

	/* A flipped byte in the metadata block. */
	make_image(image, ABI_WL_DB, 16);
	int fd = open(image, O_RDWR);
	char c;
	CU_ASSERT_EQUAL(pread(fd, &c, 1, 40), 1);
	c ^= 0x10;
	CU_ASSERT_EQUAL(pwrite(fd, &c, 1, 40), 1);

	CU_ASSERT_EQUAL(run_raw(image), -EFAULT);

	/* Truncated: shorter than its superblock says (still 4 KiB aligned). */
	make_image(image, ABI_WL_DB, 16);
	CU_ASSERT_EQUAL(truncate(image, 8 * 4096), 0);
	CU_ASSERT_EQUAL(run_raw(image), -EFAULT);

	close(fd);

	/* Not an image at all: 64 zero blocks. */
	fd = open(image, O_RDWR | O_TRUNC);
	CU_ASSERT_EQUAL(ftruncate(fd, 64 * 4096), 0);
	close(fd);
	CU_ASSERT_EQUAL(run_raw(image), -EFAULT);

	/* A good image runs: the failures above are the images', not the setup's. */
	make_image(image, ABI_WL_DB, 16);
	CU_ASSERT_EQUAL(run_raw(image), 0);
	unlink(image);
}

int main(void)
{
	int fd = open("/dev/kvm", O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "test_files: cannot open /dev/kvm (%s): skipped\n",
			strerror(errno));
		return 77;
	}
	close(fd);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	static const struct ds_case cases[] = {
	    {"wp: every file workload leaves the exact image", test_wp},
	    {"dbit: every file workload leaves the exact image", test_dbit},
	    {"scan: every file workload leaves the exact image", test_scan},
	    {"small page cache: eviction keeps images exact", test_eviction},
	    {"lossy: the image check catches lost stores", test_lossy_loses},
	    {"forkcow fails when fork does not copy on write", test_forkcow_catches_broken_cow},
	    {"device stores into guest RAM are reported (oracle)", test_device_writes_reported},
	    {"badsys: invalid system calls fail cleanly", test_badsys},
	    {"badblk: hostile virtio descriptors are refused", test_badblk},
	    {"corrupt, truncated and foreign images are refused by the guest", test_bad_images},
	    {NULL, NULL},
	};
	int ret = ds_run_suite("files", cases);
	rmdir(dir);
	return ret;
}
