/*
 * Epochs by the host's clock and the progress line, with the real binary:
 *
 *   usage      --epoch-ms out of range, with a file workload, with
 *              --migrate-to: 2
 *   modes      run --epoch-ms 100 --epochs 20 --verify on every log mode:
 *              20 epochs, none lost, each epoch counting the workload's
 *              stores (workload-pages null), the summary's stores their
 *              sum and its dirty-rate-mibs the epochs' dirty pages over
 *              their running time; the run at least 20 x 100 ms long (the
 *              clock ends an epoch no earlier than its schedule);
 *              harvest-us split into get and clear; uffd only where the
 *              kernel can track writes that way, else refused with 3
 *   stop       a round of 4,000,000 stores, far longer than the run: the
 *              guest stops within it once the last epoch ended (the
 *              summary's stores stay far below one round), its own data
 *              check passing
 *   progress   an epoch of 2.5 s with stderr on a terminal (a pty): a
 *              progress line, rewritten in place ("\r", erase), naming the
 *              epoch, its stores and its dirty rate; none with --quiet,
 *              none when stderr is not a terminal
 *
 * Wall-clock figures are asserted only one way (an epoch is never shorter
 * than its schedule allows), so a busy machine makes runs slower, never
 * failed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logger/dlog/uffd_track.h"
#include "tests/lib/ds_json.h"
#include "tests/lib/ds_proc.h"
#include "tests/lib/ds_test.h"

#define CHECK DS_CHECK

static void test_usage(void)
{
	struct ds_proc p;
	ds_proc_run(&p, NULL, ARGS("run", "--epoch-ms", "0"));
	ds_proc_check_exit(&p, 2, ARGS("--epoch-ms 0: out of range"));
	ds_proc_free(&p);
	ds_proc_run(&p, NULL, ARGS("run", "--epoch-ms", "3600001"));
	ds_proc_check_exit(&p, 2, ARGS("--epoch-ms 3600001: out of range"));
	ds_proc_free(&p);
	ds_proc_run(&p, NULL, ARGS("run", "--workload", "db", "--epoch-ms", "100"));
	ds_proc_check_exit(&p, 2, ARGS("--epoch-ms: for the anonymous workloads"));
	ds_proc_free(&p);
	ds_proc_run(&p, NULL,
		    ARGS("run", "--epoch-ms", "100", "--migrate-to", "unix:/nonexistent/x.sock"));
	ds_proc_check_exit(&p, 2, ARGS("--epoch-ms: not with --migrate-to"));
	ds_proc_free(&p);
}

/* One mode's run of 20 epochs of 100 ms, verified. */
static void check_mode(const char *mode)
{
	struct ds_proc p;
	struct ds_jsonl j;
	/* The ring as large as it takes to stay below its soft limit here
	 * (docs/platform-notes.md): an epoch of 100 ms pushes about 4,500
	 * entries on this project's hosts, past the default ring. */
	ds_expect_ok(&p, ARGS("run", "--log", mode, "--ring-entries", "16384", "--epoch-ms", "100",
			      "--epochs", "20", "--verify", "--json", "-"));
	if (!DS_JSONL_PARSE(&j, p.cmd, p.out))
		goto out;
	struct json_object *sum = DS_JSONL_SUMMARY(&j);
	CHECK(DS_JSONL_EPOCHS(&j, 1) == 20 && j.n == 21, "%s: not epochs 1..20 and the summary",
	      p.cmd);
	DS_JSON_INT_EQ(sum, "epochs", 20);
	DS_JSON_INT_EQ(sum, "epoch-ms", 100);
	DS_JSON_INT_EQ(sum, "lost-pages", 0);
	DS_JSON_STR_EQ(sum, "guest-check", "passed");
	DS_JSON_NULL(sum, "workload-pages");
	int64_t pages = 0, stores = 0;
	double us = 0;
	for (size_t i = 0; i < 20; i++) {
		struct json_object *e = ds_jsonl_find(&j, "epoch", i);
		if (!e)
			break;
		DS_JSON_INT_EQ(e, "lost-pages", 0);
		DS_JSON_NULL(e, "workload-pages");
		stores += DS_JSON_INT(e, "workload-stores");
		pages += DS_JSON_INT(e, "dirty-pages");
		us += DS_JSON_NUM(e, "epoch-us");
		double h = DS_JSON_NUM(e, "harvest-us"), g = DS_JSON_NUM(e, "harvest-get-us"),
		       c = DS_JSON_NUM(e, "harvest-clear-us");
		CHECK(g >= 0 && c >= 0 && g + c > h - 0.25 && g + c < h + 0.25,
		      "%s: epoch %zu: harvest %.1f us is not get %.1f + clear %.1f", p.cmd, i + 1,
		      h, g, c);
	}
	DS_JSON_INT_EQ(sum, "workload-stores", stores);
	DS_JSON_INT_EQ(sum, "dirty-pages", pages);
	CHECK(pages > 0, "%s: no page dirty in 20 epochs", p.cmd);
	/* Each epoch ends no earlier than its slot of the schedule, so the
	 * run lasts at least 20 x 100 ms. */
	double ms = DS_JSON_NUM(sum, "total-time-ms");
	CHECK(ms >= 2000.0 && us > 0, "%s: 20 epochs of 100 ms in a run of %.1f ms", p.cmd, ms);
	double rate = DS_JSON_NUM(sum, "dirty-rate-mibs");
	double want = (double)pages * 4096.0 / (1 << 20) / (us / 1e6);
	CHECK(rate > want * 0.999 && rate < want * 1.001,
	      "%s: summary dirty-rate-mibs %.3f, the epochs give %.3f", p.cmd, rate, want);
out:
	ds_jsonl_free(&j);
	ds_proc_free(&p);
}

