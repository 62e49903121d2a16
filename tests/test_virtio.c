/*
 * The virtio-blk device (vmm/virtio_blk.h), driven through its MMIO entry
 * point exactly as the run loop drives it, with no /dev/kvm: guest RAM comes
 * from mem_create() (a plain mapping) and the disk is a temporary image.
 *
 *   - open: refuses missing files and sizes that are 0 or not 4 KiB multiples
 *   - registers: identity, features, QUEUE_NUM_MAX, config space at every
 *     width, and harmless answers to odd widths, misaligned and unknown offsets
 *   - the status handshake: FEATURES_OK only for VERSION_1 and offered bits,
 *     no bit before its prerequisite, reset clears everything
 *   - byte-exact read/write round trips (one and several data descriptors),
 *     flush, the counters, and ring indices wrapping past 65535
 *   - every hostile request the guest selftest sends, and more: IOERR or
 *     UNSUPP when the status byte is usable, DEVICE_NEEDS_RESET otherwise,
 *     queue areas refused at QUEUE_READY
 *   - after every test the whole image file is compared with what it must
 *     hold, so no refused write can have changed it
 *   - dma_dirty reports exactly the ranges the device stored into
 *   - a guest with RAM above the hole: slot 1 buffers work, GPAs are
 *     reported (not host offsets), ranges across the hole are refused
 *   - include/abi/virtio.h agrees with Linux's uapi headers
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/ds_test.h"
#include "tests/test_virtio_linux.h"
#include "abi/layout.h"
#include "abi/virtio.h"
#include "vmm/mem.h"
#include "vmm/virtio_blk.h"

#ifndef VIRTQ_DESC_F_INDIRECT
#define VIRTQ_DESC_F_INDIRECT 4
#endif

#define MIB	 (1ULL << 20)
#define GIB	 (1ULL << 30)
#define RAM	 (16 * MIB)
#define IMG_SIZE (64 * 1024)
#define CAP	 (IMG_SIZE / 512)

/* Where the test's driver keeps things in guest-physical memory. */
#define DESC_GPA   0x100000ULL
#define AVAIL_GPA  0x101000ULL
#define USED_GPA   0x102000ULL
#define HDR_GPA	   0x103000ULL
#define STATUS_GPA 0x103800ULL
#define DATA_GPA   0x110000ULL /* 64 KiB */
#define DATA2_GPA  0x120000ULL /* 64 KiB */

#define W VIRTQ_DESC_F_WRITE
#define N VIRTQ_DESC_F_NEXT

#define NO_COMPLETION (-1) /* req*() result: the used ring did not advance */

struct range {
	uint64_t gpa, len;
};

static struct {
	struct guest_mem mem;
	struct virtio_blk dev;
	char path[64];
	uint8_t *ref; /* what the image must hold */
	uint16_t num, avail_idx;
	struct range dirty[64];
	int ndirty;
} fx;

/* ---- fixture -------------------------------------------------------------- */

static void on_dirty(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	if (fx.ndirty < (int)(sizeof(fx.dirty) / sizeof(fx.dirty[0])))
		fx.dirty[fx.ndirty] = (struct range){gpa, len};
	fx.ndirty++;
}

