/*
 * The dirtyscope command line, tested by running the built binary
 * (DIRTYSCOPE_BIN) with fork/execv, no shell, and capturing its stdout and
 * stderr in temporary files (tests/lib/ds_proc.h).  Every run must exit
 * normally (never by a signal).  The suite covers:
 *
 *   - usage and input errors: unknown commands and options, missing and
 *     extra arguments, bad --log/--workload names, --mem sizes that are not
 *     sizes or out of 16M..256G, bad --wss/--epochs numbers, a --wss larger
 *     than the guest's RAM can map, --ring-entries that are not a power of
 *     two or below/above what KVM takes, misused --hot-pages, and a --json
 *     file that cannot be created: each exits 2;
 *   - platform errors: a missing KVM device, or one that is not KVM
 *     (/dev/null), for run and info: each exits 3;
 *   - every error above prints exactly one line on stderr, starting with
 *     "dirtyscope: " and naming the offending option or value, and nothing
 *     on stdout;
 *   - --help for the command and every subcommand, each with its "Exit
 *     status:" block; --version and -V; info itself, naming the binary
 *     that holds the guest kernel and the build's guest.elf, in text and
 *     in --json;
 *   - JSON output, read back with a JSON parser (tests/lib/ds_json.h) and
 *     checked field by field: a file holds one object per epoch, numbered
 *     from 1, plus the summary, which totals them, and is renamed into place
 *     with no temporary left over; a failed run leaves no file at all;
 *     "--json -" puts only JSON on stdout; the file workloads', host
 *     writeback's, compare's and a migration's (both ends') figures;
 *   - a small verified run prints the epoch table;
 *   - mkimage: an image is created (no temporary left) and --check lists
 *     its files (exit 0); --check on a corrupt, foreign or truncated image
 *     exits 1 naming the reason, on a missing file exits 2; files that do
 *     not fit, bad --file or --size values, a missing --size, usage errors
 *     and a FIFO target exit 2, each with one line on stderr.
 *
 * Cases that boot a guest or query KVM need /dev/kvm; without it they are
 * left out (and said so), the rest still run, and the suite exits 77
 * (skipped) unless one of those failed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "fs/dsfs.h"
#include "logger/hostwb/journal.h"
#include "tests/lib/ds_json.h"
#include "tests/lib/ds_proc.h"
#include "tests/lib/ds_test.h"
#include "vmm/boot.h"

#define CHECK DS_CHECK

/* Most cases run with no options. */
static void expect_fail(int code, const char *const *needles, const char *const *args)
{
	ds_expect_fail(code, NULL, needles, args);
}

/* The largest ring, in entries, this host's KVM takes (0: no dirty ring). */
static unsigned long kvm_max_ring_entries(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int bytes;

	if (fd < 0)
		return 0;
	bytes = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING_ACQ_REL);
	if (bytes <= 0)
		bytes = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
	close(fd);
	return bytes > 0 ? (unsigned long)bytes / sizeof(struct kvm_dirty_gfn) : 0;
}

/* Names in dir other than "." and "..", joined with spaces; count in *n. */
static void list_dir(const char *dir, char *names, size_t len, unsigned int *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t used = 0;

	*n = 0;
	names[0] = '\0';
	CU_ASSERT_FATAL(d != NULL);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		(*n)++;
		if (used < len)
			used += (size_t)snprintf(names + used, len - used, "%s%s", used ? " " : "",
						 e->d_name);
	}
	closedir(d);
}

/* The per-epoch objects of j, in order, into out (at most max); how many. */
static size_t epoch_objects(const struct ds_jsonl *j, struct json_object **out, size_t max)
{
	size_t n = 0;
	struct json_object *o;

	while (n < max && (o = ds_jsonl_find(j, "epoch", n)))
		out[n++] = o;
	return n;
}

/*
 * The JSON lines p printed (`--json -`), parsed into j (free it with
 * ds_jsonl_free): epochs 1..n, at least one, then the summary, which
 * counts n epochs.  The epoch objects go to ep (64 of them at the most),
 * the summary to *sum; returns n.
 */
static size_t parse_epochs_json(struct ds_jsonl *j, const struct ds_proc *p,
				struct json_object *ep[64], struct json_object **sum)
{
	DS_JSONL_PARSE(j, p->cmd, p->out);
	*sum = DS_JSONL_SUMMARY(j);
	size_t n = epoch_objects(j, ep, 64);
	CHECK(n > 0 && n + 1 == j->n && DS_JSONL_EPOCHS(j, 1) == n,
	      "%s: not epochs 1.. and the summary: %s", p->cmd, p->out);
	DS_JSON_INT_EQ(*sum, "epochs", (int64_t)n);
	return n;
}

/*
 * The JSON of `run --epochs <epochs>` with the default workload (seq, which
 * writes each of its --wss pages every epoch) and log mode: nothing but
 * epochs 1..<epochs> and the summary after them, which totals them; every
 * epoch logged at least the pages the workload wrote; lost pages counted
 * with --verify (none), null without; the guest's own check passed.
 */
static void check_run_json(const struct ds_jsonl *j, int64_t epochs, bool verify)
{
	struct json_object *sum = DS_JSONL_SUMMARY(j), *ep[64];
	size_t n = epoch_objects(j, ep, 64);

	CHECK(j->n == (size_t)epochs + 1, "%s: %zu objects, expected %lld epochs and the summary",
	      j->what, j->n, (long long)epochs);
	CHECK(DS_JSONL_EPOCHS(j, 1) == (size_t)epochs, "%s: not %lld epochs", j->what,
	      (long long)epochs);
	DS_JSON_BOOL_EQ(sum, "summary", true);
	DS_JSON_INT_EQ(sum, "epochs", epochs);
	DS_JSON_STR_EQ(sum, "mode", "bitmap");
	DS_JSON_STR_EQ(sum, "workload", "seq");
	DS_JSON_STR_EQ(sum, "guest-check", "passed");
	/* Every verdict of a run that passed: no image to check, nothing
	 * failed, the exit code 0. */
	DS_JSON_STR_EQ(sum, "image-check", "not-checked");
	DS_JSON_NULL(sum, "image-pages-differ");
	DS_JSON_BOOL_EQ(sum, "completed", true);
	DS_JSON_BOOL_EQ(sum, "dirty-log-overflow", false);
	DS_JSON_NULL(sum, "failed-check");
	DS_JSON_NULL(sum, "failure");
	DS_JSON_NULL(sum, "error");
	DS_JSON_INT_EQ(sum, "exit-code", 0);
	int64_t wss = DS_JSON_INT(sum, "wss-pages");
	CHECK(wss > 0, "%s: wss-pages %lld", j->what, (long long)wss);
	for (size_t i = 0; i < n; i++) {
		DS_JSON_STR_EQ(ep[i], "mode", "bitmap");
		DS_JSON_STR_EQ(ep[i], "workload", "seq");
		DS_JSON_INT_EQ(ep[i], "workload-pages", wss);
		int64_t dirty = DS_JSON_INT(ep[i], "dirty-pages");
		CHECK(dirty >= wss, "%s: epoch %zu logged %lld dirty pages of the %lld written",
		      j->what, i + 1, (long long)dirty, (long long)wss);
		if (verify) {
			DS_JSON_INT_EQ(ep[i], "lost-pages", 0);
			struct json_object *gpas = DS_JSON_GET(ep[i], "lost-gpas", json_type_array);
			CHECK(gpas && json_object_array_length(gpas) == 0,
			      "%s: epoch %zu lists lost pages", j->what, i + 1);
		} else {
			DS_JSON_NULL(ep[i], "lost-pages");
		}
	}
	if (verify)
		DS_JSON_INT_EQ(sum, "lost-pages", 0);
	else
		DS_JSON_NULL(sum, "lost-pages");
	DS_JSONL_SUMS(j, "dirty-pages");
	DS_JSONL_SUMS(j, "workload-pages");
}

/* ---- usage and input errors: exit 2 ---- */

static void test_no_arguments(void)
{
	/* stderr is the usage text here */
	ds_expect_exit(2, NULL, ARGS("usage:"), (const char *const[]){NULL});
}

static void test_unknown_command(void)
{
	expect_fail(2, ARGS("'frob'"), ARGS("frob"));
}

static void test_unknown_option(void)
{
	expect_fail(2, ARGS("--bogus"), ARGS("run", "--bogus"));
}

static void test_unknown_log_mode(void)
{
	expect_fail(2, ARGS("--log nope"), ARGS("run", "--log", "nope"));
}

static void test_unknown_workload(void)
{
	expect_fail(2, ARGS("--workload nope"), ARGS("run", "--workload", "nope"));
}

static void test_mem_bad_suffix(void)
{
	expect_fail(2, ARGS("--mem 12Q"), ARGS("run", "--mem", "12Q"));
}

static void test_mem_too_small(void)
{
	expect_fail(2, ARGS("--mem 1M", "16M"), ARGS("run", "--mem", "1M"));
}

static void test_mem_too_large(void)
{
	expect_fail(2, ARGS("--mem 300G", "256G"), ARGS("run", "--mem", "300G"));
}

static void test_mem_trailing_garbage(void)
{
	expect_fail(2, ARGS("--mem 16M1"), ARGS("run", "--mem", "16M1"));
}

static void test_wss_zero(void)
{
	expect_fail(2, ARGS("--wss 0"), ARGS("run", "--wss", "0"));
}

static void test_wss_not_a_number(void)
{
	expect_fail(2, ARGS("--wss abc"), ARGS("run", "--wss", "abc"));
}

static void test_wss_exceeds_ram(void)
{
	char most[64];

	/* the message must give the real maximum for 16 MiB of RAM */
	snprintf(most, sizeof(most), "at most %llu pages",
		 (unsigned long long)boot_max_wss(16ull << 20, guest_image, 1));
	CU_ASSERT_FATAL(boot_max_wss(16ull << 20, guest_image, 1) < 100000);
	expect_fail(2, ARGS("--wss 100000", most), ARGS("run", "--wss", "100000", "--mem", "16M"));
}

