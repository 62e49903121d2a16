/*
 * The virtio-blk driver: virtio-mmio version 2, one split queue, polled.
 *
 * The VMM runs every available request inside our QUEUE_NOTIFY write (see
 * include/abi/virtio.h), so a request is: fill three descriptors, publish
 * one avail entry, one notify, then read the used ring, which is already
 * updated.  Register accesses are VM exits costing tens of microseconds
 * each, so a request makes exactly one (the notify) and init about twenty.
 * Only one request is ever in flight: the kernel has one CPU and no
 * interrupts, and every caller waits for its I/O.
 *
 * The queue lives in one kernel page, reached through the direct map:
 *
 *   0x000  descriptor table   QSZ * 16 bytes   (16-byte aligned)
 *   0x100  avail ring         6 + QSZ * 2      (2-byte aligned)
 *   0x200  used ring          6 + QSZ * 8      (4-byte aligned)
 *   0x400  request header     16 bytes
 *   0x600  status byte
 *
 * blk_selftest_hostile() writes hostile requests straight into that queue to
 * check that the VMM refuses them (ABI_WL_BADBLK).
 */
#include "defs.h"
#include "x86.h"
#include "../include/abi/syscall.h"
#include "../include/abi/virtio.h"

/* The device page, mapped by blk_map(): the hole is not in the direct map. */
#define BLK_VA	0xffffffffc0000000ULL
#define PTE_PWT 0x008ULL
#define PTE_PCD 0x010ULL

#define QSZ	 16
#define Q_DESC	 0x000
#define Q_AVAIL	 0x100
#define Q_USED	 0x200
#define Q_HDR	 0x400
#define Q_STATUS 0x600
#define Q_RINGS	 0x400 /* bytes cleared when the queue restarts */

#define VIRTQ_DESC_F_INDIRECT 4 /* not negotiated: only the selftest uses it */

_Static_assert(Q_DESC + QSZ * 16 <= Q_AVAIL && Q_AVAIL + 6 + QSZ * 2 <= Q_USED &&
		   Q_USED + 6 + QSZ * 8 <= Q_HDR,
	       "queue page layout");

static struct {
	int mapped;
	int ready;	    /* initialised and not broken */
	int flush;	    /* VIRTIO_BLK_F_FLUSH negotiated */
	uint64_t qpa;	    /* the queue page */
	uint16_t avail_idx; /* the avail->idx we publish next */
	uint64_t capacity;  /* sectors */
} blk;

/* Register accesses: one aligned 32-bit mov each (what the VMM accepts).  The
 * "memory" clobbers order them against the queue's ordinary loads and
 * stores: descriptors are written before the notify, the used ring is read
 * after it. */
static uint32_t reg_rd(uint32_t off)
{
	uint32_t v;
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(BLK_VA + off) : "memory");
	return v;
}

static void reg_wr(uint32_t off, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(BLK_VA + off) : "memory");
}

static struct virtq_desc *q_desc(void)
{
	return P2V(blk.qpa + Q_DESC);
}

static volatile struct virtq_avail *q_avail(void)
{
	return P2V(blk.qpa + Q_AVAIL);
}

/* volatile: the device stores here during our notify. */
static volatile struct virtq_used *q_used(void)
{
	return P2V(blk.qpa + Q_USED);
}

static struct virtio_blk_req_hdr *q_hdr(void)
{
	return P2V(blk.qpa + Q_HDR);
}

static volatile uint8_t *q_status(void)
{
	return P2V(blk.qpa + Q_STATUS);
}

static void set_desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc *d = &q_desc()[i];
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Map the device page uncached at BLK_VA.  The kernel half of every address
 * space is the boot PML4's, so mapping it once makes it visible everywhere. */
static void blk_map(void)
{
	uint64_t *pte = vm_walk(P2V(rcr3() & PTE_ADDR), BLK_VA, 1);
	/* A and D preset: the MMU never writes this PTE. */
	*pte = ABI_VIRTIO_BLK_GPA | PTE_P | PTE_W | PTE_PWT | PTE_PCD | PTE_A | PTE_D;
	blk.mapped = 1;
}

/*
 * Reset the device and bring it up (spec 3.1.1) with its queue areas at the
 * given GPAs.  The rings restart from zero.  Returns 0, or -ABI_EIO when the
 * device refused the features or the queue (DEVICE_NEEDS_RESET); the driver
 * then marks the device FAILED.
 */
