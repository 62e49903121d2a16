/*
 * The category of a journal failure (journal.h): the one place that reads
 * the journal's documented refusals, so that neither the session nor the
 * commands derive an exit code from an errno.
 */
#include <errno.h>

#include "logger/hostwb/journal.h"

enum ds_fail journal_fail(int err, enum ds_fail invalid)
{
	switch (err) {
	case 0:
		return DS_FAIL_NONE;
	case -EPROTO: /* not a dirtyscope journal, or another image's */
		return invalid;
	case -ENODEV: /* not a regular file: an input error in every command */
	case -EBUSY:  /* in use by another process (the journal's or the image's lock) */
	case -ENOENT:
	case -EACCES:
	case -EPERM:
	case -EISDIR:
	case -ENAMETOOLONG:
	case -ENOTDIR:
	case -ELOOP:
		return DS_FAIL_USAGE;
	default:
		return DS_FAIL_IO;
	}
}
