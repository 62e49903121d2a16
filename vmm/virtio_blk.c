/*
 * virtio-blk over virtio-mmio, version 2 (virtio 1.1 sections 2.7, 4.2, 5.2).
 *
 * Trust: the vCPU is stopped while an MMIO exit is handled, but the ring and
 * descriptor memory still belong to the guest, so every descriptor is copied
 * once into host memory and only the copy is validated and used (no
 * check-then-reread).  All GPA ranges go through mem_gpa_to_hva() on their
 * whole extent, and all image offsets are checked with subtraction rather
 * than addition so no guest value can wrap the arithmetic.
 *
 * This file: the device's life (open, reset, close), queue setup and the
 * MMIO registers.  Requests are in virtio_blk_req.c, the migration state in
 * virtio_blk_state.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/filelock.h"
#include "util/log.h"
#include "vmm/kvm.h"
#include "vmm/virtio_blk.h"
#include "vmm/virtio_blk_int.h"

#define BLK_VENDOR_ID 0x53445344 /* "DSDS" */
/* Config space holds the capacity only: the other virtio_blk_config fields
 * belong to features this device does not offer. */
#define BLK_CONFIG_SIZE 8

/* Rate-limited: a hostile guest must not be able to flood the host's stderr. */
void virtio_blk_msg(struct virtio_blk *b, const char *fmt, ...)
{
	uint64_t n = b->messages++;
	if (n > VIRTIO_BLK_MESSAGES_MAX)
		return;
	if (n == VIRTIO_BLK_MESSAGES_MAX) {
		log_err("virtio-blk: further refusals are counted, not printed");
		return;
	}
	char msg[512]; /* the device's messages are short; a guest chooses no text */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("virtio-blk: %s", msg);
}

