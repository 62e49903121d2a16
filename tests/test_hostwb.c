/*
 * logger/hostwb/hostwb.c: host writeback under KVM.
 *
 *   - exact: for every policy and several file workloads, after every
 *     commit the image holds, for every page the guest has cached and up to
 *     date, exactly the bytes in guest RAM (checked here from the guest's
 *     own index, not through hostwb's code), and after the run the image
 *     holds exactly what the workload's seed says it wrote: lossy included,
 *     whose own writeback loses stores (test_files shows it does)
 *   - the guest is told: with host writeback the guest cleans the pages the
 *     host wrote and its own writeback writes fewer pages
 *   - eviction, and a commit every third epoch
 *   - teeth: a block left out of the commits is noticed by the per-commit
 *     check, by --verify (run exits 1) and by the image check
 *   - kill -9 in the middle of a real run, at a spread of journal I/O calls:
 *     after recovery the image equals the image of some committed epoch,
 *     never older than the last commit that returned
 *   - the message to the guest is never written outside guest RAM
 *   - staging (without KVM): the device's writes stay out of the image
 *     until the commit, and its reads see them
 *
 * Needs /dev/kvm; exits 77 (skipped) with a reason when it cannot open it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logger/verify/fileverify.h"
#include "logger/hostwb/hostwb.h"
#include "logger/hostwb/journal.h"
#include "tests/lib/ds_session.h"
#include "tests/lib/ds_test.h"
#include "vmm/wlnames.h"

#define PAGES  32
#define EPOCHS 4
#define WRITES 48

static char dir[] = "/tmp/dirtyscope-hostwb-XXXXXX";
static char image[sizeof(dir) + 16];

/* What the per-commit check saw. */
struct commits {
	uint64_t commits, checked, mismatches, last_epoch;
	uint8_t *snap[EPOCHS * 2 + 2]; /* image after each commit, by epoch */
	uint64_t image_bytes;
	int pipe_fd;	 /* crash runs: each committed epoch is written here */
	uint64_t broken; /* checks on_commit could not finish (DS_REQUIRE) */
};

static int read_all(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off) == (ssize_t)len ? 0 : -1;
}

/*
 * The image equals the guest's file content: every page the guest's own
 * index holds present and up to date is byte for byte its image block.
 */
static void on_commit(void *ctx, uint64_t epoch, const struct guest_mem *m,
		      const struct pcview *view, const char *path)
{
	struct commits *c = ctx;
	c->commits++;
	c->last_epoch = epoch;
	if (c->pipe_fd > 0) {
		(void)!write(c->pipe_fd, &epoch, sizeof(epoch));
		return;
	}
	/* Called inside session_run: no FATAL asserts (tests/lib/ds_test.h). */
	int fd = open(path, O_RDONLY);
	if (!DS_REQUIRE(fd >= 0, &c->broken))
		return;
	struct abi_fs_meta meta;
	if (!DS_REQUIRE(read_all(fd, &meta, sizeof(meta), 0) == 0, &c->broken)) {
		close(fd);
		return;
	}
	uint8_t block[4096];
	for (uint32_t f = 0; f < view->desc.nr_files && f < ABI_FS_MAX_INODES; f++) {
		const struct abi_pc_file *pf = &view->desc.files[f];
		const struct abi_fs_inode *in = &meta.inodes[pf->ino % ABI_FS_MAX_INODES];
		const uint64_t *index = mem_gpa_to_hva(m, pf->index_gpa, pf->npages * 8ull);
		if (!DS_REQUIRE(index != NULL, &c->broken))
			continue;
		CU_ASSERT_EQUAL(in->nr_blocks, pf->npages);
		for (uint64_t i = 0; i < pf->npages; i++) {
			if ((index[i] & 3) != (ABI_PCE_PRESENT | ABI_PCE_UPTODATE))
				continue;
			const void *ram = mem_gpa_to_hva(m, index[i] & ~0xfffULL, 4096);
			off_t off = (off_t)((in->start_block + i) * 4096);
			if (!DS_REQUIRE(ram != NULL, &c->broken) ||
			    !DS_REQUIRE(read_all(fd, block, 4096, off) == 0, &c->broken))
				break;
			c->checked++;
			if (memcmp(block, ram, 4096))
				c->mismatches++;
		}
	}
	if (epoch < sizeof(c->snap) / sizeof(c->snap[0])) {
		struct stat st;
		CU_ASSERT_EQUAL(fstat(fd, &st), 0);
		c->image_bytes = (uint64_t)st.st_size;
		free(c->snap[epoch]);
		c->snap[epoch] = malloc(c->image_bytes);
		CU_ASSERT_EQUAL(read_all(fd, c->snap[epoch], c->image_bytes, 0), 0);
	}
	close(fd);
}

