/*
 * The disk image of a file workload (tools/runimage.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi/boot.h"
#include "abi/wlfile.h"
#include "fs/dsfs.h"
#include "logger/hostwb/journal.h"
#include "tools/cli.h"
#include "tools/runimage.h"
#include "util/filelock.h"
#include "util/log.h"
#include "util/tmpfile.h"

/*
 * Before anything reads or recovers it: the image must be a regular file
 * that no other writer holds (util/filelock.h).  The lock itself is taken by
 * the session on the disk's own open file; this probe only lets the common
 * refusal say "--image PATH" and happen before KVM is opened.  A missing
 * image is left to the checks below, which say so.
 */
static enum ds_fail probe_user_image(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return DS_FAIL_NONE;
	struct stat st;
	enum ds_fail f = DS_FAIL_NONE;
	char why[128];
	if (fstat(fd, &st))
		f = DS_FAIL_NONE; /* the checks below open it again, and say why */
	else if (S_ISDIR(st.st_mode))
		f = usage_error("--image %s: is a directory, not an image", path);
	else if (!S_ISREG(st.st_mode))
		f = usage_error("--image %s: not a regular file (a device, FIFO or socket)", path);
	else if (filelock_probe(fd, why, sizeof(why)))
		f = usage_error("--image %s: %s", path, why);
	close(fd);
	return f;
}

/*
 * A previous run with host writeback may have died mid-commit: bring the
 * image to its last committed epoch before anything reads it (the same
 * recovery `dirtyscope recover` runs).  A missing image is left to the
 * image check, which says so.
 */
static enum ds_fail recover_user_image(const char *path)
{
	struct journal_status st;
	char why[512];
	int ret = journal_inspect(path, &st, why, sizeof(why));
	if (ret == -ENOENT || (!ret && (st.state == JOURNAL_NONE || st.state == JOURNAL_CLEAN)))
		return DS_FAIL_NONE;
	if (ret) {
		enum ds_fail f = journal_fail(ret, DS_FAIL_USAGE);
		if (f == DS_FAIL_USAGE)
			log_err("--image %s: %s", path, why);
		else
			log_err("%s", why);
		return f;
	}
	ret = journal_recover(path, &st, why, sizeof(why));
	if (ret) {
		log_err("--image %s: recovery failed: %s", path, why);
		return journal_fail(ret, DS_FAIL_USAGE);
	}
	/* A notice, not an error: the run goes on (and a summary's "error"
	 * stays the first real one, util/log.h). */
	log_info("dirtyscope: --image %s: recovered from an interrupted host writeback: the "
		 "image holds epoch %llu",
		 path, (unsigned long long)st.epoch);
	return DS_FAIL_NONE;
}

/*
 * Check the user's image: valid DSFS, holding the workload's file.  Without
 * --wss the file's capacity sets the page count.  With --verify the file must
 * start as mkimage makes it (zero, and empty for log): the expected content
 * is computed from that start.
 */
static enum ds_fail check_user_image(struct session_config *cfg, struct disk *d, bool wss_set)
{
	struct dsfs_image img;
	char why[512];
	int ret = dsfs_open(d->path, O_RDWR, &img, why, sizeof(why));
	if (ret) {
		log_err("--image %s: %s", d->path, why);
		return dsfs_fail(ret, DS_FAIL_USAGE);
	}
	enum ds_fail code = DS_FAIL_NONE;
	int ino = d->file ? dsfs_find(&img, d->file) : -1;
	if (d->file && ino < 0) {
		code = usage_error("--image %s: no file '%s' (mkimage --file %s:SIZE)", d->path,
				   d->file, d->file);
		goto out;
	}
	if (ino >= 0) {
		uint64_t cap = img.meta.inodes[ino].nr_blocks;
		if (!wss_set)
			cfg->wl.wss_pages = cap;
		if (cfg->wl.wss_pages > cap || !cfg->wl.wss_pages) {
			code = usage_error("--wss %llu: file '%s' of %s holds %llu pages",
					   (unsigned long long)cfg->wl.wss_pages, d->file, d->path,
					   (unsigned long long)cap);
			goto out;
		}
	}
	if (ino >= 0 && cfg->verify) {
		int zero = dsfs_extent_zero(&img, ino);
		if (zero < 0) {
			log_err("--image %s: cannot read file '%s': %s", d->path, d->file,
				strerror(-zero));
			code = dsfs_fail(zero, DS_FAIL_USAGE);
			goto out;
		}
		/* The expected content is computed for a file of exactly --wss
		 * pages, zero-filled, of size --wss pages (log: empty). */
		uint64_t want_size =
		    cfg->wl.workload == ABI_WL_LOG ? 0 : cfg->wl.wss_pages * ABI_PAGE_SIZE;
		bool fresh = zero && img.meta.inodes[ino].size == want_size &&
			     cfg->wl.wss_pages == img.meta.inodes[ino].nr_blocks;
		if (!fresh)
			code = usage_error("--image %s: --verify needs file '%s' as mkimage --file "
					   "%s:%s makes it (zero-filled, --wss its capacity)",
					   d->path, d->file, d->file,
					   cfg->wl.workload == ABI_WL_LOG ? "0:CAPACITY" : "SIZE");
	}
out:
	dsfs_close(&img);
	return code;
}

