/*
 * How a run with host writeback ends when it is stopped from outside
 * (docs/hostwb.md, "Stopping a run"), with the real binary:
 *
 *   signal        SIGINT, then SIGTERM, once epoch 1's row is out, into
 *                 `run --writeback host --image` of 200 epochs: exit 130,
 *                 then `verify-image` passes (0, "journal clean"), the
 *                 journal is its header alone and `recover` has nothing to
 *                 do.  Before the fix the journal held every epoch's
 *                 transaction and verify-image exited 1 ("run dirtyscope
 *                 recover").
 *   in a commit   the test hook DIRTYSCOPE_TEST_STOP_IN_COMMIT=3 raises
 *                 SIGINT inside epoch 3's commit: exit 130 with epoch 3's
 *                 row the last, the journal clean at epoch 3, and the db
 *                 file in the image byte for byte the content three epochs
 *                 write (the content oracle, logger/verify/expect.h), not
 *                 two or four (teeth).  The commit in flight was finished,
 *                 not cut, and the stop came right after it.
 *   hook          the hook is checked like an option: a malformed value,
 *                 or no --writeback host, exits 2.
 *
 * The runs boot a guest and need /dev/kvm (without it the suite exits 77).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DS_PROC_TIMEOUT_S 300
#include "tests/lib/ds_proc.h"
#include "tests/lib/ds_test.h"

#include "abi/syscall.h"
#include "logger/verify/fileverify.h"

#define CHECK DS_CHECK

static char dir[64]; /* this run's scratch directory */

static void path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* The size of the file at path, or -1 if it is missing. */
static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) ? -1 : (long long)st.st_size;
}

static void mkimage(const char *path)
{
	struct ds_proc p;
	ds_expect_ok(&p, ARGS("mkimage", path, "--size", "2M", "--file", "db:1M"));
	ds_proc_free(&p);
}

/*
 * What an interrupted run must leave: verify-image passes and says the
 * journal is clean (at `epoch`, if non-NULL: "epoch 3 "), the journal is
 * its header block alone, and recover finds it clean: nothing to replay.
 */
static void expect_clean(const char *image, const char *epoch)
{
	char jpath[192], want[64];
	struct ds_proc p;
	snprintf(jpath, sizeof(jpath), "%s.journal", image);
	snprintf(want, sizeof(want), "journal clean at %s", epoch ? epoch : "epoch");

	ds_proc_run(&p, NULL, ARGS("verify-image", image));
	CHECK(p.code == 0 && strstr(p.out, want), "%s: exit %d, expected 0 and \"%s\"; %s%s", p.cmd,
	      p.code, want, p.out, p.err);
	ds_proc_free(&p);
	CHECK(file_size(jpath) == 4096, "%s: %lld bytes, expected its 4096-byte header alone",
	      jpath, file_size(jpath));
	ds_proc_run(&p, NULL, ARGS("recover", image));
	CHECK(p.code == 0 && strstr(p.out, ": clean at epoch") && !strstr(p.out, "replayed"),
	      "%s: exit %d, expected nothing to do; %s%s", p.cmd, p.code, p.out, p.err);
	ds_proc_free(&p);
}

static void test_signal(void)
{
	static const int sigs[] = {SIGINT, SIGTERM};
	char image[160];
	path_in(image, sizeof(image), "sig.img");
	for (int i = 0; i < 2; i++) {
		mkimage(image);
		struct ds_proc p;
		int got = ds_proc_run(&p, &(struct ds_proc_opts){.signal = sigs[i]},
				      ARGS("run", "--workload", "db", "--image", image,
					   "--writeback", "host", "--epochs", "200"));
		CHECK(got == 130, "signal %d: %s: exit %d, expected 130; stderr: %s", sigs[i],
		      p.cmd, got, p.err);
		ds_proc_free(&p);
		expect_clean(image, NULL);
	}
	char jpath[192];
	snprintf(jpath, sizeof(jpath), "%s.journal", image);
	unlink(jpath);
	unlink(image);
}

/* Whether the image's db file holds exactly what `epochs` epochs of the
 * default db run write (--wss 256 from the file, --writes 64). */
static bool holds_epochs(const char *image, uint32_t epochs)
{
	struct boot_workload wl = {.workload = ABI_WL_DB,
				   .epochs = epochs,
				   .wss_pages = 256,
				   .writes_per_epoch = 64,
				   .seed = 1,
				   .sync_every = 64 / 4};
	FILE *quiet = fopen("/dev/null", "w");
	CU_ASSERT_FATAL(quiet != NULL);
	long bad = fileverify_image(image, &wl, quiet);
	fclose(quiet);
	CHECK(bad >= 0, "%s: cannot compare with %u epochs' content: %ld", image, epochs, bad);
	return bad == 0;
}

static void test_stop_in_commit(void)
{
	char image[160], jpath[192];
	path_in(image, sizeof(image), "commit.img");
	snprintf(jpath, sizeof(jpath), "%s.journal", image);
	mkimage(image);
	struct ds_proc p;
	int got = ds_proc_run(&p, &(struct ds_proc_opts){.env = "DIRTYSCOPE_TEST_STOP_IN_COMMIT=3"},
			      ARGS("run", "--workload", "db", "--image", image, "--writeback",
				   "host", "--epochs", "200"));
	CHECK(got == 130, "%s: exit %d, expected 130; stderr: %s", p.cmd, got, p.err);
	/* Epoch 3 ended, its row printed; the run stopped before epoch 4's. */
	CHECK(strstr(p.out, "\n     3 ") && !strstr(p.out, "\n     4 "),
	      "%s: expected epoch 3's row to be the last: %s", p.cmd, p.out);
	ds_proc_free(&p);
	expect_clean(image, "epoch 3 ");
	CHECK(holds_epochs(image, 3), "%s does not hold epoch 3's content", image);
	/* Teeth: the content tells epoch 3 from its neighbours. */
	CHECK(!holds_epochs(image, 2) && !holds_epochs(image, 4),
	      "%s: the content oracle cannot tell epochs 2, 3 and 4 apart", image);
	unlink(jpath);
	unlink(image);
}

static void test_hook_usage(void)
{
	ds_expect_fail(2, &(struct ds_proc_opts){.env = "DIRTYSCOPE_TEST_STOP_IN_COMMIT=soon"},
		       ARGS("DIRTYSCOPE_TEST_STOP_IN_COMMIT"),
		       ARGS("run", "--workload", "db", "--writeback", "host"));
	ds_expect_fail(2, &(struct ds_proc_opts){.env = "DIRTYSCOPE_TEST_STOP_IN_COMMIT=2"},
		       ARGS("--writeback host"), ARGS("run", "--workload", "db"));
}

static const struct ds_case plain_cases[] = {
    {"the stop-in-commit hook is checked like an option", test_hook_usage},
    {NULL, NULL},
};

static const struct ds_case kvm_cases[] = {
    {"SIGINT and SIGTERM: exit 130, the journal checkpointed clean", test_signal},
    {"SIGINT inside a commit: the commit completes, clean at its epoch", test_stop_in_commit},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
	snprintf(dir, sizeof(dir), "/tmp/test_stop.XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	(void)argc;
	(void)argv;
	int ret = ds_run_partly_kvm("stop", plain_cases, kvm_cases);
	rmdir(dir);
	return ret;
}