static int blk_setup(uint64_t desc, uint64_t avail, uint64_t used)
{
	const uint32_t ack = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	blk.ready = 0;
	reg_wr(VIRTIO_MMIO_STATUS, 0);
	memset(P2V(blk.qpa), 0, Q_RINGS);
	blk.avail_idx = 0;
	reg_wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	reg_wr(VIRTIO_MMIO_STATUS, ack);
	/* The selectors are 0 after the reset. */
	uint32_t f0 = reg_rd(VIRTIO_MMIO_DEVICE_FEATURES);
	reg_wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t f1 = reg_rd(VIRTIO_MMIO_DEVICE_FEATURES);
	if (!(f1 & (1u << (VIRTIO_F_VERSION_1 - 32))))
		goto failed;
	blk.flush = !!(f0 & (1u << VIRTIO_BLK_F_FLUSH));
	reg_wr(VIRTIO_MMIO_DRIVER_FEATURES, f0 & (1u << VIRTIO_BLK_F_FLUSH));
	reg_wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	reg_wr(VIRTIO_MMIO_STATUS, ack | VIRTIO_STATUS_FEATURES_OK);
	if (!(reg_rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		goto failed;
	if (reg_rd(VIRTIO_MMIO_QUEUE_NUM_MAX) < QSZ)
		goto failed;
	reg_wr(VIRTIO_MMIO_QUEUE_NUM, QSZ);
	reg_wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	reg_wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	reg_wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	reg_wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	reg_wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	reg_wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	reg_wr(VIRTIO_MMIO_QUEUE_READY, 1);
	reg_wr(VIRTIO_MMIO_STATUS, ack | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	uint32_t s = reg_rd(VIRTIO_MMIO_STATUS);
	if ((s & VIRTIO_STATUS_DEVICE_NEEDS_RESET) || !(s & VIRTIO_STATUS_DRIVER_OK))
		goto failed;
	blk.ready = 1;
	return 0;

failed:
	reg_wr(VIRTIO_MMIO_STATUS, reg_rd(VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_FAILED);
	return -ABI_EIO;
}

static int blk_setup_default(void)
{
	return blk_setup(blk.qpa + Q_DESC, blk.qpa + Q_AVAIL, blk.qpa + Q_USED);
}

/*
 * Find the device, negotiate VERSION_1 (+ FLUSH), set up the queue and read
 * the capacity.  May be called again to reset the device.  Returns 0, or
 * -ABI_EIO for a device that is not a version-2 virtio-mmio block device or
 * that refused the setup.
 */
int blk_init(void)
{
	if (!blk.mapped)
		blk_map();
	blk.ready = 0;
	if (reg_rd(VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    reg_rd(VIRTIO_MMIO_VERSION) != 2 || reg_rd(VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_BLOCK)
		return -ABI_EIO;
	if (!blk.qpa)
		blk.qpa = pmem_alloc_kernel(); /* fresh, so already zero */
	int ret = blk_setup_default();
	if (ret)
		return ret;
	/* A 64-bit config field is two 32-bit reads; the generation counter
	 * tells whether the device changed it in between (spec 4.2.2.2). */
	uint32_t gen, lo, hi;
	do {
		gen = reg_rd(VIRTIO_MMIO_CONFIG_GENERATION);
		lo = reg_rd(VIRTIO_MMIO_CONFIG);
		hi = reg_rd(VIRTIO_MMIO_CONFIG + 4);
	} while (gen != reg_rd(VIRTIO_MMIO_CONFIG_GENERATION));
	blk.capacity = (uint64_t)hi << 32 | lo;
	return 0;
}

/* The disk's size in 512-byte sectors (0 before blk_init). */
uint64_t blk_capacity(void)
{
	return blk.capacity;
}

/*
 * Make the chain at `head` available and notify.  Returns 1 when the device
 * completed it (the used ring advanced by one), 0 when it did not, which with
 * this synchronous device means it raised DEVICE_NEEDS_RESET.  The bounded
 * poll only guards against a device that breaks that promise.
 */
static int blk_kick(uint16_t head)
{
	volatile struct virtq_avail *av = q_avail();
	volatile struct virtq_used *u = q_used();
	uint16_t want = (uint16_t)(blk.avail_idx + 1);

	av->ring[blk.avail_idx % QSZ] = head;
	/* x86 keeps stores in order; the ring entry (and the descriptors) only
	 * have to reach memory before the index, in program order. */
	__asm__ volatile("" : : : "memory");
	av->idx = want;
	blk.avail_idx = want;
	reg_wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (int i = 0; i < 1000; i++)
		if (u->idx == want)
			return 1;
	return 0;
}

/*
 * Submit the chain at head and check the answer: used element for head with
 * `len` bytes, status byte OK.  Returns 0 or -ABI_EIO; a device that did not
 * complete the request is marked not ready until blk_init.
 */
static int blk_request(uint16_t head, uint32_t len)
{
	volatile struct virtq_used *u = q_used();

	*q_status() = 0xff;
	if (!blk_kick(head)) {
		blk.ready = 0;
		return -ABI_EIO;
	}
	volatile struct virtq_used_elem *e = &u->ring[(uint16_t)(blk.avail_idx - 1) % QSZ];
	if (e->id != head || e->len != len || *q_status() != VIRTIO_BLK_S_OK)
		return -ABI_EIO;
	return 0;
}

/*
 * Read (write == 0) or write len bytes at guest-physical pa from/to the disk
 * at `sector`.  len is a non-zero multiple of 512 and [pa, pa+len) must be
 * physically contiguous RAM.  Returns 0 or -ABI_EIO.
 */
int blk_rw(int write, uint64_t sector, uint64_t pa, uint32_t len)
{
	if (!blk.ready || len == 0 || len % VIRTIO_BLK_SECTOR || sector > blk.capacity ||
	    len / VIRTIO_BLK_SECTOR > blk.capacity - sector)
		return -ABI_EIO;
	struct virtio_blk_req_hdr *h = q_hdr();
	h->type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	h->reserved = 0;
	h->sector = sector;
	set_desc(0, blk.qpa + Q_HDR, sizeof(*h), VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, pa, len, VIRTQ_DESC_F_NEXT | (write ? 0 : VIRTQ_DESC_F_WRITE), 2);
	set_desc(2, blk.qpa + Q_STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	/* The used length counts the bytes the device stored: data + status. */
	return blk_request(0, write ? 1 : len + 1);
}

/* Make every completed write durable.  Returns 0 or -ABI_EIO. */
int blk_flush(void)
{
	if (!blk.ready)
		return -ABI_EIO;
	if (!blk.flush)
		return 0; /* without F_FLUSH the device writes through */
	struct virtio_blk_req_hdr *h = q_hdr();
	h->type = VIRTIO_BLK_T_FLUSH;
	h->reserved = 0;
	h->sector = 0;
	set_desc(0, blk.qpa + Q_HDR, sizeof(*h), VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, blk.qpa + Q_STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	return blk_request(0, 1);
}

/* ---- the hostile-descriptor selftest -------------------------------------- */

static uint64_t st_scratch; /* the selftest's data page */

/* Outcomes besides a status byte. */
#define R_RESET 0x100 /* DEVICE_NEEDS_RESET, and a re-init worked */
#define R_BAD	0x200 /* anything else: wrong used element, lost request, ... */

/* The selftest's word pattern for the last sector; tests/test_virtio_kvm.c
 * checks the image for exactly this. */
#define BADBLK_WORD(i) (0x6473626c6b000000ULL | (uint64_t)(i))

/*
 * Submit the chain at head.  A completed request must have used length 1 (a
 * refused request stores only its status byte) and yields its status byte.
 * An uncompleted one must have raised DEVICE_NEEDS_RESET; the device is then
 * reset and re-initialised, and the outcome is R_RESET.
 */
static int st_submit(uint16_t head)
{
	volatile struct virtq_used *u = q_used();

	*q_status() = 0xff;
	if (!blk_kick(head)) {
		if (!(reg_rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
			return R_BAD;
		return blk_setup_default() ? R_BAD : R_RESET;
	}
	volatile struct virtq_used_elem *e = &u->ring[(uint16_t)(blk.avail_idx - 1) % QSZ];
	if (e->id != head || e->len != 1)
		return R_BAD;
	return *q_status();
}

/* A three-descriptor request (header, one data buffer, status) with every
 * field under the caller's control. */
static int st_req(uint32_t type, uint64_t sector, uint32_t hdr_len, uint16_t hdr_flags,
		  uint64_t addr, uint32_t len, uint16_t dflags, uint64_t st_addr, uint16_t st_flags)
{
	struct virtio_blk_req_hdr *h = q_hdr();
	h->type = type;
	h->reserved = 0;
	h->sector = sector;
	set_desc(0, blk.qpa + Q_HDR, hdr_len, hdr_flags | VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, addr, len, dflags | VIRTQ_DESC_F_NEXT, 2);
	set_desc(2, st_addr, 1, st_flags, 0);
	return st_submit(0);
}

/* The common shape: a well-formed request but for its type, sector or data. */
static int st_data(uint32_t type, uint64_t sector, uint64_t addr, uint32_t len, uint16_t dflags)
{
	return st_req(type, sector, sizeof(struct virtio_blk_req_hdr), 0, addr, len, dflags,
		      blk.qpa + Q_STATUS, VIRTQ_DESC_F_WRITE);
}

/* Header (flags0, next0), the scratch buffer (flags1, next1) and the status
 * byte as descriptors 0, 1, 2: the pieces the chain cases rearrange. */
static void st_chain(uint16_t flags0, uint16_t next0, uint16_t flags1, uint16_t next1)
{
	set_desc(0, blk.qpa + Q_HDR, sizeof(struct virtio_blk_req_hdr), flags0, next0);
	set_desc(1, st_scratch, 512, flags1, next1);
	set_desc(2, blk.qpa + Q_STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
}

/* Queue areas the device must refuse at QUEUE_READY; then a normal init. */
static int st_bad_queue(uint64_t desc, uint64_t avail, uint64_t used)
{
	if (blk_setup(desc, avail, used) == 0)
		return R_BAD;
	if (!(reg_rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		return R_BAD;
	return blk_setup_default() ? R_BAD : R_RESET;
}

/* Highest GPA of RAM + 1 (RAM above 3 GiB continues at 4 GiB). */
static uint64_t ram_top(void)
{
	const struct abi_boot_params *bp = P2V(ABI_BOOT_PARAMS_GPA);
	if (bp->ram_size <= ABI_HOLE_START)
		return bp->ram_size;
	return ABI_HOLE_END + (bp->ram_size - ABI_HOLE_START);
}

/*
 * ABI_WL_BADBLK: submit hostile requests and check the device refused each
 * one as the VMM promises: IOERR (or UNSUPP) when the status byte is usable,
 * DEVICE_NEEDS_RESET otherwise, after which a reset and re-init must work.
 * Then a write and read-back of the disk's last sector (the one sector this
 * test may change) must succeed.  Needs blk_init() first.  Returns 0, or the
 * number of the first failing case (klogged with its name).
 */
int blk_selftest_hostile(void)
{
	const uint16_t W = VIRTQ_DESC_F_WRITE, N = VIRTQ_DESC_F_NEXT;
	const uint32_t IN = VIRTIO_BLK_T_IN, OUT = VIRTIO_BLK_T_OUT;
	const int IOERR = VIRTIO_BLK_S_IOERR;

	if (!blk.ready || blk.capacity < 2) {
		klog("virtio-blk selftest: device not initialised");
		return 1;
	}
	if (!st_scratch)
		st_scratch = pmem_alloc_kernel();
	const uint64_t scratch = st_scratch;
	uint64_t *buf = P2V(scratch);
	const uint64_t cap = blk.capacity, top = ram_top(), st = blk.qpa + Q_STATUS;
	const uint64_t far = 1ULL << 46; /* beyond any RAM size the VMM accepts */
	/* A refused read must leave its buffer alone: checked at the end. */
	buf[0] = 0x6d61726b6d61726bULL;

	struct {
		const char *name;
		int got, want;
	} c[48];
	int n = 0;
#define CASE(what, expr, expect) c[n++] = (typeof(c[0])){what, (expr), (expect)}

	CASE("read into a buffer outside RAM", st_data(IN, 0, far, 512, W), IOERR);
	CASE("read into the MMIO hole", st_data(IN, 0, ABI_VIRTIO_BLK_GPA, 512, W), IOERR);
	CASE("write from the MMIO hole", st_data(OUT, 0, ABI_HOLE_START, 512, 0), IOERR);
	CASE("buffer straddling the end of RAM", st_data(IN, 0, top - 512, 1024, W), IOERR);
	CASE("buffer straddling the hole start", st_data(OUT, 0, ABI_HOLE_START - 512, 1024, 0),
	     IOERR);
	CASE("huge length", st_data(IN, 0, scratch, 0xfffffe00u, W), IOERR);
	CASE("length wrapping 64-bit", st_data(OUT, 0, ~0ULL - 255, 512, 0), IOERR);
	CASE("length not a multiple of 512", st_data(IN, 0, scratch, 100, W), IOERR);
	CASE("read at the capacity", st_data(IN, cap, scratch, 512, W), IOERR);
	CASE("write across the end of the disk", st_data(OUT, cap - 1, scratch, 1024, 0), IOERR);
	CASE("sector*512 wrapping to 0", st_data(OUT, 1ULL << 55, scratch, 512, 0), IOERR);
	CASE("sector UINT64_MAX", st_data(OUT, ~0ULL, scratch, 512, 0), IOERR);
	CASE("write from a device-writable buffer", st_data(OUT, 0, scratch, 512, W), IOERR);
	CASE("read into a device-readable buffer", st_data(IN, 0, scratch, 512, 0), IOERR);
	CASE("indirect data descriptor", st_data(IN, 0, scratch, 512, W | VIRTQ_DESC_F_INDIRECT),
	     IOERR);
	CASE("header shorter than 16 bytes", st_req(OUT, 0, 8, 0, scratch, 512, 0, st, W), IOERR);
	CASE("device-writable header", st_req(OUT, 0, 16, W, scratch, 512, 0, st, W), IOERR);
	CASE("unknown request type", st_data(0x1234, 0, scratch, 512, W), VIRTIO_BLK_S_UNSUPP);
	CASE("flush with data", st_data(VIRTIO_BLK_T_FLUSH, 0, scratch, 512, 0), IOERR);
	CASE("read-only status descriptor", st_req(OUT, 0, 16, 0, scratch, 512, 0, st, 0), R_RESET);
	CASE("status byte outside RAM", st_req(OUT, 0, 16, 0, scratch, 512, 0, far, W), R_RESET);
	CASE("status byte in the hole",
	     st_req(OUT, 0, 16, 0, scratch, 512, 0, ABI_VIRTIO_BLK_GPA, W), R_RESET);

	/* Chains the device cannot even walk to a status byte.  Every case
	 * writes its whole chain: the re-init after a reset clears the table. */
	q_hdr()->type = OUT;
	q_hdr()->sector = 0;
	st_chain(N, 1, 0, 0);
	CASE("status descriptor missing", st_submit(0), R_RESET);
	st_chain(N, 1, N, 2);
	CASE("head index beyond the queue", st_submit(QSZ), R_RESET);
	CASE("head index 0xffff", st_submit(0xffff), R_RESET);
	st_chain(N, 1, N, QSZ + 3);
	CASE("next index beyond the queue", st_submit(0), R_RESET);
	st_chain(N, 1, N, 0);
	CASE("descriptor loop", st_submit(0), R_RESET);
	st_chain(N, 1, N, 1);
	CASE("descriptor pointing at itself", st_submit(0), R_RESET);

	/* The avail index may not run more than a queue ahead of the device.
	 * Every ring entry names a valid flush, so a device that skipped the
	 * check would complete requests instead of stopping. */
	q_hdr()->type = VIRTIO_BLK_T_FLUSH;
	set_desc(0, blk.qpa + Q_HDR, 16, N, 1);
	set_desc(1, st, 1, W, 0);
	q_avail()->idx = QSZ + 1;
	reg_wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CASE("avail index jumping ahead",
	     (reg_rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) && !blk_setup_default()
		 ? R_RESET
		 : R_BAD,
	     R_RESET);

	/* Queue areas the device must refuse at QUEUE_READY. */
	uint64_t q = blk.qpa;
	CASE("descriptor table in the hole", st_bad_queue(ABI_HOLE_START, q + Q_AVAIL, q + Q_USED),
	     R_RESET);
	CASE("avail ring outside RAM", st_bad_queue(q + Q_DESC, far, q + Q_USED), R_RESET);
	CASE("used ring straddling the end of RAM", st_bad_queue(q, q + Q_AVAIL, top - 64),
	     R_RESET);
	CASE("misaligned descriptor table", st_bad_queue(q + 8, q + Q_AVAIL, q + Q_USED), R_RESET);
	CASE("misaligned used ring", st_bad_queue(q, q + Q_AVAIL, q + Q_USED + 2), R_RESET);

	/* Nothing above may have stored into the scratch buffer. */
	CASE("refused read left its buffer alone", buf[0] == 0x6d61726b6d61726bULL, 1);

	/* After all that, the device must still do real work. */
	uint64_t *rd = buf + 64;
	for (int i = 0; i < 64; i++) {
		buf[i] = BADBLK_WORD(i);
		rd[i] = 0;
	}
	CASE("write of the last sector", blk_rw(1, cap - 1, scratch, 512), 0);
	CASE("flush", blk_flush(), 0);
	CASE("read-back of the last sector", blk_rw(0, cap - 1, scratch + 512, 512), 0);
	int same = 1;
	for (int i = 0; i < 64; i++)
		same &= rd[i] == BADBLK_WORD(i);
	CASE("read-back matches", same, 1);
#undef CASE

	for (int i = 0; i < n; i++)
		if (c[i].got != c[i].want) {
			klog("virtio-blk selftest: case %d (%s) failed: got %#x, want %#x", i + 1,
			     c[i].name, c[i].got, c[i].want);
			return i + 1;
		}
	klog("virtio-blk selftest: %d cases passed", n);
	return 0;
}
