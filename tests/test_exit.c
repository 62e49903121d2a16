/*
 * Exit codes come from what failed, never from an errno (util/fail.h,
 * docs/cli.md "Exit codes").  Each case induces one failure category by
 * running the real binary (DIRTYSCOPE_BIN) and checks its exit code and the
 * one line that says why:
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
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef DIRTYSCOPE_BIN
#error "DIRTYSCOPE_BIN must name the dirtyscope binary"
#endif

#define RUN_TIMEOUT_S 300 /* a hung run is killed by SIGALRM, and fails */
#define MAX_ARGS      32

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void check_at(bool ok, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void check_at(bool ok, int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ok)
		printf("\n    line %d: %s", line, msg);
	CU_assertImplementation(ok, line, msg, __FILE__, "", CU_FALSE);
}

#define CHECK(cond, ...) check_at((cond), __LINE__, __VA_ARGS__)

/* One run of the binary: its exit code (-1: killed), stdout and stderr. */
struct proc {
	char cmd[512];
	int code;
	char *out, *err;
};

static char *slurp(FILE *f)
{
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);

	if (!buf || fseek(f, 0, SEEK_SET)) {
		free(buf);
		return NULL;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	return buf;
}

static void proc_free(struct proc *p)
{
	free(p->out);
	free(p->err);
	p->out = p->err = NULL;
}

/* Start the binary with args (argv[0] excluded) and, if env is non-NULL,
 * the environment variable "NAME=VALUE" set; stdout and stderr go to out
 * and err.  Returns the child's pid. */
static pid_t spawn(const char *env, const char *const *args, FILE *out, FILE *err)
{
	char *argv[MAX_ARGS + 2];
	int n = 0;

	argv[n++] = (char *)DIRTYSCOPE_BIN;
	for (; *args && n <= MAX_ARGS; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(fileno(out), STDOUT_FILENO) < 0 || dup2(fileno(err), STDERR_FILENO) < 0)
			_exit(126);
		if (env && putenv((char *)env))
			_exit(126);
		alarm(RUN_TIMEOUT_S);
		execv(DIRTYSCOPE_BIN, argv);
		_exit(127);
	}
	return pid;
}

/* Wait for pid and fill p from its status and output files. */
static void reap(struct proc *p, pid_t pid, FILE *out, FILE *err)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		CU_ASSERT_FATAL(errno == EINTR);
	p->out = slurp(out);
	p->err = slurp(err);
	fclose(out);
	fclose(err);
	CU_ASSERT_FATAL(p->out && p->err);
	p->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	CHECK(WIFEXITED(status), "%s: killed by signal %d", p->cmd,
	      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	CHECK(p->code != 126 && p->code != 127, "%s: could not execute %s", p->cmd, DIRTYSCOPE_BIN);
}

static void describe(struct proc *p, const char *env, const char *const *args)
{
	size_t used = (size_t)snprintf(p->cmd, sizeof(p->cmd), "%s%sdirtyscope", env ? env : "",
				       env ? " " : "");
	for (; *args && used < sizeof(p->cmd); args++)
		used += (size_t)snprintf(p->cmd + used, sizeof(p->cmd) - used, " %s", *args);
}

/* Run to the end; returns the exit code. */
static int run_env(struct proc *p, const char *env, const char *const *args)
{
	memset(p, 0, sizeof(*p));
	describe(p, env, args);
	FILE *out = tmpfile(), *err = tmpfile();
	CU_ASSERT_FATAL(out && err);
	reap(p, spawn(env, args, out, err), out, err);
	return p->code;
}

/* Run and expect exit `code` with every string of needles on stderr. */
static void expect_exit(int code, const char *env, const char *const *needles,
			const char *const *args)
{
	struct proc p;
	int got = run_env(&p, env, args);

	CHECK(got == code, "%s: exit %d, expected %d; stderr: %s", p.cmd, got, code, p.err);
	for (; needles && *needles; needles++)
		CHECK(strstr(p.err, *needles) != NULL, "%s: stderr does not mention \"%s\": %s",
		      p.cmd, *needles, p.err);
	proc_free(&p);
}

