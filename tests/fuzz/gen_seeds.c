/*
 * Seed corpora for the fuzz targets, made by the project's own writers:
 * gen_seeds DIR writes DIR/<target>/<seed> for every target, so a seed is
 * always what the current code writes (docs: tests/fuzz/README.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
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
#include "abi/pcache.h"
#include "logger/migrate/migstream.h"
#include "vmm/mem.h"
#include "abi/virtio.h"
#include "tests/fuzz/fuzz_virtio_blk.h"

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

/* ---- fuzz_virtio_blk: a driver's session as the target's input ---------- */

/* Where the seeds' driver keeps things in slot 0 (fuzz_virtio_blk.h). */
#define VS_DESC	  0x100
#define VS_AVAIL  0x200
#define VS_USED	  0x300
#define VS_HDR	  0x400	 /* 16 bytes a request */
#define VS_STATUS 0x500	 /* 1 byte a request */
#define VS_RAM	  0x510	 /* what the input sets; the rest of RAM is zero */
#define VS_DATA	  0x1000 /* 4 KiB a request */
#define VS_NUM	  16

struct vblk_seed {
	uint8_t flags;
	uint8_t ram[VS_RAM];
	struct fz_vblk_op ops[64];
	int nops;
	uint16_t ndesc, nreq;
};

static void vs_op(struct vblk_seed *s, uint8_t kind, uint16_t off, uint32_t val)
{
	if (s->nops == (int)(sizeof(s->ops) / sizeof(s->ops[0])))
		die("fuzz_virtio_blk seed: too many operations");
	s->ops[s->nops++] = (struct fz_vblk_op){kind, 4, off, val};
}

/* Reset, negotiate VERSION_1 and FLUSH, set up a 16-entry queue, DRIVER_OK. */
static void vs_driver_init(struct vblk_seed *s)
{
	static const uint32_t regs[][2] = {
	    {VIRTIO_MMIO_STATUS, 0},
	    {VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE},
	    {VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER},
	    {VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1},
	    {VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32)},
	    {VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0},
	    {VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_BLK_F_FLUSH},
	    {VIRTIO_MMIO_STATUS,
	     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK},
	    {VIRTIO_MMIO_QUEUE_SEL, 0},
	    {VIRTIO_MMIO_QUEUE_NUM, VS_NUM},
	    {VIRTIO_MMIO_QUEUE_DESC_LOW, VS_DESC},
	    {VIRTIO_MMIO_QUEUE_DESC_HIGH, 0},
	    {VIRTIO_MMIO_QUEUE_AVAIL_LOW, VS_AVAIL},
	    {VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0},
	    {VIRTIO_MMIO_QUEUE_USED_LOW, VS_USED},
	    {VIRTIO_MMIO_QUEUE_USED_HIGH, 0},
	    {VIRTIO_MMIO_QUEUE_READY, 1},
	    {VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK},
	};
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		vs_op(s, FZ_VBLK_MMIO_WRITE, (uint16_t)regs[i][0], regs[i][1]);
}

static uint16_t vs_desc(struct vblk_seed *s, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct virtq_desc d = {addr, len, flags, (uint16_t)(s->ndesc + 1)};
	if (s->ndesc == VS_NUM)
		die("fuzz_virtio_blk seed: too many descriptors");
	memcpy(s->ram + VS_DESC + 16 * s->ndesc, &d, sizeof(d));
	return s->ndesc++;
}

/* A request in RAM: header, one data buffer of `len` bytes at `data`
 * (none for a flush), status byte; its head goes into the avail ring, but
 * avail->idx is the caller's to publish. */
static void vs_request(struct vblk_seed *s, uint32_t type, uint64_t sector, uint64_t data,
		       uint32_t len)
{
	struct virtio_blk_req_hdr h = {.type = type, .sector = sector};
	uint16_t r = s->nreq++;
	memcpy(s->ram + VS_HDR + 16 * r, &h, sizeof(h));
	uint16_t head = vs_desc(s, VS_HDR + 16 * r, sizeof(h), VIRTQ_DESC_F_NEXT);
	if (len)
		vs_desc(s, data, len,
			VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0));
	vs_desc(s, VS_STATUS + r, 1, VIRTQ_DESC_F_WRITE);
	memcpy(s->ram + VS_AVAIL + 4 + 2 * r, &head, 2);
}

/* Publish avail->idx = idx in the initial RAM. */
static void vs_publish(struct vblk_seed *s, uint16_t idx)
{
	memcpy(s->ram + VS_AVAIL + 2, &idx, 2);
}

