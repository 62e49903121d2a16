/*
 * DSFS on the host: building, opening and reading the disk images whose
 * on-disk format include/abi/fs.h defines (docs/disk-format.md).
 *
 * Every function returns 0 (or a non-negative result) or -errno, and never
 * exits.  Functions that take `why` fill it with a one-line reason for
 * anything the caller got wrong (a bad spec, a corrupt image, an I/O error).
 * The reason does not name the subject (the image path, the --file
 * argument): the caller prefixes that, as in "dirtyscope: IMAGE: <why>".
 */
#ifndef FS_DSFS_H
#define FS_DSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/fs.h"
#include "util/fail.h"

/* One file to create: its length and the extent reserved for it. */
struct dsfs_file_spec {
	char name[ABI_FS_NAME_MAX + 1];
	uint64_t size;	   /* bytes; the file reads as `size` zero bytes */
	uint64_t capacity; /* bytes of extent, a multiple of 4096, >= size */
};

/* An open, validated image. */
struct dsfs_image {
	int fd;
	uint64_t size; /* bytes, a multiple of ABI_FS_BLOCK */
	struct abi_fs_meta meta;
};

/*
 * Check a file name as mkimage accepts it: 1..ABI_FS_NAME_MAX bytes of
 * printable ASCII, no '/', and not "." or "..".  DSFS itself only needs a
 * NUL-terminated non-empty name; the rest keeps names usable as guest paths
 * and on a terminal.  Returns 0 or -EINVAL with why.
 */
int dsfs_check_name(const char *name, char *why, size_t whylen);

/*
 * Parse "NAME:SIZE" or "NAME:SIZE:CAPACITY" (sizes as parse_size takes
 * them: 4096, 64K, 1M) into *out.  CAPACITY defaults to SIZE rounded up to
 * 4 KiB; given, it must be a multiple of 4 KiB and at least SIZE.  The name
 * is everything before the first ':', so it cannot contain one.  Returns 0,
 * or -EINVAL (-ERANGE for a size that overflows) with why; *out is written
 * only on success.
 */
int dsfs_parse_file_spec(const char *arg, struct dsfs_file_spec *out, char *why, size_t whylen);

/*
 * Fill *meta with the metadata block of an image of image_size bytes holding
 * files[0..n) laid out contiguously from block ABI_FS_DATA_START in the given
 * order, sealed with its checksum; generation 1 and a fresh random identity
 * (uuid).  Returns 0; -EINVAL with why
 * for a size that is not a positive multiple of 4096 or above DSFS's limit
 * (2^40 blocks), a bad name, size or capacity, a duplicate name, or more than
 * ABI_FS_MAX_INODES files; -ENOSPC with why, saying how many bytes the files
 * need against image_size, when they do not fit.
 */
int dsfs_build_meta(struct abi_fs_meta *meta, uint64_t image_size,
		    const struct dsfs_file_spec *files, int n, char *why, size_t whylen);

/* Chars of a formatted UUID with its NUL (dsfs_uuid_str). */
#define DSFS_UUID_STR 37

/*
 * The identity (abi_fs_super.uuid) of the image open at fd, read from its
 * superblock without validating the rest: all zero when block 0 is not
 * DSFS metadata (or the file is shorter than a superblock), so that only a
 * DSFS image can match an identity someone recorded.  Returns 0 or the
 * -errno of the read.
 */
int dsfs_identity(int fd, uint8_t uuid[16]);

/* Whether uuid is all zero: no identity (an image made before identities). */
bool dsfs_uuid_null(const uint8_t uuid[16]);

/* uuid as 36 lowercase hex-and-dash characters, or "none" when it is null;
 * returns buf. */
const char *dsfs_uuid_str(const uint8_t uuid[16], char buf[DSFS_UUID_STR]);

/* Recompute and store m's checksum after changing it. */
void dsfs_meta_seal(struct abi_fs_meta *m);