static void test_modes(void)
{
	static const char *const modes[] = {"bitmap", "clear", "ring"};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		check_mode(modes[i]);
	/* uffd where this kernel can track writes that way; where it cannot
	 * (before Linux 6.7), the run must refuse the mode as the platform's
	 * failure (3), saying why, as docs/cli.md promises. */
	char why[160];
	if (!uffd_track_probe(why, sizeof(why))) {
		check_mode("uffd");
	} else {
		printf("\n    uffd: %s: refused with 3", why);
		ds_expect_fail(3, NULL, ARGS("userfaultfd"),
			       ARGS("run", "--log", "uffd", "--epoch-ms", "100", "--epochs", "2"));
	}
}

static void test_stop_mid_round(void)
{
	struct ds_proc p;
	struct ds_jsonl j;
	ds_expect_ok(&p, ARGS("run", "--writes", "4000000", "--epoch-ms", "50", "--epochs", "3",
			      "--verify", "--json", "-"));
	if (DS_JSONL_PARSE(&j, p.cmd, p.out)) {
		struct json_object *sum = DS_JSONL_SUMMARY(&j);
		DS_JSON_INT_EQ(sum, "epochs", 3);
		DS_JSON_INT_EQ(sum, "lost-pages", 0);
		DS_JSON_STR_EQ(sum, "guest-check", "passed");
		/* The run ending at all is the proof (one round would take
		 * minutes here, past the harness's timeout); the count can be
		 * 0 on a busy machine, published as it is every 256 stores. */
		int64_t stores = DS_JSON_INT(sum, "workload-stores");
		CHECK(stores >= 0 && stores < 4000000,
		      "%s: %lld stores: the guest did not stop within its round", p.cmd,
		      (long long)stores);
	}
	ds_jsonl_free(&j);
	ds_proc_free(&p);
}

/* Run dirtyscope with stderr on a new pty (stdout to /dev/null); what the
 * terminal got, NUL-terminated (free it), and the exit status in *code. */
static char *run_on_pty(const char *const *args, int *code)
{
	int master, slave;
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0)
		return NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(slave, 2);
		close(master);
		const char *argv[32] = {DIRTYSCOPE_BIN};
		for (int i = 0; args[i] && i < 30; i++)
			argv[i + 1] = args[i];
		execv(DIRTYSCOPE_BIN, (char *const *)argv);
		_exit(127);
	}
	close(slave);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		ssize_t n = read(master, buf + len, cap - 1 - len);
		if (n <= 0)
			break; /* EIO once the child closed the slave */
		len += (size_t)n;
		if (len == cap - 1)
			break;
	}
	buf[len] = 0;
	close(master);
	int st = 0;
	waitpid(pid, &st, 0);
	*code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf;
}

static void test_progress(void)
{
	int code;
	char *out = run_on_pty(ARGS("run", "--epoch-ms", "2500", "--epochs", "1"), &code);
	CU_ASSERT_FATAL(out != NULL);
	CHECK(code == 0, "run on a pty: exit %d: %s", code, out);
	CHECK(strstr(out, "\r\033[Kepoch 1: ") && strstr(out, " stores, ") &&
		  strstr(out, " pages dirty, ") && strstr(out, " MiB/s"),
	      "no progress line on the terminal: \"%s\"", out);
	free(out);

	out = run_on_pty(ARGS("run", "--epoch-ms", "2500", "--epochs", "1", "--quiet"), &code);
	CU_ASSERT_FATAL(out != NULL);
	CHECK(code == 0 && !strstr(out, "epoch 1:"), "--quiet: exit %d, the terminal got \"%s\"",
	      code, out);
	free(out);

	struct ds_proc p;
	ds_expect_ok(&p, ARGS("run", "--epoch-ms", "2500", "--epochs", "1"));
	CHECK(!strstr(p.err, "epoch 1:") && !strchr(p.err, '\r'),
	      "stderr not a terminal, still a progress line: \"%s\"", p.err);
	ds_proc_free(&p);
}

static const struct ds_case plain_cases[] = {
    {"--epoch-ms: out of range, file workloads, --migrate-to: 2", test_usage},
    {NULL, NULL},
};

static const struct ds_case kvm_cases[] = {
    {"every log mode: 20 epochs of 100 ms, none lost, the dirty rate of its epochs", test_modes},
    {"a round longer than the run: the guest stops within it", test_stop_mid_round},
    {"progress line on a terminal only, not with --quiet", test_progress},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_partly_kvm("test_timed", plain_cases, kvm_cases);
}
