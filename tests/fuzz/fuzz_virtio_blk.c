/*
 * libFuzzer target: the virtio-blk device (vmm/virtio_blk*.c) driven by a
 * hostile guest through its MMIO entry point, without KVM.  The input
 * (fuzz_virtio_blk.h) is guest RAM contents and a sequence of register
 * reads and writes, queue setup and QUEUE_NOTIFY among them; requests run
 * against a 16-block DSFS image, through the image file or a backend that
 * checks every call.
 *
 * Checked, beyond "no crash, no sanitizer report":
 *   - every store into guest RAM stays inside it: the slots sit between
 *     PROT_NONE guard pages (a stray store faults), and every buffer the
 *     backend is handed lies wholly inside one slot (pread(2) into a guard
 *     page would only fail with EFAULT, so the file path alone could not
 *     tell);
 *   - every range the DMA hook reports lies inside one slot, and across a
 *     QUEUE_NOTIFY every byte of RAM that changed was reported (a store
 *     the hook misses is a page the dirty log loses);
 *   - only QUEUE_NOTIFY stores into RAM;
 *   - the image is never touched outside [0, its size): the backend checks
 *     every offset, and the file never changes size;
 *   - the counters agree with the backend: bytes_read and bytes_written
 *     grow by what it moved.
 * Under DS_FUZZ_SEEDS_INTACT (the seed replay) every request of a seed
 * must complete: the seeds start the fuzzer deep, and a format change
 * that breaks them is caught.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi/virtio.h"
#include "fs/dsfs.h"
#include "tests/fuzz/fuzz_virtio_blk.h"
#include "vmm/mem.h"
#include "vmm/virtio_blk.h"

#define PAGE 4096
/* Host layout: guard | slot 0 | guard | slot 1 | guard. */
#define HOST_SLOT0 PAGE
#define HOST_SLOT1 (HOST_SLOT0 + FZ_VBLK_SLOT0_BYTES + PAGE)
#define HOST_BYTES (HOST_SLOT1 + FZ_VBLK_SLOT1_BYTES + PAGE)
#define MAX_RANGES 4096

struct range {
	uint64_t gpa, len;
};

static struct {
	uint8_t *map; /* the whole host layout, guards included */
	struct guest_mem mem;
	struct virtio_blk blk;
	uint8_t pristine[FZ_VBLK_IMAGE_BYTES]; /* the image as mkimage wrote it */
	uint8_t image[FZ_VBLK_IMAGE_BYTES];    /* the backend's image */
	uint8_t before[HOST_BYTES];	       /* RAM before a QUEUE_NOTIFY */
	uint8_t covered[HOST_BYTES];	       /* bytes the hook reported */
	struct range ranges[MAX_RANGES];
	uint64_t nranges;	      /* reports since the last reset, may exceed MAX_RANGES */
	uint64_t moved_in, moved_out; /* bytes the backend read, wrote */
} fz;

/* Host offset (into fz.map) of [gpa, gpa+len) when it lies wholly inside
 * one slot, else -1.  Independent of mem_gpa_to_hva on purpose. */
static int64_t host_off(uint64_t gpa, uint64_t len)
{
	if (gpa < FZ_VBLK_SLOT0_BYTES && len <= FZ_VBLK_SLOT0_BYTES - gpa)
		return HOST_SLOT0 + (int64_t)gpa;
	if (gpa >= FZ_VBLK_SLOT1_GPA && gpa - FZ_VBLK_SLOT1_GPA < FZ_VBLK_SLOT1_BYTES &&
	    len <= FZ_VBLK_SLOT1_BYTES - (gpa - FZ_VBLK_SLOT1_GPA))
		return HOST_SLOT1 + (int64_t)(gpa - FZ_VBLK_SLOT1_GPA);
	return -1;
}

/* Whether the host buffer [p, p+len) lies wholly inside one slot. */
static bool in_slot(const void *p, uint64_t len)
{
	const uint8_t *b = p;
	const uint8_t *s0 = fz.map + HOST_SLOT0, *s1 = fz.map + HOST_SLOT1;
	return (b >= s0 && b <= s0 + FZ_VBLK_SLOT0_BYTES &&
		len <= (uint64_t)(s0 + FZ_VBLK_SLOT0_BYTES - b)) ||
	       (b >= s1 && b <= s1 + FZ_VBLK_SLOT1_BYTES &&
		len <= (uint64_t)(s1 + FZ_VBLK_SLOT1_BYTES - b));
}