static int make_image(char *path, size_t pathlen, uint64_t size, uint8_t **content)
{
	snprintf(path, pathlen, "/tmp/ds_virtio_XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	uint8_t *p = malloc(size ? size : 1);
	for (uint64_t i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 7 + (i >> 9) * 13 + 1);
	int ok = write(fd, p, size) == (ssize_t)size;
	close(fd);
	if (content)
		*content = p;
	else
		free(p);
	return ok ? 0 : -1;
}

static void fx_setup(uint64_t ram)
{
	memset(&fx, 0, sizeof(fx));
	fx.dev.fd = -1;
	CU_ASSERT_FATAL(mem_create(&fx.mem, ram) == 0);
	CU_ASSERT_FATAL(make_image(fx.path, sizeof(fx.path), IMG_SIZE, &fx.ref) == 0);
	CU_ASSERT_FATAL(virtio_blk_open(&fx.dev, fx.path, &fx.mem) == 0);
	virtio_blk_set_dma_hook(&fx.dev, on_dirty, NULL);
}

/* The whole image must equal fx.ref: refused writes change nothing. */
static void image_check(void)
{
	uint8_t *now = malloc(IMG_SIZE);
	int fd = open(fx.path, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pread(fd, now, IMG_SIZE, 0), IMG_SIZE);
	struct stat st;
	CU_ASSERT(fstat(fd, &st) == 0 && st.st_size == IMG_SIZE);
	close(fd);
	CU_ASSERT(memcmp(now, fx.ref, IMG_SIZE) == 0);
	free(now);
}

static void fx_teardown(void)
{
	image_check();
	virtio_blk_close(&fx.dev);
	virtio_blk_close(&fx.dev); /* harmless twice */
	unlink(fx.path);
	free(fx.ref);
	mem_destroy(&fx.mem);
}

static void *g(uint64_t gpa, uint64_t len)
{
	void *p = mem_gpa_to_hva(&fx.mem, gpa, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static uint32_t rd(uint64_t off)
{
	uint8_t d[8];
	uint32_t v;
	memset(d, 0xee, sizeof(d));
	virtio_blk_mmio(&fx.dev, off, d, 4, false);
	memcpy(&v, d, 4);
	return v;
}

static uint64_t rdn(uint64_t off, uint32_t len)
{
	uint8_t d[8];
	uint64_t v = 0;
	memset(d, 0xee, sizeof(d));
	virtio_blk_mmio(&fx.dev, off, d, len, false);
	memcpy(&v, d, len);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	uint8_t d[8] = {0};
	memcpy(d, &v, 4);
	virtio_blk_mmio(&fx.dev, off, d, 4, true);
}

static uint32_t status(void)
{
	return rd(VIRTIO_MMIO_STATUS);
}

/* Features word `sel` the driver accepts, through the selector. */
static void drv_features(uint32_t sel, uint32_t v)
{
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, v);
}

static void queue_regs(uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
}

/* Reset, negotiate, set up the queue with these areas, DRIVER_OK.  Returns
 * the STATUS register at the end. */
static uint32_t drv_init_at(uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	/* The rings restart at 0 after a reset: clear what the last run left. */
	if (mem_gpa_to_hva(&fx.mem, USED_GPA, 4096)) {
		memset(g(AVAIL_GPA, 4096), 0, 4096);
		memset(g(USED_GPA, 4096), 0, 4096);
	}
	fx.num = (uint16_t)num;
	fx.avail_idx = 0;
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	drv_features(0, 1u << VIRTIO_BLK_F_FLUSH);
	drv_features(1, 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	queue_regs(num, desc, avail, used);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	return status();
}

static uint32_t drv_init(uint32_t num)
{
	return drv_init_at(num, DESC_GPA, AVAIL_GPA, USED_GPA);
}

#define LIVE                                                                                       \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |            \
	 VIRTIO_STATUS_DRIVER_OK)

static struct virtq_desc *desc(int i)
{
	return (struct virtq_desc *)g(DESC_GPA, 4096) + i;
}

static void set_desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	*desc(i) = (struct virtq_desc){addr, len, flags, next};
}

static void set_hdr(uint32_t type, uint64_t sector)
{
	*(struct virtio_blk_req_hdr *)g(HDR_GPA, 16) = (struct virtio_blk_req_hdr){type, 0, sector};
}

static struct virtq_avail *avail(void)
{
	return g(AVAIL_GPA, 4096);
}

static struct virtq_used *used(void)
{
	return g(USED_GPA, 4096);
}

static uint8_t *status_byte(void)
{
	return g(STATUS_GPA, 1);
}

/* Offer `count` heads at once, then one notify. */
static void post(const uint16_t *heads, int count)
{
	for (int i = 0; i < count; i++)
		avail()->ring[(fx.avail_idx + i) % fx.num] = heads[i];
	fx.avail_idx = (uint16_t)(fx.avail_idx + count);
	avail()->idx = fx.avail_idx;
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

/* Submit one head: the status byte, or NO_COMPLETION.  *used_len gets the
 * used element's length.  fx.dirty restarts with this request. */
static int submit(uint16_t head, uint32_t *used_len)
{
	uint16_t before = used()->idx;
	*status_byte() = 0xff;
	fx.ndirty = 0;
	post(&head, 1);
	if (used()->idx == before)
		return NO_COMPLETION;
	CU_ASSERT_EQUAL(used()->idx, (uint16_t)(before + 1));
	struct virtq_used_elem *e = &used()->ring[before % fx.num];
	CU_ASSERT_EQUAL(e->id, head);
	if (used_len)
		*used_len = e->len;
	return *status_byte();
}

/* The usual request: header, one data buffer, status byte. */
static int req(uint32_t type, uint64_t sector, uint64_t addr, uint32_t len, uint16_t dflags,
	       uint32_t *used_len)
{
	set_hdr(type, sector);
	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, addr, len, N | dflags, 2);
	set_desc(2, STATUS_GPA, 1, W, 0);
	return submit(0, used_len);
}

static void fill(uint64_t gpa, uint64_t len, uint8_t seed)
{
	uint8_t *p = g(gpa, len);
	for (uint64_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 31 + (i >> 8));
}

static int dirty_has(uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < fx.ndirty; i++)
		if (fx.dirty[i].gpa == gpa && fx.dirty[i].len == len)
			return 1;
	return 0;
}

/* The three ranges every completed request stores into. */
static void check_completion_dirty(uint16_t slot)
{
	CU_ASSERT(dirty_has(STATUS_GPA, 1));
	CU_ASSERT(dirty_has(USED_GPA + 4 + 8ULL * slot, 8));
	CU_ASSERT(dirty_has(USED_GPA + 2, 2));
}

/* ---- open ------------------------------------------------------------------ */

static void test_open(void)
{
	struct guest_mem m;
	struct virtio_blk b;
	char path[64];
	static const uint64_t bad[] = {0, 512, 1000, 4096 + 512, 8192 - 1};

	CU_ASSERT_FATAL(mem_create(&m, RAM) == 0);
	CU_ASSERT_EQUAL(virtio_blk_open(&b, "/nonexistent/ds.img", &m), -ENOENT);
	CU_ASSERT_EQUAL(b.fd, -1);
	virtio_blk_close(&b);
	CU_ASSERT(virtio_blk_open(&b, "/tmp", &m) < 0); /* a directory */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_FATAL(make_image(path, sizeof(path), bad[i], NULL) == 0);
		CU_ASSERT_EQUAL(virtio_blk_open(&b, path, &m), -EINVAL);
		virtio_blk_close(&b);
		unlink(path);
	}
	CU_ASSERT_FATAL(make_image(path, sizeof(path), 4096, NULL) == 0);
	CU_ASSERT_EQUAL(virtio_blk_open(&b, path, &m), 0);
	CU_ASSERT_EQUAL(b.size, 4096);
	virtio_blk_close(&b);
	unlink(path);
	mem_destroy(&m);
}

/* ---- registers ------------------------------------------------------------- */

static void test_registers(void)
{
	fx_setup(RAM);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_VERSION), 2);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	CU_ASSERT_NOT_EQUAL(rd(VIRTIO_MMIO_VENDOR_ID), 0);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_DEVICE_FEATURES), 1u << VIRTIO_BLK_F_FLUSH);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_DEVICE_FEATURES), 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), ABI_VIRTIO_QUEUE_MAX);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* only queue 0 exists */
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_STATUS), 0);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);

	/* Config space: the capacity at every width. */
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_CONFIG), CAP);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_CONFIG + 4), 0);
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_CONFIG, 8), CAP);
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_CONFIG, 1), CAP & 0xff);
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_CONFIG, 2), CAP & 0xffff);
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_CONFIG + 1, 1), (CAP >> 8) & 0xff);
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_CONFIG + 8, 8), 0);   /* past the capacity */
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_CONFIG + 2, 4), 0);   /* misaligned */
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_CONFIG + 4, 8), 0);   /* misaligned */
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_CONFIG, 3), 0);	      /* odd width */
	CU_ASSERT_EQUAL(rdn(ABI_VIRTIO_MMIO_SIZE - 8, 8), 0); /* last config bytes */
	CU_ASSERT_EQUAL(rdn(ABI_VIRTIO_MMIO_SIZE - 1, 1), 0);
	wr(VIRTIO_MMIO_CONFIG, 1); /* read-only */
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_CONFIG, 8), CAP);

	/* Registers take aligned 32-bit accesses only; all else reads 0. */
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	CU_ASSERT_EQUAL(rdn(VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_MAGIC_VALUE + 1), 0);
	CU_ASSERT_EQUAL(rd(0x0c0), 0);		       /* unknown */
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_QUEUE_NUM), 0); /* write-only */
	/* Status written with a wrong width or alignment is ignored. */
	uint8_t d[8] = {VIRTIO_STATUS_ACKNOWLEDGE};
	virtio_blk_mmio(&fx.dev, VIRTIO_MMIO_STATUS, d, 1, true);
	virtio_blk_mmio(&fx.dev, VIRTIO_MMIO_STATUS, d, 8, true);
	virtio_blk_mmio(&fx.dev, VIRTIO_MMIO_STATUS + 1, d, 4, true);
	CU_ASSERT_EQUAL(status(), 0);
	wr(0x0c0, 0xffffffff);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
	wr(VIRTIO_MMIO_MAGIC_VALUE, 0);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	CU_ASSERT_EQUAL(status(), 0);
	/* A notify with nothing set up does nothing. */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	CU_ASSERT_EQUAL(fx.dev.stats.requests, 0);
	fx_teardown();
}