struct result {
	int ret;
	long bad_pages; /* fileverify_image */
	struct run_summary sum;
	struct hostwb_stats hw; /* host writeback's figures */
	struct commits c;
};

static struct hostwb_config hw_cfg;

static void new_image(uint32_t workload)
{
	char jpath[sizeof(image) + 16];
	CU_ASSERT_EQUAL_FATAL(journal_path(image, jpath, sizeof(jpath)), 0);
	unlink(jpath);
	unlink(image);
	CU_ASSERT_EQUAL_FATAL(ds_file_image(image, workload, PAGES), 0);
}

static void configure(struct session_config *cfg, uint32_t workload, uint32_t policy,
		      uint64_t sync_every, uint64_t cache_pages, bool host, struct commits *c)
{
	ds_file_config(cfg, image, workload, policy, PAGES, EPOCHS, WRITES, NULL);
	cfg->wl.flush_every = 200;
	cfg->wl.sync_every = sync_every;
	cfg->wl.cache_pages = cache_pages;
	if (host) {
		hw_cfg.verify = true;
		if (!hw_cfg.interval)
			hw_cfg.interval = 1;
		cfg->hostwb = &hw_cfg;
		cfg->on_commit = on_commit;
		cfg->on_commit_ctx = c;
	}
}

static struct result run(uint32_t workload, uint32_t policy, uint64_t sync_every,
			 uint64_t cache_pages, bool host)
{
	struct result r = {0};
	struct session_config cfg;
	new_image(workload);
	configure(&cfg, workload, policy, sync_every, cache_pages, host, &r.c);
	cfg.hostwb_stats = &r.hw;
	r.ret = session_run(&cfg, &r.sum);
	r.bad_pages = fileverify_image(image, &cfg.wl, stderr);
	CU_ASSERT_EQUAL(r.c.broken, 0);
	return r;
}

static void free_snaps(struct commits *c)
{
	for (size_t i = 0; i < sizeof(c->snap) / sizeof(c->snap[0]); i++) {
		free(c->snap[i]);
		c->snap[i] = NULL;
	}
}

