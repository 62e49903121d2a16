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
 * Request framing: first descriptor = 16-byte header (device-readable), last
 * descriptor = status (device-writable, the status is its last byte), the
 * descriptors between = data.  That is what Linux, QEMU's and every other
 * driver we know send; VIRTIO_F_ANY_LAYOUT's freer splits are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/kvm.h"
#include "vmm/virtio_blk.h"

/* Not negotiated, so a descriptor carrying it is refused. */
#ifndef VIRTQ_DESC_F_INDIRECT
#define VIRTQ_DESC_F_INDIRECT 4
#endif

#define BLK_VENDOR_ID 0x53445344 /* "DSDS" */
/* Config space holds the capacity only: the other virtio_blk_config fields
 * belong to features this device does not offer. */
#define BLK_CONFIG_SIZE 8

/* Outcome of one request. */
enum req_result {
	REQ_COMPLETE, /* status written, goes to the used ring */
	REQ_BROKEN,   /* no usable status byte: the device needs a reset */
};

static void blk_msg(struct virtio_blk *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Rate-limited: a hostile guest must not be able to flood the host's stderr. */
static void blk_msg(struct virtio_blk *b, const char *fmt, ...)
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

static void dirty(struct virtio_blk *b, uint64_t gpa, uint64_t len)
{
	if (b->dma_dirty && len)
		b->dma_dirty(b->dma_ctx, gpa, len);
}

static void needs_reset(struct virtio_blk *b)
{
	if (!(b->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		b->stats.needs_reset++;
	b->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

/* ---- queue setup --------------------------------------------------------- */

/*
 * Whether queue `q` of a device with `status` may go live: the split-ring
 * areas (spec 2.7) must be aligned and lie wholly inside `mem`.  Returns
 * NULL with q's host views set, or the reason with them NULL.  Used by
 * QUEUE_READY and by virtio_blk_state_load, so a migrated queue passes
 * exactly the checks a guest-enabled one did.
 */
static const char *queue_check(const struct guest_mem *mem, uint32_t status,
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

/* QUEUE_READY=1: a queue that fails queue_check never becomes usable. */
static void queue_enable(struct virtio_blk *b)
{
	struct virtio_blk_queue *q = &b->q;
	const char *why = queue_check(b->mem, b->status, q);

	if (why) {
		blk_msg(b,
			"queue setup refused: %s (num %" PRIu32 ", desc %#" PRIx64
			", avail %#" PRIx64 ", used %#" PRIx64 "); device needs reset",
			why, q->num, q->desc_gpa, q->avail_gpa, q->used_gpa);
		needs_reset(b);
		return;
	}
	q->ready = true;
	q->last_avail = q->used_idx = 0;
}

/* ---- requests ------------------------------------------------------------ */

/* Copy a whole file range in or out, retrying short transfers. */
static int image_io(struct virtio_blk *b, bool write, void *buf, uint64_t len, uint64_t off)
{
	if (b->backend.read) {
		int ret = write ? b->backend.write(b->backend.ctx, buf, len, off)
				: b->backend.read(b->backend.ctx, buf, len, off);
		if (ret)
			blk_msg(b, "%s %s at offset %" PRIu64 ": %s", write ? "write" : "read",
				b->path, off, strerror(-ret));
		return ret ? -EIO : 0;
	}
	uint8_t *p = buf;
	while (len) {
		ssize_t n =
		    write ? pwrite(b->fd, p, len, (off_t)off) : pread(b->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			blk_msg(b, "%s %s at offset %" PRIu64 ": %s", write ? "pwrite" : "pread",
				b->path, off, n < 0 ? strerror(errno) : "unexpected end of file");
			return -EIO;
		}
		p += n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * Check and run one request whose chain is chain[0..n).  The status
 * descriptor was already validated.  Returns a VIRTIO_BLK_S_* value; *wrote
 * gets the data bytes stored into guest RAM.
 */
static uint8_t run_request(struct virtio_blk *b, uint16_t head, const struct virtq_desc *chain,
			   uint32_t n, uint64_t *wrote)
{
	struct virtio_blk_req_hdr hdr = {0};
	void *hva[ABI_VIRTIO_QUEUE_MAX];
	uint64_t total = 0;
	const char *why = NULL;

	const void *h = NULL; /* the header, once it passed its checks */

	*wrote = 0;
	if (n < 2 || chain[0].flags & (VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT) ||
	    chain[0].len < sizeof(hdr)) {
		why = "no device-readable header of 16 bytes";
		goto refuse;
	}
	/* Only the first 16 bytes of the header descriptor are the header. */
	h = mem_gpa_to_hva(b->mem, chain[0].addr, chain[0].len);
	if (!h) {
		why = "header outside guest RAM";
		goto refuse;
	}
	memcpy(&hdr, h, sizeof(hdr));

	bool in = hdr.type == VIRTIO_BLK_T_IN;
	if (hdr.type != VIRTIO_BLK_T_IN && hdr.type != VIRTIO_BLK_T_OUT &&
	    hdr.type != VIRTIO_BLK_T_FLUSH) {
		b->stats.refused++;
		blk_msg(b, "request refused: unsupported type %u (head %u)", hdr.type, head);
		return VIRTIO_BLK_S_UNSUPP;
	}
	for (uint32_t i = 1; i + 1 < n; i++) {
		const struct virtq_desc *d = &chain[i];
		if (d->flags & VIRTQ_DESC_F_INDIRECT) {
			why = "indirect descriptor (not negotiated)";
			goto refuse;
		}
		if (hdr.type != VIRTIO_BLK_T_FLUSH && !(d->flags & VIRTQ_DESC_F_WRITE) != !in) {
			why = in ? "read into a device-readable buffer"
				 : "write from a device-writable buffer";
			goto refuse;
		}
		hva[i] = mem_gpa_to_hva(b->mem, d->addr, d->len);
		if (!hva[i]) {
			why = "data buffer outside guest RAM";
			goto refuse;
		}
		total += d->len; /* at most 254 * 4 GiB: cannot wrap */
	}

	if (hdr.type == VIRTIO_BLK_T_FLUSH) {
		if (n > 2) {
			why = "flush with data";
			goto refuse;
		}
		int fe = b->backend.flush	? b->backend.flush(b->backend.ctx)
			 : fdatasync(b->fd) < 0 ? -errno
						: 0;
		if (fe) {
			blk_msg(b, "flush %s: %s", b->path, strerror(-fe));
			return VIRTIO_BLK_S_IOERR;
		}
		b->stats.flushes++;
		return VIRTIO_BLK_S_OK;
	}
	if (total == 0 || total % VIRTIO_BLK_SECTOR) {
		why = "data length not a non-zero multiple of 512";
		goto refuse;
	}
	/* sector * 512 can overflow; sector <= size / 512 first makes it safe. */
	if (hdr.sector > b->size / VIRTIO_BLK_SECTOR ||
	    total > b->size - hdr.sector * VIRTIO_BLK_SECTOR) {
		why = "sectors beyond the end of the image";
		goto refuse;
	}

	uint64_t off = hdr.sector * VIRTIO_BLK_SECTOR;
	for (uint32_t i = 1; i + 1 < n; i++) {
		int ret = image_io(b, !in, hva[i], chain[i].len, off);
		if (in) {
			/* pread may have stored part of the buffer even on failure. */
			dirty(b, chain[i].addr, chain[i].len);
			*wrote += chain[i].len;
		}
		if (ret)
			return VIRTIO_BLK_S_IOERR;
		off += chain[i].len;
	}
	if (in) {
		b->stats.reads++;
		b->stats.bytes_read += total;
	} else {
		b->stats.writes++;
		b->stats.bytes_written += total;
	}
	return VIRTIO_BLK_S_OK;

refuse:
	b->stats.refused++;
	if (h)
		blk_msg(b, "request refused: %s (head %u, type %u, sector %" PRIu64 ")", why, head,
			hdr.type, hdr.sector);
	else
		blk_msg(b, "request refused: %s (head %u)", why, head);
	return VIRTIO_BLK_S_IOERR;
}

/*
 * Walk the chain at `head`, validate its status byte, run the request and
 * write the status.  REQ_BROKEN when there is no status byte to answer in.
 */
static enum req_result do_request(struct virtio_blk *b, uint16_t head, uint32_t *used_len)
{
	struct virtio_blk_queue *q = &b->q;
	struct virtq_desc chain[ABI_VIRTIO_QUEUE_MAX];
	uint32_t n = 0;
	uint16_t i = head;
	const char *why = NULL;

	if (head >= q->num) {
		why = "head index beyond the queue";
		goto broken;
	}
	for (;;) {
		/* A chain longer than the queue must revisit a descriptor. */
		if (n == q->num) {
			why = "descriptor chain loops";
			goto broken;
		}
		memcpy(&chain[n], &q->desc[i], sizeof(chain[n]));
		if (!(chain[n++].flags & VIRTQ_DESC_F_NEXT))
			break;
		i = chain[n - 1].next;
		if (i >= q->num) {
			why = "next index beyond the queue";
			goto broken;
		}
	}

	const struct virtq_desc *st = &chain[n - 1];
	uint8_t *status;
	if (!(st->flags & VIRTQ_DESC_F_WRITE) || st->flags & VIRTQ_DESC_F_INDIRECT ||
	    st->len == 0) {
		why = "last descriptor is not a device-writable status byte";
		goto broken;
	}
	status = mem_gpa_to_hva(b->mem, st->addr, st->len);
	if (!status) {
		why = "status byte outside guest RAM";
		goto broken;
	}

	uint64_t wrote;
	uint8_t s = run_request(b, head, chain, n, &wrote);
	status[st->len - 1] = s;
	dirty(b, st->addr + st->len - 1, 1);
	/* The used length is 32 bits; a guest with huge RAM and a huge image
	 * can read more in one request. */
	*used_len = wrote < UINT32_MAX ? (uint32_t)wrote + 1 : UINT32_MAX;
	return REQ_COMPLETE;

broken:
	b->stats.refused++;
	blk_msg(b, "request refused: %s (head %u); device needs reset", why, head);
	return REQ_BROKEN;
}

/* QUEUE_NOTIFY: run every request the driver made available, in order. */
static void queue_notify(struct virtio_blk *b, uint32_t queue)
{
	struct virtio_blk_queue *q = &b->q;

	if (queue != 0 || !q->ready || !(b->status & VIRTIO_STATUS_DRIVER_OK) ||
	    b->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED))
		return;
	/* Acquire: the ring entries and descriptors the driver wrote before
	 * publishing avail->idx are visible once we see the new index. */
	uint16_t avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending > q->num) {
		b->stats.refused++;
		blk_msg(b,
			"avail index %u jumps %u entries ahead of a %u-entry queue; device needs "
			"reset",
			avail_idx, pending, q->num);
		needs_reset(b);
		return;
	}
	while (q->last_avail != avail_idx) {
		uint16_t head =
		    __atomic_load_n(&q->avail->ring[q->last_avail % q->num], __ATOMIC_RELAXED);
		uint32_t len = 0;
		b->stats.requests++;
		if (do_request(b, head, &len) == REQ_BROKEN) {
			needs_reset(b);
			return;
		}
		q->last_avail++;
		uint32_t slot = q->used_idx % q->num;
		q->used->ring[slot].id = head;
		q->used->ring[slot].len = len;
		dirty(b, q->used_gpa + 4 + 8ULL * slot, 8);
		q->used_idx++;
		/* Release: the data, status byte and used element are visible
		 * before the driver can observe the new used->idx. */
		__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
		dirty(b, q->used_gpa + 2, 2);
	}
}

/* ---- registers ----------------------------------------------------------- */

/*
 * The status a non-zero STATUS write of `v` leaves when the status was
 * `old`: the handshake of spec 3.1.1.  Bits only accumulate; a bit whose
 * prerequisite is missing is dropped, which the driver sees when it reads
 * STATUS back.  *features_why gets the reason FEATURES_OK was refused, or
 * NULL.  Pure, so virtio_blk_state_load can replay a saved status through
 * the very rules a guest's writes went through.
 */
static uint32_t status_next(uint32_t old, uint32_t v, uint64_t driver_features,
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

/* STATUS write: 0 resets the device, anything else goes through status_next. */
static void status_write(struct virtio_blk *b, uint32_t v)
{
	const char *why;

	if (v == 0) {
		virtio_blk_reset(b);
		return;
	}
	b->status = status_next(b->status, v, b->driver_features, b->driver_features_bad, &why);
	if (why)
		blk_msg(b, "features refused: %s (driver features %#" PRIx64 ")", why,
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
		queue_notify(b, v);
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

/* ---- migration state (declared at the end of virtio_blk.h) --------------- */

int virtio_blk_state_save(const struct virtio_blk *b, struct virtio_blk_state *s)
{
	memset(s, 0, sizeof(*s));
	s->magic = VIRTIO_BLK_STATE_MAGIC;
	s->version = VIRTIO_BLK_STATE_VERSION;
	s->size = sizeof(*s);
	s->image_size = b->size;
	s->status = b->status;
	s->dev_features_sel = b->dev_features_sel;
	s->drv_features_sel = b->drv_features_sel;
	s->driver_features_bad = b->driver_features_bad;
	s->driver_features = b->driver_features;
	s->queue_sel = b->queue_sel;
	s->q_num = b->q.num;
	s->q_ready = b->q.ready;
	s->q_last_avail = b->q.last_avail;
	s->q_used_idx = b->q.used_idx;
	s->q_desc_gpa = b->q.desc_gpa;
	s->q_avail_gpa = b->q.avail_gpa;
	s->q_used_gpa = b->q.used_gpa;
	s->stats = b->stats;
	return 0;
}

/*
 * Why the register state in *s is one this device cannot be in, or NULL.
 * The status is replayed as a single write from reset through status_next,
 * the STATUS register's own rules: it must come out unchanged, which holds
 * exactly when the bits' prerequisites hold (DRIVER needs ACKNOWLEDGE,
 * FEATURES_OK needs DRIVER and a valid feature set, DRIVER_OK needs
 * FEATURES_OK).  DEVICE_NEEDS_RESET is the device's own bit and may be set
 * in any state.  Unknown driver features are legal before FEATURES_OK, as
 * they are for a guest that wrote them: the destination then refuses
 * FEATURES_OK exactly where the source would have.
 */
static const char *state_check_regs(const struct virtio_blk_state *s, char *buf, size_t len)
{
	const uint32_t nr = VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	const char *fwhy;

	if (s->status > 0xff) {
		snprintf(buf, len, "status %#x has bits beyond the 8-bit register", s->status);
		return buf;
	}
	if (s->driver_features_bad > 1)
		return "driver_features_bad is neither 0 nor 1";
	/* DRIVER_FEATURES writes count only between DRIVER and FEATURES_OK,
	 * and DRIVER is cleared only by the reset that clears the features. */
	if ((s->driver_features || s->driver_features_bad) && !(s->status & VIRTIO_STATUS_DRIVER))
		return "driver features without DRIVER status";
	uint32_t want = s->status & ~nr;
	uint32_t got = status_next(0, want, s->driver_features, s->driver_features_bad, &fwhy);
	if (got != want) {
		snprintf(buf, len,
			 "status %#x cannot be reached (%s; driver features %#" PRIx64 ")",
			 s->status, fwhy ? fwhy : "a bit is set without its prerequisite",
			 s->driver_features);
		return buf;
	}
	return NULL;
}

int virtio_blk_state_load(struct virtio_blk *b, const struct virtio_blk_state *s, char *why,
			  size_t whylen)
{
	char buf[400]; /* room for the image path (256) */
	const char *bad = NULL;
	struct virtio_blk_queue q = {
	    .num = s->q_num,
	    .ready = s->q_ready == 1,
	    .desc_gpa = s->q_desc_gpa,
	    .avail_gpa = s->q_avail_gpa,
	    .used_gpa = s->q_used_gpa,
	    .last_avail = s->q_last_avail,
	    .used_idx = s->q_used_idx,
	};

	if (s->magic != VIRTIO_BLK_STATE_MAGIC) {
		bad = "not a virtio-blk state (bad magic)";
	} else if (s->version != VIRTIO_BLK_STATE_VERSION) {
		snprintf(buf, sizeof(buf),
			 "virtio-blk state version %u, this build reads version %u", s->version,
			 VIRTIO_BLK_STATE_VERSION);
		bad = buf;
	} else if (s->reserved) {
		bad = "virtio-blk state reserved field is not 0";
	} else if (s->size != sizeof(*s)) {
		snprintf(buf, sizeof(buf), "virtio-blk state of %u bytes, version %u has %zu",
			 s->size, s->version, sizeof(*s));
		bad = buf;
	} else if (s->image_size != b->size) {
		/* The capacity in config space would change under the driver. */
		snprintf(buf, sizeof(buf), "source image has %" PRIu64 " bytes, %s has %" PRIu64,
			 s->image_size, b->path, b->size);
		bad = buf;
	} else if (s->q_ready > 1) {
		bad = "queue ready is neither 0 nor 1";
	} else if (s->q_last_avail != s->q_used_idx) {
		/* Each request completes before the next is taken, so the two
		 * indices advance together from QUEUE_READY on. */
		snprintf(buf, sizeof(buf),
			 "last_avail %u differs from used_idx %u: this device never leaves a "
			 "request in flight",
			 s->q_last_avail, s->q_used_idx);
		bad = buf;
	} else {
		bad = state_check_regs(s, buf, sizeof(buf));
	}
	/* A queue that is not live holds whatever the guest wrote, as on the
	 * source; a live one must pass QUEUE_READY's checks against our RAM. */
	if (!bad && q.ready) {
		const char *qwhy = queue_check(b->mem, s->status, &q);
		if (qwhy) {
			snprintf(buf, sizeof(buf),
				 "queue: %s (num %" PRIu32 ", desc %#" PRIx64 ", avail %#" PRIx64
				 ", used %#" PRIx64 ")",
				 qwhy, q.num, q.desc_gpa, q.avail_gpa, q.used_gpa);
			bad = buf;
		}
	}
	if (bad) {
		if (whylen)
			snprintf(why, whylen, "%s", bad);
		return -EINVAL;
	}

	/* All checked: commit in one go, so a refusal above changed nothing. */
	b->status = s->status;
	b->dev_features_sel = s->dev_features_sel;
	b->drv_features_sel = s->drv_features_sel;
	b->driver_features = s->driver_features;
	b->driver_features_bad = s->driver_features_bad;
	b->queue_sel = s->queue_sel;
	b->q = q;
	b->stats = s->stats;
	return 0;
}
