/*
 * The journal of an image without a name (logger/hostwb/journal.h,
 * journal_open_unnamed): `run --writeback host` without --image.  The
 * temporary image has no name so that a kill -9 cannot leave it behind
 * (util/tmpfile.h); its journal must not either, and could not be found
 * beside it anyway, since IMAGE.journal needs IMAGE's name.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/dsfs.h"
#include "logger/hostwb/journal_int.h"
#include "util/tmpfile.h"

int journal_open_unnamed(struct journal *j, const char *dir, int image_fd, char *why, size_t whylen)
{
	struct stat st;
	int ret;

	memset(j, 0, sizeof(*j));
	j->image_fd = image_fd;
	j->fd = -1;
	/* Messages name the journal by this: it has no path of its own. */
	if (snprintf(j->path, sizeof(j->path), "unnamed journal in %s", dir) >=
	    (int)sizeof(j->path))
		return journal_why(why, whylen, -ENAMETOOLONG, dir);
	if (fstat(image_fd, &st))
		return journal_why(why, whylen, -errno, "cannot stat the image");
	j->image_blocks = (uint64_t)st.st_size / BLOCK;
	/* The identity goes in the header, as in every journal: the format
	 * does not depend on how the file was made. */
	if ((ret = dsfs_identity(image_fd, j->uuid)))
		return journal_why(why, whylen, ret, "cannot read the image's identity");
	ret = tmpfile_open(dir);
	if (ret < 0)
		return journal_why_at(why, whylen, ret, j->path, "cannot create");
	j->fd = ret;
	struct jhdr h = {.image_blocks = j->image_blocks, .generation = 1};
	memcpy(h.uuid, j->uuid, sizeof(h.uuid));
	if ((ret = journal_write_header(j->fd, &h)) || (ret = journal_truncate(j->fd, BLOCK))) {
		journal_why_at(why, whylen, ret, j->path, "cannot write the header");
		journal_close(j);
		return ret;
	}
	j->generation = 1;
	j->end = BLOCK;
	j->checkpoint_bytes = JOURNAL_DEFAULT_CHECKPOINT_BYTES;
	return 0;
}
