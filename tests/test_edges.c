/*
 * The edges a user can reach with the real binary (DIRTYSCOPE_BIN, through
 * tests/lib/ds_proc.h), each one a reproduction that failed before its fix:
 *
 *   lock         two runs on one image: the second is refused (2, naming
 *                the image) while the first goes on; recover and mkimage
 *                refuse the held image too; a run with host writeback and
 *                --verify, which opens its own image several times and
 *                locks its journal, still passes (no self-deadlock)
 *   not regular  /dev/null, a FIFO, a directory as --image: 2, "--image
 *                PATH:"; verify-image and mkimage --check /dev/null: 2
 *   output       --json /dev/full, --json - to /dev/full, the table to
 *                /dev/full, mkimage --check >/dev/full, run >&-, compare
 *                --json and --plot /dev/full: 4, one line with the errno
 *   names        an image whose file name holds an escape sequence and a
 *                newline is invalid (mkimage --check and verify-image: 1,
 *                run: 2) and its bytes are never printed raw; an argument
 *                with a newline gives a one-line error
 *
 * The cases that boot a guest need /dev/kvm; without it the others still
 * run and the suite exits 77 (skipped), saying why.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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
#include "abi/fs.h"
#include "fs/dsfs.h"
#include "tests/lib/ds_proc.h"
#include "tests/lib/ds_test.h"

static char dir[64];

static void scratch(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_edges.XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

/* A fresh image at dir/name holding file db of 64 pages. */
static const char *make_image(const char *name)
{
	static char path[128];
	char why[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct dsfs_file_spec f = {.name = "db", .size = 64 * 4096, .capacity = 64 * 4096};
	CU_ASSERT_FATAL(
	    dsfs_mkimage(path, (ABI_FS_DATA_START + 64) * 4096, &f, 1, why, sizeof(why)) == 0);
	return path;
}

static int lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- lock ---- */

static void test_two_runs(void)
{
	scratch();
	char img[128];
	snprintf(img, sizeof(img), "%s", make_image("db.img"));
	struct ds_proc first;
	ds_proc_start(&first, NULL,
		      ARGS("run", "--workload", "db", "--image", img, "--epochs", "100000"));
	CU_ASSERT(ds_proc_wait_first_row(&first));

	ds_expect_fail(2, NULL, ARGS("--image ", img, "in use"),
		       ARGS("run", "--workload", "db", "--image", img, "--epochs", "2"));
	ds_expect_fail(2, NULL, ARGS(img, "in use"),
		       ARGS("compare", "--workload", "db", "--image", img, "--epochs", "2"));
	ds_expect_fail(2, NULL, ARGS(img, "in use"), ARGS("recover", img));
	ds_expect_fail(2, NULL, ARGS(img, "in use"),
		       ARGS("mkimage", img, "--size", "1M", "--file", "db:4096"));

	/* The first went on all along: it still runs, and stops as asked. */
	CU_ASSERT(kill(first.pid, SIGINT) == 0);
	ds_proc_finish(&first);
	ds_proc_check_exit(&first, 130, ARGS("interrupted"));
	DS_CHECK(!strstr(first.err, "in use") && !strstr(first.err, "virtio-blk"),
		 "first run disturbed: %s", first.err);
	ds_proc_free(&first);

	/* Once it is gone, the image is free again. */
	ds_expect_exit(0, NULL, NULL,
		       ARGS("run", "--workload", "db", "--image", img, "--epochs", "2"));
	ds_remove_dir(dir);
}

/* One run opens its image for the check, the device, host writeback's
 * journal and the final verification: none may refuse another. */
static void test_one_run_many_opens(void)
{
	scratch();
	char img[128];
	snprintf(img, sizeof(img), "%s", make_image("db.img"));
	ds_expect_exit(0, NULL, NULL,
		       ARGS("run", "--workload", "db", "--image", img, "--writeback", "host",
			    "--verify", "--epochs", "3"));
	ds_expect_exit(0, NULL, NULL, ARGS("verify-image", img));
	ds_remove_dir(dir);
}

/* ---- not a regular file ---- */

static void test_not_regular(void)
{
	scratch();
	char fifo[128];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
	const char *bad[] = {"/dev/null", fifo, dir};
	for (int i = 0; i < 3; i++) {
		char prefix[160];
		snprintf(prefix, sizeof(prefix), "--image %s:", bad[i]);
		ds_expect_fail(2, NULL, ARGS(prefix),
			       ARGS("run", "--workload", "db", "--image", bad[i]));
		ds_expect_fail(2, NULL, ARGS(bad[i]), ARGS("verify-image", bad[i]));
		ds_expect_fail(2, NULL, ARGS(bad[i]), ARGS("mkimage", "--check", bad[i]));
		ds_expect_fail(2, NULL, ARGS(bad[i]), ARGS("recover", bad[i]));
	}
	ds_remove_dir(dir);
}

/* ---- output write failures ---- */

/* Run args with stdout on /dev/full (closed if !full); returns the exit
 * code, *err what it printed on stderr (malloc'd). */
static int run_stdout(bool full, const char *const *args, char **err)
{
	char *argv[DS_PROC_MAX_ARGS + 2];
	int n = 0;
	argv[n++] = (char *)DIRTYSCOPE_BIN;
	for (; *args && n <= DS_PROC_MAX_ARGS; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	FILE *ef = tmpfile();
	CU_ASSERT_FATAL(ef != NULL);
	fflush(stdout);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int out = full ? open("/dev/full", O_WRONLY) : -1;
		if (dup2(fileno(ef), STDERR_FILENO) < 0 || (full && dup2(out, STDOUT_FILENO) < 0))
			_exit(126);
		if (!full)
			close(STDOUT_FILENO);
		alarm(DS_PROC_TIMEOUT_S);
		execv(DIRTYSCOPE_BIN, argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		CU_ASSERT_FATAL(errno == EINTR);
	*err = ds_slurp(ef);
	fclose(ef);
	CU_ASSERT_FATAL(*err != NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Exit 4 and one line naming `needle` and saying why: the write's errno
 * (ENOSPC on /dev/full, EBADF on a closed stdout), however long before the
 * end of the command the write failed. */
static void expect_output_failure(bool full, const char *needle, const char *const *args)
{
	char *err, why[128];
	int code = run_stdout(full, args, &err);
	snprintf(why, sizeof(why), "write failed: %s", strerror(full ? ENOSPC : EBADF));
	DS_CHECK(code == 4, "%s: exit %d, expected 4: %s", args[0], code, err);
	DS_CHECK(lines(err) == 1 && !strncmp(err, "dirtyscope: ", 12) && strstr(err, needle) &&
		     strstr(err, why),
		 "%s: expected one line naming %s and '%s': %s", args[0], needle, why, err);
	free(err);
}

/* A file or device option (--json, --plot) on /dev/full: exit 4, one line
 * naming it and the errno. */
static void expect_file_failure(const char *needle, const char *const *args)
{
	struct ds_proc p;
	char why[128];
	snprintf(why, sizeof(why), "write failed: %s", strerror(ENOSPC));
	ds_proc_run(&p, NULL, args);
	ds_proc_check_exit(&p, 4, ARGS(needle, why));
	DS_CHECK(lines(p.err) == 1, "not one line: %s", p.err);
	ds_proc_free(&p);
}

static void test_output_plain(void)
{
	scratch();
	const char *img = make_image("good.img");
	expect_output_failure(true, "stdout", ARGS("mkimage", "--check", img));
	expect_output_failure(true, "stdout", ARGS("verify-image", img));
	expect_output_failure(true, "stdout", ARGS("--version"));
	ds_remove_dir(dir);
}

static void test_output_run(void)
{
	/* --json to a device that refuses writes; the table goes to stdout.
	 * The sinks write line by line, so the write that failed is long past
	 * when the command reports it: its errno must have been kept. */
	expect_file_failure("--json /dev/full: ",
			    ARGS("run", "--epochs", "2", "--json", "/dev/full"));
	expect_output_failure(true, "stdout", ARGS("run", "--epochs", "2", "--json", "-"));
	expect_output_failure(true, "stdout", ARGS("run", "--epochs", "2"));
	expect_output_failure(false, "stdout", ARGS("run", "--epochs", "2"));
	/* compare's own sinks and its picture (once "cannot draw the picture"). */
	expect_file_failure("--json /dev/full: ",
			    ARGS("compare", "--workload", "db", "--json", "/dev/full"));
	expect_file_failure("--plot /dev/full: ",
			    ARGS("compare", "--workload", "db", "--plot", "/dev/full"));
	expect_output_failure(true, "stdout", ARGS("compare", "--workload", "db"));
}

/* ---- names ---- */

static const char evil[] = "a\x1b[2J\nb"; /* clear the screen, then a new line */

/* An image whose one file is named `evil`, metadata checksum re-sealed so
 * that only the name is wrong. */
static const char *evil_image(void)
{
	const char *path = make_image("evil.img");
	struct abi_fs_meta m;
	int fd = open(path, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pread(fd, &m, sizeof(m), ABI_FS_META_BLOCK * ABI_FS_BLOCK) ==
			(ssize_t)sizeof(m));
	memset(m.inodes[0].name, 0, sizeof(m.inodes[0].name));
	memcpy(m.inodes[0].name, evil, sizeof(evil) - 1);
	dsfs_meta_seal(&m);
	CU_ASSERT_FATAL(pwrite(fd, &m, sizeof(m), ABI_FS_META_BLOCK * ABI_FS_BLOCK) ==
			(ssize_t)sizeof(m));
	close(fd);
	return path;
}

static void no_raw_name(const struct ds_proc *p)
{
	DS_CHECK(!strchr(p->out, '\x1b') && !strchr(p->err, '\x1b') && !strstr(p->out, "a\x1b"),
		 "%s: printed the raw name: %s%s", p->cmd, p->out, p->err);
}

static void test_evil_name(void)
{
	scratch();
	const char *img = evil_image();
	const char *why;
	struct abi_fs_meta m;
	int fd = open(img, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0 && pread(fd, &m, sizeof(m), 0) == (ssize_t)sizeof(m));
	close(fd);
	CU_ASSERT(abi_fs_check(&m, ABI_FS_DATA_START + 64, &why) != 0);

	struct ds_proc p;
	/* The reason names the file, escaped: which of 63 files, and what its
	 * name holds, in one line that drives no terminal. */
	static const char named[] = "inode 0 name \"a\\x1b[2J\\x0ab\" holds a byte";
	/* An invalid image: a failed check under mkimage --check, as verify-image
	 * (docs/cli.md: invalid DSFS is 1 where checking is the command's job). */
	ds_proc_run(&p, NULL, ARGS("mkimage", "--check", img));
	ds_proc_check_exit(&p, 1, ARGS("not printable", named));
	DS_CHECK(lines(p.err) == 1 && !p.out[0], "%s: %s%s", p.cmd, p.out, p.err);
	no_raw_name(&p);
	ds_proc_free(&p);
	ds_proc_run(&p, NULL, ARGS("verify-image", img));
	ds_proc_check_exit(&p, 1, ARGS("not printable", named));
	DS_CHECK(lines(p.err) == 1 && !p.out[0], "%s: %s%s", p.cmd, p.out, p.err);
	no_raw_name(&p);
	ds_proc_free(&p);
	/* Under run it is an --image that is not DSFS: input. */
	ds_proc_run(&p, NULL, ARGS("run", "--workload", "db", "--image", img));
	ds_proc_check_exit(&p, 2, ARGS("--image ", "not printable", named));
	no_raw_name(&p);
	ds_proc_free(&p);
	ds_remove_dir(dir);
}

static void test_newline_argument(void)
{
	struct ds_proc p;
	ds_expect_fail(2, NULL, ARGS("no\\x0ape"), ARGS("run", "--workload", "no\npe"));
	ds_expect_fail(2, NULL, ARGS("fr\\x1b[2Job"), ARGS("fr\x1b[2Job"));
	ds_expect_fail(2, NULL, ARGS("a\\x0ab"), ARGS("mkimage", "--check", "a\nb"));
	/* The same argument on stdout is escaped too (recover's report). */
	ds_proc_run(&p, NULL, ARGS("recover", "/nonexistent/x\ny"));
	DS_CHECK(lines(p.err) <= 1 && lines(p.out) <= 1, "%s: %s%s", p.cmd, p.out, p.err);
	ds_proc_free(&p);
}

static const struct ds_case plain_cases[] = {
    {"not a regular file: run --image, verify-image, mkimage --check, recover: 2",
     test_not_regular},
    {"stdout on /dev/full: mkimage --check, verify-image, --version: 4", test_output_plain},
    {"a file name with an escape sequence: invalid, never printed raw", test_evil_name},
    {"an argument with a newline: one line", test_newline_argument},
    {NULL, NULL},
};

static const struct ds_case kvm_cases[] = {
    {"two runs on one image: the second refused (2), the first unaffected", test_two_runs},
    {"one run opening its image many times (host writeback, --verify): 0", test_one_run_many_opens},
    {"run outputs on /dev/full or closed: 4, one line", test_output_run},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_partly_kvm("test_edges", plain_cases, kvm_cases);
}
