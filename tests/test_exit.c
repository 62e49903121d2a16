/*
 * Exit codes come from what failed, never from an errno (util/fail.h,
 * docs/cli.md "Exit codes").  Each case induces one failure category by
 * running the real binary (DIRTYSCOPE_BIN, through tests/lib/ds_proc.h) and
 * checks its exit code and the one line that says why:
 *
 *   usage        an unknown option, an unknown command, a malformed test
 *                hook: 2
 *   input        an --image that is not DSFS, or missing: 2
 *   platform     --kvm-device /nonexistent for run and info, /dev/null
 *                (not a KVM device): 3
 *   check        mkimage --check on a foreign file; db under the lossy
 *                policy with --verify (the image misses stores): 1
 *   migration    run --migrate-to a unix socket nobody listens on: the guest
 *                finishes here, 5
 *   interrupted  SIGINT once the first epoch was printed: 130
 *   run          a KVM call failing mid-run, through the test hook
 *                DIRTYSCOPE_TEST_KVM_FAIL (vmm/kvm.h): KVM_RUN and
 *                KVM_GET_DIRTY_LOG, each with EINVAL and with EPERM, all 4
 *                (an errno mapping gave 2 for EINVAL and 3 for EPERM); the
 *                first epoch's row shows the guest was running.
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
#include <unistd.h>

#define DS_PROC_TIMEOUT_S 300 /* a hung run is killed by SIGALRM, and fails */
#include "tests/lib/ds_proc.h"
#include "tests/lib/ds_test.h"

/* Run and expect exit `code` with every string of needles on stderr; env,
 * if non-NULL, is "NAME=VALUE" set for the run. */
static void expect_exit(int code, const char *env, const char *const *needles,
			const char *const *args)
{
	ds_expect_exit(code, &(struct ds_proc_opts){.env = env}, needles, args);
}

/* ---- usage and input: 2 ---- */

static void test_usage(void)
{
	expect_exit(2, NULL, ARGS("--bogus"), ARGS("run", "--bogus"));
	expect_exit(2, NULL, ARGS("'frob'"), ARGS("frob"));
	expect_exit(2, NULL, ARGS("--workload nope"), ARGS("compare", "--workload", "nope"));
	/* The hook itself is checked like an option, before KVM. */
	expect_exit(2, "DIRTYSCOPE_TEST_KVM_FAIL=KVM_NOPE:EINVAL", ARGS("DIRTYSCOPE_TEST_KVM_FAIL"),
		    ARGS("run", "--epochs", "2"));
	expect_exit(2, "DIRTYSCOPE_TEST_RING_OVERRUN=1", ARGS("DIRTYSCOPE_TEST_RING_OVERRUN"),
		    ARGS("run", "--log", "bitmap", "--epochs", "2"));
}

static void test_input(void)
{
	char dir[] = "/tmp/test_exit.XXXXXX", img[64];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(img, sizeof(img), "%s/zero.img", dir);
	int fd = open(img, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, 65536) == 0);
	close(fd);

	/* Not DSFS: refused before KVM is opened, so no device is needed. */
	expect_exit(
	    2, NULL, ARGS("--image", img),
	    ARGS("run", "--workload", "db", "--image", img, "--kvm-device", "/nonexistent/kvm"));
	expect_exit(2, NULL, ARGS("--image", "/nonexistent/db.img"),
		    ARGS("run", "--workload", "db", "--image", "/nonexistent/db.img"));
	/* The same file under mkimage --check is a failed check. */
	expect_exit(1, NULL, ARGS(img), ARGS("mkimage", "--check", img));
	ds_remove_dir(dir);
}

/* ---- platform: 3 ---- */

static void test_platform(void)
{
	expect_exit(3, NULL, ARGS("/nonexistent/kvm"),
		    ARGS("run", "--epochs", "2", "--kvm-device", "/nonexistent/kvm"));
	expect_exit(3, NULL, ARGS("/nonexistent/kvm"),
		    ARGS("info", "--kvm-device", "/nonexistent/kvm"));
	expect_exit(3, NULL, ARGS("/dev/null"), ARGS("run", "--kvm-device", "/dev/null"));
}