static void vs_notify(struct vblk_seed *s)
{
	vs_op(s, FZ_VBLK_MMIO_WRITE, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static void vs_write(struct vblk_seed *s, const char *name)
{
	uint16_t ram_len = VS_RAM;
	int fd = open_seed("fuzz_virtio_blk", name);
	size_t ops = (size_t)s->nops * sizeof(s->ops[0]);
	if (write(fd, &s->flags, 1) != 1 || write(fd, &ram_len, 2) != 2 ||
	    write(fd, s->ram, VS_RAM) != VS_RAM || write(fd, s->ops, ops) != (ssize_t)ops)
		die("fuzz_virtio_blk seed");
	close(fd);
}

/* Sessions of a driver that does everything right (the seed replay checks
 * that every request completes): a read of the superblock, a write from
 * slot 1 (above the hole), and, on the image file, a read, a write and a
 * flush and then a second notify for a request published by a store. */
static void virtio_blk_seeds(void)
{
	static struct vblk_seed s;

	memset(&s, 0, sizeof(s));
	vs_driver_init(&s);
	vs_request(&s, VIRTIO_BLK_T_IN, 0, VS_DATA, 1024);
	vs_publish(&s, 1);
	vs_notify(&s);
	vs_write(&s, "read");

	memset(&s, 0, sizeof(s));
	vs_driver_init(&s);
	vs_op(&s, FZ_VBLK_POKE1, 0, 0xdeadbeef);
	vs_request(&s, VIRTIO_BLK_T_OUT, 8, FZ_VBLK_SLOT1_GPA, 4096);
	vs_publish(&s, 1);
	vs_notify(&s);
	vs_write(&s, "write");

	memset(&s, 0, sizeof(s));
	s.flags = FZ_VBLK_FILE;
	vs_driver_init(&s);
	vs_request(&s, VIRTIO_BLK_T_IN, 8, VS_DATA, 4096);
	vs_request(&s, VIRTIO_BLK_T_OUT, 16, VS_DATA + 4096, 2048);
	vs_request(&s, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	vs_request(&s, VIRTIO_BLK_T_IN, 120, VS_DATA + 8192, 4096); /* the last block */
	vs_publish(&s, 3);
	vs_notify(&s);
	vs_op(&s, FZ_VBLK_POKE0, VS_AVAIL, 4u << 16); /* flags 0, idx 4 */
	vs_notify(&s);
	vs_write(&s, "file_read_write_flush");
}

/* ---- fuzz_guestview: what an honest guest publishes at a SYNC ----------- */

/* fuzz_guestview.c's header; guest RAM from GPA 0 follows it. */
struct gv_hdr {
	uint64_t desc_gpa;
	uint64_t sync[4]; /* args[ABI_SYNC_VIEW_DIRTY .. ABI_SYNC_WB_ALL] */
	uint64_t index;
	uint32_t ino;
	uint32_t extent;
	uint32_t poke_off;
	uint8_t poke_val;
	uint8_t pad[3];
};
_Static_assert(sizeof(struct gv_hdr) == 64, "fuzz_guestview header layout");

/* Where the seeds' guest keeps things (GPAs; slot 1, the target's four
 * pages at 4 GiB, is not in the input: it reads as zero). */
#define GV_DESC	 0x0000ULL
#define GV_PROCS 0x0480ULL    /* one process */
#define GV_VIEW	 0x0700ULL    /* view_cap 8 */
#define GV_INDEX 0x0780ULL    /* inode 1's index, 8 pages */
#define GV_PML4	 0x1000ULL    /* the process's tables: PML4, PDPT, PD, PT */
#define GV_FREE0 0x5000ULL    /* free list: here, then slot 1's second page */
#define GV_F0	 0x6000ULL    /* inode 1 page 0, mapped shared and dirty */
#define GV_A0	 0x7000ULL    /* anonymous, mapped */
#define GV_F2	 0x8000ULL    /* inode 1 page 5 */
#define GV_F1	 ABI_HOLE_END /* inode 1 page 1, above the hole */
#define GV_FREE1 (ABI_HOLE_END + 0x1000)
#define GV_VA	 ABI_WORKLOAD_BASE
#define GV_RAM	 (ABI_BOOT_PT_GPA + 3 * ABI_PAGE_SIZE) /* through the boot PD */

static void gv_put(uint8_t *ram, uint64_t gpa, const void *p, size_t n)
{
	if (gpa + n > GV_RAM)
		die("fuzz_guestview seed: outside the seed's RAM");
	memcpy(ram + gpa, p, n);
}

static void gv_u64(uint8_t *ram, uint64_t gpa, uint64_t v)
{
	gv_put(ram, gpa, &v, sizeof(v));
}

/* A guest as guest/ lays its page cache out, on a small RAM: the
 * descriptor, a view of two dirty pages and one written back, inode 1's
 * index with three pages cached (one above the hole), inode 2 published
 * but never opened, one process mapping a file page shared and an
 * anonymous page, a free list of two pages, and the boot tables' direct
 * map.  The target checks that each seed reads and mirrors without a
 * lie, at both SYNCs. */
static void gv_write(const char *name, uint32_t policy, uint32_t ino, uint32_t poke_off,
		     uint8_t poke_val)
{
	enum { P = 1, W = 2, U = 4, A = 0x20, D = 0x40, PS = 0x80 };
	static uint8_t ram[GV_RAM];
	static struct abi_pc_desc d;
	static struct abi_pc_proc proc;
	/* Two dirty pages, then one written back. */
	const struct abi_pc_view_ent view[] = {{1, 1, GV_F1}, {1, 0, GV_F0}, {1, 5, GV_F2}};
	struct gv_hdr h = {.desc_gpa = GV_DESC,
			   .sync = {2, 1, 2, 2}, /* page 5 written twice */
			   .index = 1,
			   .ino = ino,
			   .extent = ino == 1 ? 8 : 0,
			   .poke_off = poke_off,
			   .poke_val = poke_val};

	memset(ram, 0, sizeof(ram));
	d = (struct abi_pc_desc){.magic = ABI_PC_MAGIC,
				 .version = ABI_PC_VERSION,
				 .policy = policy,
				 .view_gpa = GV_VIEW,
				 .view_cap = 8,
				 .nr_files = 2,
				 .procs_gpa = GV_PROCS,
				 .procs_cap = 1,
				 .nr_procs = 1,
				 .free_head = GV_FREE0,
				 .nr_free = 2};
	d.files[0] = (struct abi_pc_file){.ino = 1, .npages = 8, .index_gpa = GV_INDEX};
	d.files[1] = (struct abi_pc_file){.ino = 2, .npages = 4};
	gv_put(ram, GV_DESC, &d, sizeof(d));
	gv_put(ram, GV_VIEW, view, sizeof(view));
	gv_u64(ram, GV_INDEX + 8 * 0, GV_F0 | ABI_PCE_PRESENT | ABI_PCE_UPTODATE);
	gv_u64(ram, GV_INDEX + 8 * 1, GV_F1 | ABI_PCE_PRESENT | ABI_PCE_UPTODATE | ABI_PCE_DIRTY);
	gv_u64(ram, GV_INDEX + 8 * 5, GV_F2 | ABI_PCE_PRESENT | ABI_PCE_UPTODATE);

	/* GV_VA -> F0 in a MAP_SHARED VMA of inode 1, the next page -> A0. */
	proc = (struct abi_pc_proc){.pid = 1, .nvma = 2, .cr3 = GV_PML4};
	proc.vmas[0] = (struct abi_pc_vma){GV_VA, GV_VA + 0x1000, ABI_PC_VMA_SHARED, 1, 0};
	proc.vmas[1] = (struct abi_pc_vma){GV_VA + 0x1000, GV_VA + 0x2000, ABI_PC_VMA_ANON, 0, 0};
	gv_put(ram, GV_PROCS, &proc, sizeof(proc));
	gv_u64(ram, GV_PML4 + 8 * ((GV_VA >> 39) & 511), (GV_PML4 + 0x1000) | P | W | U | A);
	gv_u64(ram, GV_PML4 + 0x1000 + 8 * ((GV_VA >> 30) & 511),
	       (GV_PML4 + 0x2000) | P | W | U | A);
	gv_u64(ram, GV_PML4 + 0x2000 + 8 * ((GV_VA >> 21) & 511),
	       (GV_PML4 + 0x3000) | P | W | U | A);
	gv_u64(ram, GV_PML4 + 0x3000 + 8 * ((GV_VA >> 12) & 511), GV_F0 | P | W | U | A | D);
	gv_u64(ram, GV_PML4 + 0x3000 + 8 * (((GV_VA >> 12) + 1) & 511), GV_A0 | P | W | U | A | D);

	gv_u64(ram, GV_FREE0, GV_FREE1);

	/* The boot tables: the kernel half's direct map, one 2 MiB page. */
	gv_u64(ram, ABI_BOOT_PT_GPA + 8 * 256, (ABI_BOOT_PT_GPA + 0x1000) | P | W | A);
	gv_u64(ram, ABI_BOOT_PT_GPA + 0x1000, (ABI_BOOT_PT_GPA + 0x2000) | P | W | A);
	gv_u64(ram, ABI_BOOT_PT_GPA + 0x2000, 0 | P | W | A | D | PS);

	int fd = open_seed("fuzz_guestview", name);
	if (write(fd, &h, sizeof(h)) != sizeof(h) || write(fd, ram, sizeof(ram)) != sizeof(ram))
		die("fuzz_guestview seed");
	close(fd);
}

static void guestview_seeds(void)
{
	/* Between the SYNCs the guest stores into a file page's data, and
	 * the lookup finds inode 1's page 1. */
	gv_write("honest", ABI_POLICY_WP, 1, (uint32_t)GV_F0 + 100, 0x5a);
	/* It caches page 2 of inode 1 (in the frame at GPA 0), and the
	 * lookup is for inode 2, never opened. */
	gv_write("page_cached_between_syncs", ABI_POLICY_DBIT, 2, (uint32_t)GV_INDEX + 8 * 2,
		 ABI_PCE_PRESENT | ABI_PCE_UPTODATE);
}

/* One seed file of `target`: the byte `head` when has_head, then `text`. */
static void text_seed(const char *target, const char *name, bool has_head, uint8_t head,
		      const char *text)
{
	int fd = open_seed(target, name);
	size_t n = strlen(text);
	if ((has_head && write(fd, &head, 1) != 1) || write(fd, text, n) != (ssize_t)n ||
	    close(fd))
		die(target);
}

/* The guest's serial lines, one per seed, as guest/standalone.c prints them,
 * plus a line for people and a cut object. */
static void guestline_seeds(void)
{
	static const struct {
		const char *name, *text;
	} seeds[] = {
	    {"boot", "{\"boot\":\"pvh\",\"workload\":\"random\",\"wss\":1024,\"epochs\":0,"
		     "\"writes\":700,\"seed\":7,\"ram-mib\":127,\"tsc\":158254549724520}"},
	    {"ready", "{\"ready\":true,\"tsc\":158254907005349}"},
	    {"epoch", "{\"epoch\":1,\"pages\":4096,\"stores\":4096,\"tsc\":158256836105802}"},
	    {"done", "{\"done\":true,\"status\":0,\"epochs\":3,\"check\":\"ok\",\"tsc\":1}"},
	    {"text", "dirtyscope guest: 127 MiB RAM, wss 4096 pages"},
	    {"cut", "{\"epoch\":2,\"pages\":40"},
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		text_seed("fuzz_guestline", seeds[i].name, false, 0, seeds[i].text);
}

/* Console transcripts, each after the byte that sets the size of the pieces
 * they arrive in, less one (fuzz_guestconsole.c). */
static void guestconsole_seeds(void)
{
	static const struct {
		const char *name;
		uint8_t piece;
		const char *text;
	} seeds[] = {
	    {"run", 7,
	     "{\"boot\":\"pvh\",\"workload\":\"random\",\"wss\":64,\"epochs\":2,"
	     "\"writes\":64,\"seed\":7,\"ram-mib\":127,\"tsc\":1}\r\n"
	     "dirtyscope guest: 127 MiB RAM, wss 64 pages\n"
	     "{\"ready\":true,\"tsc\":2}\n"
	     "{\"epoch\":1,\"pages\":60,\"stores\":64,\"tsc\":3}\n"
	     "{\"epoch\":2,\"pages\":61,\"stores\":64,\"tsc\":4}\n"
	     "{\"done\":true,\"status\":0,\"epochs\":2,\"check\":\"ok\",\"tsc\":5}\n"},
	    {"bytewise", 0,
	     "{\"ready\":true,\"tsc\":2}\n{\"epoch\":1,\"pages\":1,\"stores\":1,\"tsc\":3}\n"},
	    {"cut", 3, "{\"ready\":true,\"tsc\":2}\n{\"epoch\":1,\"pa"},
	    {"panic", 16, "guest panic: pvh.c:51: command line: ds.seed: number too large\n"},
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		text_seed("fuzz_guestconsole", seeds[i].name, true, seeds[i].piece, seeds[i].text);
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
	virtio_blk_seeds();
	guestline_seeds();
	guestconsole_seeds();
	guestview_seeds();
	return 0;
}
