/*
 * Seed corpora for the fuzz targets, made by the project's own writers:
 * gen_seeds DIR writes DIR/<target>/<seed> for every target, so a seed is
 * always what the current code writes (docs: tests/fuzz/README.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/dsfs.h"
#include "logger/hostwb/journal.h"
#include "vmm/vcpu_state.h"
#include "vmm/virtio_blk.h"
#include "abi/layout.h"
#include "logger/migrate/migstream.h"
#include "vmm/mem.h"

static const char *dir;

static void die(const char *what)
{
	fprintf(stderr, "gen_seeds: %s\n", what);
	exit(1);
}

static uint8_t *slurp(const char *p, size_t *len)
{
	struct stat st;
	int fd = open(p, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		die(p);
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	if (read(fd, buf, (size_t)st.st_size) != st.st_size)
		die(p);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void path_of(char *p, size_t cap, const char *target, const char *seed)
{
	snprintf(p, cap, "%s/%s", dir, target);
	if (mkdir(p, 0755) && errno != EEXIST)
		die(p);
	snprintf(p, cap, "%s/%s/%s", dir, target, seed);
}

static int open_seed(const char *target, const char *seed)
{
	char p[4096];
	path_of(p, sizeof(p), target, seed);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(p);
	return fd;
}

/* A whole stream: HELLO, two rounds (zero runs and data pages), STATE, END,
 * VERDICT; and one cut after HELLO and ROUND_BEGIN. */
static void migstream_seeds(void)
{
	struct guest_mem m;
	static const char config[] = "fuzz seed config";
	static const char state[] = "vcpu: rip=0x200000";
	uint64_t dirty[] = {1, 7, 300};

	if (mem_create(&m, ABI_RAM_MIN))
		die("mem_create");
	for (uint64_t i = 0; i < 3; i++)
		m.host[dirty[i] * 4096 + 8] = (uint8_t)(i + 1);
	for (int full = 0; full < 2; full++) {
		struct migstream_writer w;
		int fd = open_seed("fuzz_migstream", full ? "stream" : "stream_cut");
		int ret = migstream_writer_init(&w, fd);
		ret = ret ?: migstream_write_hello(&w, &m, config, sizeof(config));
		ret = ret ?: migstream_round_begin(&w, 0);
		if (full) {
			ret = ret ?: migstream_send_range(&w, &m, 0, 512);
			ret = ret ?: migstream_round_end(&w);
			ret = ret ?: migstream_round_begin(&w, 1);
			ret = ret ?: migstream_send_pages(&w, &m, dirty, 3);
			ret = ret ?: migstream_round_end(&w);
			ret = ret ?: migstream_write_state(&w, 1, state, sizeof(state));
			ret = ret ?: migstream_write_end(&w);
			ret = ret ?: migstream_write_verdict(&w, &m);
		} else {
			ret = ret ?: migstream_round_end(&w);
			ret = ret ?: migstream_write_abort(&w, "seed: gave up");
		}
		if (ret)
			die("migstream writer");
		migstream_writer_destroy(&w);
		close(fd);
	}
	mem_destroy(&m);
}

static void dsfs_seeds(void)
{
	struct dsfs_file_spec f[2] = {{"a", 100, 4096}, {"log", 5000, 8192}};
	char p[4096], why[256];

	path_of(p, sizeof(p), "fuzz_dsfs", "two_files");
	if (dsfs_mkimage(p, 4 * 4096, f, 2, why, sizeof(why)))
		die(why);
	path_of(p, sizeof(p), "fuzz_dsfs", "empty");
	if (dsfs_mkimage(p, 4096, NULL, 0, why, sizeof(why)))
		die(why);
}

/* Page tables in fake RAM (fuzz_mmu's input: header, then RAM from GPA 0):
 * PML4 at page 1; PDPT at 2 with a 1 GiB leaf; PD at 3 with a 2 MiB leaf;
 * PT at 4 with 4 KiB leaves, one with A/D set and one not present. */
static void mmu_seeds(void)
{
	enum { P = 1, W = 2, U = 4, A = 0x20, D = 0x40, PS = 0x80 };
	static uint64_t ram[6][512];
	struct {
		uint64_t cr3, va_lo, va_hi;
		uint8_t maxphyaddr, nxe, pad[6];
	} hdr = {.cr3 = 0x1000, .va_lo = 0, .va_hi = 0, .maxphyaddr = 39 - 32, .nxe = 1};

	ram[1][0] = 0x2000 | P | W | U;
	ram[1][511] = 0x1000 | P | W; /* a recursive slot */
	ram[2][0] = 0x3000 | P | W | U;
	ram[2][1] = 0x40000000 | P | W | PS | A | D;
	ram[3][0] = 0x4000 | P | W | U;
	ram[3][1] = 0x200000 | P | PS | A;
	ram[4][0] = 0x5000 | P | W | U | A | D;
	ram[4][1] = 0x0000 | P | (1ULL << 63);
	ram[4][2] = 0x5000; /* not present */
	int fd = open_seed("fuzz_mmu", "tables");
	if (write(fd, &hdr, sizeof(hdr)) != sizeof(hdr) ||
	    write(fd, ram, sizeof(ram)) != sizeof(ram))
		die("fuzz_mmu seed");
	close(fd);
	hdr.va_lo = 0x200000;
	hdr.va_hi = 0x40001000;
	fd = open_seed("fuzz_mmu", "range");
	if (write(fd, &hdr, sizeof(hdr)) != sizeof(hdr) ||
	    write(fd, ram, sizeof(ram)) != sizeof(ram))
		die("fuzz_mmu seed");
	close(fd);
}

