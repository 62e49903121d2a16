/*
 * DSFS on the host: parse file specs, lay files out, write images, and open
 * and read them back.  The layout rules live in one place, abi_fs_check()
 * (include/abi/fs.h), which the guest runs too; everything written here is
 * checked against it, so the host cannot produce an image the guest refuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "abi/fnv.h"
#include "fs/dsfs.h"
#include "util/esc.h"
#include "util/io.h"
#include "util/parse.h"

/* The first used inode whose name holds a byte abi_fs_check refuses as not
 * printable, or -1. */
static int unprintable_name(const struct abi_fs_meta *m)
{
	for (int i = 0; i < ABI_FS_MAX_INODES; i++) {
		const struct abi_fs_inode *in = &m->inodes[i];
		if (!(in->flags & ABI_FS_INODE_USED))
			continue;
		for (int k = 0; k < ABI_FS_NAME_MAX && in->name[k]; k++)
			if ((unsigned char)in->name[k] < 0x20 || (unsigned char)in->name[k] > 0x7e)
				return i;
	}
	return -1;
}

/* Largest image: abi_fs_check() refuses a block count above 2^40.  This also
 * keeps every byte offset (2^52 at most) well inside off_t. */
#define DSFS_MAX_BLOCKS (1ULL << 40)

static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fill why (if any) and return err, so error paths read "return fail(...)". */
static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

int dsfs_check_name(const char *name, char *why, size_t whylen)
{
	size_t len = strnlen(name, ABI_FS_NAME_MAX + 1);

	if (len == 0)
		return fail(why, whylen, -EINVAL, "file name is empty");
	if (len > ABI_FS_NAME_MAX)
		return fail(why, whylen, -EINVAL, "file name '%.*s...' is longer than %d bytes",
			    ABI_FS_NAME_MAX, name, ABI_FS_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c > 0x7e)
			return fail(why, whylen, -EINVAL,
				    "file name has a non-printable byte 0x%02x at offset %zu", c,
				    i);
		if (c == '/')
			return fail(why, whylen, -EINVAL, "file name '%s' contains '/'", name);
	}
	/* The guest resolves paths; "." and ".." would mean something else there. */
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return fail(why, whylen, -EINVAL, "file name '%s' is reserved", name);
	return 0;
}

/* Parse one size field of a spec; `what` is "SIZE" or "CAPACITY". */
static int parse_field(const char *s, size_t len, const char *what, uint64_t *out, char *why,
		       size_t whylen)
{
	char buf[64];
	int ret;

	if (len == 0)
		return fail(why, whylen, -EINVAL, "%s is empty (expected NAME:SIZE[:CAPACITY])",
			    what);
	if (len >= sizeof(buf))
		return fail(why, whylen, -EINVAL, "%s '%.20s...' is not a size", what, s);
	memcpy(buf, s, len);
	buf[len] = '\0';
	ret = parse_size(buf, out);
	if (ret == -ERANGE)
		return fail(why, whylen, -ERANGE, "%s '%s' is too large", what, buf);
	if (ret)
		return fail(why, whylen, -EINVAL, "%s '%s' is not a size (e.g. 4096, 64K, 1M)",
			    what, buf);
	return 0;
}

