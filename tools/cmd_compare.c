/*
 * dirtyscope compare: run a file workload and, epoch by epoch, set the
 * guest's own dirty tracking beside the host's (logger/compare/compare.c).  It takes
 * every run option, plus --plot.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "logger/compare/compare.h"
#include "tools/cli.h"
#include "util/log.h"
#include "tools/runimage.h"
#include "vmm/wlnames.h"
#include "tools/runopts.h"
#include "tools/runopts_out.h"

static const struct cli_exit compare_exits[] = {
    {DS_EXIT_OK, "missed pages are a finding, not a failure"},
    {DS_EXIT_CHECK, "the guest called a page dirty that no host log saw written, or "
		    "--verify found lost pages"},
    {DS_EXIT_USAGE, NULL},
    {DS_EXIT_PLATFORM, NULL},
    {DS_EXIT_FAILED, NULL},
    {DS_EXIT_INTERRUPTED, NULL},
    {-1, NULL},
};

static void compare_usage(FILE *f)
{
	char modes[128], files[128], policies[128];

	dlog_mode_list(false, " | ", " | ", modes, sizeof(modes));
	wl_list(WL_FILE, " | ", " | ", files, sizeof(files));
	policy_list(" | ", " | ", policies, sizeof(policies));
	fprintf(f,
		"usage: dirtyscope compare --workload W [--policy P] [options]\n"
		"Run a file workload and compare, epoch by epoch, the pages the guest's page\n"
		"cache calls dirty with what the host saw: KVM's dirty log mapped through the\n"
		"guest's page-cache index, and the D bits of the guest's page tables.\n"
		"\n"
		"  --workload W        %s\n"
		"  --policy P          %s (default wp)\n"
		"  --log MODE          %s (default bitmap)\n"
		"  --epochs N          epochs to run (default 4)\n"
		"  --vcpus N           vCPUs, 1..8 (default 1): the processes run on every\n"
		"                      CPU, db with one writer per vCPU\n"
		"  --json FILE|-       JSON lines: one object per epoch, then a summary\n"
		"  --plot FILE         an SVG heatmap of file pages over epochs, coloured by\n"
		"                      who saw each page dirty (both, guest, host, missed)\n"
		"  every other run option works too (--image, --wss, --writes, --seed,\n"
		"  --cache-pages, --flush-every, --sync-every, --writeback, --mem, --verify,\n"
		"  ...):\n"
		"  see dirtyscope run --help\n"
		"  -h, --help          this text\n"
		"\n"
		"Columns (docs/compare.md): dirty/wrote the guest's view; both, g-only,\n"
		"h-only: file pages by who saw them; pte-D: pages a PTE maps dirty; missed:\n"
		"bytes differ from the image and the guest will never write them; then the\n"
		"other frames KVM saw dirty, by class.\n"
		"\n",
		files, policies, modes);
	cli_exit_status(f, compare_exits);
}

enum ds_fail cmd_compare(int argc, char **argv)
{
	static const struct runopts_cmd cmd = {
	    .name = "compare", .usage = compare_usage, .compare = true};
	struct run_opts o;
	enum ds_fail fail = runopts_get(&o, argc, argv, &cmd);
	if (fail || o.help)
		return fail;
	/* The user's image is recovered and checked before anything reads it. */
	if ((fail = runimage_check(&o)))
		return fail;

	struct out_file json = {0}, plot = {0};
	if (o.json_path && (fail = out_file_open(&json, "--json", o.json_path)))
		return fail;
	if (o.plot_path) {
		if (!strcmp(o.plot_path, "-") && json.f == stdout) {
			out_file_close(&json, 0);
			return usage_error("--plot -: stdout already carries --json");
		}
		if ((fail = out_file_open(&plot, "--plot", o.plot_path))) {
			out_file_close(&json, 0);
			return fail;
		}
	}
	if (!o.disk.path && (fail = runimage_temp(&o))) {
		out_file_close(&json, 0);
		out_file_close(&plot, 0);
		return fail;
	}
	o.cfg.image_path = o.disk.path;

	/* The table goes to stdout unless stdout carries the JSON or the SVG. */
	bool table = json.f != stdout && plot.f != stdout;
	struct compare cmp;
	struct compare_config cc = {
	    .image_path = o.disk.path,
	    .policy = o.cfg.wl.policy,
	    .policy_name = o.cfg.policy_name,
	    .mode_name = o.cfg.mode->name,
	    .workload_name = o.cfg.workload_name,
	    .table = table ? stdout : NULL,
	    .json = json.f,
	    .report = stderr,
	};
	bool completed = false;
	if (compare_init(&cmp, &cc)) {
		fail = cmp.fail;
		goto out;
	}
	o.cfg.sinks[o.cfg.nr_sinks++] = &cmp.sink;
	runopts_catch_signals();

	o.cfg.fail = &fail;
	completed = session_run(&o.cfg, NULL) >= 0;
	if (cmp.error && completed) {
		/* The comparison itself failed: its figures are not to be trusted. */
		fail = cmp.fail ? cmp.fail : DS_FAIL_RUN;
		completed = false;
	}
	if (!fail && cmp.total.unexplained)
		fail = DS_FAIL_CHECK;
	int pret = plot.f && completed ? compare_plot(&cmp, plot.f) : 0;
	if (pret) {
		/* -EINVAL or -ENOMEM: no picture to draw; else its write failed. */
		if (pret == -EINVAL || pret == -ENOMEM)
			log_err("--plot %s: cannot draw the picture: %s", o.plot_path,
				strerror(-pret));
		else
			log_err("--plot %s: write failed: %s", o.plot_path, strerror(-pret));
		fail = DS_FAIL_IO;
		completed = false;
	}
	compare_free(&cmp);
out:;
	/* Keep the outputs only for a comparison that completed. */
	enum ds_fail jfail = out_file_close(&json, completed);
	enum ds_fail pfail = out_file_close(&plot, completed);
	runimage_close_temp(&o);
	/* A lost output outweighs a failed check, as at stdout (main.c). */
	if (!fail || fail == DS_FAIL_CHECK)
		fail = jfail ? jfail : pfail ? pfail : fail;
	return fail;
}