/* ---- handshake -------------------------------------------------------------- */

static void test_handshake(void)
{
	const uint32_t ad = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	fx_setup(RAM);

	/* DRIVER before ACKNOWLEDGE, DRIVER_OK before FEATURES_OK: dropped. */
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER);
	CU_ASSERT_EQUAL(status(), 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, ad);
	CU_ASSERT_EQUAL(status(), ad);
	wr(VIRTIO_MMIO_STATUS, ad | VIRTIO_STATUS_DRIVER_OK);
	CU_ASSERT_EQUAL(status(), ad);
	/* Clearing a bit other than by reset is ignored. */
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	CU_ASSERT_EQUAL(status(), ad);
	/* The driver may not set NEEDS_RESET. */
	wr(VIRTIO_MMIO_STATUS, ad | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CU_ASSERT_EQUAL(status(), ad);

	/* FEATURES_OK needs VERSION_1 ... */
	drv_features(0, 1u << VIRTIO_BLK_F_FLUSH);
	drv_features(1, 0);
	wr(VIRTIO_MMIO_STATUS, ad | VIRTIO_STATUS_FEATURES_OK);
	CU_ASSERT_EQUAL(status(), ad);
	/* ... and no bit the device did not offer ... */
	drv_features(1, 1u << (VIRTIO_F_VERSION_1 - 32) | 2);
	wr(VIRTIO_MMIO_STATUS, ad | VIRTIO_STATUS_FEATURES_OK);
	CU_ASSERT_EQUAL(status(), ad);
	drv_features(1, 1u << (VIRTIO_F_VERSION_1 - 32));
	drv_features(0, 1u << VIRTIO_BLK_F_FLUSH | 1u << 5);
	wr(VIRTIO_MMIO_STATUS, ad | VIRTIO_STATUS_FEATURES_OK);
	CU_ASSERT_EQUAL(status(), ad);
	drv_features(0, 0);
	drv_features(2, 1); /* a selector past the 64 bits we have */
	wr(VIRTIO_MMIO_STATUS, ad | VIRTIO_STATUS_FEATURES_OK);
	CU_ASSERT_EQUAL(status(), ad);

	/* ... and no QUEUE_READY before FEATURES_OK. */
	queue_regs(16, DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CU_ASSERT(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	CU_ASSERT_EQUAL(fx.dev.stats.needs_reset, 1);

	/* Reset clears everything, including the bad selector's bit. */
	wr(VIRTIO_MMIO_STATUS, 0);
	CU_ASSERT_EQUAL(status(), 0);
	CU_ASSERT_EQUAL(fx.dev.driver_features, 0);
	CU_ASSERT_EQUAL(fx.dev.q.num, 0);
	CU_ASSERT_EQUAL(fx.dev.q.desc_gpa, 0);
	CU_ASSERT_FALSE(fx.dev.q.ready);

	/* VERSION_1 alone (no FLUSH) is a valid choice. */
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, ad);
	drv_features(1, 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(VIRTIO_MMIO_STATUS, ad | VIRTIO_STATUS_FEATURES_OK);
	CU_ASSERT_EQUAL(status(), ad | VIRTIO_STATUS_FEATURES_OK);
	/* Features are frozen once FEATURES_OK is set. */
	drv_features(0, 0xffffffff);
	CU_ASSERT_EQUAL(fx.dev.driver_features, 1ULL << VIRTIO_F_VERSION_1);

	/* The full sequence, then the queue is live. */
	CU_ASSERT_EQUAL(drv_init(16), LIVE);
	CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	/* Queue registers are frozen while the queue is live. */
	wr(VIRTIO_MMIO_QUEUE_NUM, 3);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1234);
	CU_ASSERT_EQUAL(fx.dev.q.num, 16);
	CU_ASSERT_EQUAL(fx.dev.q.desc_gpa, DESC_GPA);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, W, NULL), VIRTIO_BLK_S_OK);
	/* FAILED stops the device too. */
	wr(VIRTIO_MMIO_STATUS, LIVE | VIRTIO_STATUS_FAILED);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, W, NULL), NO_COMPLETION);
	fx_teardown();
}

/* ---- I/O ---------------------------------------------------------------------- */

