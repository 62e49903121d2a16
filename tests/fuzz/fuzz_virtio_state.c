/*
 * libFuzzer target: virtio-blk state loading (vmm/virtio_blk_state.c) into
 * an open device on a small image and guest RAM.  Input: the blob
 * (zero-padded or cut to its size).  A blob the loader takes must save
 * back unchanged, and the device must then survive the driver's
 * QUEUE_NOTIFY on the ring the blob points at.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "abi/layout.h"
#include "vmm/mem.h"
#include "vmm/virtio_blk.h"

#define IMAGE_BYTES (64 * 1024) /* gen_seeds.c's blobs are for this image */
#define QUEUE_NOTIFY 0x050	/* virtio-mmio register */

static struct guest_mem mem;
static struct virtio_blk blk;

static void setup(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/dev/shm/fuzz-virtio-%d.img", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, IMAGE_BYTES) || mem_create(&mem, ABI_RAM_MIN) ||
	    virtio_blk_open(&blk, path, &mem))
		abort();
	close(fd);
	unlink(path); /* the device keeps it open */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_blk_state s, back;
	char why[256];

	if (!mem.host)
		setup();
	memset(&s, 0, sizeof(s));
	memcpy(&s, data, size < sizeof(s) ? size : sizeof(s));
	why[0] = 0;
	if (virtio_blk_state_load(&blk, &s, why, sizeof(why))) {
		if (!why[0])
			abort(); /* a refusal always says why */
		return 0;
	}
	if (virtio_blk_state_save(&blk, &back) || memcmp(&s, &back, sizeof(s)))
		abort(); /* loaded state does not save back as it came */
	uint8_t v[4] = {0};
	virtio_blk_mmio(&blk, QUEUE_NOTIFY, v, 4, true);
	virtio_blk_reset(&blk);
	return 0;
}