/*
 * The temporary image has no name from the start (util/tmpfile.h), so that
 * no way of ending the process, SIGKILL included, leaves it in $TMPDIR.
 * Everything that opens the image by path (the device, the image check)
 * gets /proc/self/fd/N, which opens this very file; host writeback's
 * journal, which would be IMAGE.journal beside a named image, is made
 * without a name in the same directory (journal_open_unnamed).
 */
enum ds_fail runimage_temp(struct run_opts *o)
{
	const struct session_config *cfg = &o->cfg;
	struct disk *d = &o->disk;
	const char *dir = getenv("TMPDIR");
	snprintf(d->tmp_dir, sizeof(d->tmp_dir), "%s", dir && *dir ? dir : "/tmp");
	int fd = tmpfile_open(d->tmp_dir);
	if (fd < 0) {
		log_err("cannot create a temporary image in %s: %s", d->tmp_dir, strerror(-fd));
		return DS_FAIL_IO;
	}
	struct dsfs_file_spec f = {.capacity = cfg->wl.wss_pages * ABI_PAGE_SIZE};
	uint64_t size = (ABI_FS_DATA_START + cfg->wl.wss_pages) * ABI_PAGE_SIZE;
	if (d->file) {
		snprintf(f.name, sizeof(f.name), "%s", d->file);
		f.size = cfg->wl.workload == ABI_WL_LOG ? 0 : f.capacity;
	}
	char why[512];
	int ret = dsfs_mkimage_fd(fd, size, &f, d->file ? 1 : 0, why, sizeof(why));
	if (ret) {
		log_err("temporary image in %s: %s", d->tmp_dir, why);
		close(fd);
		return DS_FAIL_IO;
	}
	d->tmp_fd = fd;
	snprintf(d->tmp, sizeof(d->tmp), "/proc/self/fd/%d", fd);
	d->path = d->tmp;
	if (cfg->hostwb)
		o->hostwb.journal_dir = d->tmp_dir;
	return DS_FAIL_NONE;
}

void runimage_close_temp(struct run_opts *o)
{
	if (!o->disk.tmp[0])
		return;
	/* Its last descriptor: the kernel frees the file.  The journal's went
	 * with the session. */
	close(o->disk.tmp_fd);
	o->disk.tmp[0] = 0;
	o->disk.path = NULL;
}

/*
 * The file must hold what the workload writes: the working set is final
 * here (an image's capacity may have set it).
 */
static enum ds_fail check_file_fits(const struct session_config *cfg)
{
	if (cfg->wl.workload == ABI_WL_LOG &&
	    (uint64_t)cfg->wl.epochs * cfg->wl.writes_per_epoch * 256 >
		cfg->wl.wss_pages * ABI_PAGE_SIZE)
		return usage_error("--wss %llu: too small for log's %llu appends of up to "
				   "256 bytes",
				   (unsigned long long)cfg->wl.wss_pages,
				   (unsigned long long)cfg->wl.epochs * cfg->wl.writes_per_epoch);
	if (cfg->wl.wss_pages > UINT32_MAX / 2)
		return usage_error("--wss %llu: too large for a file",
				   (unsigned long long)cfg->wl.wss_pages);
	return DS_FAIL_NONE;
}

enum ds_fail runimage_check(struct run_opts *o)
{
	if (!o->file_world)
		return DS_FAIL_NONE;
	if (o->disk.path) {
		enum ds_fail e = probe_user_image(o->disk.path);
		if (e)
			return e;
		e = recover_user_image(o->disk.path);
		if (e)
			return e;
		e = check_user_image(&o->cfg, &o->disk, o->wss_set);
		if (e)
			return e;
	}
	return check_file_fits(&o->cfg);
}
