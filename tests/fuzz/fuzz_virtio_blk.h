/*
 * fuzz_virtio_blk's input format, shared with gen_seeds.c so that the seeds
 * follow it.  Guest RAM is small, two slots around the hole as
 * mem_create() lays RAM out, each between PROT_NONE guard pages:
 *
 *   slot 0  GPA [0, 64 KiB)
 *   slot 1  GPA [4 GiB, 4 GiB + 16 KiB)
 *
 * The input: one flags byte (FZ_VBLK_FILE: the image file itself rather
 * than the target's checking backend), a little-endian u16 count and that
 * many bytes of slot 0 from GPA 0 (rings, descriptors, headers), then
 * 8-byte operations (struct fz_vblk_op) to the end.
 */
#ifndef TESTS_FUZZ_FUZZ_VIRTIO_BLK_H
#define TESTS_FUZZ_FUZZ_VIRTIO_BLK_H

#include <stdint.h>

#include "abi/layout.h"

#define FZ_VBLK_SLOT0_BYTES (64 * 1024)
#define FZ_VBLK_SLOT1_GPA   ABI_HOLE_END
#define FZ_VBLK_SLOT1_BYTES (16 * 1024)
#define FZ_VBLK_IMAGE_BYTES (64 * 1024) /* a DSFS image of 16 blocks */

#define FZ_VBLK_FILE 1 /* flags: requests go to the image file */

enum fz_vblk_kind {
	FZ_VBLK_MMIO_WRITE, /* virtio_blk_mmio(off, val as len bytes, write) */
	FZ_VBLK_MMIO_READ,  /* virtio_blk_mmio(off, len bytes, read) */
	FZ_VBLK_POKE0,	    /* store val (4 bytes) into slot 0 at off */
	FZ_VBLK_POKE1,	    /* store val into slot 1 at off % its size */
};

/* kind is taken modulo 4, len modulo 9 (0..8, as an MMIO exit carries). */
struct fz_vblk_op {
	uint8_t kind;
	uint8_t len;
	uint16_t off;
	uint32_t val;
};
_Static_assert(sizeof(struct fz_vblk_op) == 8, "fuzz_virtio_blk op layout");

#endif