static void test_epochs_zero(void)
{
	expect_fail(2, ARGS("--epochs 0"), ARGS("run", "--epochs", "0"));
}

static void test_ring_not_power_of_two(void)
{
	expect_fail(2, ARGS("--ring-entries 1000", "power of two"),
		    ARGS("run", "--log", "ring", "--ring-entries", "1000"));
}

static void test_hot_pages_without_hotcold(void)
{
	expect_fail(2, ARGS("--hot-pages", "hotcold"), ARGS("run", "--hot-pages", "5"));
}

static void test_hot_pages_above_wss(void)
{
	expect_fail(2, ARGS("--hot-pages 11", "--wss 10"),
		    ARGS("run", "--workload", "hotcold", "--wss", "10", "--hot-pages", "11"));
}

static void test_missing_argument(void)
{
	expect_fail(2, ARGS("--log", "needs an argument"), ARGS("run", "--log"));
}

static void test_extra_argument(void)
{
	expect_fail(2, ARGS("'extra-arg'"), ARGS("run", "extra-arg"));
}

static void test_json_uncreatable(void)
{
	expect_fail(2, ARGS("/nonexistent-dir/x.json"),
		    ARGS("run", "--json", "/nonexistent-dir/x.json"));
}

/* ---- platform errors: exit 3 ---- */

static void test_run_missing_device(void)
{
	expect_fail(3, ARGS("/nonexistent/kvm"), ARGS("run", "--kvm-device", "/nonexistent/kvm"));
}

static void test_run_not_kvm_device(void)
{
	/* /dev/null opens, but KVM_GET_API_VERSION fails on it */
	expect_fail(3, ARGS("/dev/null"), ARGS("run", "--kvm-device", "/dev/null"));
}

/* No KVM device: exit 3 naming it, and still what info knows without KVM,
 * the guest kernel's ELF file (QEMU and libvirt boot it on such a host). */
static void test_info_missing_device(void)
{
	struct ds_proc p;
	struct ds_jsonl j;

	ds_proc_run(&p, NULL, ARGS("info", "--kvm-device", "/nonexistent"));
	ds_proc_check_exit(&p, 3, ARGS("/nonexistent"));
	CHECK(strstr(p.out, "not available: /nonexistent") && strstr(p.out, "/guest/guest.elf"),
	      "%s: stdout '%s'", p.cmd, p.out);
	ds_proc_free(&p);

	ds_proc_run(&p, NULL, ARGS("info", "--kvm-device", "/nonexistent", "--json"));
	ds_proc_check_exit(&p, 3, ARGS("/nonexistent"));
	if (DS_JSONL_PARSE(&j, p.cmd, p.out) && CHECK(j.n == 1, "%s: %zu objects", p.cmd, j.n)) {
		struct json_object *o = j.obj[0];
		struct json_object *e = DS_JSON_GET(o, "kvm-error", json_type_string);
		CHECK(e && strstr(json_object_get_string(e), "/nonexistent"), "%s: kvm-error",
		      p.cmd);
		DS_JSON_NULL(o, "kvm-api-version");
		DS_JSON_NULL(o, "log-modes");
		struct json_object *g = DS_JSON_GET(o, "guest-kernel", json_type_string);
		CHECK(g && access(json_object_get_string(g), R_OK) == 0, "%s: guest-kernel", p.cmd);
	}
	ds_jsonl_free(&j);
	ds_proc_free(&p);
}

/* No permission on /dev/kvm (mode 0600, root's): an unprivileged user gets
 * exit 3 naming the device and the reason.  Needs root to drop privileges. */
static void test_run_no_permission(void)
{
	struct stat st;

	if (geteuid() != 0 || stat("/dev/kvm", &st) || (st.st_mode & 0006)) {
		printf("\n    (skipped: needs root and a /dev/kvm closed to others)");
		return;
	}
	/* The build tree may sit below a directory nobody cannot enter. */
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(setgid(65534) || setuid(65534) || access(DIRTYSCOPE_BIN, X_OK) ? 1 : 0);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		CU_ASSERT_FATAL(errno == EINTR);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("\n    (skipped: user nobody cannot execute %s)", DIRTYSCOPE_BIN);
		return;
	}
	ds_expect_fail(3, &(struct ds_proc_opts){.uid = 65534 /* nobody */},
		       ARGS("/dev/kvm", "Permission denied"), ARGS("run", "--epochs", "1"));
}

/* ---- help ---- */

static void test_help(void)
{
	static const char *const cmds[] = {"run",     "compare",      "info",	"mkimage",
					   "recover", "verify-image", "receive"};
	struct ds_proc p;

	ds_expect_ok(&p, ARGS("--help"));
	CHECK(strstr(p.out, "usage: dirtyscope") != NULL, "%s: no usage: %s", p.cmd, p.out);
	CHECK(strstr(p.out, "--version") != NULL, "%s: no --version: %s", p.cmd, p.out);
	/* the whole table: every code from 0 to 130 */
	CHECK(strstr(p.out, "Exit status:") != NULL && strstr(p.out, "\n  130  interrupted"),
	      "%s: no exit status: %s", p.cmd, p.out);
	ds_proc_free(&p);
	/* Every subcommand: its usage, and an "Exit status:" block that lists at
	 * least success and a usage error, in the one wording (tools/cli.c). */
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char usage[64];
		snprintf(usage, sizeof(usage), "usage: dirtyscope %s", cmds[i]);
		ds_expect_ok(&p, ARGS(cmds[i], "--help"));
		CHECK(strstr(p.out, usage) != NULL, "%s: no usage: %s", p.cmd, p.out);
		const char *st = strstr(p.out, "\nExit status:\n");
		CHECK(st != NULL, "%s: no 'Exit status:' block: %s", p.cmd, p.out);
		CHECK(st && strstr(st, "\n  0    success") &&
			  strstr(st, "\n  2    usage or input error"),
		      "%s: exit codes 0 and 2 not listed: %s", p.cmd, p.out);
		ds_proc_free(&p);
	}
}

/* --version and -V: "dirtyscope VERSION", CMake's project(VERSION). */
static void test_version(void)
{
	static const char *const flags[] = {"--version", "-V"};
	struct ds_proc p;

	for (int i = 0; i < 2; i++) {
		ds_expect_ok(&p, ARGS(flags[i]));
		CHECK(!strcmp(p.out, "dirtyscope " DIRTYSCOPE_VERSION "\n"), "%s: printed '%s'",
		      p.cmd, p.out);
		ds_proc_free(&p);
	}
}

/* ---- cases that need /dev/kvm ---- */

static void test_ring_below_minimum(void)
{
	/* 64 entries of 16 bytes is below KVM's one-page minimum: 256 entries */
	expect_fail(2, ARGS("--ring-entries 64", "minimum of 256"),
		    ARGS("run", "--log", "ring", "--ring-entries", "64"));
}

static void test_ring_above_maximum(void)
{
	unsigned long max = kvm_max_ring_entries();
	char most[64];

	CHECK(max && max < 1048576, "KVM's ring maximum is %lu entries, need 1..1048575", max);
	if (!max || max >= 1048576)
		return;
	snprintf(most, sizeof(most), "maximum of %lu", max);
	expect_fail(2, ARGS("--ring-entries 1048576", most),
		    ARGS("run", "--log", "ring", "--ring-entries", "1048576"));
}

static void test_info(void)
{
	struct ds_proc p;

	ds_expect_ok(&p, ARGS("info"));
	CHECK(strstr(p.out, "KVM API version") != NULL, "%s: no API version: %s", p.cmd, p.out);
	CHECK(strstr(p.out, "dirty-log mechanism") != NULL, "%s: no mechanism: %s", p.cmd, p.out);
	/* the guest kernel is the one embedded in the binary that ran */
	char want[4096 + 64];
	snprintf(want, sizeof(want), "\nguest kernel             %s (embedded, ", DIRTYSCOPE_BIN);
	CHECK(strstr(p.out, want) != NULL, "%s: no '%s': %s", p.cmd, want + 1, p.out);
	/* and its ELF file, for QEMU: the build tree's, beside the binary */
	CHECK(strstr(p.out, "\nguest kernel ELF         /") && strstr(p.out, "/guest/guest.elf\n"),
	      "%s: no guest kernel ELF line naming the build's guest/guest.elf: %s", p.cmd, p.out);
	/* On kvm_pvm, KVM's ring range is not what holds a run: info says
	 * which part does (docs/platform-notes.md). */
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		CHECK(strstr(p.out, "256 entries overflow") && strstr(p.out, "16384 to 65536"),
		      "%s: no word on the ring sizes that hold a run here: %s", p.cmd, p.out);
	ds_proc_free(&p);
}

/* info --json: one object, the text's facts under kebab-case keys, and
 * "guest-kernel" the ELF file the text's "guest kernel ELF" line names. */