int dsfs_parse_file_spec(const char *arg, struct dsfs_file_spec *out, char *why, size_t whylen)
{
	struct dsfs_file_spec spec = {0};
	const char *c1 = strchr(arg, ':'), *c2, *size_end;
	size_t name_len;
	int ret;

	if (!c1)
		return fail(why, whylen, -EINVAL, "expected NAME:SIZE or NAME:SIZE:CAPACITY");
	name_len = (size_t)(c1 - arg);
	if (name_len > ABI_FS_NAME_MAX)
		return fail(why, whylen, -EINVAL, "file name '%.*s...' is longer than %d bytes",
			    ABI_FS_NAME_MAX, arg, ABI_FS_NAME_MAX);
	memcpy(spec.name, arg, name_len);
	ret = dsfs_check_name(spec.name, why, whylen);
	if (ret)
		return ret;

	c2 = strchr(c1 + 1, ':');
	size_end = c2 ? c2 : c1 + 1 + strlen(c1 + 1);
	ret = parse_field(c1 + 1, (size_t)(size_end - (c1 + 1)), "SIZE", &spec.size, why, whylen);
	if (ret)
		return ret;
	if (c2) {
		if (strchr(c2 + 1, ':'))
			return fail(why, whylen, -EINVAL,
				    "too many ':' (expected NAME:SIZE or NAME:SIZE:CAPACITY)");
		ret = parse_field(c2 + 1, strlen(c2 + 1), "CAPACITY", &spec.capacity, why, whylen);
		if (ret)
			return ret;
		if (spec.capacity % ABI_FS_BLOCK)
			return fail(why, whylen, -EINVAL,
				    "CAPACITY %llu is not a multiple of 4K (4096 bytes)",
				    (unsigned long long)spec.capacity);
		if (spec.capacity < spec.size)
			return fail(why, whylen, -EINVAL, "CAPACITY %llu is smaller than SIZE %llu",
				    (unsigned long long)spec.capacity,
				    (unsigned long long)spec.size);
	} else {
		if (spec.size > UINT64_MAX - (ABI_FS_BLOCK - 1))
			return fail(why, whylen, -ERANGE, "SIZE %llu is too large",
				    (unsigned long long)spec.size);
		spec.capacity = (spec.size + ABI_FS_BLOCK - 1) & ~(uint64_t)(ABI_FS_BLOCK - 1);
	}
	*out = spec;
	return 0;
}

void dsfs_meta_seal(struct abi_fs_meta *m)
{
	m->sb.csum = abi_fs_meta_csum(m);
}

int dsfs_build_meta(struct abi_fs_meta *meta, uint64_t image_size,
		    const struct dsfs_file_spec *files, int n, char *why, size_t whylen)
{
	uint64_t blocks = image_size / ABI_FS_BLOCK, next = ABI_FS_DATA_START;
	int ret;

	memset(meta, 0, sizeof(*meta));
	if (image_size == 0 || image_size % ABI_FS_BLOCK)
		return fail(why, whylen, -EINVAL,
			    "image size %llu is not a positive multiple of 4K (4096 bytes)",
			    (unsigned long long)image_size);
	if (blocks > DSFS_MAX_BLOCKS)
		return fail(why, whylen, -EINVAL,
			    "image size %llu exceeds DSFS's limit of 2^40 blocks (4 PiB)",
			    (unsigned long long)image_size);
	if (n < 0 || n > ABI_FS_MAX_INODES)
		return fail(why, whylen, -EINVAL, "%d files: an image holds at most %d", n,
			    ABI_FS_MAX_INODES);

	for (int i = 0; i < n; i++) {
		const struct dsfs_file_spec *f = &files[i];
		struct abi_fs_inode *ino = &meta->inodes[i];

		ret = dsfs_check_name(f->name, why, whylen);
		if (ret)
			return ret;
		if (f->capacity % ABI_FS_BLOCK || f->capacity < f->size)
			return fail(why, whylen, -EINVAL,
				    "file '%s': capacity %llu is not a multiple of 4096 at least "
				    "its size %llu",
				    f->name, (unsigned long long)f->capacity,
				    (unsigned long long)f->size);
		if (f->capacity / ABI_FS_BLOCK > DSFS_MAX_BLOCKS)
			return fail(why, whylen, -EINVAL,
				    "file '%s': capacity %llu exceeds DSFS's limit", f->name,
				    (unsigned long long)f->capacity);
		for (int j = 0; j < i; j++)
			if (!strcmp(files[j].name, f->name))
				return fail(why, whylen, -EINVAL, "two files named '%s'", f->name);
		/* f->name is terminated within the field: dsfs_check_name measured it. */
		memcpy(ino->name, f->name, strlen(f->name));
		ino->size = f->size;
		ino->start_block = next;
		ino->nr_blocks = f->capacity / ABI_FS_BLOCK;
		ino->flags = ABI_FS_INODE_USED;
		/* At most 63 extents of at most 2^40 blocks: no overflow. */
		next += ino->nr_blocks;
	}
	if (next > blocks)
		return fail(why, whylen, -ENOSPC,
			    "the files need %llu bytes (4096 of metadata and %llu of extents) but "
			    "the image is %llu bytes",
			    (unsigned long long)(next * ABI_FS_BLOCK),
			    (unsigned long long)((next - ABI_FS_DATA_START) * ABI_FS_BLOCK),
			    (unsigned long long)image_size);

	meta->sb.magic = ABI_FS_MAGIC;
	meta->sb.version = ABI_FS_VERSION;
	meta->sb.block_size = ABI_FS_BLOCK;
	meta->sb.nr_blocks = blocks;
	meta->sb.nr_inodes = ABI_FS_MAX_INODES;
	meta->sb.generation = 1;
	/* libuuid: a version 4 UUID from the kernel's random source, formatted
	 * the way every other tool prints one; nothing here is worth writing
	 * again. */
	uuid_generate_random(meta->sb.uuid);
	dsfs_meta_seal(meta);
	return 0;
}

