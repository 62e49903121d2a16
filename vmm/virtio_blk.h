/*
 * virtio-blk over virtio-mmio (version 2, modern only), backed by a raw image
 * file.  One request queue; requests run synchronously inside the driver's
 * QUEUE_NOTIFY write, and the driver polls the used ring (no interrupts).
 *
 * The guest is untrusted.  Every register value, ring index, descriptor and
 * buffer it hands over is checked before use: the device never touches host
 * memory outside guest RAM, nor the image outside [0, image size).  A bad
 * request with a usable status byte completes with VIRTIO_BLK_S_IOERR; one
 * without (or a broken ring) sets DEVICE_NEEDS_RESET and the device stops
 * until the driver writes 0 to STATUS.
 */
#ifndef VMM_VIRTIO_BLK_H
#define VMM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include "abi/virtio.h"
#include "vmm/mem.h"

/* Counters, cumulative over the device's life (a driver reset keeps them). */
struct virtio_blk_stats {
	uint64_t requests;	/* heads taken from the avail ring */
	uint64_t reads;		/* completed VIRTIO_BLK_T_IN */
	uint64_t writes;	/* completed VIRTIO_BLK_T_OUT */
	uint64_t flushes;	/* completed VIRTIO_BLK_T_FLUSH */
	uint64_t bytes_read;	/* image -> guest */
	uint64_t bytes_written; /* guest -> image */
	uint64_t refused;	/* requests answered IOERR/UNSUPP or that broke the device */
	uint64_t needs_reset;	/* times DEVICE_NEEDS_RESET was raised */
};

/*
 * Called for every range of guest RAM the device stores into (read data,
 * status byte, used-ring element, used->idx): KVM's dirty log never sees
 * those stores, so whoever tracks dirty pages must add them.
 */
typedef void (*virtio_blk_dirty_fn)(void *ctx, uint64_t gpa, uint64_t len);

struct virtio_blk_queue {
	uint32_t num; /* QUEUE_NUM as written; validated at QUEUE_READY */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Host views of the three areas, set once they passed validation. */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t last_avail; /* next avail->ring slot the device consumes */
	uint16_t used_idx;   /* the device's copy of used->idx */
};

/*
 * Where request data goes: the image file itself unless a backend is set.
 * Host writeback (logger/hostwb/hostwb.c) sets one so that guest writes wait in a
 * staging area for the epoch's journal commit.  Offsets and lengths are
 * already checked against the image size.  Each call returns 0 or -errno.
 */
struct virtio_blk_backend {
	int (*read)(void *ctx, void *buf, uint64_t len, uint64_t off);
	int (*write)(void *ctx, const void *buf, uint64_t len, uint64_t off);
	int (*flush)(void *ctx);
	void *ctx;
};

struct virtio_blk {
	int fd;
	char path[256]; /* for messages */
	uint64_t size;	/* image bytes, a 4 KiB multiple */
	const struct guest_mem *mem;
	virtio_blk_dirty_fn dma_dirty;
	void *dma_ctx;
	struct virtio_blk_backend backend; /* read == NULL: the image file */

	/* Register state; virtio_blk_reset() returns all of it to power-on. */
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel;
	uint64_t driver_features;
	bool driver_features_bad; /* a bit written through a selector past 1 */
	uint32_t queue_sel;
	struct virtio_blk_queue q;

	struct virtio_blk_stats stats;
	uint64_t messages; /* refusal lines printed or suppressed */
};

/* The features this device offers. */
#define VIRTIO_BLK_DEVICE_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_BLK_F_FLUSH))

/* Refusal lines printed before the device only counts them. */
#define VIRTIO_BLK_MESSAGES_MAX 8

/*
 * Open the raw image at `path` (O_RDWR) as the backing store of a device
 * whose DMA goes to `mem`.  The image's size must be a non-zero multiple of
 * 4 KiB.  Returns 0, or -errno after one line naming the file.  `mem` must
 * outlive the device.
 */
int virtio_blk_open(struct virtio_blk *b, const char *path, const struct guest_mem *mem);

/*
 * Take the image's writer lock (util/filelock.h) on the device's open file:
 * no other run, recover or mkimage may write the image while the device
 * has it.  Separate from virtio_blk_open because a process may hold two
 * devices on one image on purpose (a migration's source and destination in
 * one process, the tests of saved state).  Returns 0, or -EBUSY (another
 * writer holds it) or -errno, after one line naming the image.
 */
int virtio_blk_lock(struct virtio_blk *b);

