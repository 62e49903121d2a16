/*
 * bench_hostwb: what host writeback costs, measured side by side in one run.
 *
 * 1. Host throughput.  A synthetic guest (guest RAM from vmm/mem.c, a
 *    page-cache descriptor and index written into it, file pages in
 *    shuffled frames) and a DSFS image in DIR.  Every epoch dirties PAGES
 *    file pages, either clustered (one run of adjacent pages) or scattered
 *    (every 8th page), and hostwb_epoch() commits them: mirror, pending
 *    sets, live-index check, coalescing, one journal transaction (pwritev
 *    + fdatasync) and the in-place image pwritev.  Beside each commit, in
 *    the same loop, a plain sequential pwrite of the same number of bytes to
 *    a file in the same DIR, followed by fdatasync: the plain durable write
 *    of the same data.  Reported: MiB/s of each and their ratio, on the
 *    commit path (checkpoints excluded) and sustained (checkpoints, which
 *    write the image's blocks durably a second time, included).
 *
 * 2. Guest cost.  Under KVM, the db workload (same seed, same stores) three
 *    times: the guest's own writeback (msync once per epoch), host
 *    writeback (no msync), and neither (the workload's own cost).  Reported:
 *    KVM exits per page written to the image beyond the baseline, and the
 *    ratio of the guest's cost to the host's, for wp, dbit and lossy.
 *
 * Nothing is asserted: see bench/README.md.
 *
 *   bench_hostwb [DIR [PAGES [EPOCHS]]]   (default /var/tmp 4096 16)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi/wlfile.h"
#include "fs/dsfs.h"
#include "logger/hostwb/hostwb.h"
#include "logger/session.h"
#include "util/io.h"
#include "util/time.h"
#include "vmm/wlnames.h"

#define RAM_BYTES (512ull << 20)
#define DESC_GPA  0x200000ULL
#define INDEX_GPA 0x201000ULL
#define FRAMES_AT 0x400000ULL /* first file frame */
#define REPS	  5	      /* guest runs of each kind; the one with fewest exits counts */