int dsfs_identity(int fd, uint8_t uuid[16])
{
	struct abi_fs_super sb;
	int ret = io_pread_full(fd, &sb, sizeof(sb), ABI_FS_META_BLOCK * ABI_FS_BLOCK);
	memset(uuid, 0, 16);
	if (ret == -ENODATA)
		return 0;
	if (ret)
		return ret;
	if (sb.magic == ABI_FS_MAGIC)
		memcpy(uuid, sb.uuid, 16);
	return 0;
}

bool dsfs_uuid_null(const uint8_t uuid[16])
{
	return uuid_is_null(uuid);
}

const char *dsfs_uuid_str(const uint8_t uuid[16], char buf[DSFS_UUID_STR])
{
	if (uuid_is_null(uuid))
		snprintf(buf, DSFS_UUID_STR, "none");
	else
		uuid_unparse_lower(uuid, buf);
	return buf;
}

/*
 * Decide which file mkimage replaces.  A missing path is created.  An
 * existing regular file is replaced and its mode kept (*mode, else -1).  A
 * symbolic link is followed so that its target, not the link, is replaced.
 * Anything else is refused: renaming over a device node or FIFO would
 * silently swap it for a plain file (the same rule as `run --json`).
 */
static int resolve_target(const char *path, char *target, size_t len, int *mode, char *why,
			  size_t whylen)
{
	struct stat st;

	*mode = -1;
	if (lstat(path, &st)) {
		if (errno != ENOENT)
			return fail(why, whylen, -errno, "cannot stat: %s", strerror(errno));
		if (snprintf(target, len, "%s", path) >= (int)len)
			return fail(why, whylen, -ENAMETOOLONG, "path too long");
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		char *real = realpath(path, NULL);

		if (!real)
			return fail(why, whylen, -errno, "cannot follow symbolic link: %s",
				    strerror(errno));
		int too_long = snprintf(target, len, "%s", real) >= (int)len;
		free(real);
		if (too_long)
			return fail(why, whylen, -ENAMETOOLONG, "path too long");
		if (stat(target, &st))
			return fail(why, whylen, -errno, "cannot stat %s: %s", target,
				    strerror(errno));
	} else if (snprintf(target, len, "%s", path) >= (int)len) {
		return fail(why, whylen, -ENAMETOOLONG, "path too long");
	}
	if (S_ISDIR(st.st_mode))
		return fail(why, whylen, -EINVAL, "is a directory; refusing to replace it");
	if (!S_ISREG(st.st_mode))
		return fail(why, whylen, -EINVAL,
			    "is not a regular file (a device, FIFO or socket); refusing to "
			    "replace it");
	*mode = (int)(st.st_mode & 07777);
	return 0;
}

