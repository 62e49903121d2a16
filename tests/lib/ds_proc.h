/*
 * Running the real dirtyscope binary from a suite (test_cli, test_exit):
 * DIRTYSCOPE_BIN, which tests/CMakeLists.txt defines for them, started with
 * fork/execv, no shell, stdin from /dev/null, stdout and stderr captured in
 * temporary files, and killed by SIGALRM after DS_PROC_TIMEOUT_S seconds
 * (a suite may define its own before including this).  Every run must exit
 * normally: a signal (a crash, the alarm) fails the case.
 *
 *	ds_expect_fail(2, NULL, ARGS("--bogus"), ARGS("run", "--bogus"));
 *	ds_expect_exit(130, &(struct ds_proc_opts){.signal = SIGINT}, ...);
 *	ds_proc_run(&p, NULL, args);	   then check p.code, p.out, p.err
 *	ds_proc_start(&p, ...); ...; ds_proc_finish(&p);   in the background
 */
#ifndef TESTS_DS_PROC_H
#define TESTS_DS_PROC_H

#include <CUnit/Basic.h>
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

#include "tests/lib/ds_test.h"

#ifndef DIRTYSCOPE_BIN
#error "DIRTYSCOPE_BIN must name the dirtyscope binary"
#endif

#ifndef DS_PROC_TIMEOUT_S
#define DS_PROC_TIMEOUT_S 120 /* a hung run is killed by SIGALRM, and fails */
#endif
#define DS_PROC_MAX_ARGS 32

/* A NULL-terminated array of strings, for argv and for expected substrings. */
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* How to run it; a NULL options pointer means all zero. */
struct ds_proc_opts {
	const char *env; /* "NAME=VALUE" added to the child's environment, or NULL */
	int uid;	 /* > 0: the child takes this uid (and gid) before exec; needs root */
	int signal;	 /* > 0: sent once stdout holds two lines: the table's header and
			  * epoch 1's row (the guest is running) */
};

/* One run: how it ended and what it printed. */
struct ds_proc {
	bool exited;   /* exited normally, not killed by a signal */
	int code;      /* exit status if exited, else -1 */
	int sig;       /* terminating signal if not exited, else 0 */
	char *out;     /* captured stdout, NUL-terminated */
	char *err;     /* captured stderr, NUL-terminated */
	char cmd[512]; /* "[ENV ]dirtyscope arg ..." for failure messages */
	/* While it runs (between ds_proc_start and ds_proc_finish): */
	pid_t pid;
	FILE *out_f, *err_f;
};

/* All of f from its start, as a malloc'd NUL-terminated string; NULL if it
 * cannot be read or memory runs out.  f stays open. */
static inline char *ds_slurp(FILE *f)
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

/*
 * Start DIRTYSCOPE_BIN with args (NULL-terminated, argv[0] excluded, at most
 * DS_PROC_MAX_ARGS) and o's environment variable and uid, in the
 * background: p gets the command line, the pid and the output files; the
 * caller ends it with ds_proc_finish.  A failed fork or tmpfile fails the
 * case (fatally); a failed exec shows as exit 127 (126: the set-up before
 * it failed), which ds_proc_finish reports.
 */
static inline void ds_proc_start(struct ds_proc *p, const struct ds_proc_opts *o,
				 const char *const *args)
{
	static const struct ds_proc_opts none;
	char *argv[DS_PROC_MAX_ARGS + 2];
	size_t used;
	int n = 0;

	if (!o)
		o = &none;
	memset(p, 0, sizeof(*p));
	p->code = -1;
	used = (size_t)snprintf(p->cmd, sizeof(p->cmd), "%s%sdirtyscope", o->env ? o->env : "",
				o->env ? " " : "");
	argv[n++] = (char *)DIRTYSCOPE_BIN;
	for (; *args && n <= DS_PROC_MAX_ARGS; args++) {
		argv[n++] = (char *)*args;
		if (used < sizeof(p->cmd))
			used +=
			    (size_t)snprintf(p->cmd + used, sizeof(p->cmd) - used, " %s", *args);
	}
	argv[n] = NULL;

	p->out_f = tmpfile();
	p->err_f = tmpfile();
	CU_ASSERT_FATAL(p->out_f && p->err_f);
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	CU_ASSERT_FATAL(p->pid >= 0);
	if (p->pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(fileno(p->out_f), STDOUT_FILENO) < 0 ||
		    dup2(fileno(p->err_f), STDERR_FILENO) < 0)
			_exit(126);
		if (o->env && putenv((char *)o->env))
			_exit(126);
		if (o->uid > 0 && (setgid((gid_t)o->uid) || setuid((uid_t)o->uid)))
			_exit(126);
		alarm(DS_PROC_TIMEOUT_S);
		execv(DIRTYSCOPE_BIN, argv);
		_exit(127);
	}
}

/*
 * Wait (as long as it takes; the child's alarm bounds it) until the started
 * p's stdout holds two lines, the table's header and epoch 1's row.
 * Returns whether they came before DS_PROC_TIMEOUT_S seconds passed.
 */
