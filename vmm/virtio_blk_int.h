/*
 * Private to virtio-blk's files (virtio_blk.c: life, queue setup and
 * registers; virtio_blk_req.c: requests; virtio_blk_state.c: migration
 * state).  The device's rules live here once, so that a migrated state
 * passes exactly the checks a guest's register writes do.
 */
#ifndef VMM_VIRTIO_BLK_INT_H
#define VMM_VIRTIO_BLK_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/virtio_blk.h"

/* A refusal line on stderr, "dirtyscope: virtio-blk: ...", rate-limited to
 * VIRTIO_BLK_MESSAGES_MAX lines: a hostile guest must not be able to flood
 * the host's stderr; the rest are counted in b->messages. */
void virtio_blk_msg(struct virtio_blk *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set DEVICE_NEEDS_RESET (counted once per reset): the device stops taking
 * requests until the driver resets it. */
void virtio_blk_needs_reset(struct virtio_blk *b);

/* QUEUE_NOTIFY of `queue`: run every request the driver made available, in
 * order, while the device is live (DRIVER_OK, queue ready, no reset needed). */
void virtio_blk_queue_notify(struct virtio_blk *b, uint32_t queue);

/*
 * Whether queue `q` of a device with `status` may go live: the split-ring
 * areas (spec 2.7) must be aligned and lie wholly inside `mem`.  Returns
 * NULL with q's host views set, or the reason with them NULL.  Used by
 * QUEUE_READY and by virtio_blk_state_load, so a migrated queue passes
 * exactly the checks a guest-enabled one did.
 */
const char *virtio_blk_queue_check(const struct guest_mem *mem, uint32_t status,
				   struct virtio_blk_queue *q);

/*
 * The status a non-zero STATUS write of `v` leaves when the status was
 * `old`: the handshake of spec 3.1.1.  Bits only accumulate; a bit whose
 * prerequisite is missing is dropped, which the driver sees when it reads
 * STATUS back.  *features_why gets the reason FEATURES_OK was refused, or
 * NULL.  Pure, so virtio_blk_state_load can replay a saved status through
 * the very rules a guest's writes went through.
 */
uint32_t virtio_blk_status_next(uint32_t old, uint32_t v, uint64_t driver_features,
				bool driver_features_bad, const char **features_why);

#endif