static void test_info_json(void)
{
	struct ds_proc p;
	struct ds_jsonl j;

	ds_expect_ok(&p, ARGS("info", "--json"));
	if (DS_JSONL_PARSE(&j, p.cmd, p.out) && CHECK(j.n == 1, "%s: %zu objects", p.cmd, j.n)) {
		struct json_object *o = j.obj[0], *modes;
		CHECK(DS_JSON_INT(o, "kvm-api-version") == 12, "%s: API version", p.cmd);
		DS_JSON_GET(o, "dirty-log-mechanism", json_type_string);
		DS_JSON_GET(o, "capabilities", json_type_object);
		modes = DS_JSON_GET(o, "log-modes", json_type_array);
		CHECK(modes && json_object_array_length(modes) == 4, "%s: 4 log modes", p.cmd);
		CHECK(DS_JSON_INT(o, "ring-entries-min") == 256, "%s: ring-entries-min", p.cmd);
		int64_t vmax = DS_JSON_INT(o, "vcpus-max");
		CHECK(vmax >= 1 && vmax <= 8, "%s: vcpus-max %lld", p.cmd, (long long)vmax);
		struct json_object *g = DS_JSON_GET(o, "guest-kernel", json_type_string);
		const char *elf = g ? json_object_get_string(g) : "";
		size_t n = strlen(elf);
		CHECK(n > 16 && strcmp(elf + n - 16, "/guest/guest.elf") == 0 &&
			  access(elf, R_OK) == 0,
		      "%s: guest-kernel '%s' is not the build's guest/guest.elf", p.cmd, elf);
		g = DS_JSON_GET(o, "guest-kernel-embedded-in", json_type_string);
		CHECK(g && strcmp(json_object_get_string(g), DIRTYSCOPE_BIN) == 0,
		      "%s: guest-kernel-embedded-in is not %s", p.cmd, DIRTYSCOPE_BIN);
		CHECK(DS_JSON_INT(o, "guest-kernel-embedded-bytes") > 0, "%s: embedded bytes",
		      p.cmd);
		DS_JSON_NULL(o, "kvm-error");
	}
	ds_jsonl_free(&j);
	ds_proc_free(&p);
}

/*
 * SIGINT or SIGTERM in the middle of a long run: the guest is stopped, the
 * process exits 130, and the JSON file holds the epochs that ran and a
 * summary saying the run was interrupted (not completed, exit code 130).
 */
static void test_interrupted(void)
{
	static const int sigs[] = {SIGINT, SIGTERM};
	char dir[] = "/tmp/test_cli.XXXXXX", out[64], names[512];
	unsigned int n;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(out, sizeof(out), "%s/long.json", dir);
	for (int i = 0; i < 2; i++) {
		struct ds_proc p;
		/* sent once epoch 1's row is out: the guest is running */
		int got = ds_proc_run(&p, &(struct ds_proc_opts){.signal = sigs[i]},
				      ARGS("run", "--epochs", "1000000", "--json", out));
		CHECK(got == 130, "signal %d: %s: exit %d, expected 130; stderr: %s", sigs[i],
		      p.cmd, got, p.err);
		ds_proc_free(&p);
		list_dir(dir, names, sizeof(names), &n);
		CHECK(n == 1 && !strcmp(names, "long.json"),
		      "signal %d: %s holds \"%s\", expected long.json alone", sigs[i], dir, names);
		struct ds_jsonl j;
		if (DS_JSONL_READ(&j, out)) {
			struct json_object *sum = DS_JSONL_SUMMARY(&j);
			CHECK(DS_JSONL_EPOCHS(&j, 1) >= 1, "%s: no epoch before the signal", out);
			DS_JSON_BOOL_EQ(sum, "completed", false);
			DS_JSON_STR_EQ(sum, "failure", "interrupted");
			DS_JSON_INT_EQ(sum, "exit-code", 130);
		}
		ds_jsonl_free(&j);
		unlink(out);
	}
	ds_remove_dir(dir);
}

static void test_json_file(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", out[64], bad[64], names[512];
	unsigned int n;
	struct ds_proc p;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(out, sizeof(out), "%s/out.json", dir);
	snprintf(bad, sizeof(bad), "%s/bad.json", dir);

	/* a completed run: the file is renamed into place, no temporary left */
	ds_expect_ok(&p, ARGS("run", "--epochs", "2", "--json", out));
	ds_proc_free(&p);
	struct ds_jsonl j;
	DS_JSONL_READ(&j, out);
	check_run_json(&j, 2, false);
	ds_jsonl_free(&j);
	list_dir(dir, names, sizeof(names), &n);
	CHECK(n == 1 && !strcmp(names, "out.json"), "%s holds \"%s\", expected out.json", dir,
	      names);

	/* a failed run: neither the file nor its temporary is left */
	expect_fail(3, ARGS("/nonexistent"),
		    ARGS("run", "--epochs", "2", "--json", bad, "--kvm-device", "/nonexistent"));
	list_dir(dir, names, sizeof(names), &n);
	CHECK(n == 1 && !strcmp(names, "out.json"),
	      "%s holds \"%s\" after a failed run, expected only out.json", dir, names);

	ds_remove_dir(dir);
}

static void test_json_stdout(void)
{
	struct ds_proc p;

	struct ds_jsonl j;

	ds_expect_ok(&p, ARGS("run", "--epochs", "2", "--verify", "--json", "-"));
	/* only JSON: no table header, no summary sentence */
	DS_JSONL_PARSE(&j, p.cmd, p.out);
	check_run_json(&j, 2, true);
	ds_jsonl_free(&j);
	ds_proc_free(&p);
}

static void test_table(void)
{
	unsigned int header = 0, rows = 0;
	unsigned long epoch;
	char *line, *save, *end;
	struct ds_proc p;

	ds_expect_ok(&p, ARGS("run", "--epochs", "3", "--verify"));
	for (line = strtok_r(p.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "epoch") && !header && !rows) {
			header++;
			continue;
		}
		/* a data row starts with its epoch number: 1, 2, 3 in order */
		epoch = strtoul(line, &end, 10);
		if (end != line && (*end == ' ' || *end == '\0')) {
			rows++;
			CHECK(header == 1, "data row before the header: %s", line);
			CHECK(epoch == rows, "row %u is epoch %lu: %s", rows, epoch, line);
		}
	}
	CHECK(header == 1, "%s: no header line with \"epoch\"", p.cmd);
	CHECK(rows == 3, "%s: %u data rows, expected 3", p.cmd, rows);
	ds_proc_free(&p);
}

/* ---- mkimage ---- */

/* Run mkimage to create dir/name; the caller removes dir. */
static void make_image(char *path, size_t len, const char *dir, const char *name)
{
	struct ds_proc p;

	snprintf(path, len, "%s/%s", dir, name);
	ds_expect_ok(&p, ARGS("mkimage", path, "--size", "1M", "--file", "a.dat:5000", "--file",
			      "log:0:64K"));
	ds_proc_free(&p);
}

static void test_mkimage_good(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", img[64], names[512];
	unsigned int n;
	struct ds_proc p;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	ds_expect_ok(&p, ARGS("mkimage", img, "--size", "1M", "--file", "a.dat:5000", "--file",
			      "log:0:64K"));
	CHECK(p.err[0] == '\0', "%s: unexpected stderr: %s", p.cmd, p.err);
	CHECK(strstr(p.out, "a.dat") && strstr(p.out, "log"), "%s: files not listed: %s", p.cmd,
	      p.out);
	ds_proc_free(&p);
	/* the image alone: its temporary was renamed into place */
	list_dir(dir, names, sizeof(names), &n);
	CHECK(n == 1 && !strcmp(names, "disk.img"), "%s holds \"%s\", expected disk.img", dir,
	      names);

	ds_expect_ok(&p, ARGS("mkimage", "--check", img));
	CHECK(p.err[0] == '\0', "%s: unexpected stderr: %s", p.cmd, p.err);
	CHECK(strstr(p.out, "DSFS version 1") && strstr(p.out, "256 blocks"), "%s: no header: %s",
	      p.cmd, p.out);
	/* a.dat: 5000 bytes from block 1, 2 blocks; log: 0 bytes from 3, 16 blocks */
	CHECK(strstr(p.out, "a.dat") && strstr(p.out, "5000"), "%s: a.dat not listed: %s", p.cmd,
	      p.out);
	CHECK(strstr(p.out, "log") && strstr(p.out, "16"), "%s: log not listed: %s", p.cmd, p.out);
	ds_proc_free(&p);
	ds_remove_dir(dir);
}

static void test_mkimage_check_corrupt(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", img[64];
	const uint8_t bad = 0xa5;
	int fd;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	make_image(img, sizeof(img), dir, "disk.img");
	fd = open(img, O_WRONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pwrite(fd, &bad, 1, 200) == 1); /* inside an inode */
	close(fd);
	expect_fail(1, ARGS(img, "metadata checksum mismatch"), ARGS("mkimage", "--check", img));

	/* a file that is not an image at all */
	CU_ASSERT_FATAL(truncate(img, 0) == 0 && truncate(img, 8192) == 0);
	expect_fail(1, ARGS(img, "not a dirtyscope image (bad magic)"),
		    ARGS("mkimage", "--check", img));
	ds_remove_dir(dir);
}

static void test_mkimage_check_truncated(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", img[64];

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	make_image(img, sizeof(img), dir, "disk.img");
	CU_ASSERT_FATAL(truncate(img, 512 * 1024) == 0);
	expect_fail(1, ARGS(img, "image is shorter than its superblock says (truncated)"),
		    ARGS("mkimage", "--check", img));
	ds_remove_dir(dir);
}

static void test_mkimage_check_missing(void)
{
	expect_fail(2, ARGS("/nonexistent/disk.img", "No such file or directory"),
		    ARGS("mkimage", "--check", "/nonexistent/disk.img"));
}

static void test_mkimage_too_small(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", img[64], names[512];
	unsigned int n;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	/* 4096 of metadata + 65536 of extent = 69632 bytes, 8192 given */
	expect_fail(2, ARGS(img, "need 69632 bytes", "8192 bytes"),
		    ARGS("mkimage", img, "--size", "8K", "--file", "a:64K"));
	list_dir(dir, names, sizeof(names), &n);
	CHECK(n == 0, "%s holds \"%s\" after a refused mkimage", dir, names);
	ds_remove_dir(dir);
}

static void test_mkimage_bad_file_spec(void)
{
	expect_fail(2, ARGS("--file nocolon", "NAME:SIZE"),
		    ARGS("mkimage", "/tmp/never.img", "--size", "1M", "--file", "nocolon"));
	expect_fail(2, ARGS("--file a:4Q", "SIZE '4Q' is not a size"),
		    ARGS("mkimage", "/tmp/never.img", "--size", "1M", "--file", "a:4Q"));
	expect_fail(2, ARGS("--file a/b:4K", "'/'"),
		    ARGS("mkimage", "/tmp/never.img", "--size", "1M", "--file", "a/b:4K"));
	expect_fail(2, ARGS("--file a:8K:4K", "smaller than SIZE"),
		    ARGS("mkimage", "/tmp/never.img", "--size", "1M", "--file", "a:8K:4K"));
	expect_fail(
	    2, ARGS("two files named 'a'"),
	    ARGS("mkimage", "/tmp/never.img", "--size", "1M", "--file", "a:1", "--file", "a:2"));
	CHECK(access("/tmp/never.img", F_OK) != 0, "/tmp/never.img was created");
}