static void test_read_write(void)
{
	uint32_t len = 0;
	fx_setup(RAM);
	CU_ASSERT_EQUAL_FATAL(drv_init(16), LIVE);

	/* Write 8 sectors at sector 10, then read them back elsewhere. */
	fill(DATA_GPA, 4096, 3);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_OUT, 10, DATA_GPA, 4096, 0, &len), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(len, 1);
	memcpy(fx.ref + 10 * 512, g(DATA_GPA, 4096), 4096);
	image_check();
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 10, DATA2_GPA, 4096, W, &len), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(len, 4097);
	CU_ASSERT(memcmp(g(DATA2_GPA, 4096), g(DATA_GPA, 4096), 4096) == 0);

	/* The whole disk in one read. */
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, DATA_GPA, IMG_SIZE, W, &len), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(len, IMG_SIZE + 1);
	CU_ASSERT(memcmp(g(DATA_GPA, IMG_SIZE), fx.ref, IMG_SIZE) == 0);
	/* The last sector alone. */
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, CAP - 1, DATA2_GPA, 512, W, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT(memcmp(g(DATA2_GPA, 512), fx.ref + IMG_SIZE - 512, 512) == 0);

	/* Several data descriptors, scattered, and a 2-byte status buffer
	 * whose last byte is the status. */
	set_hdr(VIRTIO_BLK_T_IN, 3);
	set_desc(5, HDR_GPA, 16, N, 9);
	set_desc(9, DATA2_GPA + 0x2000, 512, N | W, 1);
	set_desc(1, DATA2_GPA + 0x3000, 1024, N | W, 7);
	set_desc(7, STATUS_GPA - 1, 2, W, 0);
	CU_ASSERT_EQUAL(submit(5, &len), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(len, 1537);
	CU_ASSERT(memcmp(g(DATA2_GPA + 0x2000, 512), fx.ref + 3 * 512, 512) == 0);
	CU_ASSERT(memcmp(g(DATA2_GPA + 0x3000, 1024), fx.ref + 4 * 512, 1024) == 0);

	set_hdr(VIRTIO_BLK_T_OUT, CAP - 3);
	fill(DATA_GPA, 512, 9);
	fill(DATA_GPA + 0x1000, 1024, 77);
	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, DATA_GPA, 512, N, 2);
	set_desc(2, DATA_GPA + 0x1000, 1024, N, 3);
	set_desc(3, STATUS_GPA, 1, W, 0);
	CU_ASSERT_EQUAL(submit(0, &len), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(len, 1);
	memcpy(fx.ref + (CAP - 3) * 512, g(DATA_GPA, 512), 512);
	memcpy(fx.ref + (CAP - 2) * 512, g(DATA_GPA + 0x1000, 1024), 1024);
	image_check();

	/* Two requests in one notify complete in order. */
	set_hdr(VIRTIO_BLK_T_IN, 0);
	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, DATA_GPA, 512, N | W, 2);
	set_desc(2, STATUS_GPA, 1, W, 0);
	set_desc(10, HDR_GPA, 16, N, 11);
	set_desc(11, DATA2_GPA, 512, N | W, 12);
	set_desc(12, STATUS_GPA, 1, W, 0);
	uint16_t before = used()->idx, heads[2] = {10, 0};
	post(heads, 2);
	CU_ASSERT_EQUAL(used()->idx, (uint16_t)(before + 2));
	CU_ASSERT_EQUAL(used()->ring[before % 16].id, 10);
	CU_ASSERT_EQUAL(used()->ring[(before + 1) % 16].id, 0);

	struct virtio_blk_stats *s = &fx.dev.stats;
	CU_ASSERT_EQUAL(s->requests, 8);
	CU_ASSERT_EQUAL(s->reads, 6);
	CU_ASSERT_EQUAL(s->writes, 2);
	CU_ASSERT_EQUAL(s->bytes_written, 4096 + 1536);
	CU_ASSERT_EQUAL(s->bytes_read, 4096 + IMG_SIZE + 512 + 1536 + 1024);
	CU_ASSERT_EQUAL(s->refused, 0);
	fx_teardown();
}

static void test_flush(void)
{
	uint32_t len = 0;
	fx_setup(RAM);
	CU_ASSERT_EQUAL_FATAL(drv_init(8), LIVE);
	set_hdr(VIRTIO_BLK_T_FLUSH, 0);
	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, STATUS_GPA, 1, W, 0);
	CU_ASSERT_EQUAL(submit(0, &len), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(len, 1);
	CU_ASSERT_EQUAL(fx.dev.stats.flushes, 1);
	CU_ASSERT_EQUAL(fx.ndirty, 3);
	check_completion_dirty(0);
	fx_teardown();
}

/* 70000 requests on a 4-entry queue: both the ring slots and the 16-bit
 * indices wrap. */
static void test_ring_wrap(void)
{
	fx_setup(RAM);
	CU_ASSERT_EQUAL_FATAL(drv_init(4), LIVE);
	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, DATA_GPA, 512, N | W, 2);
	set_desc(2, STATUS_GPA, 1, W, 0);
	int bad = 0;
	for (int i = 0; i < 70000; i++) {
		set_hdr(VIRTIO_BLK_T_IN, (uint64_t)i % CAP);
		bad += submit(0, NULL) != VIRTIO_BLK_S_OK;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(used()->idx, (uint16_t)70000);
	CU_ASSERT(memcmp(g(DATA_GPA, 512), fx.ref + (69999 % CAP) * 512, 512) == 0);
	fx_teardown();
}

/* ---- dma_dirty ------------------------------------------------------------ */

static void test_dma_dirty(void)
{
	fx_setup(RAM);
	CU_ASSERT_EQUAL_FATAL(drv_init(16), LIVE);

	/* A read: data, status, used element, used->idx, and nothing else. */
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, DATA_GPA + 0x200, 1024, W, NULL), 0);
	CU_ASSERT_EQUAL(fx.ndirty, 4);
	CU_ASSERT(dirty_has(DATA_GPA + 0x200, 1024));
	check_completion_dirty(0);

	/* Several data buffers: each is reported. */
	set_hdr(VIRTIO_BLK_T_IN, 0);
	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, DATA_GPA + 0x5000, 512, N | W, 2);
	set_desc(2, DATA2_GPA + 0x7e00, 1024, N | W, 3);
	set_desc(3, STATUS_GPA, 1, W, 0);
	CU_ASSERT_EQUAL(submit(0, NULL), 0);
	CU_ASSERT_EQUAL(fx.ndirty, 5);
	CU_ASSERT(dirty_has(DATA_GPA + 0x5000, 512));
	CU_ASSERT(dirty_has(DATA2_GPA + 0x7e00, 1024));
	check_completion_dirty(1);

	/* A write stores no data into guest RAM. */
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_OUT, 5, DATA_GPA, 512, 0, NULL), 0);
	memcpy(fx.ref + 5 * 512, g(DATA_GPA, 512), 512);
	CU_ASSERT_EQUAL(fx.ndirty, 3);
	check_completion_dirty(2);

	/* A refused read: status and used ring only. */
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, CAP, DATA_GPA, 512, W, NULL), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(fx.ndirty, 3);
	check_completion_dirty(3);

	/* A request that breaks the device stores nothing. */
	set_desc(2, STATUS_GPA, 1, 0, 0);
	CU_ASSERT_EQUAL(submit(0, NULL), NO_COMPLETION);
	CU_ASSERT_EQUAL(fx.ndirty, 0);

	/* Without a hook, nothing to call. */
	virtio_blk_set_dma_hook(&fx.dev, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(drv_init(16), LIVE);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, W, NULL), 0);
	CU_ASSERT_EQUAL(fx.ndirty, 0);
	fx_teardown();
}

