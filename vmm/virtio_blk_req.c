/*
 * virtio-blk requests (virtio 1.1 section 5.2.6): walk a descriptor chain
 * the driver made available, check it, move its data between guest RAM and
 * the image, and answer in its status byte and the used ring.
 *
 * Trust: the chain is copied once into host memory and only the copy is
 * validated and used; every GPA range goes through mem_gpa_to_hva() whole,
 * and image offsets are checked with subtraction so no guest value can wrap.
 *
 * Request framing: first descriptor = 16-byte header (device-readable), last
 * descriptor = status (device-writable, the status is its last byte), the
 * descriptors between = data.  That is what Linux, QEMU's and every other
 * driver we know send; VIRTIO_F_ANY_LAYOUT's freer splits are refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "util/io.h"
#include "vmm/virtio_blk.h"
#include "vmm/virtio_blk_int.h"

/* Not negotiated, so a descriptor carrying it is refused. */
#ifndef VIRTQ_DESC_F_INDIRECT
#define VIRTQ_DESC_F_INDIRECT 4
#endif

/* Outcome of one request. */
enum req_result {
	REQ_COMPLETE, /* status written, goes to the used ring */
	REQ_BROKEN,   /* no usable status byte: the device needs a reset */
};

/* Tell the DMA hook (the dirty log's helper) about a store into guest RAM. */
static void dirty(struct virtio_blk *b, uint64_t gpa, uint64_t len)
{
	if (b->dma_dirty && len)
		b->dma_dirty(b->dma_ctx, gpa, len);
}

/* Copy a whole file range in or out, through the backend if there is one. */
static int image_io(struct virtio_blk *b, bool write, void *buf, uint64_t len, uint64_t off)
{
	bool be = b->backend.read != NULL;
	int ret;

	if (be)
		ret = write ? b->backend.write(b->backend.ctx, buf, len, off)
			    : b->backend.read(b->backend.ctx, buf, len, off);
	else
		ret = write ? io_pwrite_full(b->fd, buf, len, off)
			    : io_pread_full(b->fd, buf, len, off);
	if (ret)
		virtio_blk_msg(b, "%s %s at offset %" PRIu64 ": %s",
			       be ? (write ? "write" : "read") : (write ? "pwrite" : "pread"),
			       b->path, off,
			       !be && ret == -ENODATA ? "unexpected end of file" : strerror(-ret));
	return ret ? -EIO : 0;
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
		virtio_blk_msg(b, "request refused: unsupported type %u (head %u)", hdr.type, head);
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
			virtio_blk_msg(b, "flush %s: %s", b->path, strerror(-fe));
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
		virtio_blk_msg(b, "request refused: %s (head %u, type %u, sector %" PRIu64 ")", why,
			       head, hdr.type, hdr.sector);
	else
		virtio_blk_msg(b, "request refused: %s (head %u)", why, head);
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
	virtio_blk_msg(b, "request refused: %s (head %u); device needs reset", why, head);
	return REQ_BROKEN;
}

/* Contract in virtio_blk_int.h. */
void virtio_blk_queue_notify(struct virtio_blk *b, uint32_t queue)
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
		virtio_blk_msg(
		    b,
		    "avail index %u jumps %u entries ahead of a %u-entry queue; device needs "
		    "reset",
		    avail_idx, pending, q->num);
		virtio_blk_needs_reset(b);
		return;
	}
	while (q->last_avail != avail_idx) {
		uint16_t head =
		    __atomic_load_n(&q->avail->ring[q->last_avail % q->num], __ATOMIC_RELAXED);
		uint32_t len = 0;
		b->stats.requests++;
		if (do_request(b, head, &len) == REQ_BROKEN) {
			virtio_blk_needs_reset(b);
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