static void check_exact(uint32_t workload, const char *name, uint32_t policy, uint64_t cache_pages)
{
	struct result r = run(workload, policy, 12, cache_pages, true);
	const struct hostwb_stats *h = &r.hw;
	printf("\n    %s/%s cache %llu: ret %d, commits %llu, pages checked %llu, differing "
	       "%llu; host wrote %llu pages + %llu staged blocks in %llu extents; guest "
	       "cleaned %llu, guest page writes %llu; unbacked %llu; image pages off %ld",
	       policy_name_of(policy), name, (unsigned long long)cache_pages, r.ret,
	       (unsigned long long)r.c.commits, (unsigned long long)r.c.checked,
	       (unsigned long long)r.c.mismatches, (unsigned long long)h->pages,
	       (unsigned long long)h->staged_blocks, (unsigned long long)h->extents,
	       (unsigned long long)r.hw.host_cleaned, (unsigned long long)r.sum.guest_page_writes,
	       (unsigned long long)h->unbacked, r.bad_pages);
	CU_ASSERT_EQUAL(r.ret, 0);
	CU_ASSERT_EQUAL(r.sum.lost_pages, 0);
	CU_ASSERT_EQUAL(r.c.commits, EPOCHS + 1);
	CU_ASSERT_EQUAL(r.c.last_epoch, EPOCHS + 1);
	CU_ASSERT(r.c.checked >= PAGES / 2);
	CU_ASSERT_EQUAL(r.c.mismatches, 0);
	CU_ASSERT_EQUAL(h->mismatches, 0);
	CU_ASSERT(h->pages > 0);
	CU_ASSERT_EQUAL(r.bad_pages, 0);
	/* The run ends with the journal checkpointed at the last commit. */
	struct journal_status st;
	char why[256];
	CU_ASSERT_EQUAL(journal_inspect(image, &st, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(st.state, JOURNAL_CLEAN);
	CU_ASSERT_EQUAL(st.epoch, EPOCHS + 1);
	free_snaps(&r.c);
}

static const uint32_t workloads[] = {ABI_WL_DB, ABI_WL_SHARED2, ABI_WL_MIXED};

static void check_policy(uint32_t policy)
{
	for (size_t w = 0; w < 3; w++)
		check_exact(workloads[w], wl_name_of(workloads[w]), policy, 0);
}

static void test_wp(void)
{
	check_policy(ABI_POLICY_WP);
}

static void test_dbit(void)
{
	check_policy(ABI_POLICY_DBIT);
}

static void test_scan(void)
{
	check_policy(ABI_POLICY_SCAN);
}

/* lossy loses stores on its own (the image check fails without host
 * writeback); with it, every store reaches the image. */
static void test_lossy(void)
{
	struct result r = run(ABI_WL_DB, ABI_POLICY_LOSSY, 12, 0, false);
	printf("\n    lossy/db, guest writeback only: image pages off %ld", r.bad_pages);
	CU_ASSERT_EQUAL(r.ret, 0);
	CU_ASSERT(r.bad_pages > 0);
	check_policy(ABI_POLICY_LOSSY);
}

/* A 6-page cache for a 32-page file: the guest evicts, writing dirty
 * victims itself (through staging) and reading them back later. */
static void test_eviction(void)
{
	check_exact(ABI_WL_DB, "db", ABI_POLICY_WP, 6);
	check_exact(ABI_WL_SHARED2, "shared2", ABI_POLICY_DBIT, 6);
}

/* The guest hears which pages the host wrote and its own msync skips them. */
static void test_guest_told(void)
{
	/* msync every 10 stores: each epoch (48) ends with pages dirty. */
	struct result g = run(ABI_WL_DB, ABI_POLICY_WP, 10, 0, false);
	struct result h = run(ABI_WL_DB, ABI_POLICY_WP, 10, 0, true);
	printf("\n    wp/db: guest page writes %llu alone, %llu with host writeback "
	       "(host listed %llu pages, guest cleaned %llu)",
	       (unsigned long long)g.sum.guest_page_writes,
	       (unsigned long long)h.sum.guest_page_writes, (unsigned long long)h.hw.listed,
	       (unsigned long long)h.hw.host_cleaned);
	CU_ASSERT(h.hw.listed > 0);
	CU_ASSERT(h.hw.host_cleaned > 0);
	CU_ASSERT(h.hw.host_cleaned <= h.hw.listed);
	CU_ASSERT(h.sum.guest_page_writes < g.sum.guest_page_writes);
	free_snaps(&h.c);
}

/* host:3 over 6 epochs: commits at epochs 3 and 6, and the final one.  With
 * a 6-page cache, pages dirtied early are evicted (written by the guest,
 * through staging) before the commit: the host must skip them, their index
 * entries no longer back them. */
static void check_interval(uint64_t cache_pages)
{
	struct result r = {0};
	struct session_config cfg;
	new_image(ABI_WL_DB);
	hw_cfg = (struct hostwb_config){.interval = 3};
	configure(&cfg, ABI_WL_DB, ABI_POLICY_WP, 12, cache_pages, true, &r.c);
	cfg.wl.epochs = 6;
	cfg.hostwb_stats = &r.hw;
	r.ret = session_run(&cfg, &r.sum);
	r.bad_pages = fileverify_image(image, &cfg.wl, stderr);
	hw_cfg = (struct hostwb_config){0};
	CU_ASSERT_EQUAL(r.c.broken, 0);
	printf("\n    host:3 over 6 epochs, cache %llu: commits %llu, checked %llu, differing "
	       "%llu, unbacked %llu",
	       (unsigned long long)cache_pages, (unsigned long long)r.c.commits,
	       (unsigned long long)r.c.checked, (unsigned long long)r.c.mismatches,
	       (unsigned long long)r.hw.unbacked);
	CU_ASSERT_EQUAL(r.ret, 0);
	CU_ASSERT_EQUAL(r.c.commits, 3);
	CU_ASSERT(r.c.snap[3] && r.c.snap[6] && r.c.snap[7]);
	CU_ASSERT(!r.c.snap[1] && !r.c.snap[2] && !r.c.snap[4]);
	CU_ASSERT_EQUAL(r.c.mismatches, 0);
	CU_ASSERT_EQUAL(r.bad_pages, 0);
	if (cache_pages)
		CU_ASSERT(r.hw.unbacked > 0);
	free_snaps(&r.c);
}

static void test_interval(void)
{
	check_interval(0);
	check_interval(6);
}

/* Teeth: a file block the commits leave out is noticed three ways. */
static void test_teeth(void)
{
	struct dsfs_image img;
	char why[256];
	new_image(ABI_WL_DB);
	CU_ASSERT_EQUAL_FATAL(dsfs_open(image, O_RDONLY, &img, why, sizeof(why)), 0);
	int ino = dsfs_find(&img, abi_wl_file_name(ABI_WL_DB));
	CU_ASSERT_FATAL(ino >= 0);
	uint64_t block = img.meta.inodes[ino].start_block + 5;
	dsfs_close(&img);
	hw_cfg = (struct hostwb_config){.test_skip_block = block + 1};
	struct result r = run(ABI_WL_DB, ABI_POLICY_WP, 12, 0, true);
	hw_cfg = (struct hostwb_config){0};
	printf("\n    block %llu left out: ret %d, per-commit check differing %llu, verify "
	       "%llu, image pages off %ld",
	       (unsigned long long)block, r.ret, (unsigned long long)r.c.mismatches,
	       (unsigned long long)r.hw.mismatches, r.bad_pages);
	CU_ASSERT_EQUAL(r.ret, 1);
	CU_ASSERT(r.c.mismatches > 0);
	CU_ASSERT(r.hw.mismatches > 0);
	CU_ASSERT(r.bad_pages > 0);
	free_snaps(&r.c);
}

/*
 * Whether two images of one run hold the same epoch.  Each child starts
 * from a fresh mkimage, so its superblock carries another identity (and so
 * another checksum) than the reference run's: those two fields are not
 * the epoch's and are left out; every other byte must be equal.
 */
static bool same_epoch(const uint8_t *a, const uint8_t *b, uint64_t bytes)
{
	struct abi_fs_super x, y;
	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	memcpy(x.uuid, y.uuid, sizeof(x.uuid));
	x.csum = y.csum;
	return !memcmp(&x, &y, sizeof(x)) &&
	       !memcmp(a + sizeof(x), b + sizeof(x), bytes - sizeof(x));
}

/*
 * kill -9 mid-run.  A reference run keeps the image after every commit; a
 * child repeats the run and dies before its k-th journal I/O call.  After
 * recovery the image must equal the reference image of some epoch at least
 * as new as the last commit the child saw return.
 */
static void test_crash(void)
{
	struct result ref = run(ABI_WL_DB, ABI_POLICY_LOSSY, 12, 0, true);
	CU_ASSERT_EQUAL_FATAL(ref.ret, 0);
	new_image(ABI_WL_DB);
	int fd = open(image, O_RDONLY);
	uint8_t *fresh = malloc(ref.c.image_bytes), *now = malloc(ref.c.image_bytes);
	CU_ASSERT_EQUAL_FATAL(read_all(fd, fresh, ref.c.image_bytes, 0), 0);
	close(fd);
	ref.c.snap[0] = fresh;

	int points = 0, reached[EPOCHS + 2] = {0};
	bool finished = false;
	for (uint64_t k = 1; !finished && k < 400; k++) {
		new_image(ABI_WL_DB);
		int p[2];
		CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
		pid_t pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			struct commits c = {.pipe_fd = p[1]};
			struct session_config cfg;
			configure(&cfg, ABI_WL_DB, ABI_POLICY_LOSSY, 12, 0, true, &c);
			journal_test_crash_after(k, k % 2);
			struct run_summary sum;
			_exit(session_run(&cfg, &sum) == 0 ? 0 : 3);
		}
		close(p[1]);
		uint64_t e, last = 0;
		while (read(p[0], &e, sizeof(e)) == sizeof(e))
			last = e;
		close(p[0]);
		int status;
		waitpid(pid, &status, 0);
		CU_ASSERT(WIFEXITED(status));
		if (WEXITSTATUS(status) == 0) {
			finished = true; /* k is past the run's last I/O call */
			CU_ASSERT_EQUAL(last, EPOCHS + 1);
			continue;
		}
		CU_ASSERT_EQUAL(WEXITSTATUS(status), 137);
		struct journal_status st;
		char why[256];
		CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), 0);
		fd = open(image, O_RDONLY);
		CU_ASSERT_EQUAL_FATAL(read_all(fd, now, ref.c.image_bytes, 0), 0);
		close(fd);
		/* Two epochs may leave equal images: take the oldest one that is
		 * not older than the last commit seen. */
		int match = -1;
		for (int ep = (int)last; ep <= EPOCHS + 1 && match < 0; ep++)
			if (ref.c.snap[ep] && same_epoch(now, ref.c.snap[ep], ref.c.image_bytes))
				match = ep;
		points++;
		if (match < 0 || (uint64_t)match > last + 1)
			printf("\n    kill point %llu: image is epoch %d, last commit seen %llu "
			       "(recovery found state %d, epoch %llu)",
			       (unsigned long long)k, match, (unsigned long long)last, st.state,
			       (unsigned long long)st.epoch);
		CU_ASSERT(match >= 0 && (uint64_t)match >= last && (uint64_t)match <= last + 1);
		if (match >= 0)
			reached[match]++;
	}
	printf("\n    %d kill points in a real run; image after recovery was epoch", points);
	for (int ep = 0; ep <= EPOCHS + 1; ep++)
		printf(" %d: %d%s", ep, reached[ep], ep <= EPOCHS ? "," : "");
	CU_ASSERT(finished);
	CU_ASSERT(points >= 30);
	free(now);
	free_snaps(&ref.c);
}