/* A scratch directory, removed with what is in it. */
static void remove_dir(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "%s failed", cmd);
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
	remove_dir(dir);
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
	struct proc p;
	int got = run_env(&p, env, args);

	CHECK(got == 4, "%s: exit %d, expected 4; stderr: %s", p.cmd, got, p.err);
	CHECK(strstr(p.err, call) && strstr(p.err, errtext),
	      "%s: stderr does not say %s failed with \"%s\": %s", p.cmd, call, errtext, p.err);
	CHECK(strstr(p.out, "\n     1 ") != NULL, "%s: no row for epoch 1 (mid-run?): %s", p.cmd,
	      p.out);
	proc_free(&p);
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
	remove_dir(dir);
}

static void test_migration(void)
{
	char dir[] = "/tmp/test_exit.XXXXXX", addr[96];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(addr, sizeof(addr), "unix:%s/nobody.sock", dir);
	expect_exit(5, NULL, ARGS("cannot connect", "did not migrate"),
		    ARGS("run", "--wss", "16", "--epochs", "2", "--migrate-to", addr,
			 "--migrate-retries", "0"));
	remove_dir(dir);
}

/* SIGINT once the guest is running (its first epoch printed): 130. */
static void test_interrupted(void)
{
	const char *const *args = ARGS("run", "--wss", "16", "--epochs", "1000000");
	struct proc p = {0};
	describe(&p, NULL, args);
	FILE *out = tmpfile(), *err = tmpfile();
	CU_ASSERT_FATAL(out && err);
	pid_t pid = spawn(NULL, args, out, err);

	/* Wait for epoch 1's row (header plus one line), as long as it takes. */
	bool running = false;
	for (int i = 0; i < RUN_TIMEOUT_S * 10 && !running; i++) {
		struct stat st;
		char buf[512] = "";
		if (fstat(fileno(out), &st) == 0 && st.st_size > 0) {
			ssize_t n = pread(fileno(out), buf, sizeof(buf) - 1, 0);
			running = n > 0 && strchr(buf, '\n') && strchr(strchr(buf, '\n') + 1, '\n');
		}
		if (!running)
			usleep(100 * 1000);
	}
	CHECK(running, "%s: no epoch row before the timeout", p.cmd);
	kill(pid, SIGINT);
	reap(&p, pid, out, err);
	CHECK(p.code == 130, "%s: exit %d after SIGINT, expected 130; stderr: %s", p.cmd, p.code,
	      p.err);
	CHECK(strstr(p.err, "interrupted") != NULL, "%s: stderr: %s", p.cmd, p.err);
	proc_free(&p);
}

struct exit_case {
	const char *name;
	void (*fn)(void);
};

static const struct exit_case plain_cases[] = {
    {"usage: unknown option, command, workload, malformed hook: 2", test_usage},
    {"input: --image not DSFS or missing: 2; mkimage --check: 1", test_input},
    {"platform: no KVM device, not a KVM device: 3", test_platform},
    {NULL, NULL},
};

static const struct exit_case kvm_cases[] = {
    {"run: KVM_RUN and KVM_GET_DIRTY_LOG failing mid-run (EINVAL, EPERM): 4",
     test_kvm_failed_mid_run},
    {"check: db under lossy with --verify: 1", test_check},
    {"migration: nobody listening: 5", test_migration},
    {"interrupted: SIGINT mid-run: 130", test_interrupted},
    {NULL, NULL},
};

static void add_cases(CU_pSuite s, const struct exit_case *c)
{
	for (; c->name; c++)
		CU_add_test(s, c->name, c->fn);
}

int main(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int kvm_errno = errno;
	bool kvm = fd >= 0;
	if (kvm)
		close(fd);

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("exit", NULL, NULL);
	add_cases(s, plain_cases);
	if (kvm)
		add_cases(s, kvm_cases);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	if (failed)
		return 1;
	if (!kvm) {
		printf("test_exit: cannot open /dev/kvm (%s): the cases that boot a guest did not "
		       "run\n",
		       strerror(kvm_errno));
		return 77;
	}
	return 0;
}
