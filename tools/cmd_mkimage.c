/*
 * dirtyscope mkimage: create a DSFS disk image for the guest, or check one
 * and list its files.  The format and its rules are in include/abi/fs.h and
 * docs/disk-format.md; this file only parses options and reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/dsfs.h"
#include "logger/hostwb/journal.h"
#include "tools/cli.h"
#include "util/esc.h"
#include "util/filelock.h"
#include "util/log.h"
#include "util/parse.h"

static const struct cli_exit mkimage_exits[] = {
    {DS_EXIT_OK, NULL},
    {DS_EXIT_CHECK, "--check found the image invalid"},
    {DS_EXIT_USAGE, "a bad size or name, files that do not fit, a missing file, an image in "
		    "use or not a regular file"},
    {DS_EXIT_FAILED, "writing or reading back the image, or the listing"},
    {-1, NULL},
};

static void mkimage_usage(FILE *f)
{
	fprintf(f, "usage: dirtyscope mkimage IMAGE --size SIZE [--file NAME:SIZE[:CAPACITY]]...\n"
		   "       dirtyscope mkimage --check IMAGE\n"
		   "Create a DSFS disk image for the guest's virtio-blk disk, or check one and\n"
		   "list its files.\n"
		   "\n"
		   "  --size SIZE         image length, a multiple of 4K, suffixes K M G T\n"
		   "  --file NAME:SIZE[:CAPACITY]\n"
		   "                      a file of SIZE zero bytes in a contiguous extent of\n"
		   "                      CAPACITY bytes (a multiple of 4K; default SIZE rounded\n"
		   "                      up to 4K); up to 63 files, laid out in the order given\n"
		   "                      from block 1.  NAME: 1..31 printable bytes, no '/'\n"
		   "  --check             validate IMAGE and list its files; create nothing\n"
		   "  -h, --help          this text\n"
		   "\n"
		   "An existing IMAGE is replaced only once the new one is complete; a device,\n"
		   "FIFO or directory is never replaced.  Every image gets a new random\n"
		   "identity; IMAGE.journal, the host writeback journal of the image replaced,\n"
		   "is removed.\n"
		   "\n");
	cli_exit_status(f, mkimage_exits);
}

enum {
	OPT_SIZE = 256,
	OPT_FILE,
	OPT_CHECK,
};

static const struct option mkimage_options[] = {
    {"size", required_argument, NULL, OPT_SIZE},
    {"file", required_argument, NULL, OPT_FILE},
    {"check", no_argument, NULL, OPT_CHECK},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Print "dirtyscope: IMAGE: why" and return fail. */
static enum ds_fail image_error(enum ds_fail fail, const char *path, const char *why)
{
	log_err("%s: %s", path, why);
	return fail;
}

static void list_image(const char *path, const struct dsfs_image *img)
{
	const struct abi_fs_super *sb = &img->meta.sb;
	uint64_t used = ABI_FS_DATA_START;
	int files = 0;

	for (int i = 0; i < ABI_FS_MAX_INODES; i++)
		if (img->meta.inodes[i].flags & ABI_FS_INODE_USED) {
			files++;
			used += img->meta.inodes[i].nr_blocks;
		}
	/* The checker admits only printable names; escaped all the same, as
	 * the path from the command line is, so no listing line can split. */
	char safe[4096], name[4 * ABI_FS_NAME_MAX + 1];
	char id[DSFS_UUID_STR];
	printf("%s: DSFS version %u, %llu blocks of %u bytes (%llu bytes), %d file%s, "
	       "%llu blocks free, generation %llu, identity %s\n",
	       esc_str(safe, sizeof(safe), path, true), sb->version,
	       (unsigned long long)sb->nr_blocks, sb->block_size, (unsigned long long)img->size,
	       files, files == 1 ? "" : "s", (unsigned long long)(sb->nr_blocks - used),
	       (unsigned long long)sb->generation, dsfs_uuid_str(sb->uuid, id));
	if (!files)
		return;
	printf("%-31s %14s %12s %12s\n", "name", "size", "start", "blocks");
	for (int i = 0; i < ABI_FS_MAX_INODES; i++) {
		const struct abi_fs_inode *in = &img->meta.inodes[i];

		if (in->flags & ABI_FS_INODE_USED)
			printf("%-31s %14llu %12llu %12llu\n",
			       esc_str(name, sizeof(name), in->name, false),
			       (unsigned long long)in->size, (unsigned long long)in->start_block,
			       (unsigned long long)in->nr_blocks);
	}
}

/*
 * Replacing an image another writer holds (a run, recover) would leave that
 * writer on the old file while everyone else sees the new one: take the
 * old image's writer lock (util/filelock.h) for as long as mkimage works,
 * or, when only reading it is allowed, make sure nobody holds it.  Returns
 * the open file to close after the rename (or -1: no old image, or one
 * that is not a regular file, which dsfs_mkimage refuses).
 */