/*
 * Staging without KVM: the device's writes (whole and partial blocks) stay
 * out of the image, its reads see them, FLUSH changes nothing, and the next
 * commit puts them all in the image at once.
 */
static void test_staging(void)
{
	struct guest_mem m;
	struct virtio_blk blk;
	struct hostwb hw;
	char why[256];
	new_image(ABI_WL_DB);
	CU_ASSERT_EQUAL_FATAL(mem_create(&m, 16ull << 20), 0);
	CU_ASSERT_EQUAL_FATAL(virtio_blk_open(&blk, image, &m), 0);
	struct hostwb_config cfg = {.interval = 1};
	CU_ASSERT_EQUAL_FATAL(hostwb_open(&hw, &cfg, &m, &blk, image, why, sizeof(why)), 0);
	const struct virtio_blk_backend *be = &blk.backend;
	CU_ASSERT_FATAL(be->read && be->ctx == &hw);

	uint64_t size = blk.size;
	uint8_t *before = malloc(size), *after = malloc(size), *got = malloc(size);
	int fd = open(image, O_RDONLY);
	CU_ASSERT_EQUAL_FATAL(read_all(fd, before, size, 0), 0);
	uint8_t a[8192], b[512];
	memset(a, 0xa5, sizeof(a));
	memset(b, 0x3c, sizeof(b));
	/* Blocks 5 and 6 whole, 512 bytes in the middle of block 9. */
	CU_ASSERT_EQUAL(be->write(be->ctx, a, sizeof(a), 5 * 4096), 0);
	CU_ASSERT_EQUAL(be->write(be->ctx, b, sizeof(b), 9 * 4096 + 1024), 0);
	CU_ASSERT_EQUAL(be->flush(be->ctx), 0);
	CU_ASSERT_EQUAL(read_all(fd, after, size, 0), 0);
	CU_ASSERT(!memcmp(before, after, size)); /* nothing reached the image */
	/* Reads see staging, across staged and unstaged blocks alike. */
	memcpy(after, before, size);
	memcpy(after + 5 * 4096, a, sizeof(a));
	memcpy(after + 9 * 4096 + 1024, b, sizeof(b));
	CU_ASSERT_EQUAL(be->read(be->ctx, got, size, 0), 0);
	CU_ASSERT(!memcmp(got, after, size));
	CU_ASSERT_EQUAL(be->read(be->ctx, got, 3 * 4096 + 512, 4 * 4096 + 512), 0);
	CU_ASSERT(!memcmp(got, after + 4 * 4096 + 512, 3 * 4096 + 512));
	CU_ASSERT_EQUAL(hw.nr_staged, 3);

	struct frameset none;
	CU_ASSERT_EQUAL_FATAL(frameset_init(&none, m.nr_pages), 0);
	CU_ASSERT_EQUAL(hostwb_epoch(&hw, 1, &none, NULL, true, why, sizeof(why)), 1);
	CU_ASSERT_EQUAL(hw.last.staged_blocks, 3);
	CU_ASSERT_EQUAL(hw.last.extents, 2);
	CU_ASSERT_EQUAL(hw.nr_staged, 0);
	CU_ASSERT_EQUAL(read_all(fd, got, size, 0), 0);
	CU_ASSERT(!memcmp(got, after, size));
	CU_ASSERT_EQUAL(hostwb_close(&hw, true, why, sizeof(why)), 0);
	CU_ASSERT(blk.backend.read == NULL);
	struct journal_status st;
	CU_ASSERT_EQUAL(journal_inspect(image, &st, why, sizeof(why)), 0);
	CU_ASSERT(st.state == JOURNAL_CLEAN && st.epoch == 1);
	frameset_free(&none);
	close(fd);
	free(before);
	free(after);
	free(got);
	virtio_blk_close(&blk);
	mem_destroy(&m);
}

