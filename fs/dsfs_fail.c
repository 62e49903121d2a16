/* The category of a DSFS failure (fs/dsfs.h): the one place that reads the
 * refusals dsfs.c documents, so no command derives an exit code from an
 * errno. */
#include <errno.h>

#include "fs/dsfs.h"

enum ds_fail dsfs_fail(int err, enum ds_fail invalid)
{
	switch (err) {
	case 0:
		return DS_FAIL_NONE;
	case -EINVAL: /* not valid DSFS, or a request DSFS refuses */
		return invalid;
	case -EIO:
	case -ENOMEM:
		return DS_FAIL_IO;
	default: /* a path, a permission, a size the file system refuses */
		return DS_FAIL_USAGE;
	}
}
