/* SPDX-License-Identifier: MIT */
/*
 * DSFS, the on-disk format of dirtyscope's disk images.  Written on the host
 * by `dirtyscope mkimage`, mounted by the guest kernel over virtio-blk.
 *
 *   block 0        metadata block: superblock header + inode table, one
 *                  checksum over the whole block
 *   block 1 ...    file data; every file is one contiguous extent
 *                  [start_block, start_block + nr_blocks)
 *
 * Blocks are 4 KiB, the guest page size, so a page-cache page is one block.
 * A file's `size` is its length in bytes (<= nr_blocks * 4096); bytes of the
 * extent past `size` read as whatever the image holds (mkimage zeroes them).
 *
 * abi_fs_check() is the one validator: the host (`mkimage --check`, `run
 * --image`) and the guest (mount) both call it, so they can never disagree
 * about what a valid image is.  It is freestanding: no libc, no allocation.
 */
#ifndef ABI_FS_H
#define ABI_FS_H

#define ABI_FS_MAGIC	  0x5346534453445344ULL /* "DSDSDSFS" little-endian */
#define ABI_FS_VERSION	  1
#define ABI_FS_BLOCK	  4096
#define ABI_FS_MAX_INODES 63
#define ABI_FS_NAME_MAX	  31 /* bytes, without the terminating NUL */
#define ABI_FS_META_BLOCK 0
#define ABI_FS_DATA_START 1 /* first block a file extent may use */

/* abi_fs_check's reason for a name with a byte outside 0x20..0x7e: the host
 * (fs/dsfs.c) recognizes it to add the inode and its name, escaped. */
#define ABI_FS_WHY_NAME_UNPRINTABLE "inode name holds a byte that is not printable ASCII"

#define ABI_FS_INODE_USED 1u

#ifndef __ASSEMBLER__
#include <stdint.h>

#include "fnv.h"

struct abi_fs_inode {
	char name[ABI_FS_NAME_MAX + 1]; /* NUL-terminated, unique, non-empty */
	uint64_t size;			/* bytes */
	uint64_t start_block;		/* first block of the extent */
	uint64_t nr_blocks;		/* extent length: the file's capacity */
	uint32_t flags;			/* ABI_FS_INODE_USED */
	uint32_t reserved;		/* 0 */
};

struct abi_fs_super {
	uint64_t magic;	     /* ABI_FS_MAGIC */
	uint32_t version;    /* ABI_FS_VERSION */
	uint32_t block_size; /* ABI_FS_BLOCK */
	uint64_t nr_blocks;  /* image length in blocks, metadata block included */
	uint32_t nr_inodes;  /* ABI_FS_MAX_INODES */
	uint32_t reserved0;
	uint64_t csum;	     /* abi_fs_csum() of the whole block with this field 0 */
	uint64_t generation; /* bumped by every metadata write */
	/* The image's identity: random, drawn by mkimage each time it writes an
	 * image, never changed after (the guest rewrites this block but keeps
	 * it).  Whatever belongs to one image alone (its host writeback
	 * journal, an incoming migration's disk) carries it and is refused by
	 * any other image.  All zero: an image made before identities existed. */
	uint8_t uuid[16];
};

/* The metadata block, block 0. */
struct abi_fs_meta {
	struct abi_fs_super sb;
	struct abi_fs_inode inodes[ABI_FS_MAX_INODES];
};

_Static_assert(sizeof(struct abi_fs_inode) == 64, "DSFS inode layout");
_Static_assert(__builtin_offsetof(struct abi_fs_inode, size) == 32, "DSFS inode layout");
_Static_assert(__builtin_offsetof(struct abi_fs_inode, flags) == 56, "DSFS inode layout");
_Static_assert(sizeof(struct abi_fs_super) == 64, "DSFS superblock layout");
_Static_assert(__builtin_offsetof(struct abi_fs_super, csum) == 32, "DSFS superblock layout");
_Static_assert(__builtin_offsetof(struct abi_fs_super, uuid) == 48, "DSFS superblock layout");
_Static_assert(sizeof(struct abi_fs_meta) == ABI_FS_BLOCK, "DSFS metadata is one block");

/*
 * Checksum of `words` 64-bit words: FNV-1a over words, not bytes
 * (abi_fnv_step), so the guest (about 10^6 instructions per second here)
 * checks its metadata block in about 2,000 instructions.  It detects corruption, not malice: the
 * guest and host both re-validate every field anyway.
 */
