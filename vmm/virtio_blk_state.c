/*
 * virtio-blk's migration state (vmm/virtio_blk.h, docs/vmstate.md): save
 * the registers and the queue into a flat blob, and load one.
 *
 * Trust: on load the blob is untrusted.  It is checked whole before
 * anything changes, through the device's own rules (virtio_blk_int.h): the
 * saved status is replayed through the STATUS register's handshake and a
 * live queue passes QUEUE_READY's checks against this side's RAM, so a
 * migrated device can only be in a state a guest could have driven it to.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/virtio_blk.h"
#include "vmm/virtio_blk_int.h"

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
 * The status is replayed as a single write from reset through virtio_blk_status_next,
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
	uint32_t got =
	    virtio_blk_status_next(0, want, s->driver_features, s->driver_features_bad, &fwhy);
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
		const char *qwhy = virtio_blk_queue_check(b->mem, s->status, &q);
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
