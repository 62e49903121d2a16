/*
 * Whole transfers.  read(2), write(2) and their positional forms may move
 * fewer bytes than asked, or stop at a signal; every caller in the project
 * wants all of it or an error, so the retry loops live here, once.
 */
#ifndef UTIL_IO_H
#define UTIL_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read up to len bytes, retrying short reads and EINTR; fewer only at end
 * of file.  Returns the bytes read or -errno. */
ssize_t io_read_full(int fd, void *buf, size_t len);

/* Send all of buf on a socket (MSG_NOSIGNAL: a peer that hung up is -EPIPE,
 * not a SIGPIPE).  Returns 0, -errno, or -EIO when nothing moves. */
int io_send_full(int fd, const void *buf, size_t len);

/* pread exactly len bytes at off.  Returns 0, -ENODATA at end of file, or -errno. */
int io_pread_full(int fd, void *buf, uint64_t len, uint64_t off);

/* pwrite all of buf at off.  Returns 0, -errno, or -EIO when nothing moves. */
int io_pwrite_full(int fd, const void *buf, uint64_t len, uint64_t off);

/* The directory holding path ("." for a bare name), into dir: the one to
 * fsync after creating or renaming a file in it. */
void io_parent_dir(const char *path, char *dir, size_t len);

#endif