/* fsync the directory holding path, so the rename itself is durable. */
static void sync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd;

	io_parent_dir(path, dir, sizeof(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* Best effort: the image is complete and in place either way. */
	(void)fsync(fd);
	close(fd);
}

int dsfs_mkimage(const char *path, uint64_t image_size, const struct dsfs_file_spec *files, int n,
		 char *why, size_t whylen)
{
	struct abi_fs_meta meta;
	char target[PATH_MAX], tmp[PATH_MAX];
	int fd = -1, mode, ret;

	ret = dsfs_build_meta(&meta, image_size, files, n, why, whylen);
	if (ret)
		return ret;
	ret = resolve_target(path, target, sizeof(target), &mode, why, whylen);
	if (ret)
		return ret;

	/* Same directory as the target, so rename() is atomic and cannot cross
	 * file systems.  O_EXCL: never reuse a file someone else created. */
	for (unsigned int i = 0; fd < 0; i++) {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%u", target, (int)getpid(), i) >=
		    (int)sizeof(tmp))
			return fail(why, whylen, -ENAMETOOLONG, "path too long");
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && (errno != EEXIST || i == 99))
			return fail(why, whylen, -errno, "cannot create %s: %s", tmp,
				    strerror(errno));
	}

	if (mode >= 0 && fchmod(fd, (mode_t)mode)) {
		ret = fail(why, whylen, -errno, "cannot set the mode of %s: %s", tmp,
			   strerror(errno));
		goto unlink_tmp;
	}
	/* The data is all zero: a sparse file of the full length reads as zeros
	 * and costs no disk space until the guest writes. */
	if (ftruncate(fd, (off_t)image_size)) {
		ret = fail(why, whylen, -errno, "cannot extend %s to %llu bytes: %s", tmp,
			   (unsigned long long)image_size, strerror(errno));
		goto unlink_tmp;
	}
	ret = io_pwrite_full(fd, &meta, sizeof(meta), ABI_FS_META_BLOCK * ABI_FS_BLOCK);
	if (ret) {
		fail(why, whylen, ret, "cannot write the metadata block of %s: %s", tmp,
		     strerror(-ret));
		goto unlink_tmp;
	}
	if (fsync(fd)) {
		ret = fail(why, whylen, -errno, "fsync %s: %s", tmp, strerror(errno));
		goto unlink_tmp;
	}
	/* close() can report a deferred write error (NFS): check it. */
	ret = close(fd);
	fd = -1;
	if (ret) {
		ret = fail(why, whylen, -errno, "close %s: %s", tmp, strerror(errno));
		goto unlink_tmp;
	}
	if (rename(tmp, target)) {
		ret = fail(why, whylen, -errno, "cannot rename %s to %s: %s", tmp, target,
			   strerror(errno));
		goto unlink_tmp;
	}
	sync_parent_dir(target);
	return 0;

unlink_tmp:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return ret;
}