/* hostwb_post writes the message only where the whole buffer is RAM. */
static int host_stores;
static void count_store(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx, (void)gpa, (void)len;
	host_stores++;
}

static void test_post_bounds(void)
{
	struct guest_mem m;
	CU_ASSERT_EQUAL_FATAL(mem_create(&m, 16ull << 20), 0);
	static struct hostwb hw;
	static struct pcview v;
	struct hostwb_written w = {0, 1, 0x1000};
	hw.mem = &m;
	hw.written = &w;
	hw.nr_written = 1;
	const uint64_t bad[] = {m.ram_size - 16, m.ram_size, ~0ULL - 7, 4};
	for (int i = 0; i < 4; i++) {
		v.desc.hostwb_gpa = bad[i];
		v.desc.hostwb_cap = 64;
		hw.post_due = true;
		hostwb_post(&hw, &v, count_store, NULL);
	}
	CU_ASSERT_EQUAL(host_stores, 0);
	v.desc.hostwb_gpa = 0x2000;
	hw.post_due = true;
	hw.post_epoch = 9;
	hostwb_post(&hw, &v, count_store, NULL);
	const struct abi_pc_hostwb *msg = mem_gpa_to_hva(&m, 0x2000, 32);
	CU_ASSERT_EQUAL(host_stores, 1);
	CU_ASSERT_EQUAL(msg->epoch, 9);
	CU_ASSERT_EQUAL(msg->listed, 1);
	CU_ASSERT_EQUAL(msg->ents[0].gpa, 0x1000);
	mem_destroy(&m);
}