static void test_mkimage_missing_size(void)
{
	expect_fail(2, ARGS("--size is required"), ARGS("mkimage", "/tmp/never.img"));
	expect_fail(2, ARGS("--size 5000", "multiple of 4K"),
		    ARGS("mkimage", "/tmp/never.img", "--size", "5000"));
	expect_fail(2, ARGS("--size 12Q"), ARGS("mkimage", "/tmp/never.img", "--size", "12Q"));
	expect_fail(2, ARGS("--size", "needs an argument"),
		    ARGS("mkimage", "/tmp/never.img", "--size"));
	CHECK(access("/tmp/never.img", F_OK) != 0, "/tmp/never.img was created");
}

static void test_mkimage_usage_errors(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", fifo[64];
	struct stat st;

	expect_fail(2, ARGS("no IMAGE"), ARGS("mkimage", "--size", "1M"));
	expect_fail(2, ARGS("'extra'"), ARGS("mkimage", "/tmp/never.img", "extra", "--size", "1M"));
	expect_fail(2, ARGS("--bogus"), ARGS("mkimage", "/tmp/never.img", "--bogus"));
	expect_fail(2, ARGS("--check", "--size"),
		    ARGS("mkimage", "--check", "/tmp/never.img", "--size", "1M"));
	/* a FIFO stands for /dev/null: refused, not replaced */
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
	expect_fail(2, ARGS(fifo, "not a regular file"), ARGS("mkimage", fifo, "--size", "1M"));
	expect_fail(2, ARGS(fifo, "not a regular file"), ARGS("mkimage", "--check", fifo));
	CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "%s is no longer a FIFO", fifo);
	ds_remove_dir(dir);
}

static void test_mkimage_help(void)
{
	struct ds_proc p;

	ds_expect_ok(&p, ARGS("mkimage", "--help"));
	CHECK(strstr(p.out, "usage: dirtyscope mkimage") != NULL, "%s: no usage: %s", p.cmd, p.out);
	ds_proc_free(&p);
	ds_expect_ok(&p, ARGS("--help"));
	CHECK(strstr(p.out, "mkimage") != NULL, "%s: mkimage not listed: %s", p.cmd, p.out);
	ds_proc_free(&p);
}

/* ---- file workloads ---- */

static void test_run_file_option_errors(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", img[64];

	expect_fail(2, ARGS("--policy nope"), ARGS("run", "--workload", "db", "--policy", "nope"));
	expect_fail(2, ARGS("for file workloads"), ARGS("run", "--policy", "wp"));
	expect_fail(2, ARGS("for file workloads"), ARGS("run", "--image", "/tmp/x.img"));
	expect_fail(2, ARGS("--image /nonexistent/disk.img"),
		    ARGS("run", "--workload", "db", "--image", "/nonexistent/disk.img"));
	expect_fail(2, ARGS("--writes 5000", "forkcow"),
		    ARGS("run", "--workload", "forkcow", "--writes", "5000"));
	expect_fail(2, ARGS("--wss 1", "log"), ARGS("run", "--workload", "log", "--wss", "1"));
	expect_fail(2, ARGS("--cache-pages 2"),
		    ARGS("run", "--workload", "db", "--cache-pages", "2"));

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	/* An image without the workload's file. */
	make_image(img, sizeof(img), dir, "disk.img");
	expect_fail(2, ARGS(img, "no file 'db'"), ARGS("run", "--workload", "db", "--image", img));
	/* --verify computes the expected bytes for a fresh file of --wss pages:
	 * an empty db file, or --wss below the capacity, cannot be verified. */
	struct ds_proc p;
	ds_expect_ok(&p, ARGS("mkimage", img, "--size", "1M", "--file", "db:0:128K"));
	ds_proc_free(&p);
	expect_fail(2, ARGS(img, "--verify needs file 'db'"),
		    ARGS("run", "--workload", "db", "--image", img, "--verify"));
	ds_expect_ok(&p, ARGS("mkimage", img, "--size", "1M", "--file", "db:128K"));
	ds_proc_free(&p);
	expect_fail(2, ARGS(img, "--verify needs file 'db'"),
		    ARGS("run", "--workload", "db", "--image", img, "--wss", "16", "--verify"));
	/* The same image as mkimage made it verifies. */
	ds_expect_ok(&p, ARGS("run", "--workload", "db", "--image", img, "--verify"));
	ds_proc_free(&p);
	/* A corrupt image is refused before the guest boots. */
	CU_ASSERT_FATAL(truncate(img, 0) == 0 && truncate(img, 8192) == 0);
	expect_fail(2, ARGS(img, "bad magic"), ARGS("run", "--workload", "db", "--image", img));
	ds_remove_dir(dir);
}

/* Point TMPDIR at a fresh directory dir (a "/tmp/test_cli.XXXXXX" buffer),
 * so the temporary images a run makes can be counted; *old keeps the old
 * value for tmpdir_leave. */
static void tmpdir_enter(char *dir, char **old)
{
	const char *o = getenv("TMPDIR");
	*old = o ? strdup(o) : NULL;
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	setenv("TMPDIR", dir, 1);
}

/* Check nothing was left in dir, restore TMPDIR and remove dir. */
static void tmpdir_leave(const char *dir, char *old)
{
	char names[512];
	unsigned int n;
	list_dir(dir, names, sizeof(names), &n);
	CHECK(n == 0, "files left in %s: %s", dir, names);
	if (old)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
	ds_remove_dir(dir);
}

/* db under wp verifies (exit 0, the temporary image removed); under lossy
 * the image check finds the lost stores (exit 1, pages named). */
static void test_run_file_verify(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", *old;
	struct ds_proc p;

	tmpdir_enter(dir, &old);
	ds_expect_ok(&p,
		     ARGS("run", "--workload", "db", "--policy", "wp", "--verify", "--json", "-"));
	struct ds_jsonl j;
	struct json_object *sum, *ep[64];
	size_t n = parse_epochs_json(&j, &p, ep, &sum);
	DS_JSON_STR_EQ(sum, "workload", "db");
	DS_JSON_STR_EQ(sum, "policy", "wp");
	DS_JSON_INT_EQ(sum, "lost-pages", 0);
	DS_JSON_STR_EQ(sum, "guest-check", "passed");
	DS_JSON_STR_EQ(sum, "image-check", "passed");
	DS_JSON_INT_EQ(sum, "image-pages-differ", 0);
	DS_JSON_NULL(sum, "failed-check");
	DS_JSON_INT_EQ(sum, "exit-code", 0);
	/* The file world's figures: the guest's page cache, every epoch. */
	for (size_t i = 0; i < n; i++) {
		CHECK(DS_JSON_INT(ep[i], "guest-dirty-pages") >= 0 &&
			  DS_JSON_INT(ep[i], "guest-written-pages") >= 0,
		      "%s: epoch %zu: bad guest page counts", p.cmd, i + 1);
		DS_JSON_INT_EQ(ep[i], "lost-pages", 0);
	}
	DS_JSONL_SUMS(&j, "dirty-pages");
	DS_JSONL_SUMS(&j, "guest-page-writes");
	ds_jsonl_free(&j);
	ds_proc_free(&p);

	/* lossy: only the image check can fail the run (the dirty log lost
	 * nothing), and the summary says so, exit code included. */
	ds_proc_run(
	    &p, NULL,
	    ARGS("run", "--workload", "db", "--policy", "lossy", "--verify", "--json", "-"));
	ds_proc_check_exit(&p, 1, ARGS("verify: file db page", "differ from what"));
	n = parse_epochs_json(&j, &p, ep, &sum);
	DS_JSON_INT_EQ(sum, "lost-pages", 0);
	DS_JSON_STR_EQ(sum, "guest-check", "passed");
	DS_JSON_STR_EQ(sum, "image-check", "failed");
	CHECK(DS_JSON_INT(sum, "image-pages-differ") > 0, "%s: no page differs: %s", p.cmd, p.out);
	DS_JSON_STR_EQ(sum, "failed-check", "image-check");
	DS_JSON_STR_EQ(sum, "failure", "check-failed");
	DS_JSON_INT_EQ(sum, "exit-code", 1);
	DS_JSON_BOOL_EQ(sum, "completed", true);
	ds_jsonl_free(&j);
	ds_proc_free(&p);
	tmpdir_leave(dir, old);
}

/*
 * A run that fails on the way keeps its JSON: the epochs it completed, then
 * a summary that names the failure, the exit code and the first error line.
 * A ring that KVM overran in epoch 2 (a test hook: a correct KVM never
 * overruns, docs/platform-notes.md) leaves epoch 1 and exits 1; a KVM call
 * failing after epoch 1 (another hook) leaves epoch 1 and exits 4.
 */