static void on_dirty(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	if (host_off(gpa, len) < 0)
		abort(); /* the device says it stored outside guest RAM */
	if (fz.nranges < MAX_RANGES)
		fz.ranges[fz.nranges] = (struct range){gpa, len};
	fz.nranges++;
}

static bool image_range_ok(uint64_t len, uint64_t off)
{
	return off <= FZ_VBLK_IMAGE_BYTES && len <= FZ_VBLK_IMAGE_BYTES - off;
}

static int be_read(void *ctx, void *buf, uint64_t len, uint64_t off)
{
	(void)ctx;
	if (!image_range_ok(len, off) || !in_slot(buf, len))
		abort();
	memcpy(buf, fz.image + off, len);
	fz.moved_in += len;
	return 0;
}

static int be_write(void *ctx, const void *buf, uint64_t len, uint64_t off)
{
	(void)ctx;
	if (!image_range_ok(len, off) || !in_slot(buf, len))
		abort();
	memcpy(fz.image + off, buf, len);
	fz.moved_out += len;
	return 0;
}

static int be_flush(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct virtio_blk_backend checking_backend = {be_read, be_write, be_flush, NULL};

static void setup(void)
{
	struct dsfs_file_spec files[2] = {{"a", 5000, 8192}, {"b", 100, 4096}};
	char path[64], why[256];

	fz.map = mmap(NULL, HOST_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fz.map == MAP_FAILED ||
	    mprotect(fz.map + HOST_SLOT0, FZ_VBLK_SLOT0_BYTES, PROT_READ | PROT_WRITE) ||
	    mprotect(fz.map + HOST_SLOT1, FZ_VBLK_SLOT1_BYTES, PROT_READ | PROT_WRITE))
		abort();
	/* As mem_create lays out RAM, but with a guard page between the slots
	 * in the host mapping too (first_page counts it). */
	fz.mem.host = fz.map + HOST_SLOT0;
	fz.mem.ram_size = FZ_VBLK_SLOT0_BYTES + FZ_VBLK_SLOT1_BYTES;
	fz.mem.nr_pages = fz.mem.ram_size / PAGE;
	fz.mem.nr_slots = 2;
	fz.mem.slots[0] = (struct mem_slot){0, 0, FZ_VBLK_SLOT0_BYTES / PAGE, 0};
	fz.mem.slots[1] = (struct mem_slot){1, FZ_VBLK_SLOT1_GPA, FZ_VBLK_SLOT1_BYTES / PAGE,
					    (HOST_SLOT1 - HOST_SLOT0) / PAGE};

	snprintf(path, sizeof(path), "/dev/shm/fuzz-virtio-blk-%d.img", (int)getpid());
	if (dsfs_mkimage(path, FZ_VBLK_IMAGE_BYTES, files, 2, why, sizeof(why))) {
		fprintf(stderr, "fuzz_virtio_blk: %s\n", why);
		abort();
	}
	int fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, fz.pristine, sizeof(fz.pristine), 0) != sizeof(fz.pristine) ||
	    virtio_blk_open(&fz.blk, path, &fz.mem))
		abort();
	close(fd);
	unlink(path); /* the device keeps it open */
	virtio_blk_set_dma_hook(&fz.blk, on_dirty, NULL);
}

/* QUEUE_NOTIFY with the RAM oracle: every byte that changed was reported. */
static void notify(uint8_t *d, uint32_t len)
{
	uint64_t first = fz.nranges;
	uint64_t rd = fz.blk.stats.bytes_read, wr = fz.blk.stats.bytes_written;
	uint64_t in = fz.moved_in, out = fz.moved_out;

	memcpy(fz.before + HOST_SLOT0, fz.map + HOST_SLOT0, FZ_VBLK_SLOT0_BYTES);
	memcpy(fz.before + HOST_SLOT1, fz.map + HOST_SLOT1, FZ_VBLK_SLOT1_BYTES);
	virtio_blk_mmio(&fz.blk, VIRTIO_MMIO_QUEUE_NOTIFY, d, len, true);

	if (fz.blk.backend.read) {
		/* The backend never fails, so every request it served completed. */
		if (fz.blk.stats.bytes_read - rd != fz.moved_in - in ||
		    fz.blk.stats.bytes_written - wr != fz.moved_out - out)
			abort();
	}
	if (fz.nranges > MAX_RANGES)
		return; /* too many reports to keep: the per-range check above held */
	memset(fz.covered, 0, sizeof(fz.covered));
	for (uint64_t i = first; i < fz.nranges; i++)
		memset(fz.covered + host_off(fz.ranges[i].gpa, fz.ranges[i].len), 1,
		       fz.ranges[i].len);
	static const uint64_t slot[2][2] = {{HOST_SLOT0, FZ_VBLK_SLOT0_BYTES},
					    {HOST_SLOT1, FZ_VBLK_SLOT1_BYTES}};
	for (int k = 0; k < 2; k++)
		for (uint64_t o = slot[k][0]; o < slot[k][0] + slot[k][1]; o++)
			if (fz.map[o] != fz.before[o] && !fz.covered[o]) {
				fprintf(stderr,
					"fuzz_virtio_blk: a store into slot %d at %#llx was not "
					"reported\n",
					k, (unsigned long long)(o - slot[k][0]));
				abort();
			}
}

