/*
 * dirtyscope recover IMAGE and dirtyscope verify-image IMAGE: the host
 * writeback journal's recovery and its check (logger/journal.h,
 * docs/journal.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fs/dsfs.h"
#include "logger/journal.h"
#include "tools/cli.h"

static const char *state_name(enum journal_state s)
{
	static const char *const names[] = {"absent", "clean", "committed, not applied",
					    "incomplete"};
	return (unsigned)s < 4 ? names[s] : "?";
}

static int one_image_arg(const char *cmd, int argc, char **argv, const char **image)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: dirtyscope %s IMAGE\n", cmd);
		if (!strcmp(cmd, "recover"))
			printf(
			    "Bring IMAGE to its last committed epoch: replay a committed host\n"
			    "writeback transaction from IMAGE.journal, or discard an incomplete\n"
			    "one.  Exit 0 done, 2 usage or a journal that is not ours,\n"
			    "4 I/O error.\n");
		else
			printf("Check IMAGE: a valid DSFS image whose host writeback journal is\n"
			       "clean.  Exit 0 clean, 1 invalid or needing `recover`, 2 usage,\n"
			       "4 I/O error.\n");
		return DS_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return usage_error("usage: dirtyscope %s IMAGE", cmd);
	*image = argv[1];
	return -1;
}

int cmd_recover(int argc, char **argv)
{
	const char *image;
	int code = one_image_arg("recover", argc, argv, &image);
	if (code >= 0)
		return code;
	char why[256];
	struct journal_status st;
	int ret = journal_recover(image, &st, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "dirtyscope: %s: %s\n", image, why);
		return ret == -EPROTO || ret == -ENOENT || ret == -EISDIR || ret == -EACCES
			   ? DS_EXIT_USAGE
			   : DS_EXIT_FAILED;
	}
	switch (st.state) {
	case JOURNAL_NONE:
		printf("%s: no journal: nothing to recover\n", image);
		break;
	case JOURNAL_CLEAN:
		printf("%s: clean at epoch %llu\n", image, (unsigned long long)st.epoch);
		break;
	case JOURNAL_COMMITTED:
		printf("%s: replayed epoch %llu (%llu extents, %llu blocks)\n", image,
		       (unsigned long long)st.epoch, (unsigned long long)st.extents,
		       (unsigned long long)st.blocks);
		break;
	case JOURNAL_INCOMPLETE:
		printf("%s: discarded incomplete epoch %llu: the image holds epoch %llu\n", image,
		       (unsigned long long)st.epoch, (unsigned long long)st.base_epoch);
		break;
	}
	return DS_EXIT_OK;
}

int cmd_verify_image(int argc, char **argv)
{
	const char *image;
	int code = one_image_arg("verify-image", argc, argv, &image);
	if (code >= 0)
		return code;
	char why[256];
	struct dsfs_image img;
	int ret = dsfs_open(image, O_RDONLY, &img, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "dirtyscope: %s: %s\n", image, why);
		return ret == -ENOENT || ret == -EACCES ? DS_EXIT_USAGE : DS_EXIT_CHECK;
	}
	dsfs_close(&img);
	struct journal_status st;
	ret = journal_inspect(image, &st, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "dirtyscope: %s: %s\n", image, why);
		return ret == -EPROTO ? DS_EXIT_CHECK : DS_EXIT_FAILED;
	}
	if (st.state == JOURNAL_NONE || st.state == JOURNAL_CLEAN) {
		if (st.state == JOURNAL_NONE)
			printf("%s: valid DSFS image, no host writeback journal\n", image);
		else
			printf("%s: valid DSFS image, journal clean at epoch %llu\n", image,
			       (unsigned long long)st.epoch);
		return DS_EXIT_OK;
	}
	fprintf(stderr, "dirtyscope: %s: journal %s (epoch %llu): run dirtyscope recover\n", image,
		state_name(st.state), (unsigned long long)st.epoch);
	return DS_EXIT_CHECK;
}