static void test_json_failed_run(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", out[64];
	struct ds_proc p;
	struct ds_jsonl j;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(out, sizeof(out), "%s/f.json", dir);
	ds_proc_run(&p, &(struct ds_proc_opts){.env = "DIRTYSCOPE_TEST_RING_OVERRUN=2"},
		    ARGS("run", "--log", "ring", "--wss", "16", "--epochs", "3", "--json", out));
	ds_proc_check_exit(&p, 1, ARGS("dirty ring overflow in epoch 2"));
	ds_proc_free(&p);
	if (DS_JSONL_READ(&j, out)) {
		struct json_object *sum = DS_JSONL_SUMMARY(&j);
		DS_JSON_BOOL_EQ(sum, "completed", false);
		DS_JSON_BOOL_EQ(sum, "dirty-log-overflow", true);
		DS_JSON_STR_EQ(sum, "failed-check", "dirty-log-overflow");
		DS_JSON_STR_EQ(sum, "failure", "check-failed");
		DS_JSON_INT_EQ(sum, "exit-code", 1);
		DS_JSON_STR_EQ(sum, "guest-check", "not-checked");
		struct json_object *e = DS_JSON_GET(sum, "error", json_type_string);
		CHECK(e && strstr(json_object_get_string(e), "dirty ring overflow"),
		      "%s: the summary's error is not the overflow", out);
		CHECK(DS_JSONL_EPOCHS(&j, 1) == 1 && j.n == 2, "%s: not epoch 1 and the summary",
		      out);
	}
	ds_jsonl_free(&j);

	ds_proc_run(&p, &(struct ds_proc_opts){.env = "DIRTYSCOPE_TEST_KVM_FAIL=KVM_RUN:EINVAL"},
		    ARGS("run", "--wss", "16", "--epochs", "3", "--json", out));
	ds_proc_check_exit(&p, 4, ARGS("KVM_RUN"));
	ds_proc_free(&p);
	if (DS_JSONL_READ(&j, out)) {
		struct json_object *sum = DS_JSONL_SUMMARY(&j);
		CHECK(DS_JSONL_EPOCHS(&j, 1) >= 1 && DS_JSONL_EPOCHS(&j, 1) + 1 == j.n,
		      "%s: not epochs 1.. (at least one) and the summary", out);
		DS_JSON_BOOL_EQ(sum, "completed", false);
		DS_JSON_NULL(sum, "failed-check");
		DS_JSON_STR_EQ(sum, "failure", "guest-or-kvm-failed");
		DS_JSON_INT_EQ(sum, "exit-code", 4);
		struct json_object *e = DS_JSON_GET(sum, "error", json_type_string);
		CHECK(e && strstr(json_object_get_string(e), "KVM_RUN"),
		      "%s: the summary's error does not name KVM_RUN", out);
	}
	ds_jsonl_free(&j);
	ds_remove_dir(dir);
}

/* ---- compare ---- */

static void test_compare_usage_errors(void)
{
	expect_fail(2, (const char *const[]){"--workload seq", "file workload", NULL},
		    ARGS("compare", "--workload", "seq"));
	/* No --workload: the message names what is missing, never the
	 * anonymous default (seq) the user did not give. */
	struct ds_proc p;
	ds_proc_run(&p, NULL, ARGS("compare"));
	ds_proc_check_exit(&p, 2, ARGS("--workload is required", "db"));
	DS_CHECK(!strstr(p.err, "seq"), "%s: %s", p.cmd, p.err);
	ds_proc_free(&p);
	expect_fail(2, (const char *const[]){"--workload badsys", NULL},
		    ARGS("compare", "--workload", "badsys"));
	expect_fail(2, (const char *const[]){"unknown option --plot", NULL},
		    ARGS("run", "--plot", "x.svg"));
	expect_fail(2, (const char *const[]){"--plot -", "stdout", NULL},
		    ARGS("compare", "--workload", "db", "--json", "-", "--plot", "-"));
	expect_fail(2, (const char *const[]){"--plot", "/nonexistent/dir/p.svg", NULL},
		    ARGS("compare", "--workload", "db", "--plot", "/nonexistent/dir/p.svg"));
	expect_fail(2, (const char *const[]){"compare: unknown option --bogus", NULL},
		    ARGS("compare", "--workload", "db", "--bogus"));
}

/*
 * `compare --workload shared2 --policy lossy --epochs <epochs> --json`: epochs
 * 1..<epochs> and the summary, each with every documented field of its
 * type.  lossy loses stores, so every epoch misses pages (each listed, up to
 * the list's cap), none unexplained; the summary totals the epochs.
 */
static void check_distinct(const char *what, struct json_object *sum, struct json_object **ep,
			   size_t n);

static void check_compare_json(const char *what, const char *text, int64_t epochs)
{
	static const char *const counts[] = {
	    "guest-dirty-pages", "guest-written-pages", "guest-pages",	      "host-pages",
	    "pte-dirty-pages",	 "both-pages",		"guest-only-pages",   "host-dirty-frames",
	    "missed-pages",	 "guest-faults",	"guest-write-faults", NULL};
	static const char *const classes[] = {"file", "page-table", "kernel", "anon",
					      "cow",  "free",	    NULL};
	struct ds_jsonl j;
	struct json_object *ep[64];

	DS_JSONL_PARSE(&j, what, text);
	struct json_object *sum = DS_JSONL_SUMMARY(&j);
	size_t n = epoch_objects(&j, ep, 64);
	CHECK(j.n == (size_t)epochs + 1 && DS_JSONL_EPOCHS(&j, 1) == (size_t)epochs,
	      "%s: not epochs 1..%lld and the summary: %s", what, (long long)epochs, text);
	DS_JSON_INT_EQ(sum, "epochs", epochs);
	DS_JSON_NUM(sum, "total-time-ms");
	for (size_t i = 0; i <= n; i++) {
		struct json_object *o = i < n ? ep[i] : sum; /* every epoch, then the summary */
		DS_JSON_STR_EQ(o, "mode", "bitmap");
		DS_JSON_STR_EQ(o, "workload", "shared2");
		DS_JSON_STR_EQ(o, "policy", "lossy");
		for (const char *const *c = counts; *c; c++)
			CHECK(DS_JSON_INT(o, *c) >= 0, "%s: \"%s\" negative", what, *c);
		struct json_object *ho = DS_JSON_GET(o, "host-only", json_type_object);
		for (const char *const *c = classes; *c; c++)
			CHECK(DS_JSON_INT(ho, *c) >= 0, "%s: host-only \"%s\" negative", what, *c);
		DS_JSON_INT_EQ(o, "unexplained-pages", 0);
		DS_JSON_INT_EQ(o, "mirror-errors", 0);
		DS_JSON_NULL(o, "guest-instructions");
		DS_JSON_NUM(o, "harvest-us");
		int64_t missed = DS_JSON_INT(o, "missed-pages");
		CHECK(missed > 0, "%s: lossy missed nothing in %s", what,
		      i < n ? "an epoch" : "the summary");
		if (i == n)
			break;
		/* The epoch lists its missed pages, up to a cap, and says
		 * whether it cut the list. */
		struct json_object *list = DS_JSON_GET(o, "missed", json_type_array);
		size_t listed = list ? json_object_array_length(list) : 0;
		CHECK(listed > 0 && (int64_t)listed <= missed, "%s: epoch %zu lists %zu of %lld",
		      what, i + 1, listed, (long long)missed);
		DS_JSON_BOOL_EQ(o, "missed-truncated", (int64_t)listed < missed);
		for (size_t k = 0; k < listed; k++) {
			struct json_object *m = json_object_array_get_idx(list, k);
			CHECK(DS_JSON_INT(m, "ino") >= 0 && DS_JSON_INT(m, "page") >= 0 &&
				  DS_JSON_INT(m, "gpa") > 0,
			      "%s: epoch %zu: bad missed entry", what, i + 1);
		}
	}
	DS_JSONL_SUMS(&j, "missed-pages");
	DS_JSONL_SUMS(&j, "host-pages");
	DS_JSONL_SUMS(&j, "both-pages");
	check_distinct(what, sum, ep, n);
	ds_jsonl_free(&j);
}

/*
 * A compare summary's "distinct" object: each page counted once over the
 * run, so at most the epochs' sum and at least any one epoch's count.
 */
static void check_distinct(const char *what, struct json_object *sum, struct json_object **ep,
			   size_t n)
{
	static const char *const keys[] = {
	    "guest-dirty-pages", "guest-written-pages", "guest-pages",
	    "host-pages",	 "pte-dirty-pages",	"both-pages",
	    "guest-only-pages",	 "missed-pages",	NULL};
	struct json_object *d = DS_JSON_GET(sum, "distinct", json_type_object);
	if (!d)
		return;
	for (const char *const *k = keys; *k; k++) {
		int64_t distinct = DS_JSON_INT(d, *k), most = 0;
		for (size_t i = 0; i < n; i++)
			if (DS_JSON_INT(ep[i], *k) > most)
				most = DS_JSON_INT(ep[i], *k);
		CHECK(distinct >= most && distinct <= DS_JSON_INT(sum, *k),
		      "%s: distinct \"%s\" %lld, not in [%lld, the sum %lld]", what, *k,
		      (long long)distinct, (long long)most, (long long)DS_JSON_INT(sum, *k));
	}
	struct json_object *ho = DS_JSON_GET(sum, "host-only", json_type_object);
	CHECK(DS_JSON_INT(d, "host-only-file-pages") <= DS_JSON_INT(ho, "file"),
	      "%s: distinct host-only file pages above their sum", what);
}

/*
 * compare's distinct totals on db under lossy: the epochs' missed pages add
 * up past the file's 64 pages (a page missed in every epoch counts every
 * time), while the distinct count stays within the file.
 */
static void test_compare_distinct(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", *old;
	struct ds_proc p;
	struct ds_jsonl j;

	tmpdir_enter(dir, &old);
	ds_expect_ok(&p, ARGS("compare", "--workload", "db", "--policy", "lossy", "--json", "-"));
	if (DS_JSONL_PARSE(&j, p.cmd, p.out)) {
		struct json_object *sum = DS_JSONL_SUMMARY(&j);
		struct json_object *d = DS_JSON_GET(sum, "distinct", json_type_object);
		int64_t summed = DS_JSON_INT(sum, "missed-pages");
		int64_t distinct = d ? DS_JSON_INT(d, "missed-pages") : -1;
		CHECK(summed > 64 && distinct > 0 && distinct <= 64,
		      "%s: missed summed %lld, distinct %lld: want the sum past the 64-page "
		      "file and the distinct count within it",
		      p.cmd, (long long)summed, (long long)distinct);
	}
	ds_jsonl_free(&j);
	/* The table's distinct row and summary say the same. */
	ds_proc_free(&p);
	ds_expect_ok(&p, ARGS("compare", "--workload", "db", "--policy", "lossy"));
	CHECK(strstr(p.out, "\npages ") && strstr(p.out, "distinct file pages:"),
	      "%s: no distinct row or summary: %s", p.cmd, p.out);
	ds_proc_free(&p);
	tmpdir_leave(dir, old);
}