/* ---- hostile requests answered with a status ------------------------------- */

struct bad_case {
	const char *name;
	uint32_t type;
	uint64_t sector;
	uint64_t hdr_addr;
	uint32_t hdr_len;
	uint16_t hdr_flags;
	uint64_t addr;
	uint32_t len;
	uint16_t dflags;
	uint8_t expect;
};

static void test_hostile_ioerr(void)
{
	const uint8_t IOERR = VIRTIO_BLK_S_IOERR;
	const uint32_t IN = VIRTIO_BLK_T_IN, OUT = VIRTIO_BLK_T_OUT;
	const uint64_t H = HDR_GPA, D = DATA_GPA;
	const struct bad_case cases[] = {
	    {"read past the end of RAM", IN, 0, H, 16, 0, RAM, 512, W, IOERR},
	    {"read straddling the end of RAM", IN, 0, H, 16, 0, RAM - 512, 1024, W, IOERR},
	    {"read into the device page", IN, 0, H, 16, 0, ABI_VIRTIO_BLK_GPA, 512, W, IOERR},
	    {"write from the hole", OUT, 0, H, 16, 0, ABI_HOLE_START, 512, 0, IOERR},
	    {"write from far away", OUT, 0, H, 16, 0, 1ULL << 46, 512, 0, IOERR},
	    {"huge length", IN, 0, H, 16, 0, D, 0xfffffe00u, W, IOERR},
	    {"length wrapping 64 bits", OUT, 0, H, 16, 0, ~0ULL - 255, 512, 0, IOERR},
	    {"buffer at UINT64_MAX", OUT, 0, H, 16, 0, ~0ULL, 1, 0, IOERR},
	    {"length not a multiple of 512", IN, 0, H, 16, 0, D, 100, W, IOERR},
	    {"zero-length data", IN, 0, H, 16, 0, D, 0, W, IOERR},
	    {"read at the capacity", IN, CAP, H, 16, 0, D, 512, W, IOERR},
	    {"write across the end of the disk", OUT, CAP - 1, H, 16, 0, D, 1024, 0, IOERR},
	    {"whole disk plus one sector", OUT, 0, H, 16, 0, D, IMG_SIZE + 512, 0, IOERR},
	    {"sector*512 wrapping to 0", OUT, 1ULL << 55, H, 16, 0, D, 512, 0, IOERR},
	    {"sector*512 wrapping to 512", OUT, (1ULL << 55) + 1, H, 16, 0, D, 512, 0, IOERR},
	    {"sector UINT64_MAX", OUT, ~0ULL, H, 16, 0, D, 512, 0, IOERR},
	    {"write from a device-writable buffer", OUT, 0, H, 16, 0, D, 512, W, IOERR},
	    {"read into a device-readable buffer", IN, 0, H, 16, 0, D, 512, 0, IOERR},
	    {"indirect data descriptor", IN, 0, H, 16, 0, D, 512, W | VIRTQ_DESC_F_INDIRECT, IOERR},
	    {"indirect header", OUT, 0, H, 16, VIRTQ_DESC_F_INDIRECT, D, 512, 0, IOERR},
	    {"header of 8 bytes", OUT, 0, H, 8, 0, D, 512, 0, IOERR},
	    {"header of 15 bytes", OUT, 0, H, 15, 0, D, 512, 0, IOERR},
	    {"device-writable header", OUT, 0, H, 16, W, D, 512, 0, IOERR},
	    {"header outside RAM", OUT, 0, RAM - 8, 16, 0, D, 512, 0, IOERR},
	    {"header in the hole", OUT, 0, ABI_HOLE_START, 16, 0, D, 512, 0, IOERR},
	    {"flush with data", VIRTIO_BLK_T_FLUSH, 0, H, 16, 0, D, 512, 0, IOERR},
	    {"unknown type 0x1234", 0x1234, 0, H, 16, 0, D, 512, W, VIRTIO_BLK_S_UNSUPP},
	    {"GET_ID (not offered)", 8, 0, H, 16, 0, D, 20, W, VIRTIO_BLK_S_UNSUPP},
	};
	uint32_t len;

	fx_setup(RAM);
	CU_ASSERT_EQUAL_FATAL(drv_init(16), LIVE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		/* Junk to write (which must not reach the image) or a canary
		 * a refused read must not overwrite. */
		memset(g(D, IMG_SIZE), 0xa5, IMG_SIZE);
		set_hdr(c->type, c->sector);
		set_desc(0, c->hdr_addr, c->hdr_len, N | c->hdr_flags, 1);
		set_desc(1, c->addr, c->len, N | c->dflags, 2);
		set_desc(2, STATUS_GPA, 1, W, 0);
		len = 99;
		int got = submit(0, &len);
		if (got != c->expect || len != 1 || fx.ndirty != 3)
			fprintf(stderr, "case \"%s\": status %d len %u dirty %d\n", c->name, got,
				len, fx.ndirty);
		CU_ASSERT_EQUAL(got, c->expect);
		CU_ASSERT_EQUAL(len, 1);
		CU_ASSERT_EQUAL(fx.ndirty, 3);
		CU_ASSERT_EQUAL(status(), LIVE);
		uint8_t *d = g(D, IMG_SIZE);
		CU_ASSERT(d[0] == 0xa5 && d[511] == 0xa5 && d[IMG_SIZE - 1] == 0xa5);
	}
	image_check();

	/* Validation precedes I/O: a bad second buffer stops the first one's
	 * write too. */
	fill(D, 1024, 1);
	set_hdr(OUT, 0);
	set_desc(0, H, 16, N, 1);
	set_desc(1, D, 512, N, 2);
	set_desc(2, RAM - 256, 512, N, 3);
	set_desc(3, STATUS_GPA, 1, W, 0);
	CU_ASSERT_EQUAL(submit(0, NULL), IOERR);
	set_desc(2, D + 512, 512, N | W, 3); /* wrong direction this time */
	CU_ASSERT_EQUAL(submit(0, NULL), IOERR);
	image_check();

	/* No data at all, and a lone status descriptor (no header). */
	set_hdr(IN, 0);
	set_desc(0, H, 16, N, 1);
	set_desc(1, STATUS_GPA, 1, W, 0);
	CU_ASSERT_EQUAL(submit(0, NULL), IOERR);
	set_desc(0, STATUS_GPA, 1, W, 0);
	CU_ASSERT_EQUAL(submit(0, NULL), IOERR);

	/* The device still works, and counted every refusal. */
	CU_ASSERT_EQUAL(req(IN, 1, D, 512, W, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT(memcmp(g(D, 512), fx.ref + 512, 512) == 0);
	size_t n = sizeof(cases) / sizeof(cases[0]) + 4;
	CU_ASSERT_EQUAL(fx.dev.stats.refused, n);
	CU_ASSERT_EQUAL(fx.dev.stats.requests, n + 1);
	CU_ASSERT_EQUAL(fx.dev.stats.writes, 0);
	CU_ASSERT_EQUAL(fx.dev.stats.bytes_written, 0);
	CU_ASSERT_EQUAL(fx.dev.stats.needs_reset, 0);
	fx_teardown();
}

/* ---- hostile requests that break the device --------------------------------- */

/* Expect the device to have refused without completing (got), with
 * NEEDS_RESET set and nothing stored, to ignore a good request until reset,
 * and to work after one. */
static void expect_broken(const char *name, int got)
{
	if (got != NO_COMPLETION || fx.ndirty || !(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		fprintf(stderr, "case \"%s\": result %d dirty %d status %#x\n", name, got,
			fx.ndirty, status());
	CU_ASSERT_EQUAL(got, NO_COMPLETION);
	CU_ASSERT_EQUAL(fx.ndirty, 0);
	CU_ASSERT(status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, W, NULL), NO_COMPLETION);
	CU_ASSERT_EQUAL(drv_init(16), LIVE);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, W, NULL), VIRTIO_BLK_S_OK);
}

/* Publish avail->idx = fx.avail_idx + ahead without new ring entries, then
 * notify: NO_COMPLETION when the used ring did not move. */
static int avail_jump(uint16_t ahead)
{
	uint16_t before = used()->idx;
	fx.ndirty = 0;
	avail()->idx = (uint16_t)(fx.avail_idx + ahead);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	return used()->idx == before ? NO_COMPLETION : 0;
}

/* A three-descriptor write whose status descriptor is (addr, len, flags). */
static int req_status(uint64_t addr, uint32_t len, uint16_t flags)
{
	set_hdr(VIRTIO_BLK_T_OUT, 0);
	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, DATA_GPA, 512, N, 2);
	set_desc(2, addr, len, flags, 0);
	return submit(0, NULL);
}

