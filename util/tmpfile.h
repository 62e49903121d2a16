/*
 * Temporary files that have no name: a process killed with SIGKILL, which
 * runs no cleanup, leaves nothing behind, since the kernel frees a file
 * without a name when its last descriptor closes.  A path that reaches such
 * a file, for code that opens by path, is /proc/self/fd/N.
 */
#ifndef UTIL_TMPFILE_H
#define UTIL_TMPFILE_H

/*
 * Create an empty file, mode 0600, open read-write (close-on-exec), in the
 * directory dir, without a name: O_TMPFILE, or, on a file system without it,
 * a unique name (dirtyscope-XXXXXX) unlinked at once.  Returns the
 * descriptor, or -errno (the directory's: missing, not writable).
 */
int tmpfile_open(const char *dir);

#endif