/*
 * compare: the table fits 80 columns, the JSON has one line per epoch plus
 * the summary with every documented field, --plot leaves an SVG, lossy shows
 * missed pages and still exits 0, and no temporary file is left behind.
 */
static void test_compare_outputs(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", *old, svg[128], json[128];
	struct ds_proc p;

	tmpdir_enter(dir, &old);

	ds_expect_ok(&p,
		     ARGS("compare", "--workload", "db", "--policy", "wp", "--sync-every", "20"));
	for (const char *l = p.out; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		CHECK(len <= 80, "%s: line wider than 80 columns: %.*s", p.cmd, (int)len, l);
		l += len + (nl != NULL);
	}
	CHECK(strstr(p.out, "missed 0; summed over epochs: missed 0") &&
		  strstr(p.out, "unexplained 0\n"),
	      "%s: no totals: %s", p.cmd, p.out);
	ds_proc_free(&p);

	ds_expect_ok(&p, ARGS("compare", "--workload", "shared2", "--policy", "lossy", "--epochs",
			      "3", "--json", "-"));
	check_compare_json(p.cmd, p.out, 3);
	ds_proc_free(&p);

	snprintf(svg, sizeof(svg), "%s/out.svg", dir);
	snprintf(json, sizeof(json), "%s/out.json", dir);
	ds_expect_ok(&p, ARGS("compare", "--workload", "db", "--policy", "scan", "--plot", svg,
			      "--json", json));
	ds_proc_free(&p);
	struct ds_jsonl j;
	DS_JSONL_READ(&j, json);
	struct json_object *sum = DS_JSONL_SUMMARY(&j);
	size_t n = DS_JSONL_EPOCHS(&j, 1);
	CHECK(n > 0 && n + 1 == j.n, "%s: not epochs 1.. and the summary", json);
	DS_JSON_INT_EQ(sum, "epochs", (int64_t)n);
	DS_JSON_STR_EQ(sum, "workload", "db");
	DS_JSON_STR_EQ(sum, "policy", "scan");
	DS_JSON_INT_EQ(sum, "unexplained-pages", 0);
	DS_JSON_INT_EQ(sum, "mirror-errors", 0);
	DS_JSONL_SUMS(&j, "missed-pages");
	ds_jsonl_free(&j);
	FILE *f = fopen(svg, "r");
	CU_ASSERT_FATAL(f != NULL);
	char *text = ds_slurp(f);
	fclose(f);
	CHECK(text && !strncmp(text, "<?xml", 5) && strstr(text, "</svg>"),
	      "%s: not an SVG document", svg);
	free(text);
	unlink(svg);
	unlink(json);
	tmpdir_leave(dir, old);
}

/* ---- recover and verify-image ---- */