static void test_hostile_reset(void)
{
	fx_setup(RAM);
	CU_ASSERT_EQUAL_FATAL(drv_init(16), LIVE);
	memset(g(DATA_GPA, 4096), 0x5a, 4096);

	set_hdr(VIRTIO_BLK_T_OUT, 0);
	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, DATA_GPA, 512, N, 2);
	set_desc(2, STATUS_GPA, 1, W, 0);
	expect_broken("head index = queue size", submit(16, NULL));
	expect_broken("head index 0xffff", submit(0xffff, NULL));

	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, DATA_GPA, 512, N, 16);
	expect_broken("next index = queue size", submit(0, NULL));
	set_desc(1, DATA_GPA, 512, N, 0);
	expect_broken("descriptor loop", submit(0, NULL));
	set_desc(0, HDR_GPA, 16, N, 0);
	expect_broken("descriptor pointing at itself", submit(0, NULL));
	/* A loop over the whole table: every index valid, never an end. */
	for (int i = 0; i < 16; i++)
		set_desc(i, HDR_GPA, 16, N, (uint16_t)((i + 1) % 16));
	expect_broken("loop through all descriptors", submit(0, NULL));

	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, DATA_GPA, 512, 0, 0);
	expect_broken("status descriptor missing", submit(0, NULL));
	expect_broken("read-only status", req_status(STATUS_GPA, 1, 0));
	expect_broken("zero-length status", req_status(STATUS_GPA, 0, W));
	expect_broken("indirect status", req_status(STATUS_GPA, 1, W | VIRTQ_DESC_F_INDIRECT));
	expect_broken("status outside RAM", req_status(RAM, 1, W));
	expect_broken("status straddling the end of RAM", req_status(RAM - 1, 2, W));
	expect_broken("status in the device page", req_status(ABI_VIRTIO_BLK_GPA, 1, W));
	expect_broken("status wrapping 64 bits", req_status(~0ULL, 2, W));

	/* avail->idx more than a queue ahead of what the device consumed. */
	expect_broken("avail index 17 ahead", avail_jump(17));
	expect_broken("avail index 0x8000 ahead", avail_jump(0x8000));
	expect_broken("avail index 0xffff ahead", avail_jump(0xffff));

	/* Exactly a queue ahead is legal: 16 good requests in one notify. */
	set_hdr(VIRTIO_BLK_T_IN, 2);
	set_desc(0, HDR_GPA, 16, N, 1);
	set_desc(1, DATA_GPA, 512, N | W, 2);
	set_desc(2, STATUS_GPA, 1, W, 0);
	uint16_t heads[16] = {0};
	post(heads, 16);
	CU_ASSERT_EQUAL(used()->idx, 17);
	CU_ASSERT_EQUAL(status(), LIVE);

	/* A broken request in a batch: the good one before it completes, the
	 * device stops at the bad one. */
	set_desc(5, HDR_GPA, 16, N, 6);
	set_desc(6, STATUS_GPA, 1, 0, 0);
	heads[1] = 5;
	post(heads, 2);
	CU_ASSERT_EQUAL(used()->idx, 18);
	fx.ndirty = 0; /* the good request's ranges */
	expect_broken("broken request after a good one", NO_COMPLETION);

	CU_ASSERT_EQUAL(fx.dev.stats.needs_reset, 18);
	CU_ASSERT_EQUAL(fx.dev.stats.writes, 0);
	fx_teardown();
}