/*
 * Create the image at path: the metadata dsfs_build_meta makes, every other
 * byte zero.  The image is written sparse (ftruncate, then block 0) under a
 * temporary name in path's directory, fsynced and renamed over path, so path
 * is either the old file or the complete new image; a failure removes the
 * temporary.  An existing path must be a regular file (or a symbolic link to
 * one, whose target is replaced): a directory, device, FIFO or socket is
 * refused with -EINVAL rather than replaced.  Returns 0, the errors of
 * dsfs_build_meta, or another -errno with why naming the failed call.
 */
int dsfs_mkimage(const char *path, uint64_t image_size, const struct dsfs_file_spec *files, int n,
		 char *why, size_t whylen);

/*
 * Write the same image into the empty file open read-write at fd, one that
 * has no name (util/tmpfile.h), so it has no path to rename into place
 * (dsfs_unnamed.c).  Not synced: such a file is gone with the process.
 * Returns 0, the errors of dsfs_build_meta, or another -errno with why.
 */
int dsfs_mkimage_fd(int fd, uint64_t image_size, const struct dsfs_file_spec *files, int n,
		    char *why, size_t whylen);

/*
 * Open the image at path with flags O_RDONLY or O_RDWR, read its metadata
 * block and validate it with abi_fs_check() against the file's length.
 * Returns 0 with *img filled (close it with dsfs_close), or with why:
 * -EINVAL for an image that is not valid DSFS (corrupt, truncated, not a
 * multiple of 4096 bytes, not a dirtyscope image); -EISDIR or -ENODEV for a
 * directory or another non-regular file (never opened in a blocking way: a
 * FIFO does not hang); the open(2) error (-ENOENT, -EACCES) or -EIO.
 */
int dsfs_open(const char *path, int flags, struct dsfs_image *img, char *why, size_t whylen);

/*
 * What a failure of dsfs_open, dsfs_mkimage or dsfs_read_extent means
 * (util/fail.h), by the refusals documented above: an image that is not
 * valid DSFS, or a request DSFS refuses (-EINVAL), means `invalid` (mkimage
 * --check: a failed check; elsewhere an input error); an I/O error or no
 * memory is the host's (DS_FAIL_IO); anything else (a path, a permission, a
 * non-regular file, a size the file system refuses, a full disk) is input
 * the user can fix (DS_FAIL_USAGE).  In dsfs_fail.c.
 */
enum ds_fail dsfs_fail(int err, enum ds_fail invalid);

/* Close an image dsfs_open filled; safe to call twice. */
void dsfs_close(struct dsfs_image *img);

/* Index of the used inode named `name`, or -ENOENT. */
int dsfs_find(const struct dsfs_image *img, const char *name);

/*
 * Read inode ino's first `size` bytes (the file's contents) into a malloc'd
 * buffer *buf (free it; non-NULL even for an empty file), its length in
 * *len.  Returns 0, -EINVAL for an unused or out-of-range inode, -ENOMEM,
 * or -EIO (also when the image ends early).
 */
int dsfs_read_file(const struct dsfs_image *img, int ino, uint8_t **buf, uint64_t *len);

/* As dsfs_read_file, but the whole extent: nr_blocks * 4096 bytes. */
int dsfs_read_extent(const struct dsfs_image *img, int ino, uint8_t **buf, uint64_t *len);

/*
 * Whether inode ino's whole extent is zero, read in fixed-size chunks (holes
 * skipped), so an image of any size is checked in bounded memory.  Returns
 * 1 (all zero), 0 (a nonzero byte), -EINVAL for an unused or out-of-range
 * inode, -ENOMEM, or -EIO (also when the image ends early).
 */
int dsfs_extent_zero(const struct dsfs_image *img, int ino);

/*
 * Hash every byte of the image outside the metadata block and outside every
 * used inode's extent (free blocks, and any blocks past the superblock's
 * nr_blocks), into *hash.  A test hashes before and after a guest run to
 * prove the guest wrote nothing outside its files' extents.  Zero 8-byte
 * words do not contribute, so holes of a sparse image are skipped without
 * reading them; each nonzero word contributes its value and its offset.
 * Returns 0, -ENOMEM or -EIO.
 */
int dsfs_hash_outside_extents(const struct dsfs_image *img, uint64_t *hash);

#endif