static void test_recover_verify_image(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", img[128], jr[160];
	struct ds_proc p;
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(jr, sizeof(jr), "%s.journal", img);
	ds_expect_ok(&p, ARGS("mkimage", img, "--size", "1M", "--file", "db:64K"));
	ds_proc_free(&p);
	ds_expect_ok(&p, ARGS("verify-image", img));
	CHECK(strstr(p.out, "no host writeback journal") != NULL, "%s: %s", p.cmd, p.out);
	ds_proc_free(&p);
	ds_expect_ok(&p, ARGS("recover", img));
	CHECK(strstr(p.out, "nothing to recover") != NULL, "%s: %s", p.cmd, p.out);
	ds_proc_free(&p);

	FILE *f = fopen(jr, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("not a journal\n", f);
	fclose(f);
	expect_fail(1, (const char *const[]){"not a dirtyscope journal", NULL},
		    ARGS("verify-image", img));
	expect_fail(2, (const char *const[]){"not a dirtyscope journal", NULL},
		    ARGS("recover", img));
	unlink(jr);
	expect_fail(2, (const char *const[]){"usage: dirtyscope recover IMAGE", NULL},
		    ARGS("recover"));
	expect_fail(2, (const char *const[]){"usage: dirtyscope verify-image IMAGE", NULL},
		    ARGS("verify-image", img, "extra"));
	expect_fail(2, (const char *const[]){"/nonexistent.img", NULL},
		    ARGS("verify-image", "/nonexistent.img"));
	expect_fail(2, (const char *const[]){dir, NULL}, ARGS("recover", dir));
	unlink(img);
	ds_remove_dir(dir);
}

/* ---- --writeback ---- */

static void test_writeback_usage_errors(void)
{
	expect_fail(2,
		    (const char *const[]){"--writeback nope", "guest, host or host:INTERVAL", NULL},
		    ARGS("run", "--workload", "db", "--writeback", "nope"));
	expect_fail(2, (const char *const[]){"host:0", "1..1000000", NULL},
		    ARGS("run", "--workload", "db", "--writeback", "host:0"));
	expect_fail(2, (const char *const[]){"host:x", "INTERVAL", NULL},
		    ARGS("run", "--workload", "db", "--writeback", "host:x"));
	expect_fail(2, (const char *const[]){"--writeback host", "needs a file workload", NULL},
		    ARGS("run", "--workload", "seq", "--writeback", "host"));
	expect_fail(2, (const char *const[]){"--writeback host", "needs a file workload", NULL},
		    ARGS("run", "--workload", "badblk", "--writeback", "host"));
}

/*
 * lossy loses stores on its own (test_run_file_verify); with --writeback
 * host the image check passes, the JSON carries the commits, and the
 * temporary image's journal goes with it.  On a user's image the journal
 * stays, clean; an interrupted one is recovered before the run.
 */
static void test_run_writeback_host(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", *old, img[128], why[256];
	struct ds_proc p;

	tmpdir_enter(dir, &old);
	ds_expect_ok(&p, ARGS("run", "--workload", "db", "--policy", "lossy", "--sync-every", "12",
			      "--writeback", "host", "--verify", "--json", "-"));
	struct ds_jsonl js;
	struct json_object *sum, *ep[64];
	size_t n = parse_epochs_json(&js, &p, ep, &sum);
	DS_JSON_STR_EQ(sum, "policy", "lossy");
	DS_JSON_INT_EQ(sum, "lost-pages", 0);
	DS_JSON_STR_EQ(sum, "guest-check", "passed");
	/* A commit every epoch (interval 1), and the final one at the end. */
	DS_JSON_INT_EQ(sum, "host-wb-interval", 1);
	DS_JSON_INT_EQ(sum, "host-wb-commits", 5);
	DS_JSON_INT_EQ(sum, "host-wb-mismatches", 0);
	for (size_t i = 0; i < n; i++) {
		DS_JSON_INT_EQ(ep[i], "host-wb-commits", 1);
		DS_JSON_INT_EQ(ep[i], "host-wb-mismatches", 0);
	}
	ds_jsonl_free(&js);
	ds_proc_free(&p);
	ds_expect_ok(&p, ARGS("run", "--workload", "db", "--writeback", "host:2"));
	CHECK(strstr(p.out, "host writeback: 3 commits"), "%s: no summary line: %s", p.cmd, p.out);
	ds_proc_free(&p);

	snprintf(img, sizeof(img), "%s/disk.img", dir);
	ds_expect_ok(&p, ARGS("mkimage", img, "--size", "1M", "--file", "db:256K"));
	ds_proc_free(&p);
	ds_expect_ok(&p, ARGS("run", "--workload", "db", "--policy", "lossy", "--image", img,
			      "--writeback", "host", "--verify"));
	ds_proc_free(&p);
	ds_expect_ok(&p, ARGS("verify-image", img));
	/* Its 4 epochs and the final writeback: 5 transactions, and no epoch
	 * label past the run's last epoch. */
	CHECK(strstr(p.out, "journal clean: the image holds transaction 5\n") &&
		  !strstr(p.out, "epoch"),
	      "%s: %s", p.cmd, p.out);
	ds_proc_free(&p);

	/* A commit whose checkpoint never came: the image needs recovery. */
	struct journal j;
	int fd = open(img, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(journal_open(&j, img, fd, why, sizeof(why)), 0);
	static uint8_t zero[4096];
	const void *pages[1] = {zero};
	struct journal_extent e = {ABI_FS_DATA_START + 1, 1, pages};
	CU_ASSERT_EQUAL(journal_commit(&j, 6, &e, 1, why, sizeof(why)), 0);
	journal_close(&j);
	close(fd);
	expect_fail(1, (const char *const[]){"run dirtyscope recover", NULL},
		    ARGS("verify-image", img));
	ds_expect_exit(
	    0, NULL, ARGS("recovered from an interrupted host writeback: the image holds epoch 6"),
	    ARGS("run", "--workload", "db", "--image", img, "--epochs", "1"));
	ds_expect_ok(&p, ARGS("verify-image", img));
	ds_proc_free(&p);
	char jr[160];
	snprintf(jr, sizeof(jr), "%s.journal", img);
	unlink(jr);
	unlink(img);
	tmpdir_leave(dir, old);
}

/* Live migration's options: every mistake is one line and exit 2. */
static void test_migrate_usage_errors(void)
{
	expect_fail(2, (const char *const[]){"--migrate-to", "unix:PATH or tcp:HOST:PORT", NULL},
		    ARGS("run", "--migrate-to", "somewhere"));
	expect_fail(2, (const char *const[]){"tcp:HOST:PORT", "1..65535", NULL},
		    ARGS("run", "--migrate-to", "tcp:localhost:99999"));
	expect_fail(2, (const char *const[]){"unix socket path", NULL},
		    ARGS("run", "--migrate-to", "unix:"));
	expect_fail(2, (const char *const[]){"need", "--migrate-to", NULL},
		    ARGS("run", "--downtime-limit", "100"));
	expect_fail(2, (const char *const[]){"--throttle maybe", "auto, dirty-limit or off", NULL},
		    ARGS("run", "--migrate-to", "unix:/tmp/x.sock", "--throttle", "maybe"));
	expect_fail(2, (const char *const[]){"--max-bandwidth 0", NULL},
		    ARGS("run", "--migrate-to", "unix:/tmp/x.sock", "--max-bandwidth", "0"));
	expect_fail(2, (const char *const[]){"--downtime-limit", "out of range", NULL},
		    ARGS("run", "--migrate-to", "unix:/tmp/x.sock", "--downtime-limit", "0"));
	expect_fail(2, (const char *const[]){"--log uffd", "bitmap, clear or ring", NULL},
		    ARGS("run", "--migrate-to", "unix:/tmp/x.sock", "--log", "uffd"));
	expect_fail(2, (const char *const[]){"--migrate-after-epoch 4", "4 epochs", NULL},
		    ARGS("run", "--migrate-to", "unix:/tmp/x.sock", "--epochs", "4",
			 "--migrate-after-epoch", "4"));
	expect_fail(2, (const char *const[]){"needs --image", NULL},
		    ARGS("run", "--workload", "db", "--migrate-to", "unix:/tmp/x.sock"));
	expect_fail(2, (const char *const[]){"--writeback host", NULL},
		    ARGS("run", "--workload", "db", "--writeback", "host", "--migrate-to",
			 "unix:/tmp/x.sock"));
	expect_fail(2, (const char *const[]){"live migration options are for run", NULL},
		    ARGS("compare", "--workload", "db", "--migrate-to", "unix:/tmp/x.sock"));
	expect_fail(2, (const char *const[]){"--listen ADDR is required", NULL}, ARGS("receive"));
	expect_fail(2, (const char *const[]){"--listen", "unix:PATH or tcp:HOST:PORT", NULL},
		    ARGS("receive", "--listen", "nowhere"));
	expect_fail(2, (const char *const[]){"--log uffd", NULL},
		    ARGS("receive", "--listen", "unix:/tmp/x.sock", "--log", "uffd"));
	expect_fail(2, (const char *const[]){"unknown option --bogus", NULL},
		    ARGS("receive", "--listen", "unix:/tmp/x.sock", "--bogus"));
	expect_fail(2, (const char *const[]){"unexpected argument", NULL},
		    ARGS("receive", "--listen", "unix:/tmp/x.sock", "extra"));
	/* A path that exists already is not taken over. */
	char dir[] = "/tmp/test_cli.XXXXXX", path[160], addr[170];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/taken", dir);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	expect_fail(2, (const char *const[]){"cannot listen", "in use", NULL},
		    ARGS("receive", "--listen", addr));
	unlink(path);
	rmdir(dir);
}

/* Give the receiver started in the background up to 5 s to create its
 * socket, dir/mig.sock, before the run that connects to it. */
static void wait_for_listener(const char *dir)
{
	char sock[170];

	snprintf(sock, sizeof(sock), "%s/mig.sock", dir);
	for (int i = 0; i < 100 && access(sock, F_OK); i++)
		usleep(50000);
}

/*
 * The two JSON files of a migrated `run --epochs <epochs> --verify`.  The
 * source: its epochs 1..k, its pre-copy rounds 0..r (the last one final,
 * the guest stopped), the completed migration (as many rounds, at least two
 * dirty-log syncs), and a summary of k epochs, none lost, the guest checked
 * elsewhere.  The destination: the incoming migration, which took exactly
 * what the source sent (bytes, pages, RAM checksum) and ran from epoch k + 1,
 * its epochs k + 1..<epochs>, and a summary of those, none lost, the
 * guest's check passed.
 */
static void check_migration_json(const char *sjson, const char *rjson, int64_t epochs)
{
	struct ds_jsonl s, d;
	struct json_object *o;

	DS_JSONL_READ(&s, sjson);
	struct json_object *ssum = DS_JSONL_SUMMARY(&s);
	int64_t k = (int64_t)DS_JSONL_EPOCHS(&s, 1);
	CHECK(k >= 2 && k < epochs, "%s: the source ran %lld epochs", sjson, (long long)k);
	DS_JSON_INT_EQ(ssum, "epochs", k);
	DS_JSON_INT_EQ(ssum, "lost-pages", 0);
	DS_JSON_STR_EQ(ssum, "guest-check", "migrated");
	DS_JSONL_SUMS(&s, "dirty-pages");
	size_t rounds = ds_jsonl_count(&s, "migration-round");
	CHECK(rounds >= 2, "%s: %zu migration rounds", sjson, rounds);
	for (size_t r = 0; (o = ds_jsonl_find(&s, "migration-round", r)); r++) {
		DS_JSON_INT_EQ(o, "migration-round", (int64_t)r);
		DS_JSON_BOOL_EQ(o, "final", r + 1 == rounds);
		CHECK(DS_JSON_INT(o, "pages") >= 0, "%s: round %zu: bad pages", sjson, r);
	}
	/* Round 0 sends all of RAM. */
	DS_JSON_INT_EQ(ds_jsonl_find(&s, "migration-round", 0), "pages",
		       DS_JSON_INT(ssum, "mem-bytes") / 4096);
	struct json_object *mig = ds_jsonl_find(&s, "migration", 0);
	CHECK(ds_jsonl_count(&s, "migration") == 1, "%s: not one migration object", sjson);
	DS_JSON_STR_EQ(mig, "migration", "completed");
	DS_JSON_INT_EQ(mig, "attempts", 1);
	DS_JSON_INT_EQ(mig, "rounds", (int64_t)rounds);
	CHECK(DS_JSON_INT(mig, "dirty-sync-count") >= 2, "%s: fewer than 2 syncs", sjson);
	double down = DS_JSON_NUM(mig, "downtime-ms"), total = DS_JSON_NUM(mig, "total-time-ms");
	CHECK(down > 0 && down <= total, "%s: downtime %.3f ms of %.3f ms", sjson, down, total);

	DS_JSONL_READ(&d, rjson);
	struct json_object *dsum = DS_JSONL_SUMMARY(&d);
	struct json_object *in = ds_jsonl_find(&d, "migration-in", 0);
	CHECK(ds_jsonl_count(&d, "migration-in") == 1, "%s: not one migration-in object", rjson);
	DS_JSON_BOOL_EQ(in, "migration-in", true);
	DS_JSON_INT_EQ(in, "first-epoch", k + 1);
	DS_JSON_INT_EQ(in, "bytes", DS_JSON_INT(mig, "transferred"));
	DS_JSON_INT_EQ(in, "pages", DS_JSON_INT(mig, "pages"));
	DS_JSON_INT_EQ(in, "rounds", (int64_t)rounds);
	struct json_object *sck = DS_JSON_GET(mig, "ram-checksum", json_type_string);
	DS_JSON_STR_EQ(in, "ram-checksum", sck ? json_object_get_string(sck) : "?");
	CHECK(DS_JSONL_EPOCHS(&d, k + 1) == (size_t)(epochs - k), "%s: not epochs %lld..%lld",
	      rjson, (long long)k + 1, (long long)epochs);
	DS_JSON_INT_EQ(dsum, "epochs", epochs - k);
	DS_JSON_INT_EQ(dsum, "lost-pages", 0);
	DS_JSON_STR_EQ(dsum, "guest-check", "passed");
	/* The epoch open at the switch-over is split between the sides, and
	 * both say so: partial at the destination, its first. */
	DS_JSON_INT_EQ(ssum, "partial-epoch", k + 1);
	DS_JSON_INT_EQ(dsum, "partial-epoch", k + 1);
	for (int64_t e = k + 1; e <= epochs; e++) {
		struct json_object *eo = ds_jsonl_find(&d, "epoch", (size_t)(e - k - 1));
		DS_JSON_BOOL_EQ(eo, "partial", e == k + 1);
	}
	DS_JSONL_SUMS(&d, "dirty-pages");
	CHECK(d.n == (size_t)(epochs - k) + 2,
	      "%s: %zu objects, not %lld epochs, migration, summary", rjson, d.n,
	      (long long)(epochs - k));
	ds_jsonl_free(&s);
	ds_jsonl_free(&d);
}

/* The source finished its epochs before the switch-over: it says so and
 * exits 5. */
static bool ran_out(const struct ds_proc *p)
{
	return p->code == 5 && strstr(p->err, "the guest stopped before the switch-over");
}

/* Or the switch-over came after its last epoch: the source's JSON summary
 * counts all of them, and the destination ran none. */
static bool source_ran_all(const char *sjson, int64_t epochs)
{
	struct ds_jsonl j;
	struct json_object *e;
	bool all = false;
	if (ds_jsonl_read(&j, sjson, __FILE__, __LINE__) && j.n &&
	    json_object_object_get_ex(j.obj[j.n - 1], "epochs", &e))
		all = json_object_get_int64(e) == epochs;
	ds_jsonl_free(&j);
	return all;
}

/*
 * The README's migration: `receive --listen` in the background, `run
 * --migrate-to` in front.  Both exit 0; the source's JSON has its rounds
 * and the completed migration, the destination's the incoming figures and
 * a passed guest check.  With nobody listening the guest finishes at the
 * source, which exits 5.  A guest that finishes its epochs before the
 * switch-over, or its last epoch before it (a fast or a busy host), runs
 * again with more (8, 64, 512).
 */
static void test_migrate_cli(void)
{
	char dir[] = "/tmp/test_cli.XXXXXX", addr[160], sjson[160], rjson[160];
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(addr, sizeof(addr), "unix:%s/mig.sock", dir);
	snprintf(sjson, sizeof(sjson), "%s/src.json", dir);
	snprintf(rjson, sizeof(rjson), "%s/dst.json", dir);
	struct ds_proc r, p;
	/* The guest must still run when the switch-over comes, and how fast
	 * it runs is the host's (a guest on a fast host finishes 8 epochs
	 * before round 0 is sent): with more epochs each time it finished
	 * first, the source saying so. */
	static const char *const tries[] = {"8", "64", "512"};
	const char *epochs = NULL;
	for (size_t t = 0; t < sizeof(tries) / sizeof(tries[0]); t++) {
		epochs = tries[t];
		ds_proc_start(&r, NULL,
			      ARGS("receive", "--listen", addr, "--verify", "--json", rjson));
		wait_for_listener(dir);
		ds_proc_run(&p, NULL,
			    ARGS("run", "--workload", "random", "--wss", "300", "--epochs", epochs,
				 "--mem", "64M", "--verify", "--migrate-to", addr,
				 "--migrate-after-epoch", "2", "--json", sjson));
		if ((ran_out(&p) || (p.code == 0 && source_ran_all(sjson, atoi(epochs)))) &&
		    t + 1 < sizeof(tries) / sizeof(tries[0])) {
			printf("\n    %s epochs ran out before the switch-over; again with more",
			       epochs);
			ds_proc_free(&p);
			ds_proc_finish(&r);
			ds_proc_free(&r);
			continue;
		}
		break;
	}
	ds_proc_check_exit(&p, 0, NULL);
	CHECK(p.out[0] != '\0', "%s: nothing on stdout", p.cmd);
	CHECK(strstr(p.out, "migration: completed") != NULL, "no migration line: %s", p.out);
	CHECK(strstr(p.err, "migration: round 0:") != NULL, "no live round lines: %s", p.err);
	ds_proc_free(&p);
	ds_proc_finish(&r);
	ds_proc_check_exit(&r, 0, NULL);
	CHECK(strstr(r.out, "incoming migration:") != NULL, "receive: no incoming line: %s", r.out);
	CHECK(strstr(r.out, "began at the source") != NULL, "receive: no partial epoch: %s", r.out);
	/* Its table starts at the epoch that came in, under a header of its own. */
	CHECK(strncmp(r.out, " epoch    dirty workload", 24) == 0 ||
		  strstr(r.out, "\n epoch    dirty workload") != NULL,
	      "receive: no table header: %s", r.out);
	ds_proc_free(&r);

	check_migration_json(sjson, rjson, atoi(epochs));
	unlink(sjson);
	unlink(rjson);

	/* The destination lacks the disk: it says so (exit 2), the source
	 * quotes it and finishes the guest itself (exit 5). */
	char img[160];
	snprintf(img, sizeof(img), "%s/db.img", dir);
	CU_ASSERT_EQUAL(
	    ds_proc_run(&p, NULL, ARGS("mkimage", img, "--size", "1M", "--file", "db:256K")), 0);
	ds_proc_free(&p);
	/* The NACK reaches the source while it sends ("refused the stream")
	 * or, once the stream fit the socket's buffer, in place of the ACK
	 * ("refused the guest"): either way with the destination's reason.
	 * A guest that finishes first (a busy host: round 0 is slow under
	 * the sanitizers) runs again with more epochs. */
	static const char *const nack_tries[] = {"6", "24", "96"};
	for (size_t t = 0; t < sizeof(nack_tries) / sizeof(nack_tries[0]); t++) {
		ds_proc_start(&r, NULL,
			      ARGS("receive", "--listen", addr, "--image", "/nonexistent/db.img"));
		wait_for_listener(dir);
		ds_proc_run(&p, NULL,
			    ARGS("run", "--workload", "db", "--image", img, "--epochs",
				 nack_tries[t], "--migrate-to", addr, "--migrate-retries", "0"));
		ds_proc_finish(&r);
		bool again = ran_out(&p) && t + 1 < sizeof(nack_tries) / sizeof(nack_tries[0]);
		if (again) {
			printf("\n    %s epochs ran out before the refusal came; again with more",
			       nack_tries[t]);
		} else {
			ds_proc_check_exit(&p, 5,
					   ARGS("the destination refused the ",
						": the destination has no disk for this guest"));
			ds_proc_check_exit(&r, 2, NULL);
		}
		ds_proc_free(&p);
		ds_proc_free(&r);
		if (!again)
			break;
	}
	unlink(img);

	/* Nobody listens: the guest finishes here, exit 5. */
	ds_expect_exit(5, NULL, ARGS("cannot connect", "did not migrate"),
		       ARGS("run", "--workload", "random", "--wss", "64", "--epochs", "3", "--mem",
			    "64M", "--migrate-to", addr, "--migrate-retries", "0"));
	rmdir(dir);
}

static const struct ds_case plain_cases[] = {
    {"no arguments: exit 2, usage", test_no_arguments},
    {"unknown command", test_unknown_command},
    {"run --bogus", test_unknown_option},
    {"run --log nope", test_unknown_log_mode},
    {"run --workload nope", test_unknown_workload},
    {"run --mem 12Q", test_mem_bad_suffix},
    {"run --mem 1M (below 16M)", test_mem_too_small},
    {"run --mem 300G (above 256G)", test_mem_too_large},
    {"run --mem 16M1", test_mem_trailing_garbage},
    {"run --wss 0", test_wss_zero},
    {"run --wss abc", test_wss_not_a_number},
    {"run --wss 100000 --mem 16M", test_wss_exceeds_ram},
    {"run --epochs 0", test_epochs_zero},
    {"run --ring-entries 1000", test_ring_not_power_of_two},
    {"run --hot-pages without hotcold", test_hot_pages_without_hotcold},
    {"run --hot-pages above --wss", test_hot_pages_above_wss},
    {"run --log (missing argument)", test_missing_argument},
    {"run extra-arg", test_extra_argument},
    {"run --json in a missing directory", test_json_uncreatable},
    {"run --kvm-device /nonexistent/kvm", test_run_missing_device},
    {"run --kvm-device /dev/null", test_run_not_kvm_device},
    {"info --kvm-device /nonexistent", test_info_missing_device},
    {"--help and every subcommand's --help, with its exit status", test_help},
    {"--version, -V: the project's version", test_version},
    {"mkimage: create, then --check lists the files", test_mkimage_good},
    {"mkimage --check on a corrupt or foreign file: exit 1", test_mkimage_check_corrupt},
    {"mkimage --check on a truncated image: exit 1", test_mkimage_check_truncated},
    {"mkimage --check on a missing file: exit 2", test_mkimage_check_missing},
    {"mkimage: image too small for the files: exit 2", test_mkimage_too_small},
    {"mkimage: bad --file: exit 2", test_mkimage_bad_file_spec},
    {"mkimage: missing or bad --size: exit 2", test_mkimage_missing_size},
    {"mkimage: usage errors, FIFO refused: exit 2", test_mkimage_usage_errors},
    {"mkimage --help", test_mkimage_help},
    {"compare: usage errors: exit 2", test_compare_usage_errors},
    {"recover and verify-image: no journal, a foreign one, usage", test_recover_verify_image},
    {"run --writeback: usage errors: exit 2", test_writeback_usage_errors},
    {"run --migrate-to and receive: usage errors: exit 2", test_migrate_usage_errors},
    {NULL, NULL},
};

/* Each of these boots a guest or needs the KVM device to exist. */
static const struct ds_case kvm_cases[] = {
    {"run as an unprivileged user", test_run_no_permission},
    {"SIGINT and SIGTERM: exit 130, the JSON says interrupted", test_interrupted},
    {"a run failing on the way keeps its JSON, naming the failure", test_json_failed_run},
    {"compare: distinct page totals beside the sums", test_compare_distinct},
    {"run --ring-entries 64 (below minimum)", test_ring_below_minimum},
    {"run --ring-entries 1048576 (above maximum)", test_ring_above_maximum},
    {"info", test_info},
    {"info --json", test_info_json},
    {"run --json FILE, then a failed run", test_json_file},
    {"run --verify --json -", test_json_stdout},
    {"run --epochs 3 --verify: table", test_table},
    {"run: file-workload option and image errors: exit 2", test_run_file_option_errors},
    {"run db --verify: wp exits 0, lossy exits 1", test_run_file_verify},
    {"compare: 80-column table, JSON fields, --plot, lossy", test_compare_outputs},
    {"run --writeback host: lossy verifies, journal kept clean, recovery at start",
     test_run_writeback_host},
    {"receive --listen and run --migrate-to: both exit 0, JSON; nobody listening: 5",
     test_migrate_cli},
    {NULL, NULL},
};

#define NR_CASES                                                                                   \
	(sizeof(plain_cases) / sizeof(plain_cases[0]) + sizeof(kvm_cases) / sizeof(kvm_cases[0]))

/*
 * Without /dev/kvm the cases that need it cannot run: the others still do,
 * and a failure among them fails the suite (exit 1); if they all pass, the
 * suite exits 77, which CTest reports as skipped, since most of what it
 * covers was not tested.
 */
int main(void)
{
	static struct ds_case cases[NR_CASES];
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), kvm_err = fd < 0 ? errno : 0;
	size_t n = 0, nr_kvm = sizeof(kvm_cases) / sizeof(kvm_cases[0]) - 1;

	for (const struct ds_case *c = plain_cases; c->name; c++)
		cases[n++] = *c;
	if (fd >= 0) {
		close(fd);
		for (const struct ds_case *c = kvm_cases; c->name; c++)
			cases[n++] = *c;
	} else {
		printf("test_cli: cannot open /dev/kvm (%s): %zu cases that need it left out\n",
		       strerror(kvm_err), nr_kvm);
	}
	cases[n] = (struct ds_case){NULL, NULL};
	int ret = ds_run_suite("cli", cases);
	if (ret == 0 && kvm_err) {
		printf("test_cli: skipped: cannot open /dev/kvm: %s (%zu cases passed without "
		       "it, %zu that need it did not run)\n",
		       strerror(kvm_err), n, nr_kvm);
		return 77;
	}
	return ret;
}
