/*
 * The disk image's lock: one writer per image, across processes and
 * threads (docs/cli.md, "Who may open an image").
 *
 * An open file description (OFD) lock, fcntl F_OFD_SETLK over the whole
 * file: it belongs to the open file, not the process, so it also excludes a
 * second open in the same process or thread (a classic POSIX lock would
 * not), it is dropped when the last descriptor of that open file closes,
 * and it is independent of the flock() the host writeback journal takes on
 * IMAGE.journal, so the two never wait on each other.  A process that must
 * open an image it holds a second time (to check it, to read it back) opens
 * it without a lock: only writers lock, and nothing here blocks.
 */
#ifndef UTIL_FILELOCK_H
#define UTIL_FILELOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Lock fd's file, exclusively (fd open for writing) or shared, without
 * waiting.  Returns 0; -EBUSY when another open file holds a conflicting
 * lock, with why naming the holder ("in use by process N" when the kernel
 * can say, else "in use by another dirtyscope"); or -errno with why. */
int filelock_take(int fd, bool exclusive, char *why, size_t whylen);

/* Would filelock_take(fd, true) succeed?  fd may be read-only.  Returns 0,
 * -EBUSY with why as above, or -errno with why.  Takes nothing. */
int filelock_probe(int fd, char *why, size_t whylen);

#endif