int dsfs_open(const char *path, int flags, struct dsfs_image *img, char *why, size_t whylen)
{
	const char *reason;
	struct stat st;
	int fl, ret;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (flags != O_RDONLY && flags != O_RDWR)
		return fail(why, whylen, -EINVAL, "open flags must be O_RDONLY or O_RDWR");
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused
	 * below as not a regular file. */
	img->fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);
	if (img->fd < 0)
		return fail(why, whylen, -errno, "cannot open: %s", strerror(errno));
	if (fstat(img->fd, &st)) {
		ret = fail(why, whylen, -errno, "fstat: %s", strerror(errno));
		goto close_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = fail(why, whylen, -EISDIR, "is a directory, not an image");
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail(why, whylen, -ENODEV, "not a regular file");
		goto close_fd;
	}
	fl = fcntl(img->fd, F_GETFL);
	if (fl < 0 || fcntl(img->fd, F_SETFL, fl & ~O_NONBLOCK)) {
		ret = fail(why, whylen, -errno, "fcntl: %s", strerror(errno));
		goto close_fd;
	}
	img->size = (uint64_t)st.st_size;
	if (img->size < ABI_FS_BLOCK) {
		ret = fail(why, whylen, -EINVAL,
			   "not a dirtyscope image (%llu bytes, shorter than the 4096-byte "
			   "metadata block)",
			   (unsigned long long)img->size);
		goto close_fd;
	}
	ret =
	    io_pread_full(img->fd, &img->meta, sizeof(img->meta), ABI_FS_META_BLOCK * ABI_FS_BLOCK);
	if (ret) {
		fail(why, whylen, ret, "cannot read the metadata block: %s", strerror(-ret));
		goto close_fd;
	}
	/* Checked before the length's alignment: for a file that is not DSFS at
	 * all, "bad magic" says more than "not a multiple of 4096". */
	if (abi_fs_check(&img->meta, img->size / ABI_FS_BLOCK, &reason)) {
		int ino = -1;
		if (!strcmp(reason, ABI_FS_WHY_NAME_UNPRINTABLE))
			ino = unprintable_name(&img->meta);
		if (ino >= 0) {
			/* Which file: its name escaped, every byte outside
			 * 0x20..0x7e as \xNN, so the reason stays one line and
			 * drives no terminal. */
			char raw[ABI_FS_NAME_MAX + 1], safe[4 * ABI_FS_NAME_MAX + 1];
			memcpy(raw, img->meta.inodes[ino].name, ABI_FS_NAME_MAX);
			raw[ABI_FS_NAME_MAX] = 0;
			ret = fail(why, whylen, -EINVAL,
				   "inode %d name \"%s\" holds a byte that is "
				   "not printable ASCII",
				   ino, esc_str(safe, sizeof(safe), raw, false));
		} else {
			ret = fail(why, whylen, -EINVAL, "%s", reason);
		}
		goto close_fd;
	}
	if (img->size % ABI_FS_BLOCK) {
		ret = fail(why, whylen, -EINVAL,
			   "image size %llu is not a multiple of 4096 (truncated or appended to)",
			   (unsigned long long)img->size);
		goto close_fd;
	}
	return 0;

close_fd:
	close(img->fd);
	img->fd = -1;
	return ret;
}

