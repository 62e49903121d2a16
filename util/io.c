/* Whole transfers (util/io.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/io.h"

ssize_t io_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int io_send_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int io_pread_full(int fd, void *buf, uint64_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ENODATA;
		p += r;
		len -= (uint64_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int io_pwrite_full(int fd, const void *buf, uint64_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		len -= (uint64_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

void io_parent_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* The first failure of each stream io_flush saw: a handful of streams
 * (stdout, a --json file, a --plot file), so a small table.  Not thread
 * safe: outputs are written by the main thread only. */
#define IO_STREAMS 8
static struct {
	FILE *f;
	int err;
} io_streams[IO_STREAMS];

int io_flush(FILE *f)
{
	if (!fflush(f))
		return 0;
	int err = errno ? errno : EIO;
	int free_slot = -1;
	for (int i = 0; i < IO_STREAMS; i++) {
		if (io_streams[i].f == f)
			return -err; /* the first failure is the cause */
		if (!io_streams[i].f && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0) {
		io_streams[free_slot].f = f;
		io_streams[free_slot].err = err;
	}
	return -err;
}

int io_stream_errno(FILE *f)
{
	for (int i = 0; i < IO_STREAMS; i++)
		if (io_streams[i].f == f)
			return io_streams[i].err;
	return 0;
}

void io_stream_forget(FILE *f)
{
	for (int i = 0; i < IO_STREAMS; i++)
		if (io_streams[i].f == f)
			io_streams[i].f = NULL;
}
