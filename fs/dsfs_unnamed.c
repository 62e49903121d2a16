/*
 * A DSFS image written into a file that is already open and has no name
 * (fs/dsfs.h, dsfs_mkimage_fd): the temporary image of a run without
 * --image.  dsfs_mkimage cannot serve it: it renames a finished image into
 * place, and a file without a name has no place to rename into.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "abi/fs.h"
#include "fs/dsfs.h"
#include "util/io.h"

int dsfs_mkimage_fd(int fd, uint64_t image_size, const struct dsfs_file_spec *files, int n,
		    char *why, size_t whylen)
{
	struct abi_fs_meta meta;
	int ret = dsfs_build_meta(&meta, image_size, files, n, why, whylen);
	if (ret)
		return ret;
	/* Sparse, as dsfs_mkimage writes it: the data reads as zeros and
	 * costs nothing until the guest writes.  No fsync: a file without a
	 * name does not outlive the process, so nothing could read it after
	 * a crash. */
	if (ftruncate(fd, (off_t)image_size)) {
		ret = -errno;
		snprintf(why, whylen, "cannot extend it to %llu bytes: %s",
			 (unsigned long long)image_size, strerror(errno));
		return ret;
	}
	ret = io_pwrite_full(fd, &meta, sizeof(meta), ABI_FS_META_BLOCK * ABI_FS_BLOCK);
	if (ret)
		snprintf(why, whylen, "cannot write the metadata block: %s", strerror(-ret));
	return ret;
}