/* ---- cases that boot a guest ---- */

/* The run failed mid-run: KVM refused a call after the first epoch, so the
 * first epoch's row is on stdout and the message names the call. */
static void expect_run_failure(const char *env, const char *call, const char *errtext,
			       const char *const *args)
{
	struct ds_proc p;

	ds_proc_run(&p, &(struct ds_proc_opts){.env = env}, args);
	ds_proc_check_exit(&p, 4, ARGS(call, errtext));
	DS_CHECK(strstr(p.out, "\n     1 ") != NULL, "%s: no row for epoch 1 (mid-run?): %s", p.cmd,
		 p.out);
	ds_proc_free(&p);
}

static void test_kvm_failed_mid_run(void)
{
	const char *const *run = ARGS("run", "--wss", "16", "--epochs", "3");

	expect_run_failure("DIRTYSCOPE_TEST_KVM_FAIL=KVM_RUN:EINVAL", "KVM_RUN", "Invalid argument",
			   run);
	expect_run_failure("DIRTYSCOPE_TEST_KVM_FAIL=KVM_RUN:EPERM", "KVM_RUN",
			   "Operation not permitted", run);
	expect_run_failure("DIRTYSCOPE_TEST_KVM_FAIL=KVM_GET_DIRTY_LOG:EINVAL", "KVM_GET_DIRTY_LOG",
			   "Invalid argument", run);
	expect_run_failure("DIRTYSCOPE_TEST_KVM_FAIL=KVM_GET_DIRTY_LOG:EPERM", "KVM_GET_DIRTY_LOG",
			   "Operation not permitted", run);
	/* Unarmed, the same run succeeds. */
	expect_exit(0, NULL, NULL, run);
}

static void test_check(void)
{
	char dir[64], env[96];
	snprintf(dir, sizeof(dir), "/tmp/test_exit.XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(env, sizeof(env), "TMPDIR=%s", dir); /* the temporary image goes here */
	expect_exit(1, env, ARGS("verify: file db page", "differ from what"),
		    ARGS("run", "--workload", "db", "--policy", "lossy", "--verify"));
	ds_remove_dir(dir);
}

static void test_migration(void)
{
	char dir[] = "/tmp/test_exit.XXXXXX", addr[96];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(addr, sizeof(addr), "unix:%s/nobody.sock", dir);
	expect_exit(5, NULL, ARGS("cannot connect", "did not migrate"),
		    ARGS("run", "--wss", "16", "--epochs", "2", "--migrate-to", addr,
			 "--migrate-retries", "0"));
	ds_remove_dir(dir);
}

/* SIGINT once the guest is running (its first epoch printed): 130. */
static void test_interrupted(void)
{
	ds_expect_exit(130, &(struct ds_proc_opts){.signal = SIGINT}, ARGS("interrupted"),
		       ARGS("run", "--wss", "16", "--epochs", "1000000"));
}

static const struct ds_case plain_cases[] = {
    {"usage: unknown option, command, workload, malformed hook: 2", test_usage},
    {"input: --image not DSFS or missing: 2; mkimage --check: 1", test_input},
    {"platform: no KVM device, not a KVM device: 3", test_platform},
    {NULL, NULL},
};

static const struct ds_case kvm_cases[] = {
    {"run: KVM_RUN and KVM_GET_DIRTY_LOG failing mid-run (EINVAL, EPERM): 4",
     test_kvm_failed_mid_run},
    {"check: db under lossy with --verify: 1", test_check},
    {"migration: nobody listening: 5", test_migration},
    {"interrupted: SIGINT mid-run: 130", test_interrupted},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_partly_kvm("test_exit", plain_cases, kvm_cases);
}
