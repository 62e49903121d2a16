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
 *                 row the last, the journal clean at transaction 3, and the db
 *                 file in the image byte for byte the content three epochs
 *                 write (the content oracle, logger/verify/expect.h), not
 *                 two or four (teeth).  The commit in flight was finished,
 *                 not cut, and the stop came right after it.
 *   hook          the hook is checked like an option: a malformed value,
 *                 or no --writeback host, exits 2.
 *   temporary     `run --writeback host` without --image, TMPDIR a fresh
 *                 directory: once epoch 1's row is out the directory is
 *                 already empty, while the process holds the image and its
 *                 journal open without names there, the journal's header
 *                 carrying the image's identity; after kill -9 the
 *                 directory is still empty (before the fix it held
 *                 dirtyscope-XXXXXX.img and its .journal), and after SIGINT
 *                 too (exit 130).  A temporary image's run with --verify,
 *                 host and guest writeback, still exits 0 and leaves
 *                 nothing.
 *
 * The runs boot a guest and need /dev/kvm (without it the suite exits 77).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DS_PROC_TIMEOUT_S 300
#include "tests/lib/ds_proc.h"
#include "tests/lib/ds_test.h"

#include "abi/syscall.h"
#include "fs/dsfs.h"
#include "logger/hostwb/journal_int.h"
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
 * journal is clean (at transaction `txn`, if non-NULL: "3"), the journal is
 * its header block alone, and recover finds it clean: nothing to replay.
 */
static void expect_clean(const char *image, const char *txn)
{
	char jpath[192], want[64];
	struct ds_proc p;
	snprintf(jpath, sizeof(jpath), "%s.journal", image);
	snprintf(want, sizeof(want), "journal clean: the image holds transaction %s%s",
		 txn ? txn : "", txn ? "\n" : "");

	ds_proc_run(&p, NULL, ARGS("verify-image", image));
	CHECK(p.code == 0 && strstr(p.out, want), "%s: exit %d, expected 0 and \"%s\"; %s%s", p.cmd,
	      p.code, want, p.out, p.err);
	ds_proc_free(&p);
	CHECK(file_size(jpath) == 4096, "%s: %lld bytes, expected its 4096-byte header alone",
	      jpath, file_size(jpath));
	ds_proc_run(&p, NULL, ARGS("recover", image));
	CHECK(p.code == 0 && strstr(p.out, ": clean: the image holds transaction") &&
		  !strstr(p.out, "replayed"),
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
	expect_clean(image, "3"); /* a fresh image: epochs 1..3, one commit each */
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

/* ---- temporary images ---- */

/* The names in d, space-separated, into names; returns how many. */
static unsigned int list_dir(const char *d, char *names, size_t len)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	size_t used = 0;
	unsigned int n = 0;

	names[0] = '\0';
	CU_ASSERT_FATAL(dd != NULL);
	while ((e = readdir(dd))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (used < len)
			used += (size_t)snprintf(names + used, len - used, "%s%s", used ? " " : "",
						 e->d_name);
	}
	closedir(dd);
	return n;
}

/*
 * The files without a name in d that the running process pid holds open
 * (their /proc/PID/fd links read "d/#INODE (deleted)"): one must be the DSFS
 * image, with an identity, and one the host writeback journal, whose header
 * (docs/journal.md, version 3) names that identity.
 */
static void check_unnamed_pair(pid_t pid, const char *d)
{
	char fdir[64];
	uint8_t image_uuid[16] = {0}, journal_uuid[16] = {0};
	bool image = false, journal = false;
	struct dirent *e;

	snprintf(fdir, sizeof(fdir), "/proc/%d/fd", (int)pid);
	DIR *dd = opendir(fdir);
	CU_ASSERT_FATAL(dd != NULL);
	while ((e = readdir(dd))) {
		char link[sizeof(fdir) + sizeof(e->d_name) + 1], target[4096];
		snprintf(link, sizeof(link), "%s/%s", fdir, e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, d, strlen(d)) || target[strlen(d)] != '/' ||
		    !strstr(target, " (deleted)"))
			continue;
		int fd = open(link, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct jhdr h;
		uint8_t u[16];
		if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == JHDR_MAGIC) {
			CHECK(h.version == 3, "%s: journal version %u", target, h.version);
			memcpy(journal_uuid, h.uuid, sizeof(journal_uuid));
			journal = true;
		} else if (!dsfs_identity(fd, u) && !dsfs_uuid_null(u)) {
			memcpy(image_uuid, u, sizeof(image_uuid));
			image = true;
		}
		close(fd);
	}
	closedir(dd);
	CHECK(image && journal, "process %d holds %s%s without a name in %s", (int)pid,
	      image ? "" : "no image ", journal ? "" : "no journal", d);
	char a[DSFS_UUID_STR], b[DSFS_UUID_STR];
	CHECK(!memcmp(image_uuid, journal_uuid, sizeof(image_uuid)),
	      "the unnamed journal names identity %s, the image is %s",
	      dsfs_uuid_str(journal_uuid, a), dsfs_uuid_str(image_uuid, b));
}

