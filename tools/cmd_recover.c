/*
 * dirtyscope recover IMAGE and dirtyscope verify-image IMAGE: the host
 * writeback journal's recovery and its check (logger/hostwb/journal.h,
 * docs/journal.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "fs/dsfs.h"
#include "logger/hostwb/journal.h"
#include "tools/cli.h"
#include "util/esc.h"
#include "util/log.h"

/* IMAGE as printed on stdout: control bytes escaped, one line whatever the
 * argument holds (stderr's lines are escaped by log_err). */
static const char *shown(const char *image)
{
	static char buf[4 * 4096 + 1];
	return esc_str(buf, sizeof(buf), image, true);
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static const struct cli_exit recover_exits[] = {
    {DS_EXIT_OK, "done, or there was no journal"},
    {DS_EXIT_USAGE, "a missing image, a journal that is not dirtyscope's or belongs to "
		    "another image, an image or journal in use or not a regular file"},
    {DS_EXIT_FAILED, "reading or writing the image or its journal"},
    {-1, NULL},
};

static const struct cli_exit verify_exits[] = {
    {DS_EXIT_OK, "the image is valid DSFS and its journal absent or clean"},
    {DS_EXIT_CHECK, "an invalid image, or a journal that needs `recover` or is not "
		    "dirtyscope's"},
    {DS_EXIT_USAGE, "a missing image, a journal in use, an image or journal that is not a "
		    "regular file"},
    {DS_EXIT_FAILED, "reading the image or its journal"},
    {-1, NULL},
};

/* The one IMAGE argument, or --help.  False when the command is done, with
 * *fail its result. */
static bool one_image_arg(const char *cmd, int argc, char **argv, const char **image,
			  enum ds_fail *fail)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: dirtyscope %s IMAGE\n", cmd);
		if (!strcmp(cmd, "recover")) {
			printf("Bring IMAGE to its last committed epoch: replay, in order, every\n"
			       "host writeback transaction IMAGE.journal holds since its last\n"
			       "checkpoint, discard a torn tail, and leave the journal clean.\n"
			       "\n"
			       "  -h, --help          this text\n"
			       "\n");
			cli_exit_status(stdout, recover_exits);
		} else {
			printf("Check IMAGE: a valid DSFS image whose host writeback journal is\n"
			       "absent or clean.\n"
			       "\n"
			       "  -h, --help          this text\n"
			       "\n");
			cli_exit_status(stdout, verify_exits);
		}
		*fail = DS_FAIL_NONE;
		return false;
	}
	if (argc != 2 || argv[1][0] == '-') {
		*fail = usage_error("usage: dirtyscope %s IMAGE", cmd);
		return false;
	}
	*image = argv[1];
	return true;
}

enum ds_fail cmd_recover(int argc, char **argv)
{
	const char *image;
	enum ds_fail fail;
	if (!one_image_arg("recover", argc, argv, &image, &fail))
		return fail;
	char why[512];
	struct journal_status st;
	int ret = journal_recover(image, &st, why, sizeof(why));
	if (ret) {
		log_err("%s: %s", image, why);
		/* A journal recover cannot use is the user's input. */
		return journal_fail(ret, DS_FAIL_USAGE);
	}
	switch (st.state) {
	case JOURNAL_NONE:
		printf("%s: no journal: nothing to recover\n", shown(image));
		break;
	case JOURNAL_CLEAN:
		/* The transaction, not the run's epoch label: a run's last
		 * commit (its final writeback) is one past its last epoch. */
		printf("%s: clean: the image holds transaction %llu\n", shown(image),
		       (unsigned long long)st.txn);
		break;
	case JOURNAL_COMMITTED:
		printf("%s: replayed %llu transaction%s (%llu extents, %llu blocks) after epoch "
		       "%llu",
		       shown(image), (unsigned long long)st.transactions, plural(st.transactions),
		       (unsigned long long)st.extents, (unsigned long long)st.blocks,
		       (unsigned long long)st.base_epoch);
		if (st.torn_bytes)
			printf(", discarded %llu torn bytes", (unsigned long long)st.torn_bytes);
		printf(": the image holds epoch %llu (transaction %llu)\n",
		       (unsigned long long)st.epoch, (unsigned long long)st.txn);
		break;
	case JOURNAL_INCOMPLETE:
		printf("%s: discarded %llu bytes of an incomplete transaction: the image holds "
		       "epoch %llu\n",
		       shown(image), (unsigned long long)st.torn_bytes,
		       (unsigned long long)st.epoch);
		break;
	}
	return DS_FAIL_NONE;
}

enum ds_fail cmd_verify_image(int argc, char **argv)
{
	const char *image;
	enum ds_fail fail;
	if (!one_image_arg("verify-image", argc, argv, &image, &fail))
		return fail;
	char why[512];
	/* The journal first: after a crash mid-commit the image itself may be
	 * half-written, and what it needs then is recover, not a DSFS verdict. */
	struct journal_status st;
	int ret = journal_inspect(image, &st, why, sizeof(why));
	if (ret && ret != -ENOENT) {
		log_err("%s: %s", image, why);
		/* A journal that is not ours is what this check looks for. */
		return journal_fail(ret, DS_FAIL_CHECK);
	}
	if (!ret && st.state == JOURNAL_COMMITTED) {
		log_err("%s: journal holds %llu transaction%s after epoch %llu "
			"(up to epoch %llu): run dirtyscope recover",
			image, (unsigned long long)st.transactions, plural(st.transactions),
			(unsigned long long)st.base_epoch, (unsigned long long)st.epoch);
		return DS_FAIL_CHECK;
	}
	if (!ret && st.state == JOURNAL_INCOMPLETE) {
		log_err("%s: journal holds %llu bytes of an incomplete transaction "
			"(the image holds epoch %llu): run dirtyscope recover",
			image, (unsigned long long)st.torn_bytes, (unsigned long long)st.epoch);
		return DS_FAIL_CHECK;
	}
	struct dsfs_image img;
	int dret = dsfs_open(image, O_RDONLY, &img, why, sizeof(why));
	if (dret) {
		log_err("%s: %s", image, why);
		return dsfs_fail(dret, DS_FAIL_CHECK); /* invalid DSFS: the check failed */
	}
	dsfs_close(&img);
	if (ret || st.state == JOURNAL_NONE)
		printf("%s: valid DSFS image, no host writeback journal\n", shown(image));
	else
		printf("%s: valid DSFS image, journal clean: the image holds transaction %llu\n",
		       shown(image), (unsigned long long)st.txn);
	return DS_FAIL_NONE;
}
