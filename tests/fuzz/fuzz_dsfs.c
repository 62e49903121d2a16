/*
 * libFuzzer target: DSFS open, check and read (fs/dsfs.c and
 * include/abi/fs.h's abi_fs_check) on an arbitrary image file.  The
 * metadata block's checksum is resealed before the open so the fuzzer
 * reaches the field checks behind it; abi_fs_check also runs on the block
 * as fuzzed (checksum and all) against a fuzzed device size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abi/fs.h"
#include "fs/dsfs.h"

#define MAX_EXTEND (16u << 20) /* grow the file to what the superblock claims, up to this */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abi_fs_meta meta;
	const char *reason;

	if (size >= sizeof(meta)) {
		memcpy(&meta, data, sizeof(meta));
		uint64_t dev;
		memcpy(&dev, &meta.sb.uuid[0], sizeof(dev)); /* any 8 bytes do */
		(void)abi_fs_check(&meta, dev, &reason);
	}

	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	if (size >= sizeof(meta)) {
		memcpy(&meta, buf, sizeof(meta));
		dsfs_meta_seal(&meta);
		memcpy(buf, &meta, sizeof(meta));
	}
	/* The seed replay (CTest) sets this: the project's own images must
	 * come out of the resealing unchanged, or the fix-up is stale. */
	if (getenv("DS_FUZZ_SEEDS_INTACT") && memcmp(buf, data, size))
		abort();
	int fd = memfd_create("fuzz-dsfs", 0);
	if (fd < 0 || (size && write(fd, buf, size) != (ssize_t)size))
		abort();
	free(buf);
	/* The claimed length, when small, so that files have data to read;
	 * an odd-sized input keeps its length (refused: not whole blocks). */
	if (size >= sizeof(meta) && size % 2 == 0 && meta.sb.nr_blocks <= MAX_EXTEND / ABI_FS_BLOCK &&
	    meta.sb.nr_blocks * ABI_FS_BLOCK > size)
		if (ftruncate(fd, (off_t)(meta.sb.nr_blocks * ABI_FS_BLOCK)))
			abort();

	char path[64], why[256];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct dsfs_image img;
	if (dsfs_open(path, O_RDONLY, &img, why, sizeof(why)) == 0) {
		for (int ino = -1; ino <= ABI_FS_MAX_INODES; ino++) {
			uint8_t *p;
			uint64_t len;
			if (dsfs_read_file(&img, ino, &p, &len) == 0)
				free(p);
			if (dsfs_read_extent(&img, ino, &p, &len) == 0)
				free(p);
		}
		for (int ino = 0; ino < ABI_FS_MAX_INODES; ino++)
			if (img.meta.inodes[ino].flags & ABI_FS_INODE_USED)
				(void)dsfs_find(&img, img.meta.inodes[ino].name);
		uint64_t h;
		(void)dsfs_hash_outside_extents(&img, &h);
		dsfs_close(&img);
	}
	close(fd);
	return 0;
}