/* Make the scratch subdirectory `name` for TMPDIR: its path into sub, and
 * "TMPDIR=sub" into env. */
static void make_tmpdir(const char *name, char *sub, size_t len, char *env, size_t envlen)
{
	path_in(sub, len, name);
	CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
	snprintf(env, envlen, "TMPDIR=%s", sub);
}

/* End the started p with SIGKILL, as a kill -9 would, and reap it
 * (ds_proc_finish counts a death by signal as a failure). */
static void kill9(struct ds_proc *p)
{
	int status;
	CU_ASSERT(kill(p->pid, SIGKILL) == 0);
	while (waitpid(p->pid, &status, 0) < 0)
		CU_ASSERT_FATAL(errno == EINTR);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "%s: not killed by SIGKILL",
	      p->cmd);
	fclose(p->out_f);
	fclose(p->err_f);
	p->out_f = p->err_f = NULL;
}

static void test_temp_killed(void)
{
	static const int sigs[] = {SIGKILL, SIGINT};
	for (int i = 0; i < 2; i++) {
		char sub[128], env[160], names[512];
		make_tmpdir(i ? "tmp-int" : "tmp-kill", sub, sizeof(sub), env, sizeof(env));
		struct ds_proc p;
		ds_proc_start(
		    &p, &(struct ds_proc_opts){.env = env},
		    ARGS("run", "--workload", "db", "--writeback", "host", "--epochs", "200"));
		CHECK(ds_proc_wait_first_row(&p), "%s: no epoch row before the timeout", p.cmd);
		/* Running: the image and its journal are open, yet have no names. */
		unsigned int n = list_dir(sub, names, sizeof(names));
		CHECK(n == 0, "%s: %s holds \"%s\" while it runs", p.cmd, sub, names);
		check_unnamed_pair(p.pid, sub);
		if (sigs[i] == SIGKILL) {
			kill9(&p);
		} else {
			kill(p.pid, SIGINT);
			int got = ds_proc_finish(&p);
			CHECK(got == 130, "%s: exit %d after SIGINT, expected 130; stderr: %s",
			      p.cmd, got, p.err);
			ds_proc_free(&p);
		}
		n = list_dir(sub, names, sizeof(names));
		CHECK(n == 0, "signal %d: %s left \"%s\" in %s", sigs[i], p.cmd, names, sub);
		ds_remove_dir(sub);
	}
}

static void test_temp_verify(void)
{
	static const char *const who[] = {"host", "guest"};
	for (int i = 0; i < 2; i++) {
		char sub[128], env[160], names[512];
		make_tmpdir("tmp-verify", sub, sizeof(sub), env, sizeof(env));
		ds_expect_exit(0, &(struct ds_proc_opts){.env = env}, NULL,
			       ARGS("run", "--workload", "db", "--writeback", who[i], "--verify",
				    "--epochs", "3"));
		unsigned int n = list_dir(sub, names, sizeof(names));
		CHECK(n == 0, "--writeback %s: %s left \"%s\"", who[i], sub, names);
		ds_remove_dir(sub);
	}
}

static const struct ds_case plain_cases[] = {
    {"the stop-in-commit hook is checked like an option", test_hook_usage},
    {NULL, NULL},
};

static const struct ds_case kvm_cases[] = {
    {"SIGINT and SIGTERM: exit 130, the journal checkpointed clean", test_signal},
    {"SIGINT inside a commit: the commit completes, clean at its epoch", test_stop_in_commit},
    {"a temporary image and its journal have no names: kill -9 leaves nothing", test_temp_killed},
    {"a temporary image's run with --verify passes and leaves nothing", test_temp_verify},
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
