/* The disk image's lock (util/filelock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "util/filelock.h"

/* Who holds a conflicting lock.  An OFD lock has no owning process
 * (F_OFD_GETLK reports pid -1), so ask the classic F_GETLK, which names a
 * process for a classic lock, and say "another dirtyscope" otherwise. */
static int busy(int fd, char *why, size_t whylen)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (!fcntl(fd, F_GETLK, &fl) && fl.l_type != F_UNLCK && fl.l_pid > 0)
		snprintf(why, whylen, "in use by process %d", (int)fl.l_pid);
	else
		snprintf(why, whylen, "in use by another dirtyscope");
	return -EBUSY;
}

int filelock_take(int fd, bool exclusive, char *why, size_t whylen)
{
	struct flock fl = {.l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET};
	if (!fcntl(fd, F_OFD_SETLK, &fl))
		return 0;
	int err = errno;
	if (err == EAGAIN || err == EACCES)
		return busy(fd, why, whylen);
	snprintf(why, whylen, "cannot lock: %s", strerror(err));
	return -err;
}

int filelock_probe(int fd, char *why, size_t whylen)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_OFD_GETLK, &fl)) {
		int err = errno;
		snprintf(why, whylen, "cannot query its lock: %s", strerror(err));
		return -err;
	}
	return fl.l_type == F_UNLCK ? 0 : busy(fd, why, whylen);
}