static enum ds_fail lock_old_image(const char *path, int *fd)
{
	char why[128];
	struct stat st;
	*fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	bool writable = *fd >= 0;
	if (!writable)
		*fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0)
		return DS_FAIL_NONE;
	if (fstat(*fd, &st) || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return DS_FAIL_NONE;
	}
	int ret = writable ? filelock_take(*fd, true, why, sizeof(why))
			   : filelock_probe(*fd, why, sizeof(why));
	if (ret) {
		close(*fd);
		*fd = -1;
		return image_error(DS_FAIL_USAGE, path, why);
	}
	return DS_FAIL_NONE;
}

/*
 * IMAGE.journal holds host writeback epochs of the image just replaced:
 * they mean nothing for the new one, whose identity (a new UUID) the
 * journal would not carry anyway.  Remove it now rather than leave every
 * later command to refuse it, while the old image's writer lock (still
 * held) keeps any run or recovery from using it.  Only a regular file is
 * removed; anything else at that path is left for the journal's own
 * refusal to name.
 */
static void remove_old_journal(const char *path)
{
	char jpath[4096 + 16], safe[4 * sizeof(jpath)];
	struct stat st;
	if (journal_path(path, jpath, sizeof(jpath)) || lstat(jpath, &st) || !S_ISREG(st.st_mode))
		return;
	if (unlink(jpath))
		log_err("%s: cannot remove the replaced image's journal: %s (remove it: it "
			"belongs to the old image)",
			esc_str(safe, sizeof(safe), jpath, true), strerror(errno));
	else
		log_info("%s: removed the replaced image's host writeback journal",
			 esc_str(safe, sizeof(safe), jpath, true));
}

/* --check: an image that opens but is not valid DSFS is a failed check;
 * one that cannot be opened at all is an input error (dsfs_fail). */
static enum ds_fail check_image(const char *path)
{
	struct dsfs_image img;
	char why[256];
	int ret = dsfs_open(path, O_RDONLY, &img, why, sizeof(why));

	if (ret)
		return image_error(dsfs_fail(ret, DS_FAIL_CHECK), path, why);
	list_image(path, &img);
	dsfs_close(&img);
	return DS_FAIL_NONE;
}

enum ds_fail cmd_mkimage(int argc, char **argv)
{
	struct dsfs_file_spec files[ABI_FS_MAX_INODES];
	const char *size_arg = NULL, *path;
	uint64_t size = 0;
	int nfiles = 0, check = 0, opt, ret;
	char why[256];

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", mkimage_options, NULL)) != -1) {
		switch (opt) {
		case OPT_SIZE:
			size_arg = optarg;
			ret = parse_size(optarg, &size);
			if (ret == -ERANGE)
				return usage_error("--size %s: too large", optarg);
			if (ret)
				return usage_error("--size %s: not a size (e.g. 1M, 64M)", optarg);
			if (size == 0)
				return usage_error("--size %s: must be at least 4K", optarg);
			if (size % ABI_FS_BLOCK)
				return usage_error("--size %s: not a multiple of 4K", optarg);
			break;
		case OPT_FILE:
			if (nfiles == ABI_FS_MAX_INODES)
				return usage_error("--file %s: more than %d files (an image holds "
						   "at most %d)",
						   optarg, ABI_FS_MAX_INODES, ABI_FS_MAX_INODES);
			if (dsfs_parse_file_spec(optarg, &files[nfiles], why, sizeof(why)))
				return usage_error("--file %s: %s", optarg, why);
			nfiles++;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case 'h':
			mkimage_usage(stdout);
			return DS_FAIL_NONE;
		default:
			if (optopt >= OPT_SIZE)
				return usage_error("mkimage: %s needs an argument",
						   argv[optind - 1]);
			if (optopt)
				return usage_error("mkimage: unknown option -%c (try --help)",
						   optopt);
			return usage_error("mkimage: unknown option %s (try --help)",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("mkimage: no IMAGE given (try --help)");
	if (optind + 1 < argc)
		return usage_error("mkimage: unexpected argument '%s'", argv[optind + 1]);
	path = argv[optind];

	if (check) {
		if (size_arg || nfiles)
			return usage_error("mkimage --check: takes no --size or --file");
		return check_image(path);
	}
	if (!size_arg)
		return usage_error("mkimage: --size is required (e.g. --size 64M)");

	/* A request DSFS refuses is the user's to fix, as a path, a
	 * permission or a size the file system refuses are. */
	int old_fd;
	enum ds_fail held = lock_old_image(path, &old_fd);
	if (held)
		return held;
	ret = dsfs_mkimage(path, size, files, nfiles, why, sizeof(why));
	if (!ret)
		remove_old_journal(path);
	if (old_fd >= 0)
		close(old_fd);
	if (ret)
		return image_error(dsfs_fail(ret, DS_FAIL_USAGE), path, why);

	/* Read back what was written and list it: the listing is the checked
	 * image, not the request. */
	struct dsfs_image img;
	ret = dsfs_open(path, O_RDONLY, &img, why, sizeof(why));
	if (ret) /* what was just written does not read back */
		return image_error(DS_FAIL_IO, path, why);
	list_image(path, &img);
	dsfs_close(&img);
	return DS_FAIL_NONE;
}
