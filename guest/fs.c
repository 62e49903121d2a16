/*
 * DSFS in the guest: mount (read and validate the metadata block), name
 * lookup and creation, and read/write through the page cache.
 *
 * The metadata block stays cached in one kernel page for the whole run; it is
 * written back (with a fresh checksum) by fsync and the flusher when a file
 * was created or changed size.  Mount validates it with abi_fs_check(), the
 * same function `dirtyscope mkimage --check` runs on the host, and refuses a
 * bad image as a whole: nothing of it is used.
 */
#include "../include/abi/syscall.h"
#include "defs.h"
#include "fs.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

/* Capacity given to a file created by open(O_CREAT), in blocks. */
#define FS_CREATE_BLOCKS 256

static struct abi_fs_meta *meta;
static struct inode *inodes[ABI_FS_MAX_INODES];
static int meta_dirty;

/* Read block 0, validate it, and load the inode table.  A bad image stops the
 * guest with the validator's reason: nothing is mounted half-way. */
void fs_mount(void)
{
	if (blk_init())
		panic("mount: no usable virtio-blk disk");
	uint64_t blocks = blk_capacity() / (ABI_FS_BLOCK / 512);
	uint64_t pa = pmem_alloc_kernel();
	if (blk_rw(0, 0, pa, ABI_FS_BLOCK))
		panic("mount: cannot read the metadata block");
	meta = P2V(pa);
	const char *why = "?";
	if (abi_fs_check(meta, blocks, &why))
		panic("mount: bad image: %s", why);
}

static struct inode *inode_get(uint32_t i)
{
	if (!inodes[i]) {
		struct inode *ip = kalloc(sizeof(*ip));
		ip->ino = i;
		ip->d = &meta->inodes[i];
		ip->npages = ip->d->nr_blocks;
		inodes[i] = ip;
	}
	return inodes[i];
}

static int name_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* Allocate an extent of up to FS_CREATE_BLOCKS blocks in the largest gap
 * between existing extents.  Returns the start block, or 0 if none is free. */
static uint64_t alloc_extent(uint64_t *len)
{
	uint64_t best = 0, best_len = 0, at = ABI_FS_DATA_START;
	for (;;) {
		/* The next extent starting at or after `at`. */
		uint64_t next = meta->sb.nr_blocks, next_end = next;
		for (int i = 0; i < ABI_FS_MAX_INODES; i++) {
			const struct abi_fs_inode *d = &meta->inodes[i];
			if ((d->flags & ABI_FS_INODE_USED) && d->nr_blocks &&
			    d->start_block >= at && d->start_block < next) {
				next = d->start_block;
				next_end = d->start_block + d->nr_blocks;
			}
		}
		if (next - at > best_len) {
			best = at;
			best_len = next - at;
		}
		if (next >= meta->sb.nr_blocks)
			break;
		at = next_end;
	}
	*len = best_len < FS_CREATE_BLOCKS ? best_len : FS_CREATE_BLOCKS;
	return *len ? best : 0;
}

/*
 * The inode named `name`; with `create`, a missing file is created empty with
 * a fresh extent.  Returns NULL with *err -ABI_ENOENT, -ABI_ENOSPC (no free
 * inode or blocks).
 */
struct inode *fs_lookup(const char *name, int create, int *err)
{
	int free_slot = -1;
	for (int i = 0; i < ABI_FS_MAX_INODES; i++) {
		const struct abi_fs_inode *d = &meta->inodes[i];
		if (!(d->flags & ABI_FS_INODE_USED)) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (name_eq(d->name, name))
			return inode_get((uint32_t)i);
	}
	if (!create) {
		*err = -ABI_ENOENT;
		return NULL;
	}
	uint64_t len, start = alloc_extent(&len);
	if (free_slot < 0 || !start) {
		*err = -ABI_ENOSPC;
		return NULL;
	}
	struct abi_fs_inode *d = &meta->inodes[free_slot];
	for (int k = 0; k < ABI_FS_NAME_MAX && name[k]; k++)
		d->name[k] = name[k];
	d->start_block = start;
	d->nr_blocks = len;
	d->size = 0;
	d->flags = ABI_FS_INODE_USED;
	meta_dirty = 1;
	return inode_get((uint32_t)free_slot);
}

/* The 512-byte sector where page `index` of ip lives on disk. */
uint64_t fs_sector(struct inode *ip, uint64_t index)
{
	if (index >= ip->npages)
		panic("file page %lu beyond the extent of inode %u", index, ip->ino);
	return (ip->d->start_block + index) * (ABI_FS_BLOCK / 512);
}

/* Set a file's size (within its extent). */
int fs_set_size(struct inode *ip, uint64_t size)
{
	if (size > ip->npages * ABI_FS_BLOCK)
		return -ABI_EFBIG;
	if (ip->d->size != size) {
		ip->d->size = size;
		meta_dirty = 1;
	}
	return 0;
}

/* Write the metadata block if anything in it changed. */
int fs_write_meta(void)
{
	if (!meta_dirty)
		return 0;
	meta->sb.generation++;
	meta->sb.csum = abi_fs_meta_csum(meta);
	int err = blk_rw(1, 0, V2P(meta), ABI_FS_BLOCK);
	if (!err)
		meta_dirty = 0;
	return err;
}

/*
 * read(2)/write(2) body: move len bytes between user memory at uva and the
 * file at off, page by page through the page cache.  Reads stop at the file
 * size; writes stop at the extent and grow the size.  Returns bytes moved,
 * or -errno if nothing was.
 */
int64_t file_rw(struct file *f, uint64_t uva, uint64_t len, uint64_t off, int write)
{
	struct inode *ip = f->ip;
	uint64_t limit = write ? ip->npages * ABI_FS_BLOCK : ip->d->size;
	if (off >= limit)
		return write && len ? -ABI_EFBIG : 0;
	if (len > limit - off)
		len = limit - off;
	uint64_t done = 0;
	while (done < len) {
		uint64_t pos = off + done, in = pos % ABI_PAGE_SIZE;
		uint64_t n = ABI_PAGE_SIZE - in < len - done ? ABI_PAGE_SIZE - in : len - done;
		int err = 0;
		struct page *pg = pc_get(ip, pos / ABI_PAGE_SIZE, 1, &err);
		if (!pg)
			return done ? (int64_t)done : err;
		char *kva = (char *)P2V(page_pa(pg)) + in;
		/* Resolving the user buffer may need memory, and reclaim must not
		 * take the page we are copying to or from. */
		pg->flags |= PG_PINNED;
		err = write ? copy_in(&current->mm, kva, uva + done, n)
			    : copy_out(&current->mm, uva + done, kva, n);
		pg->flags &= ~PG_PINNED;
		if (err)
			return done ? (int64_t)done : err;
		if (write) {
			pc_set_dirty(pg);
			if (pos + n > ip->d->size)
				fs_set_size(ip, pos + n);
		}
		done += n;
	}
	return (int64_t)done;
}