/* Journals of an 8-block image (fuzz_journal's IMAGE_BLOCKS): two
 * transactions, the second epoch-only; and the same with a torn tail. */
static void journal_seeds(void)
{
	static uint64_t pages[3][512];
	const void *p1[] = {pages[0], pages[1]}, *p2[] = {pages[2]};
	struct journal_extent ext[] = {{1, 2, p1}, {6, 1, p2}};
	char img[4096], jp[4096], why[256];
	struct journal j;

	snprintf(img, sizeof(img), "%s/journal.img", dir);
	for (int i = 0; i < 3; i++)
		pages[i][i] = 0x1111 * (i + 1);
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 8 * 4096) || journal_open(&j, img, fd, why, sizeof(why)))
		die("journal seed: open");
	if (journal_commit(&j, 1, ext, 2, why, sizeof(why)) ||
	    journal_commit(&j, 2, NULL, 0, why, sizeof(why)))
		die(why);
	journal_close(&j);
	close(fd);
	if (journal_path(img, jp, sizeof(jp)))
		die("journal_path");
	size_t len;
	uint8_t *buf = slurp(jp, &len);
	fd = open_seed("fuzz_journal", "two_commits");
	if (write(fd, buf, len) != (ssize_t)len)
		die("journal seed");
	close(fd);
	fd = open_seed("fuzz_journal", "torn");
	if (write(fd, buf, len - 4096 + 100) != (ssize_t)(len - 4096 + 100))
		die("journal seed");
	close(fd);
	free(buf);
	unlink(jp);
	unlink(img);
}

/* A vCPU state blob that passes vcpu_state_check (fuzz_vcpu_state's
 * input: an irqchip byte, then the blob), with and without a LAPIC. */
static void vcpu_state_seeds(void)
{
	static struct vcpu_state s;
	char why[256];

	s = (struct vcpu_state){
	    .magic = VCPU_STATE_MAGIC, .version = VCPU_STATE_VERSION, .size = sizeof(s)};
	s.xcrs.nr_xcrs = 1;
	s.xcrs.xcrs[0].value = 1;
	for (int lapic = 0; lapic < 2; lapic++) {
		s.flags = VCPU_STATE_F_XCRS | (lapic ? VCPU_STATE_F_LAPIC : 0);
		if (vcpu_state_check(&s, lapic, why, sizeof(why)))
			die(why);
		uint8_t b = (uint8_t)lapic;
		int fd = open_seed("fuzz_vcpu_state", lapic ? "lapic" : "no_lapic");
		if (write(fd, &b, 1) != 1 || write(fd, &s, sizeof(s)) != sizeof(s))
			die("vcpu seed");
		close(fd);
	}
}

/* virtio-blk state blobs of a 64 KiB image (fuzz_virtio_state's): a fresh
 * device's, and one with a ready queue, each loaded once to prove it. */
static void virtio_state_seeds(void)
{
	struct guest_mem m;
	struct virtio_blk b;
	struct virtio_blk_state s;
	char img[4096], why[256];

	snprintf(img, sizeof(img), "%s/virtio.img", dir);
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 64 * 1024) || mem_create(&m, ABI_RAM_MIN) ||
	    virtio_blk_open(&b, img, &m))
		die("virtio seed: open");
	close(fd);
	if (virtio_blk_state_save(&b, &s))
		die("virtio_blk_state_save");
	fd = open_seed("fuzz_virtio_state", "fresh");
	if (write(fd, &s, sizeof(s)) != sizeof(s))
		die("virtio seed");
	close(fd);
	s.status = 1 | 2 | 8 | 4; /* ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK */
	s.driver_features = VIRTIO_BLK_DEVICE_FEATURES;
	s.q_num = 8;
	s.q_ready = 1;
	s.q_desc_gpa = 0x100000;
	s.q_avail_gpa = 0x101000;
	s.q_used_gpa = 0x102000;
	if (virtio_blk_state_load(&b, &s, why, sizeof(why)))
		die(why);
	fd = open_seed("fuzz_virtio_state", "ready");
	if (write(fd, &s, sizeof(s)) != sizeof(s))
		die("virtio seed");
	close(fd);
	virtio_blk_close(&b);
	mem_destroy(&m);
	unlink(img);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	if (mkdir(dir, 0755) && errno != EEXIST)
		die(dir);
	migstream_seeds();
	dsfs_seeds();
	mmu_seeds();
	journal_seeds();
	vcpu_state_seeds();
	virtio_state_seeds();
	return 0;
}