/* ---- queue setup ---------------------------------------------------------- */

static void test_queue_setup(void)
{
	static const struct {
		const char *name;
		uint32_t num;
		uint64_t desc, avail, used;
	} bad[] = {
	    {"QUEUE_NUM 0", 0, DESC_GPA, AVAIL_GPA, USED_GPA},
	    {"QUEUE_NUM 3", 3, DESC_GPA, AVAIL_GPA, USED_GPA},
	    {"QUEUE_NUM 24", 24, DESC_GPA, AVAIL_GPA, USED_GPA},
	    {"QUEUE_NUM 512", 512, DESC_GPA, AVAIL_GPA, USED_GPA},
	    {"QUEUE_NUM 2^31", 1u << 31, DESC_GPA, AVAIL_GPA, USED_GPA},
	    {"misaligned descriptors", 16, DESC_GPA + 8, AVAIL_GPA, USED_GPA},
	    {"misaligned avail ring", 16, DESC_GPA, AVAIL_GPA + 1, USED_GPA},
	    {"misaligned used ring", 16, DESC_GPA, AVAIL_GPA, USED_GPA + 2},
	    {"descriptors in the hole", 16, ABI_HOLE_START, AVAIL_GPA, USED_GPA},
	    {"descriptors past RAM", 16, RAM, AVAIL_GPA, USED_GPA},
	    {"descriptors straddling the end", 16, RAM - 128, AVAIL_GPA, USED_GPA},
	    {"descriptors wrapping 64 bits", 16, ~0ULL - 127, AVAIL_GPA, USED_GPA},
	    {"avail ring past RAM", 16, DESC_GPA, 1ULL << 40, USED_GPA},
	    {"avail ring straddling the end", 16, DESC_GPA, RAM - 32, USED_GPA},
	    {"used ring straddling the end", 16, DESC_GPA, AVAIL_GPA, RAM - 128},
	    {"used ring in the device page", 16, DESC_GPA, AVAIL_GPA, ABI_VIRTIO_BLK_GPA},
	    {"used ring too big for RAM's end", 256, DESC_GPA, AVAIL_GPA, RAM - 2048},
	};

	fx_setup(RAM);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t s = drv_init_at(bad[i].num, bad[i].desc, bad[i].avail, bad[i].used);
		if (!(s & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
			fprintf(stderr, "case \"%s\": status %#x\n", bad[i].name, s);
		CU_ASSERT(s & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
		CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_QUEUE_READY), 0);
		/* Nothing runs, and a second READY is not a second chance. */
		wr(VIRTIO_MMIO_QUEUE_READY, 1);
		CU_ASSERT_EQUAL(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	}
	/* Limits that are legal: the largest queue, areas ending at RAM's end. */
	CU_ASSERT_EQUAL(drv_init(ABI_VIRTIO_QUEUE_MAX), LIVE);
	CU_ASSERT_EQUAL(drv_init_at(16, DESC_GPA, AVAIL_GPA, RAM - 136),
			LIVE); /* 134 bytes, 4-aligned */
	/* A queue of one is legal, but holds no three-descriptor chain. */
	CU_ASSERT_EQUAL(drv_init_at(1, DESC_GPA, AVAIL_GPA, USED_GPA), LIVE);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, W, NULL), NO_COMPLETION);
	/* A queue of four: the ring slots repeat every four requests. */
	CU_ASSERT_EQUAL(drv_init(4), LIVE);
	for (uint64_t i = 0; i < 9; i++)
		CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, i, DATA_GPA, 512, W, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT(memcmp(g(DATA_GPA, 512), fx.ref + 8 * 512, 512) == 0);

	/* Writes for queue 1 go nowhere. */
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	CU_ASSERT_EQUAL(fx.dev.q.num, 0);
	CU_ASSERT_EQUAL(fx.dev.q.desc_gpa, 0);
	fx_teardown();
}

/* ---- RAM above the hole ------------------------------------------------------ */

static void test_two_slots(void)
{
	const uint64_t ram = 4 * GIB + 64 * MIB; /* NORESERVE: costs nothing */
	const uint64_t top = ABI_HOLE_END + ram - ABI_HOLE_START;
	uint32_t len;

	fx_setup(ram);
	CU_ASSERT_EQUAL_FATAL(fx.mem.nr_slots, 2);
	CU_ASSERT_EQUAL_FATAL(drv_init(16), LIVE);

	/* A read into slot 1 lands at host + 3 GiB + offset, reported as a GPA. */
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 2, ABI_HOLE_END + 0x3000, 1024, W, &len), 0);
	CU_ASSERT_EQUAL(len, 1025);
	CU_ASSERT(memcmp(fx.mem.host + ABI_HOLE_START + 0x3000, fx.ref + 1024, 1024) == 0);
	CU_ASSERT(dirty_has(ABI_HOLE_END + 0x3000, 1024));
	/* The last bytes of each slot are usable... */
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, ABI_HOLE_START - 512, 512, W, NULL), 0);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, top - 512, 512, W, NULL), 0);
	/* ... but not across the hole, in it, or past the top. */
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, ABI_HOLE_START - 512, 1024, W, NULL),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_OUT, 0, ABI_HOLE_END - 512, 1024, 0, NULL),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, ABI_HOLE_END - 512, 512, W, NULL),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, top - 512, 1024, W, NULL), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_IN, 0, top, 512, W, NULL), VIRTIO_BLK_S_IOERR);
	/* A write from slot 1 reaches the image. */
	fill(ABI_HOLE_END + 0x10000, 512, 42);
	CU_ASSERT_EQUAL(req(VIRTIO_BLK_T_OUT, 7, ABI_HOLE_END + 0x10000, 512, 0, NULL), 0);
	memcpy(fx.ref + 7 * 512, g(ABI_HOLE_END + 0x10000, 512), 512);
	/* Queue areas in slot 1 work; across the hole they do not. */
	CU_ASSERT_EQUAL(drv_init_at(16, ABI_HOLE_END, ABI_HOLE_END + 0x1000, top - 136), LIVE);
	CU_ASSERT(drv_init_at(16, ABI_HOLE_START - 128, AVAIL_GPA, USED_GPA) &
		  VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	fx_teardown();
}