/* Where stores into guest RAM are reported (NULL: nowhere). */
void virtio_blk_set_dma_hook(struct virtio_blk *b, virtio_blk_dirty_fn fn, void *ctx);

/*
 * One guest access of `len` bytes (at most 8, as in a KVM MMIO exit) at
 * `offset` from the device base: a read fills data[0..len), a write
 * consumes it.  Registers take
 * aligned 32-bit accesses only, the config space (offset 0x100 up) aligned 1-,
 * 2-, 4- and 8-byte reads; any other access reads 0 and writes nothing.  A
 * QUEUE_NOTIFY write processes every available request before returning.
 * Any guest behaviour is handled here: nothing the guest does is an error for
 * the caller.
 */
void virtio_blk_mmio(struct virtio_blk *b, uint64_t offset, uint8_t *data, uint32_t len,
		     bool is_write);

/* Route request data through `be` (NULL: back to the image file). */
void virtio_blk_set_backend(struct virtio_blk *b, const struct virtio_blk_backend *be);

/* Device reset, as when the driver writes 0 to STATUS (counters are kept). */
void virtio_blk_reset(struct virtio_blk *b);

/* Close the image; prints the refusal total if lines were suppressed.
 * Safe on a closed device. */
void virtio_blk_close(struct virtio_blk *b);

/* ---- migration state (implemented in virtio_blk_state.c) ---------------- */

#include <stddef.h> /* size_t, offsetof */

#define VIRTIO_BLK_STATE_MAGIC	 0x4b4c4256u /* "VBLK" as little-endian bytes */
#define VIRTIO_BLK_STATE_VERSION 1u

/*
 * The device's guest-visible state as a flat blob for live migration
 * (docs/vmstate.md): the register state and the queue's GPAs and indices.
 * Host-side things (image fd and path, backend, DMA hook, host views of the
 * rings) stay behind; the destination recomputes the views from the GPAs.
 * Fixed layout, little-endian as on both x86-64 ends.
 */
struct virtio_blk_state {
	uint32_t magic;	     /* VIRTIO_BLK_STATE_MAGIC */
	uint32_t version;    /* VIRTIO_BLK_STATE_VERSION */
	uint32_t size;	     /* sizeof(struct virtio_blk_state) */
	uint32_t reserved;   /* 0 */
	uint64_t image_size; /* the destination's image must have this size */
	uint32_t status;
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t driver_features_bad; /* 0 or 1 */
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t q_num;
	uint32_t q_ready; /* 0 or 1 */
	uint16_t q_last_avail;
	uint16_t q_used_idx;
	uint64_t q_desc_gpa, q_avail_gpa, q_used_gpa;
	struct virtio_blk_stats stats; /* carried over, so the counters stay cumulative */
};
_Static_assert(sizeof(struct virtio_blk_stats) == 64, "virtio_blk_stats layout");
_Static_assert(offsetof(struct virtio_blk_state, image_size) == 16, "state layout");
_Static_assert(offsetof(struct virtio_blk_state, driver_features) == 40, "state layout");
_Static_assert(offsetof(struct virtio_blk_state, q_last_avail) == 60, "state layout");
_Static_assert(offsetof(struct virtio_blk_state, q_desc_gpa) == 64, "state layout");
_Static_assert(offsetof(struct virtio_blk_state, stats) == 88, "state layout");
_Static_assert(sizeof(struct virtio_blk_state) == 152, "state layout");

/*
 * Capture b's state into *s (fully overwritten).  Requests run inside the
 * QUEUE_NOTIFY exit, so a device whose vCPU is stopped has none in flight.
 * Returns 0.
 */
int virtio_blk_state_save(const struct virtio_blk *b, struct virtio_blk_state *s);

/*
 * Load *s, which is untrusted (it comes off the network), into b, an open
 * device on the destination's image and RAM.  Every value is checked as the
 * register path checks a guest's writes (the status must be one the STATUS
 * handshake can reach with the saved features, so a negotiated set is a
 * subset of what the device offers; a ready queue must pass QUEUE_READY's
 * checks against b's RAM), plus what only a blob can get wrong: header,
 * image size, flags that are not 0/1, indices this device cannot produce.
 * A bad blob is refused with -EINVAL and a one-line reason in `why`, and b
 * unchanged; on success the ring views point into b's RAM.
 */
int virtio_blk_state_load(struct virtio_blk *b, const struct virtio_blk_state *s, char *why,
			  size_t whylen);

#endif