static inline uint64_t abi_fs_csum(const uint64_t *p, uint64_t words)
{
	uint64_t h = ABI_FNV_BASIS;
	for (uint64_t i = 0; i < words; i++)
		h = abi_fnv_step(h, p[i]);
	return h;
}

/* Checksum of a metadata block, with its csum field treated as 0. */
static inline uint64_t abi_fs_meta_csum(const struct abi_fs_meta *m)
{
	const uint64_t *w = (const uint64_t *)m;
	uint64_t words = sizeof(*m) / 8, skip = __builtin_offsetof(struct abi_fs_super, csum) / 8;
	uint64_t h = abi_fs_csum(w, skip);
	uint64_t zero = 0;
	h ^= abi_fs_csum(&zero, 1);
	h *= ABI_FNV_PRIME;
	return h ^ abi_fs_csum(w + skip + 1, words - skip - 1);
}

/*
 * Validate a metadata block against a device of `dev_blocks` blocks.
 * Returns 0, or -1 with *why set to a static one-line reason.  Checked:
 * magic, version, block size, inode count, checksum, that the image is not
 * shorter than the superblock says (a truncated image), and for every used
 * inode: a NUL-terminated non-empty name of printable ASCII (0x20..0x7e)
 * unique among inodes, an extent
 * inside [ABI_FS_DATA_START, nr_blocks) that overlaps no other, and a size
 * within the extent.  Unused inodes must be all zero.
 */
static inline int abi_fs_check(const struct abi_fs_meta *m, uint64_t dev_blocks, const char **why)
{
	const struct abi_fs_super *sb = &m->sb;
	if (sb->magic != ABI_FS_MAGIC)
		return *why = "not a dirtyscope image (bad magic)", -1;
	if (sb->version != ABI_FS_VERSION)
		return *why = "unsupported image version", -1;
	if (sb->block_size != ABI_FS_BLOCK || sb->nr_inodes != ABI_FS_MAX_INODES)
		return *why = "bad block size or inode count", -1;
	if (sb->csum != abi_fs_meta_csum(m))
		return *why = "metadata checksum mismatch (corrupt image)", -1;
	if (sb->nr_blocks < ABI_FS_DATA_START || sb->nr_blocks > (1ULL << 40))
		return *why = "bad block count", -1;
	if (sb->nr_blocks > dev_blocks)
		return *why = "image is shorter than its superblock says (truncated)", -1;
	for (uint32_t i = 0; i < ABI_FS_MAX_INODES; i++) {
		const struct abi_fs_inode *a = &m->inodes[i];
		if (!(a->flags & ABI_FS_INODE_USED)) {
			const uint64_t *w = (const uint64_t *)a;
			for (uint32_t k = 0; k < sizeof(*a) / 8; k++)
				if (w[k])
					return *why = "unused inode is not zeroed", -1;
			continue;
		}
		if (a->flags != ABI_FS_INODE_USED || a->reserved)
			return *why = "inode has unknown flags", -1;
		if (a->name[0] == 0 || a->name[ABI_FS_NAME_MAX] != 0)
			return *why = "inode name empty or not terminated", -1;
		/* Printable ASCII only: a name is printed by every tool that lists
		 * an image, and a control byte in it could end the line or drive
		 * the terminal.  Bytes after the NUL are not part of the name. */
		for (uint32_t k = 0; k < ABI_FS_NAME_MAX && a->name[k]; k++)
			if ((unsigned char)a->name[k] < 0x20 || (unsigned char)a->name[k] > 0x7e)
				return *why = ABI_FS_WHY_NAME_UNPRINTABLE, -1;
		if (a->start_block < ABI_FS_DATA_START || a->nr_blocks > sb->nr_blocks ||
		    a->start_block > sb->nr_blocks - a->nr_blocks)
			return *why = "file extent outside the image", -1;
		if (a->size > a->nr_blocks * ABI_FS_BLOCK)
			return *why = "file size exceeds its extent", -1;
		for (uint32_t j = 0; j < i; j++) {
			const struct abi_fs_inode *b = &m->inodes[j];
			if (!(b->flags & ABI_FS_INODE_USED))
				continue;
			if (a->nr_blocks && b->nr_blocks &&
			    a->start_block < b->start_block + b->nr_blocks &&
			    b->start_block < a->start_block + a->nr_blocks)
				return *why = "file extents overlap", -1;
			uint32_t k = 0;
			while (k <= ABI_FS_NAME_MAX && a->name[k] == b->name[k] && a->name[k])
				k++;
			if (k <= ABI_FS_NAME_MAX && a->name[k] == b->name[k])
				return *why = "two files have the same name", -1;
		}
	}
	return 0;
}
#endif

#endif