/* ---- the ABI against Linux --------------------------------------------------- */

#define OURS(x)                                                                                    \
	{                                                                                          \
#x, (uint64_t)(x)                                                                  \
	}

static void test_linux_abi(void)
{
	static const struct linux_virtio_value ours[] = {
	    OURS(VIRTIO_MMIO_MAGIC_VALUE),
	    OURS(VIRTIO_MMIO_VERSION),
	    OURS(VIRTIO_MMIO_DEVICE_ID),
	    OURS(VIRTIO_MMIO_VENDOR_ID),
	    OURS(VIRTIO_MMIO_DEVICE_FEATURES),
	    OURS(VIRTIO_MMIO_DEVICE_FEATURES_SEL),
	    OURS(VIRTIO_MMIO_DRIVER_FEATURES),
	    OURS(VIRTIO_MMIO_DRIVER_FEATURES_SEL),
	    OURS(VIRTIO_MMIO_QUEUE_SEL),
	    OURS(VIRTIO_MMIO_QUEUE_NUM_MAX),
	    OURS(VIRTIO_MMIO_QUEUE_NUM),
	    OURS(VIRTIO_MMIO_QUEUE_READY),
	    OURS(VIRTIO_MMIO_QUEUE_NOTIFY),
	    OURS(VIRTIO_MMIO_INTERRUPT_STATUS),
	    OURS(VIRTIO_MMIO_INTERRUPT_ACK),
	    OURS(VIRTIO_MMIO_STATUS),
	    OURS(VIRTIO_MMIO_QUEUE_DESC_LOW),
	    OURS(VIRTIO_MMIO_QUEUE_DESC_HIGH),
	    OURS(VIRTIO_MMIO_QUEUE_AVAIL_LOW),
	    OURS(VIRTIO_MMIO_QUEUE_AVAIL_HIGH),
	    OURS(VIRTIO_MMIO_QUEUE_USED_LOW),
	    OURS(VIRTIO_MMIO_QUEUE_USED_HIGH),
	    OURS(VIRTIO_MMIO_CONFIG_GENERATION),
	    OURS(VIRTIO_MMIO_CONFIG),
	    OURS(VIRTIO_MMIO_MAGIC),
	    OURS(VIRTIO_ID_BLOCK),
	    OURS(VIRTIO_STATUS_ACKNOWLEDGE),
	    OURS(VIRTIO_STATUS_DRIVER),
	    OURS(VIRTIO_STATUS_DRIVER_OK),
	    OURS(VIRTIO_STATUS_FEATURES_OK),
	    OURS(VIRTIO_STATUS_DEVICE_NEEDS_RESET),
	    OURS(VIRTIO_STATUS_FAILED),
	    OURS(VIRTIO_BLK_F_FLUSH),
	    OURS(VIRTIO_F_VERSION_1),
	    OURS(VIRTQ_DESC_F_NEXT),
	    OURS(VIRTQ_DESC_F_WRITE),
	    OURS(VIRTQ_DESC_F_INDIRECT),
	    OURS(VIRTIO_BLK_T_IN),
	    OURS(VIRTIO_BLK_T_OUT),
	    OURS(VIRTIO_BLK_T_FLUSH),
	    OURS(VIRTIO_BLK_S_OK),
	    OURS(VIRTIO_BLK_S_IOERR),
	    OURS(VIRTIO_BLK_S_UNSUPP),
	    OURS(VIRTIO_BLK_SECTOR),
	    OURS(sizeof(struct virtq_desc)),
	    OURS(offsetof(struct virtq_desc, len)),
	    OURS(offsetof(struct virtq_desc, flags)),
	    OURS(offsetof(struct virtq_desc, next)),
	    OURS(sizeof(struct virtq_avail)),
	    OURS(offsetof(struct virtq_avail, idx)),
	    OURS(offsetof(struct virtq_avail, ring)),
	    OURS(sizeof(struct virtq_used_elem)),
	    OURS(offsetof(struct virtq_used_elem, len)),
	    OURS(sizeof(struct virtq_used)),
	    OURS(offsetof(struct virtq_used, idx)),
	    OURS(offsetof(struct virtq_used, ring)),
	    OURS(sizeof(struct virtio_blk_req_hdr)),
	    OURS(offsetof(struct virtio_blk_req_hdr, sector)),
	    OURS(offsetof(struct virtio_blk_req_hdr, reserved)),
	    /* What the device serves at VIRTIO_MMIO_CONFIG. */
	    {"capacity offset", 0},
	    {"capacity size", 8},
	};
	size_t n = sizeof(ours) / sizeof(ours[0]);

	for (size_t i = 0; i < n; i++) {
		uint64_t v = ~0ULL;
		int found = linux_virtio_lookup(ours[i].name, &v);
		if (found || v != ours[i].value)
			fprintf(stderr, "%s: ours %#llx, Linux %#llx%s\n", ours[i].name,
				(unsigned long long)ours[i].value, (unsigned long long)v,
				found ? " (not in the table)" : "");
		CU_ASSERT_EQUAL(found, 0);
		CU_ASSERT_EQUAL(v, ours[i].value);
	}
	CU_ASSERT_EQUAL(n, linux_virtio_count());
}

int main(void)
{
	static const struct ds_case cases[] = {
	    {"open refuses bad images", test_open},
	    {"registers and config space", test_registers},
	    {"status handshake and reset", test_handshake},
	    {"read/write round trips", test_read_write},
	    {"flush", test_flush},
	    {"ring indices wrap", test_ring_wrap},
	    {"dma_dirty reports exactly the stored ranges", test_dma_dirty},
	    {"hostile requests get IOERR/UNSUPP", test_hostile_ioerr},
	    {"hostile chains set NEEDS_RESET", test_hostile_reset},
	    {"queue areas checked at QUEUE_READY", test_queue_setup},
	    {"RAM above the hole", test_two_slots},
	    {"include/abi/virtio.h matches Linux", test_linux_abi},
	    {NULL, NULL},
	};
	return ds_run_suite("virtio-blk", cases);
}