static double mibs(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / (1 << 20) / ((double)ns / 1e9) : 0;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct tput {
	uint64_t bytes, commit_ns, checkpoint_ns, plain_ns, extents;
};

/* One pattern: `stride` 1 is clustered, 8 scattered. */
static int throughput(const char *dir, uint64_t pages, uint32_t epochs, uint64_t stride,
		      struct tput *t)
{
	char image[4096], plain[4096], jpath[4200], why[256];
	uint64_t file_pages = pages * stride;
	int ret = -EIO, pfd = -1;
	struct guest_mem m;
	struct virtio_blk blk;
	struct hostwb hw;
	struct frameset dirty;
	bool blk_open = false, hw_open = false;

	memset(t, 0, sizeof(*t));
	snprintf(image, sizeof(image), "%s/bench-hostwb-%d.img", dir, getpid());
	snprintf(plain, sizeof(plain), "%s/bench-hostwb-%d.plain", dir, getpid());
	journal_path(image, jpath, sizeof(jpath));
	unlink(jpath);
	struct dsfs_file_spec f = {
	    .name = "db", .capacity = file_pages * 4096, .size = file_pages * 4096};
	if (dsfs_mkimage(image, (ABI_FS_DATA_START + file_pages) * 4096, &f, 1, why, sizeof(why))) {
		fprintf(stderr, "bench_hostwb: mkimage: %s\n", why);
		return -EIO;
	}
	if (mem_create(&m, RAM_BYTES))
		goto out_image;
	if (FRAMES_AT + file_pages * 4096 > m.ram_size || INDEX_GPA + file_pages * 8 > FRAMES_AT) {
		fprintf(stderr, "bench_hostwb: %llu pages do not fit the synthetic guest\n",
			(unsigned long long)file_pages);
		goto out_mem;
	}
	/* The guest's page cache: every file page cached, in shuffled frames. */
	uint64_t *perm = malloc(file_pages * sizeof(*perm));
	if (!perm)
		goto out_mem;
	for (uint64_t i = 0; i < file_pages; i++)
		perm[i] = i;
	for (uint64_t i = file_pages - 1; i > 0; i--) {
		uint64_t j = next_rand() % (i + 1), x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}
	struct abi_pc_desc *d = mem_gpa_to_hva(&m, DESC_GPA, sizeof(*d));
	uint64_t *index = mem_gpa_to_hva(&m, INDEX_GPA, file_pages * 8);
	*d = (struct abi_pc_desc){.magic = ABI_PC_MAGIC,
				  .version = ABI_PC_VERSION,
				  .policy = ABI_POLICY_WP,
				  .nr_files = 1};
	d->files[0] = (struct abi_pc_file){0, (uint32_t)file_pages, INDEX_GPA};
	for (uint64_t i = 0; i < file_pages; i++) {
		uint64_t gpa = FRAMES_AT + perm[i] * 4096;
		index[i] = gpa | ABI_PCE_PRESENT | ABI_PCE_UPTODATE | ABI_PCE_DIRTY;
		uint64_t *w = mem_gpa_to_hva(&m, gpa, 4096);
		for (int k = 0; k < 512; k++)
			w[k] = next_rand();
	}
	free(perm);
	struct pcview view = {.desc_gpa = DESC_GPA, .policy = ABI_POLICY_WP, .desc = *d};

	if (virtio_blk_open(&blk, image, &m))
		goto out_mem;
	blk_open = true;
	struct hostwb_config cfg = {.interval = 1};
	if (hostwb_open(&hw, &cfg, &m, &blk, image, why, sizeof(why))) {
		fprintf(stderr, "bench_hostwb: %s\n", why);
		goto out_blk;
	}
	hw_open = true;
	hw.mi.report = NULL; /* the synthetic guest has no page tables to publish */
	if (frameset_init(&dirty, m.nr_pages))
		goto out_hw;
	pfd = open(plain, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	uint8_t *buf = malloc(pages * 4096);
	if (pfd < 0 || !buf)
		goto out_set;
	memset(buf, 0x5a, pages * 4096);

	for (uint32_t e = 1; e <= epochs; e++) {
		/* The epoch's stores: a new value in each dirty page. */
		uint64_t first = (e * 7919 % (file_pages / stride)) * stride;
		frameset_clear(&dirty);
		for (uint64_t k = 0; k < pages; k++) {
			uint64_t i = (first + k * stride) % file_pages;
			uint64_t gpa = index[i] & ~ABI_PCE_FLAGS;
			*(uint64_t *)mem_gpa_to_hva(&m, gpa, 8) = e;
			frameset_add(&dirty, (uint64_t)mem_gpa_to_index(&m, gpa));
		}
		uint64_t ck0 = hw.j.stats.checkpoint_ns;
		ret = hostwb_epoch(&hw, e, &dirty, &view, false, why, sizeof(why));
		if (ret != 1) {
			fprintf(stderr, "bench_hostwb: commit: %s\n", why);
			ret = -EIO;
			goto out_set;
		}
		t->bytes += hw.last.pages * 4096;
		t->extents += hw.last.extents;
		t->commit_ns += hw.last.gather_ns + hw.last.commit_ns;
		t->checkpoint_ns += hw.j.stats.checkpoint_ns - ck0;

		/* The same bytes, written plainly and made durable. */
		uint64_t t0 = time_now_ns();
		ret = io_pwrite_full(pfd, buf, pages * 4096, (e - 1) * pages * 4096);
		if (ret) {
			fprintf(stderr, "bench_hostwb: pwrite: %s\n", strerror(-ret));
			ret = -EIO;
			goto out_set;
		}
		if (fdatasync(pfd)) {
			perror("bench_hostwb: fdatasync");
			ret = -EIO;
			goto out_set;
		}
		t->plain_ns += time_now_ns() - t0;
	}
	ret = 0;

out_set:
	free(buf);
	if (pfd >= 0)
		close(pfd);
	unlink(plain);
	frameset_free(&dirty);
out_hw:
	if (hw_open)
		hostwb_close(&hw, false, why, sizeof(why));
out_blk:
	if (blk_open)
		virtio_blk_close(&blk);
out_mem:
	mem_destroy(&m);
out_image:
	unlink(jpath);
	unlink(image);
	return ret;
}

struct guest_run {
	int ret;
	struct run_summary sum;
	struct hostwb_stats hw;
};

/* The db workload, seed 7, under `policy`: `msync` once per epoch (kind
 * 0), host writeback without msync (1), or neither (2). */
static void guest_run(const char *dir, uint32_t policy, int kind, struct guest_run *out)
{
	char image[4096], jpath[4200], why[256];
	const uint64_t pages = 64, writes = 128;
	snprintf(image, sizeof(image), "%s/bench-hostwb-guest-%d.img", dir, getpid());
	journal_path(image, jpath, sizeof(jpath));
	unlink(jpath);
	struct dsfs_file_spec f = {.name = "db", .capacity = pages * 4096, .size = pages * 4096};
	memset(out, 0, sizeof(*out));
	if (dsfs_mkimage(image, (ABI_FS_DATA_START + pages) * 4096, &f, 1, why, sizeof(why))) {
		fprintf(stderr, "bench_hostwb: mkimage: %s\n", why);
		out->ret = -EIO;
		return;
	}
	static struct hostwb_config hcfg = {.interval = 1};
	struct session_config cfg = {
	    .kvm_path = "/dev/kvm",
	    .mode = dlog_find("bitmap"),
	    .dlog = dlog_config_default(),
	    .workload_name = "db",
	    .wl = {.workload = ABI_WL_DB,
		   .epochs = 4,
		   .wss_pages = pages,
		   .writes_per_epoch = writes,
		   .seed = 7,
		   .policy = policy,
		   .sync_every = kind == 0 ? writes : 0},
	    .image_path = image,
	    .policy_name = policy_name_of(policy),
	    .mem_bytes = 64ull << 20,
	    .hostwb = kind == 1 ? &hcfg : NULL,
	    .hostwb_stats = &out->hw,
	};
	out->ret = session_run(&cfg, &out->sum);
	unlink(jpath);
	unlink(image);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/var/tmp";
	uint64_t pages = argc > 2 ? strtoull(argv[2], NULL, 0) : 4096;
	uint32_t epochs = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 16;
	if (!pages || !epochs) {
		fprintf(stderr, "usage: bench_hostwb [DIR [PAGES [EPOCHS]]]\n");
		return 2;
	}

	printf("host writeback throughput: %llu dirty pages (%.1f MiB) per epoch, %u epochs, "
	       "in %s\n",
	       (unsigned long long)pages, (double)pages * 4096 / (1 << 20), epochs, dir);
	printf("%-10s %8s %12s %12s %12s %8s %10s\n", "pattern", "extents", "commit-MiB/s",
	       "sustained", "plain-MiB/s", "ratio", "sustained");
	static const struct {
		const char *name;
		uint64_t stride;
	} pat[] = {{"clustered", 1}, {"scattered", 8}};
	for (int p = 0; p < 2; p++) {
		struct tput t;
		if (throughput(dir, pages, epochs, pat[p].stride, &t))
			return 1;
		double c = mibs(t.bytes, t.commit_ns - t.checkpoint_ns);
		double s = mibs(t.bytes, t.commit_ns);
		double w = mibs(t.bytes, t.plain_ns);
		printf("%-10s %8.1f %12.1f %12.1f %12.1f %8.2f %10.2f\n", pat[p].name,
		       (double)t.extents / epochs, c, s, w, w ? c / w : 0, w ? s / w : 0);
	}

	printf("\nguest cost per page written to the image: db, 64 pages, 4 epochs x 128 "
	       "stores, seed 7;\nextra = the run's KVM exits minus those of the same run "
	       "with no writeback at all (fewest of %d runs each)\n",
	       REPS);
	printf("%-6s %-9s %6s %7s %6s %6s %6s %10s\n", "policy", "writeback", "pages", "exits",
	       "mmio", "pf", "tlb", "extra/page");
	static const uint32_t pols[] = {ABI_POLICY_WP, ABI_POLICY_DBIT, ABI_POLICY_LOSSY};
	static const char *const kind[] = {"guest", "host", "none"};
	for (int p = 0; p < 3; p++) {
		struct guest_run g[3];
		/* Exits vary by a few percent between identical runs (the host
		 * preempts the vCPU): keep each kind's run with the fewest. */
		for (int k = 0; k < 3; k++) {
			for (int rep = 0; rep < REPS; rep++) {
				struct guest_run r;
				guest_run(dir, pols[p], k, &r);
				if (r.ret) {
					fprintf(stderr, "bench_hostwb: %s/%s run failed (%d)\n",
						policy_name_of(pols[p]), kind[k], r.ret);
					return 1;
				}
				if (!rep || r.sum.stats[VSTAT_EXITS] < g[k].sum.stats[VSTAT_EXITS])
					g[k] = r;
			}
		}
		uint64_t written[3] = {g[0].sum.guest_page_writes, g[1].hw.pages, 0};
		double base = (double)g[2].sum.stats[VSTAT_EXITS], extra[2];
		for (int k = 0; k < 3; k++) {
			const uint64_t *st = g[k].sum.stats;
			if (k < 2)
				extra[k] = ((double)st[VSTAT_EXITS] - base) /
					   (double)(written[k] ? written[k] : 1);
			printf("%-6s %-9s %6llu %7llu %6llu %6llu %6llu", policy_name_of(pols[p]),
			       kind[k], (unsigned long long)written[k],
			       (unsigned long long)st[VSTAT_EXITS],
			       (unsigned long long)st[VSTAT_MMIO_EXITS],
			       (unsigned long long)st[VSTAT_PF_TAKEN],
			       (unsigned long long)st[VSTAT_TLB_FLUSH]);
			if (k < 2)
				printf(" %10.2f\n", extra[k]);
			else
				printf(" %10s\n", "-");
		}
		if (extra[1] > 0)
			printf("%-6s guest writeback / host writeback: %.1fx\n",
			       policy_name_of(pols[p]), extra[0] / extra[1]);
		else
			printf("%-6s host writeback adds no exits (%.2f per page)\n",
			       policy_name_of(pols[p]), extra[1]);
	}
	return 0;
}
