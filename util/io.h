/*
 * Whole transfers.  read(2), write(2) and their positional forms may move
 * fewer bytes than asked, or stop at a signal; every caller in the project
 * wants all of it or an error, so the retry loops live here, once.
 */
#ifndef UTIL_IO_H
#define UTIL_IO_H

#include <stddef.h>
#include <stdio.h>
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

/*
 * Output streams (the table, JSON lines, listings) are flushed line by line
 * as they go, and checked only when the command ends: by then the errno of
 * the write that failed is long gone and the stream keeps only its error
 * flag.  io_flush() flushes f and, the first time a flush of f fails,
 * remembers that errno for io_stream_errno(), so the final "write failed"
 * line can say why (ENOSPC, EPIPE, EIO).  A few streams at a time (stdout
 * and the output files); io_stream_forget() before fclose, as the FILE
 * may be reused.  Returns 0 or -errno.
 */
int io_flush(FILE *f);

/* The errno of f's first failed io_flush, or 0 (none, or not known). */
int io_stream_errno(FILE *f);

/* Drop what io_flush remembered of f (call before fclose). */
void io_stream_forget(FILE *f);

/* The directory holding path ("." for a bare name), into dir: the one to
 * fsync after creating or renaming a file in it. */
void io_parent_dir(const char *path, char *dir, size_t len);

#endif
