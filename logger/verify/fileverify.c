/* The image check of file workloads (fileverify.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "abi/wlfile.h"
#include "fs/dsfs.h"
#include "logger/verify/expect.h"
#include "logger/verify/fileverify.h"

struct abi_wl_args fileverify_args(const struct boot_workload *wl)
{
	return (struct abi_wl_args){
	    .workload = wl->workload,
	    .epochs = wl->epochs,
	    .seed = wl->seed,
	    .pages = wl->wss_pages,
	    .writes = wl->writes_per_epoch,
	    .sync_every = wl->sync_every,
	    .writers = abi_wl_writers(wl->workload, wl->nr_cpus ? wl->nr_cpus : 1),
	};
}

long fileverify_image(const char *path, const struct boot_workload *wl, FILE *err)
{
	struct abi_wl_args a = fileverify_args(wl);
	const char *name = abi_wl_file_name(wl->workload);
	uint8_t *want = NULL, *got = NULL;
	uint64_t want_len, got_len;
	int ret = expect_content(&a, &want, &want_len);
	if (ret == -ENOENT)
		return 0; /* nothing to compare (badsys, badblk) */
	if (ret) {
		fprintf(err, "dirtyscope: verify: cannot compute the expected content: %s\n",
			strerror(-ret));
		return ret;
	}
	struct dsfs_image img;
	char why[256];
	/* The guest rewrote the metadata block: it must still be valid DSFS. */
	ret = dsfs_open(path, O_RDONLY, &img, why, sizeof(why));
	if (ret) {
		fprintf(err, "dirtyscope: verify: %s: %s\n", path, why);
		free(want);
		return ret; /* -EINVAL: no longer valid DSFS; else an I/O error */
	}
	long bad;
	int ino = dsfs_find(&img, name);
	if (ino < 0) {
		fprintf(err, "dirtyscope: verify: %s: file '%s' is gone\n", path, name);
		bad = -EINVAL;
	} else if ((ret = dsfs_read_file(&img, ino, &got, &got_len))) {
		fprintf(err, "dirtyscope: verify: %s: cannot read file '%s': %s\n", path, name,
			strerror(-ret));
		bad = ret;
	} else {
		bad = (long)expect_diff(name, got, got_len, want, want_len, err, 8);
		if (bad)
			fprintf(err,
				"dirtyscope: verify: image %s: %ld pages of file '%s' differ from "
				"what the workload wrote\n",
				path, bad, name);
	}
	free(got);
	free(want);
	dsfs_close(&img);
	return bad;
}

enum ds_fail fileverify_fail(long result)
{
	if (!result)
		return DS_FAIL_NONE;
	return result > 0 || result == -EINVAL ? DS_FAIL_CHECK : DS_FAIL_IO;
}
