/*
 * Linux's virtio uapi values, for test_virtio.c to compare with
 * include/abi/virtio.h.  A separate translation unit because both headers
 * define some of the same macro names: including them together would only
 * prove the spellings agree, and would warn where they differ.
 *
 * Each entry is named after OUR identifier; the value comes from Linux.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "tests/test_virtio_linux.h"

#define L(ours, linux_expr)                                                                        \
	{                                                                                          \
#ours, (uint64_t)(linux_expr)                                                      \
	}

static const struct linux_virtio_value table[] = {
    L(VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_MAGIC_VALUE),
    L(VIRTIO_MMIO_VERSION, VIRTIO_MMIO_VERSION),
    L(VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_DEVICE_ID),
    L(VIRTIO_MMIO_VENDOR_ID, VIRTIO_MMIO_VENDOR_ID),
    L(VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_DEVICE_FEATURES),
    L(VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DEVICE_FEATURES_SEL),
    L(VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES),
    L(VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES_SEL),
    L(VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_SEL),
    L(VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_QUEUE_NUM_MAX),
    L(VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_NUM),
    L(VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_READY),
    L(VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_QUEUE_NOTIFY),
    L(VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_INTERRUPT_STATUS),
    L(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INTERRUPT_ACK),
    L(VIRTIO_MMIO_STATUS, VIRTIO_MMIO_STATUS),
    L(VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_LOW),
    L(VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_DESC_HIGH),
    L(VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_AVAIL_LOW),
    L(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, VIRTIO_MMIO_QUEUE_AVAIL_HIGH),
    L(VIRTIO_MMIO_QUEUE_USED_LOW, VIRTIO_MMIO_QUEUE_USED_LOW),
    L(VIRTIO_MMIO_QUEUE_USED_HIGH, VIRTIO_MMIO_QUEUE_USED_HIGH),
    L(VIRTIO_MMIO_CONFIG_GENERATION, VIRTIO_MMIO_CONFIG_GENERATION),
    L(VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_CONFIG),
    /* Linux's virtio_mmio.c spells the magic out instead of naming it. */
    L(VIRTIO_MMIO_MAGIC, ('v' | 'i' << 8 | 'r' << 16 | 't' << 24)),
    L(VIRTIO_ID_BLOCK, VIRTIO_ID_BLOCK),
    L(VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_CONFIG_S_ACKNOWLEDGE),
    L(VIRTIO_STATUS_DRIVER, VIRTIO_CONFIG_S_DRIVER),
    L(VIRTIO_STATUS_DRIVER_OK, VIRTIO_CONFIG_S_DRIVER_OK),
    L(VIRTIO_STATUS_FEATURES_OK, VIRTIO_CONFIG_S_FEATURES_OK),
    L(VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_CONFIG_S_NEEDS_RESET),
    L(VIRTIO_STATUS_FAILED, VIRTIO_CONFIG_S_FAILED),
    L(VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_FLUSH),
    L(VIRTIO_F_VERSION_1, VIRTIO_F_VERSION_1),
    L(VIRTQ_DESC_F_NEXT, VRING_DESC_F_NEXT),
    L(VIRTQ_DESC_F_WRITE, VRING_DESC_F_WRITE),
    L(VIRTQ_DESC_F_INDIRECT, VRING_DESC_F_INDIRECT),
    L(VIRTIO_BLK_T_IN, VIRTIO_BLK_T_IN),
    L(VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_OUT),
    L(VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_FLUSH),
    L(VIRTIO_BLK_S_OK, VIRTIO_BLK_S_OK),
    L(VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR),
    L(VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_UNSUPP),
    /* virtio_blk_config.capacity is "in 512-byte sectors". */
    L(VIRTIO_BLK_SECTOR, 512),
    L(sizeof(struct virtq_desc), sizeof(struct vring_desc)),
    L(offsetof(struct virtq_desc, len), offsetof(struct vring_desc, len)),
    L(offsetof(struct virtq_desc, flags), offsetof(struct vring_desc, flags)),
    L(offsetof(struct virtq_desc, next), offsetof(struct vring_desc, next)),
    L(sizeof(struct virtq_avail), sizeof(struct vring_avail)),
    L(offsetof(struct virtq_avail, idx), offsetof(struct vring_avail, idx)),
    L(offsetof(struct virtq_avail, ring), offsetof(struct vring_avail, ring)),
    L(sizeof(struct virtq_used_elem), sizeof(struct vring_used_elem)),
    L(offsetof(struct virtq_used_elem, len), offsetof(struct vring_used_elem, len)),
    L(sizeof(struct virtq_used), sizeof(struct vring_used)),
    L(offsetof(struct virtq_used, idx), offsetof(struct vring_used, idx)),
    L(offsetof(struct virtq_used, ring), offsetof(struct vring_used, ring)),
    L(sizeof(struct virtio_blk_req_hdr), sizeof(struct virtio_blk_outhdr)),
    L(offsetof(struct virtio_blk_req_hdr, sector), offsetof(struct virtio_blk_outhdr, sector)),
    L(offsetof(struct virtio_blk_req_hdr, reserved), offsetof(struct virtio_blk_outhdr, ioprio)),
    /* The config space starts with the capacity. */
    L(capacity offset, offsetof(struct virtio_blk_config, capacity)),
    L(capacity size, sizeof(((struct virtio_blk_config *)0)->capacity)),
};

int linux_virtio_lookup(const char *ours, uint64_t *value)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].name, ours) == 0) {
			*value = table[i].value;
			return 0;
		}
	return -1;
}

size_t linux_virtio_count(void)
{
	return sizeof(table) / sizeof(table[0]);
}
