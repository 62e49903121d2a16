/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk over virtio-mmio (virtio 1.1, "modern" interface only): the
 * register offsets, ring layouts and request format the VMM's device and the
 * guest's driver share.  Values are the virtio specification's; the host test
 * suite checks them against Linux's uapi headers.
 *
 * The device sits at ABI_VIRTIO_BLK_GPA in the hole below 4 GiB.  One
 * request queue (queue 0).  The driver notifies by writing QUEUE_NOTIFY; the
 * VMM processes every available request before the write returns, so the
 * driver may poll the used ring right after the notify (no interrupts).
 */
#ifndef ABI_VIRTIO_H
#define ABI_VIRTIO_H

#define ABI_VIRTIO_BLK_GPA   0xd0000000ULL
#define ABI_VIRTIO_MMIO_SIZE 0x1000

/* virtio-mmio registers (offsets from the device base; 32-bit accesses). */
#define VIRTIO_MMIO_MAGIC_VALUE	      0x000 /* "virt" = 0x74726976 */
#define VIRTIO_MMIO_VERSION	      0x004 /* 2 */
#define VIRTIO_MMIO_DEVICE_ID	      0x008 /* 2: block */
#define VIRTIO_MMIO_VENDOR_ID	      0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES   0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES   0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL	      0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX     0x034
#define VIRTIO_MMIO_QUEUE_NUM	      0x038
#define VIRTIO_MMIO_QUEUE_READY	      0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY      0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS  0x060
#define VIRTIO_MMIO_INTERRUPT_ACK     0x064
#define VIRTIO_MMIO_STATUS	      0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW    0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH   0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW   0x090 /* "driver area" */
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH  0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW    0x0a0 /* "device area" */
#define VIRTIO_MMIO_QUEUE_USED_HIGH   0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG	      0x100 /* virtio-blk config: capacity (u64, sectors) first */

#define VIRTIO_MMIO_MAGIC 0x74726976
#define VIRTIO_ID_BLOCK	  2

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1
#define VIRTIO_STATUS_DRIVER		 2
#define VIRTIO_STATUS_DRIVER_OK		 4
#define VIRTIO_STATUS_FEATURES_OK	 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED		 128

/* Feature bits. */
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_F_VERSION_1 32

/* Split virtqueue. */
#define VIRTQ_DESC_F_NEXT  1
#define VIRTQ_DESC_F_WRITE 2 /* device writes this buffer */

/* virtio-blk requests. */
#define VIRTIO_BLK_T_IN	   0 /* read */
#define VIRTIO_BLK_T_OUT   1 /* write */
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_SECTOR   512

/* The queue size the device offers (QUEUE_NUM_MAX). */
#define ABI_VIRTIO_QUEUE_MAX 256

#ifndef __ASSEMBLER__
#include <stdint.h>

struct virtq_desc {
	uint64_t addr; /* GPA */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* queue size entries, then used_event */
};

struct virtq_used_elem {
	uint32_t id; /* head descriptor index */
	uint32_t len; /* bytes the device wrote */
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* queue size entries, then avail_event */
};

/* First descriptor of every request (device-readable). */
struct virtio_blk_req_hdr {
	uint32_t type; /* VIRTIO_BLK_T_* */
	uint32_t reserved;
	uint64_t sector; /* 512-byte units */
};

_Static_assert(sizeof(struct virtq_desc) == 16, "virtq descriptor layout");
_Static_assert(sizeof(struct virtq_avail) == 4, "virtq avail layout");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq used element layout");
_Static_assert(sizeof(struct virtq_used) == 4, "virtq used layout");
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "virtio-blk request header layout");
#endif

#endif