int virtio_blk_open(struct virtio_blk *b, const char *path, const struct guest_mem *mem)
{
	struct stat st;
	int ret;

	memset(b, 0, sizeof(*b));
	snprintf(b->path, sizeof(b->path), "%s", path);
	b->mem = mem;
	/* Not O_DIRECT: guest buffers have no alignment guarantee beyond the
	 * descriptor's, and tmpfs (where tests keep images) refuses O_DIRECT.
	 * Durability comes from fdatasync on VIRTIO_BLK_T_FLUSH instead. */
	b->fd = open(path, O_RDWR | O_CLOEXEC);
	if (b->fd < 0) {
		ret = -errno;
		log_err("virtio-blk image %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(b->fd, &st) < 0) {
		ret = -errno;
		log_err("virtio-blk image %s: fstat: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		ret = -EINVAL;
		log_err("virtio-blk image %s: not a regular file", path);
		goto out_close;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(b->fd, 0, SEEK_END);
		st.st_size = end < 0 ? 0 : end;
	}
	if (st.st_size <= 0 || st.st_size % 4096) {
		ret = -EINVAL;
		log_err("virtio-blk image %s: size %lld is not a non-zero multiple of 4096", path,
			(long long)st.st_size);
		goto out_close;
	}
	b->size = (uint64_t)st.st_size;
	return 0;

out_close:
	close(b->fd);
	b->fd = -1;
	return ret;
}

int virtio_blk_lock(struct virtio_blk *b)
{
	char why[128];
	int ret = filelock_take(b->fd, true, why, sizeof(why));
	if (ret)
		log_err("virtio-blk image %s: %s", b->path, why);
	return ret;
}

void virtio_blk_set_dma_hook(struct virtio_blk *b, virtio_blk_dirty_fn fn, void *ctx)
{
	b->dma_dirty = fn;
	b->dma_ctx = ctx;
}

void virtio_blk_set_backend(struct virtio_blk *b, const struct virtio_blk_backend *be)
{
	if (be)
		b->backend = *be;
	else
		memset(&b->backend, 0, sizeof(b->backend));
}

void virtio_blk_reset(struct virtio_blk *b)
{
	b->status = 0;
	b->dev_features_sel = b->drv_features_sel = 0;
	b->driver_features = 0;
	b->driver_features_bad = false;
	b->queue_sel = 0;
	memset(&b->q, 0, sizeof(b->q));
}

void virtio_blk_close(struct virtio_blk *b)
{
	if (b->fd < 0)
		return;
	if (b->messages > VIRTIO_BLK_MESSAGES_MAX)
		log_err("virtio-blk: %" PRIu64 " refusals in all, of them %" PRIu64 " requests",
			b->messages, b->stats.refused);
	close(b->fd);
	b->fd = -1;
}

void virtio_blk_needs_reset(struct virtio_blk *b)
{
	if (!(b->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		b->stats.needs_reset++;
	b->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

/* ---- queue setup --------------------------------------------------------- */

/* Contract in virtio_blk_int.h. */
const char *virtio_blk_queue_check(const struct guest_mem *mem, uint32_t status,
				   struct virtio_blk_queue *q)
{
	uint64_t n = q->num;

	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	if (!(status & VIRTIO_STATUS_FEATURES_OK))
		return "QUEUE_READY before FEATURES_OK";
	if (n == 0 || n > ABI_VIRTIO_QUEUE_MAX || (n & (n - 1)))
		return "QUEUE_NUM is not a power of two up to QUEUE_NUM_MAX";
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return "misaligned queue area";
	if (!(q->desc = mem_gpa_to_hva(mem, q->desc_gpa, 16 * n)) ||
	    !(q->avail = mem_gpa_to_hva(mem, q->avail_gpa, 6 + 2 * n)) ||
	    !(q->used = mem_gpa_to_hva(mem, q->used_gpa, 6 + 8 * n))) {
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
		return "queue area outside guest RAM";
	}
	return NULL;
}

/* QUEUE_READY=1: a queue that fails virtio_blk_queue_check never becomes usable. */
static void queue_enable(struct virtio_blk *b)
{
	struct virtio_blk_queue *q = &b->q;
	const char *why = virtio_blk_queue_check(b->mem, b->status, q);

	if (why) {
		virtio_blk_msg(b,
			       "queue setup refused: %s (num %" PRIu32 ", desc %#" PRIx64
			       ", avail %#" PRIx64 ", used %#" PRIx64 "); device needs reset",
			       why, q->num, q->desc_gpa, q->avail_gpa, q->used_gpa);
		virtio_blk_needs_reset(b);
		return;
	}
	q->ready = true;
	q->last_avail = q->used_idx = 0;
}

/* ---- registers ----------------------------------------------------------- */

/* Contract in virtio_blk_int.h. */
uint32_t virtio_blk_status_next(uint32_t old, uint32_t v, uint64_t driver_features,
				bool driver_features_bad, const char **features_why)
{
	*features_why = NULL;
	uint32_t set = v & ~old & 0xff & ~(uint32_t)VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if ((v & old & ~(uint32_t)VIRTIO_STATUS_DEVICE_NEEDS_RESET) !=
	    (old & ~(uint32_t)VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		return old; /* the driver may not clear a bit except by reset */
	uint32_t now = old | set;
	if ((set & VIRTIO_STATUS_DRIVER) && !(now & VIRTIO_STATUS_ACKNOWLEDGE))
		now &= ~(uint32_t)VIRTIO_STATUS_DRIVER;
	if (set & VIRTIO_STATUS_FEATURES_OK) {
		const char *why = NULL;
		if (!(now & VIRTIO_STATUS_DRIVER))
			why = "FEATURES_OK before DRIVER";
		else if (driver_features_bad || (driver_features & ~VIRTIO_BLK_DEVICE_FEATURES))
			why = "driver accepted features the device does not offer";
		else if (!(driver_features & (1ULL << VIRTIO_F_VERSION_1)))
			why = "driver did not accept VIRTIO_F_VERSION_1";
		if (why) {
			*features_why = why;
			now &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
		}
	}
	if ((set & VIRTIO_STATUS_DRIVER_OK) && !(now & VIRTIO_STATUS_FEATURES_OK))
		now &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
	return now;
}

/* STATUS write: 0 resets the device, anything else goes through
 * virtio_blk_status_next. */
static void status_write(struct virtio_blk *b, uint32_t v)
{
	const char *why;

	if (v == 0) {
		virtio_blk_reset(b);
		return;
	}
	b->status =
	    virtio_blk_status_next(b->status, v, b->driver_features, b->driver_features_bad, &why);
	if (why)
		virtio_blk_msg(b, "features refused: %s (driver features %#" PRIx64 ")", why,
			       b->driver_features);
}

static void set_low(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffULL) | v;
}

static void set_high(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffULL) | (uint64_t)v << 32;
}

static uint32_t reg_read(struct virtio_blk *b, uint64_t off)
{
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return VIRTIO_ID_BLOCK;
	case VIRTIO_MMIO_VENDOR_ID:
		return BLK_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return b->dev_features_sel < 2
			   ? (uint32_t)(VIRTIO_BLK_DEVICE_FEATURES >> (32 * b->dev_features_sel))
			   : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return b->queue_sel == 0 ? ABI_VIRTIO_QUEUE_MAX : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return b->queue_sel == 0 && b->q.ready;
	case VIRTIO_MMIO_STATUS:
		return b->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return 0; /* the capacity never changes */
	default:
		return 0; /* write-only and unknown registers */
	}
}

static void reg_write(struct virtio_blk *b, uint64_t off, uint32_t v)
{
	struct virtio_blk_queue *q = &b->q;
	/* Queue registers are writable only for queue 0, and only while the
	 * queue is not live (spec 4.2.2.2). */
	bool q_writable = b->queue_sel == 0 && !q->ready;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		b->dev_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (!(b->status & VIRTIO_STATUS_DRIVER) || (b->status & VIRTIO_STATUS_FEATURES_OK))
			break;
		if (b->drv_features_sel == 0)
			set_low(&b->driver_features, v);
		else if (b->drv_features_sel == 1)
			set_high(&b->driver_features, v);
		else if (v)
			b->driver_features_bad = true;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		b->drv_features_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		b->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q_writable)
			q->num = v;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (b->queue_sel != 0 || b->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
			break;
		if (v == 1 && !q->ready)
			queue_enable(b);
		else if (v == 0)
			q->ready = false;
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		virtio_blk_queue_notify(b, v);
		break;
	case VIRTIO_MMIO_STATUS:
		status_write(b, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		if (q_writable)
			set_low(&q->desc_gpa, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q_writable)
			set_high(&q->desc_gpa, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		if (q_writable)
			set_low(&q->avail_gpa, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (q_writable)
			set_high(&q->avail_gpa, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		if (q_writable)
			set_low(&q->used_gpa, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (q_writable)
			set_high(&q->used_gpa, v);
		break;
	default:
		break; /* read-only, unknown, INTERRUPT_ACK (no interrupts) */
	}
}

void virtio_blk_mmio(struct virtio_blk *b, uint64_t offset, uint8_t *data, uint32_t len,
		     bool is_write)
{
	bool sized = len == 1 || len == 2 || len == 4 || len == 8;

	if (len > 8)
		return; /* a KVM MMIO exit carries at most 8 bytes */
	if (offset >= VIRTIO_MMIO_CONFIG) {
		/* Config space: read-only for virtio-blk without CONFIG_WCE. */
		uint8_t cfg[BLK_CONFIG_SIZE];
		uint64_t cap = b->size / VIRTIO_BLK_SECTOR;
		uint64_t c = offset - VIRTIO_MMIO_CONFIG;

		if (is_write)
			return;
		memset(data, 0, len);
		if (!sized || c % len || offset + len > ABI_VIRTIO_MMIO_SIZE)
			return;
		memcpy(cfg, &cap, sizeof(cap)); /* little-endian, as virtio 1 requires */
		for (uint32_t i = 0; i < len; i++)
			data[i] = c + i < sizeof(cfg) ? cfg[c + i] : 0;
		return;
	}
	if (len != 4 || offset % 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		uint32_t v;
		memcpy(&v, data, 4);
		reg_write(b, offset, v);
	} else {
		uint32_t v = reg_read(b, offset);
		memcpy(data, &v, 4);
	}
}