static inline bool ds_proc_wait_first_row(const struct ds_proc *p)
{
	for (int i = 0; i < DS_PROC_TIMEOUT_S * 10; i++) {
		struct stat st;
		char buf[512] = "";

		if (fstat(fileno(p->out_f), &st) == 0 && st.st_size > 0) {
			ssize_t n = pread(fileno(p->out_f), buf, sizeof(buf) - 1, 0);
			const char *nl = n > 0 ? strchr(buf, '\n') : NULL;
			if (nl && strchr(nl + 1, '\n'))
				return true;
		}
		usleep(100 * 1000);
	}
	return false;
}

/*
 * Wait for the started p to end and fill in how (exited, code, sig) and
 * its output (out, err); the output files are closed.  Checks it exited
 * normally and could be executed.  Returns the exit status, or -1 if it
 * did not exit normally.  Free p with ds_proc_free.
 */
static inline int ds_proc_finish(struct ds_proc *p)
{
	int status;

	while (waitpid(p->pid, &status, 0) < 0)
		CU_ASSERT_FATAL(errno == EINTR);
	p->out = ds_slurp(p->out_f);
	p->err = ds_slurp(p->err_f);
	fclose(p->out_f);
	fclose(p->err_f);
	p->out_f = p->err_f = NULL;
	CU_ASSERT_FATAL(p->out && p->err);

	if (WIFEXITED(status)) {
		p->exited = true;
		p->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		p->sig = WTERMSIG(status);
	}
	DS_CHECK(p->exited, "%s: killed by signal %d%s", p->cmd, p->sig,
		 WIFSIGNALED(status) && WCOREDUMP(status) ? " (core dumped)" : "");
	DS_CHECK(!p->exited || (p->code != 126 && p->code != 127), "%s: could not execute %s",
		 p->cmd, DIRTYSCOPE_BIN);
	return p->exited ? p->code : -1;
}

/*
 * Run args to the end with options o (NULL: none): ds_proc_start, then,
 * with o->signal, that signal once epoch 1's row is out (checked to come;
 * sent either way), then ds_proc_finish, whose result it returns.
 */
static inline int ds_proc_run(struct ds_proc *p, const struct ds_proc_opts *o,
			      const char *const *args)
{
	ds_proc_start(p, o, args);
	if (o && o->signal > 0) {
		DS_CHECK(ds_proc_wait_first_row(p), "%s: no epoch row before the timeout", p->cmd);
		kill(p->pid, o->signal);
	}
	return ds_proc_finish(p);
}

/* Free what ds_proc_finish captured; p can be reused. */
static inline void ds_proc_free(struct ds_proc *p)
{
	free(p->out);
	free(p->err);
	p->out = p->err = NULL;
}

/* Check the finished p exited with code and every string of needles (a
 * NULL-terminated array, or NULL) is on its stderr. */
static inline void ds_proc_check_exit(const struct ds_proc *p, int code, const char *const *needles)
{
	DS_CHECK(p->code == code, "%s: exit %d, expected %d; stderr: %s", p->cmd, p->code, code,
		 p->err);
	for (; needles && *needles; needles++)
		DS_CHECK(strstr(p->err, *needles) != NULL, "%s: stderr does not mention \"%s\": %s",
			 p->cmd, *needles, p->err);
}

/* Run args with options o (NULL: none) and check it exits with code and
 * prints every string of needles on stderr. */
static inline void ds_expect_exit(int code, const struct ds_proc_opts *o,
				  const char *const *needles, const char *const *args)
{
	struct ds_proc p;

	ds_proc_run(&p, o, args);
	ds_proc_check_exit(&p, code, needles);
	ds_proc_free(&p);
}

/*
 * ds_expect_exit, and the CLI's error contract (docs/cli.md): nothing on
 * stdout, exactly one line on stderr, starting with "dirtyscope: ".
 */
static inline void ds_expect_fail(int code, const struct ds_proc_opts *o,
				  const char *const *needles, const char *const *args)
{
	struct ds_proc p;
	const char *nl;

	ds_proc_run(&p, o, args);
	ds_proc_check_exit(&p, code, needles);
	nl = strchr(p.err, '\n');
	DS_CHECK(p.out[0] == '\0', "%s: unexpected stdout: %s", p.cmd, p.out);
	DS_CHECK(nl && nl != p.err && nl[1] == '\0', "%s: stderr is not exactly one line: \"%s\"",
		 p.cmd, p.err);
	DS_CHECK(!strncmp(p.err, "dirtyscope: ", strlen("dirtyscope: ")),
		 "%s: stderr does not start with \"dirtyscope: \": %s", p.cmd, p.err);
	ds_proc_free(&p);
}

/* Run args and check it exits 0 with something on stdout; the caller
 * checks the rest of p and frees it. */
static inline void ds_expect_ok(struct ds_proc *p, const char *const *args)
{
	ds_proc_run(p, NULL, args);
	DS_CHECK(p->code == 0, "%s: exit %d, expected 0; stderr: %s", p->cmd, p->code, p->err);
	DS_CHECK(p->out[0] != '\0', "%s: nothing on stdout", p->cmd);
}

/* Remove the scratch directory dir and the files a run left in it (a
 * failed check may leave some); checks it is gone. */
static inline void ds_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	CU_ASSERT_FATAL(d != NULL);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	DS_CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
}

#endif
