/* Temporary files that have no name (util/tmpfile.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/tmpfile.h"

int tmpfile_open(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* EOPNOTSUPP: the file system cannot make one; EISDIR: a kernel that
	 * does not know O_TMPFILE (it sees O_DIRECTORY | O_RDWR).  Any other
	 * error is the directory's, and the fallback would only repeat it. */
	if (errno != EOPNOTSUPP && errno != EISDIR)
		return -errno;
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/dirtyscope-XXXXXX", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The name lives only between these two calls: a SIGKILL just there is
	 * the one way to leave it behind. */
	if (unlink(path)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
