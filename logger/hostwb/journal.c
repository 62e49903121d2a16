/*
 * What the journal's commit (journal_commit.c) and recovery
 * (journal_recover.c) share: whole writes, syncs and truncates that pass
 * through the tests' crash point, the error lines, and the header.  The
 * on-disk format is in journal_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "abi/fs.h"
#include "logger/hostwb/journal_int.h"
#include "util/io.h"

/* ---- I/O, with the tests' crash point ---- */

static uint64_t crash_after;
static int crash_torn;

void journal_test_crash_after(uint64_t n, int torn)
{
	crash_after = n;
	crash_torn = torn;
}

/* Count one I/O call; at the chosen one, die as kill -9 would.  Only
 * writes of at least a block tear: the header is smaller than a disk
 * sector, which a device writes whole. */
static void crash_point(int fd, const struct iovec *iov, size_t cnt, uint64_t off)
{
	if (!crash_after || --crash_after)
		return;
	size_t total = 0;
	for (size_t i = 0; iov && i < cnt; i++)
		total += iov[i].iov_len;
	if (crash_torn && total >= BLOCK) {
		size_t left = total / 2;
		for (size_t i = 0; i < cnt && left; i++) {
			size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
			(void)!pwrite(fd, iov[i].iov_base, n, (off_t)off);
			off += n;
			left -= n;
		}
	}
	_exit(137);
}

/* Write the whole iovec array at off, IOV_MAX entries per pwritev, retrying
 * short writes.  Consumes (modifies) iov.  Not io_pwrite_full: vectored, and
 * every call passes the crash point, which may tear it half-written. */
int journal_pwritev_all(int fd, struct iovec *iov, size_t cnt, uint64_t off)
{
	while (cnt) {
		size_t c = cnt < IOV_MAX ? cnt : IOV_MAX;
		crash_point(fd, iov, c, off);
		ssize_t n = pwritev(fd, iov, (int)c, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (uint64_t)n;
		size_t left = (size_t)n;
		while (cnt && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (left) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

int journal_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = {(void *)buf, len};
	return journal_pwritev_all(fd, &v, 1, off);
}

int journal_fdatasync(int fd)
{
	crash_point(fd, NULL, 0, 0);
	return fdatasync(fd) ? -errno : 0;
}

int journal_truncate(int fd, uint64_t len)
{
	crash_point(fd, NULL, 0, 0);
	return ftruncate(fd, (off_t)len) ? -errno : 0;
}

/* fsync the directory holding path, so a new journal's name is durable
 * before anything relies on the journal. */
int journal_sync_dir_of(const char *path)
{
	char dir[4096];
	io_parent_dir(path, dir, sizeof(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	crash_point(fd, NULL, 0, 0);
	int ret = fsync(fd) ? -errno : 0;
	close(fd);
	return ret;
}

int journal_why(char *why, size_t n, int err, const char *what)
{
	snprintf(why, n, "journal: %s: %s", what, strerror(-err));
	return err;
}

/* The same, naming the journal file. */
int journal_why_at(char *why, size_t n, int err, const char *path, const char *what)
{
	snprintf(why, n, "journal: %s: %s: %s", path, what, strerror(-err));
	return err;
}

/* Make room for need entries of size bytes at p (realloc'd, capacity in
 * *cap).  Returns the buffer, or NULL (p still valid) when out of memory. */
void *journal_grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = n > SIZE_MAX / size ? NULL : realloc(p, n * size);
	if (q)
		*cap = n;
	return q;
}

int journal_path(const char *image_path, char *buf, size_t len)
{
	return snprintf(buf, len, "%s.journal", image_path) >= (int)len ? -ENAMETOOLONG : 0;
}

int journal_write_header(int fd, const struct jhdr *hdr)
{
	struct jhdr h = *hdr;
	h.magic = JHDR_MAGIC;
	h.version = JVERSION;
	h.block_size = BLOCK;
	h.csum = abi_fs_csum((const uint64_t *)&h, WORDS(h));
	return journal_pwrite_all(fd, &h, sizeof(h), 0);
}