int main(void)
{
	int kfd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kfd < 0) {
		printf("test_hostwb: cannot open /dev/kvm (%s): skipped\n", strerror(errno));
		return 77;
	}
	close(kfd);
	if (!mkdtemp(dir))
		return 2;
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	static const struct ds_case cases[] = {
	    {"wp: image equals guest RAM at every commit", test_wp},
	    {"dbit: image equals guest RAM at every commit", test_dbit},
	    {"scan: image equals guest RAM at every commit", test_scan},
	    {"lossy: host writeback gets every store into the image", test_lossy},
	    {"eviction through staging", test_eviction},
	    {"the guest hears of host-written pages and skips them", test_guest_told},
	    {"host:3 commits every third epoch", test_interval},
	    {"teeth: a block left out is noticed", test_teeth},
	    {"kill -9 mid-run: recovery gives a committed epoch", test_crash},
	    {"the message to the guest stays in guest RAM", test_post_bounds},
	    {"staging: guest writes wait for the commit, reads see them", test_staging},
	    {NULL, NULL},
	};
	int ret = ds_run_suite("hostwb", cases);
	char jpath[sizeof(image) + 16];
	if (!journal_path(image, jpath, sizeof(jpath)))
		unlink(jpath);
	unlink(image);
	rmdir(dir);
	return ret;
}