void dsfs_close(struct dsfs_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

int dsfs_find(const struct dsfs_image *img, const char *name)
{
	for (int i = 0; i < ABI_FS_MAX_INODES; i++) {
		const struct abi_fs_inode *ino = &img->meta.inodes[i];

		/* abi_fs_check() proved every used name is terminated. */
		if ((ino->flags & ABI_FS_INODE_USED) && !strcmp(ino->name, name))
			return i;
	}
	return -ENOENT;
}

/* Read len bytes of inode ino's extent into a new buffer. */
static int read_inode(const struct dsfs_image *img, int ino, int whole, uint8_t **buf,
		      uint64_t *len)
{
	const struct abi_fs_inode *in;
	uint64_t n;
	uint8_t *p;
	int ret;

	if (ino < 0 || ino >= ABI_FS_MAX_INODES)
		return -EINVAL;
	in = &img->meta.inodes[ino];
	if (!(in->flags & ABI_FS_INODE_USED))
		return -EINVAL;
	n = whole ? in->nr_blocks * ABI_FS_BLOCK : in->size;
	if (n > SIZE_MAX - 1)
		return -ENOMEM;
	p = malloc(n ? n : 1);
	if (!p)
		return -ENOMEM;
	ret = io_pread_full(img->fd, p, n, in->start_block * ABI_FS_BLOCK);
	if (ret) {
		free(p);
		return ret;
	}
	*buf = p;
	*len = n;
	return 0;
}

int dsfs_read_file(const struct dsfs_image *img, int ino, uint8_t **buf, uint64_t *len)
{
	return read_inode(img, ino, 0, buf, len);
}

int dsfs_read_extent(const struct dsfs_image *img, int ino, uint8_t **buf, uint64_t *len)
{
	return read_inode(img, ino, 1, buf, len);
}

#define HASH_CHUNK (64 * 1024)

int dsfs_extent_zero(const struct dsfs_image *img, int ino)
{
	if (ino < 0 || ino >= ABI_FS_MAX_INODES ||
	    !(img->meta.inodes[ino].flags & ABI_FS_INODE_USED))
		return -EINVAL;
	const struct abi_fs_inode *in = &img->meta.inodes[ino];
	uint64_t off = in->start_block * ABI_FS_BLOCK;
	uint64_t end = off + in->nr_blocks * ABI_FS_BLOCK;
	uint64_t *buf = malloc(HASH_CHUNK);

	if (!buf)
		return -ENOMEM;
	int ret = 1;
	while (off < end && ret == 1) {
		/* A hole reads as zeros: skip to the next data, if any. */
		off_t data = lseek(img->fd, (off_t)off, SEEK_DATA);
		if (data < 0) {
			ret = errno == ENXIO ? 1 : -errno;
			break;
		}
		if ((uint64_t)data >= end)
			break;
		off = (uint64_t)data > off ? (uint64_t)data : off;
		size_t n = end - off < HASH_CHUNK ? (size_t)(end - off) : HASH_CHUNK;
		int r = io_pread_full(img->fd, buf, n, off);
		if (r) {
			ret = r == -ENODATA ? -EIO : r;
			break;
		}
		const uint8_t *b = (const uint8_t *)buf;
		for (size_t i = 0; i < n; i++)
			if (b[i]) {
				ret = 0;
				break;
			}
		off += n;
	}
	free(buf);
	return ret;
}

/* Fold the nonzero words of bytes [off, end) into *h; both are 8-aligned. */
static int hash_range(int fd, uint64_t off, uint64_t end, uint8_t *buf, uint64_t *h)
{
	while (off < end) {
		/* Skip holes: they read as zeros, which do not contribute.  A file
		 * system without SEEK_DATA reports everything as data. */
		off_t data = lseek(fd, (off_t)off, SEEK_DATA);

		if (data < 0)
			return errno == ENXIO ? 0 : -errno; /* ENXIO: no data past off */
		if ((uint64_t)data >= end)
			return 0;
		if ((uint64_t)data > off)
			off = (uint64_t)data & ~7ULL;
		off_t hole = lseek(fd, (off_t)off, SEEK_HOLE);
		uint64_t stop = hole < 0 ? end : ((uint64_t)hole + 7) & ~7ULL;

		if (stop > end)
			stop = end;
		while (off < stop) {
			size_t n = stop - off < HASH_CHUNK ? (size_t)(stop - off) : HASH_CHUNK;
			int ret = io_pread_full(fd, buf, n, off);

			if (ret)
				return ret;
			for (size_t i = 0; i < n; i += 8) {
				uint64_t w;

				memcpy(&w, buf + i, 8);
				if (w) {
					*h = abi_fnv_step(*h, off + i);
					*h = abi_fnv_step(*h, w);
				}
			}
			off += n;
		}
	}
	return 0;
}

int dsfs_hash_outside_extents(const struct dsfs_image *img, uint64_t *hash)
{
	/* Covered block ranges, sorted by start: the metadata block and every
	 * used extent (abi_fs_check() proved they do not overlap). */
	uint64_t start[ABI_FS_MAX_INODES + 1], end[ABI_FS_MAX_INODES + 1];
	uint64_t h = ABI_FNV_BASIS, pos = 0;
	int nr = 0, ret = 0;
	uint8_t *buf;

	start[nr] = ABI_FS_META_BLOCK;
	end[nr++] = ABI_FS_META_BLOCK + 1;
	for (int i = 0; i < ABI_FS_MAX_INODES; i++) {
		const struct abi_fs_inode *in = &img->meta.inodes[i];
		int k;

		if (!(in->flags & ABI_FS_INODE_USED) || !in->nr_blocks)
			continue;
		for (k = nr; k > 0 && start[k - 1] > in->start_block; k--) {
			start[k] = start[k - 1];
			end[k] = end[k - 1];
		}
		start[k] = in->start_block;
		end[k] = in->start_block + in->nr_blocks;
		nr++;
	}

	buf = malloc(HASH_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (int k = 0; k <= nr && !ret; k++) {
		uint64_t stop = k < nr ? start[k] * ABI_FS_BLOCK : img->size;

		if (stop > pos)
			ret = hash_range(img->fd, pos, stop, buf, &h);
		if (k < nr)
			pos = end[k] * ABI_FS_BLOCK;
	}
	free(buf);
	if (ret)
		return ret;
	*hash = h;
	return 0;
}