static void run_op(const struct fz_vblk_op *op)
{
	uint8_t d[8] = {0};
	uint32_t len = op->len % 9;

	switch (op->kind % 4) {
	case FZ_VBLK_MMIO_WRITE: {
		uint64_t before = fz.nranges;
		memcpy(d, &op->val, 4);
		memcpy(d + 4, &op->val, 4);
		if (op->off == VIRTIO_MMIO_QUEUE_NOTIFY)
			notify(d, len);
		else
			virtio_blk_mmio(&fz.blk, op->off, d, len, true);
		if (op->off != VIRTIO_MMIO_QUEUE_NOTIFY && fz.nranges != before)
			abort(); /* only QUEUE_NOTIFY stores into guest RAM */
		break;
	}
	case FZ_VBLK_MMIO_READ: {
		uint64_t before = fz.nranges;
		virtio_blk_mmio(&fz.blk, op->off, d, len, false);
		if (fz.nranges != before)
			abort();
		break;
	}
	case FZ_VBLK_POKE0:
		memcpy(fz.map + HOST_SLOT0 +
			   (op->off < FZ_VBLK_SLOT0_BYTES - 4 ? op->off : FZ_VBLK_SLOT0_BYTES - 4),
		       &op->val, 4);
		break;
	case FZ_VBLK_POKE1:
		memcpy(fz.map + HOST_SLOT1 + op->off % (FZ_VBLK_SLOT1_BYTES - 4), &op->val, 4);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz.map)
		setup();
	if (size < 3)
		return 0;

	uint8_t flags = data[0];
	uint16_t ram_len;
	memcpy(&ram_len, data + 1, 2);
	data += 3;
	size -= 3;
	if (ram_len > size)
		ram_len = (uint16_t)size;

	/* A fresh machine: zeroed RAM, the device at power-on, the image as
	 * mkimage wrote it. */
	memset(fz.map + HOST_SLOT0, 0, FZ_VBLK_SLOT0_BYTES);
	memset(fz.map + HOST_SLOT1, 0, FZ_VBLK_SLOT1_BYTES);
	memcpy(fz.map + HOST_SLOT0, data, ram_len);
	data += ram_len;
	size -= ram_len;
	virtio_blk_reset(&fz.blk);
	if (flags & FZ_VBLK_FILE) {
		virtio_blk_set_backend(&fz.blk, NULL);
		if (pwrite(fz.blk.fd, fz.pristine, sizeof(fz.pristine), 0) != sizeof(fz.pristine))
			abort();
	} else {
		virtio_blk_set_backend(&fz.blk, &checking_backend);
		memcpy(fz.image, fz.pristine, sizeof(fz.image));
	}
	struct virtio_blk_stats st0 = fz.blk.stats;

	for (; size >= sizeof(struct fz_vblk_op); size -= sizeof(struct fz_vblk_op)) {
		struct fz_vblk_op op;
		memcpy(&op, data, sizeof(op));
		data += sizeof(op);
		run_op(&op);
	}

	struct stat sb;
	if (fstat(fz.blk.fd, &sb) || sb.st_size != FZ_VBLK_IMAGE_BYTES)
		abort(); /* the device wrote past the image's end */
	if (getenv("DS_FUZZ_SEEDS_INTACT")) {
		const struct virtio_blk_stats *s = &fz.blk.stats;
		uint64_t done =
		    (s->reads - st0.reads) + (s->writes - st0.writes) + (s->flushes - st0.flushes);
		if (s->requests == st0.requests || done != s->requests - st0.requests ||
		    s->refused != st0.refused || s->needs_reset != st0.needs_reset) {
			fprintf(stderr, "fuzz_virtio_blk: a seed's request did not complete\n");
			abort();
		}
	}
	return 0;
}
