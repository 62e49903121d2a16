/*
 * dirtyscope run: parse the options (tools/runopts.c), prepare the disk image
 * (tools/runimage.c), then run the session with the table and JSON outputs
 * (tools/runopts_out.c), and check the image with --verify.
 */
#include <stdio.h>
#include <unistd.h>

#include "logger/output.h"
#include "tools/cli.h"
#include "util/log.h"
#include "tools/runimage.h"
#include "vmm/wlnames.h"
#include "tools/runopts.h"
#include "tools/runopts_out.h"

static const struct cli_exit run_exits[] = {
    {DS_EXIT_OK, NULL},
    {DS_EXIT_CHECK, "lost pages, a dirty ring overflow, or (--verify) an image that does "
		    "not hold what the workload wrote"},
    {DS_EXIT_USAGE, NULL},
    {DS_EXIT_PLATFORM, NULL},
    {DS_EXIT_FAILED, NULL},
    {DS_EXIT_MIGRATION, "--migrate-to given, but the guest finished here"},
    {DS_EXIT_INTERRUPTED, NULL},
    {-1, NULL},
};

static void run_usage(FILE *f)
{
	char modes[128], anon[128], files[128], tests[128], policies[128];

	dlog_mode_list(false, " | ", " | ", modes, sizeof(modes));
	wl_list(WL_ANON, " | ", " | ", anon, sizeof(anon));
	wl_list(WL_FILE, " | ", " | ", files, sizeof(files));
	wl_list(WL_SELFTEST, " | ", " | ", tests, sizeof(tests));
	policy_list(" | ", " | ", policies, sizeof(policies));
	fprintf(f,
		"usage: dirtyscope run [options]\n"
		"Boot the guest, run a workload, and log its dirty pages epoch by epoch\n"
		"through one of KVM's dirty-log interfaces.\n"
		"\n"
		"  --log MODE          %s (default bitmap); uffd\n"
		"                      tracks guest RAM with host userfaultfd write-protect\n"
		"  --workload W        anonymous memory: %s (default seq);\n"
		"                      files: %s;\n"
		"                      bad-input tests: %s\n"
		"  --policy P          file workloads: %s (default wp)\n"
		"  --image FILE        file workloads: the disk image (see mkimage); default: a\n"
		"                      temporary image sized for the workload, never left behind\n"
		"  --cache-pages N     guest page-cache limit in pages (default, and most:\n"
		"                      half of the guest's free pages)\n"
		"  --flush-every N     system calls between guest flusher runs, 0 never\n"
		"                      (default 200)\n"
		"  --sync-every N      stores per msync / appends per fsync, 0 never\n"
		"                      (default: writes per epoch / 4)\n"
		"  --writeback WHO     file workloads: guest (default) leaves the image to the\n"
		"                      guest's own writeback; host[:N] also commits the\n"
		"                      guest's dirty file pages from its RAM to the image at\n"
		"                      every N-th epoch end (default 1), crash-consistently\n"
		"                      through IMAGE.journal (docs/hostwb.md)\n"
		"  --mem SIZE          guest RAM, 16M..256G, suffixes K M G T (default 256M)\n"
		"  --wss PAGES         working set in 4 KiB pages (default 512); file workloads:\n"
		"                      the file's size in pages (default 64)\n"
		"  --writes N          page writes per epoch (default: the working set)\n"
		"  --epochs N          epochs to run (default 10)\n"
		"  --epoch-ms N        anonymous workloads: end an epoch every N ms of wall\n"
		"                      time while the guest runs on (1..3600000); the guest\n"
		"                      repeats rounds of --writes stores until the host has\n"
		"                      had its --epochs epochs (default: the guest's rounds\n"
		"                      are the epochs)\n"
		"  --vcpus N           vCPUs, 1..8 (default 1): anonymous workloads run a\n"
		"                      worker each on a partition of the working set; file\n"
		"                      workloads run their processes on every CPU (db one\n"
		"                      writer per vCPU)\n"
		"  --share PCT         with --vcpus 2 or more: percent of each worker's writes\n"
		"                      to pages anywhere in the working set (default 0)\n"
		"  --seed N            seed for random and hotcold (default 1)\n"
		"  --hot-pages N       hotcold: size of the hot subset (default wss/10, min 1)\n"
		"  --hot-pct N         hotcold: percent of writes to the hot subset (default 90)\n"
		"  --ring-entries N    ring: entries per vCPU ring, a power of two (default 4096)\n"
		"  --reaper-us N       ring: a host thread empties every vCPU's ring each N\n"
		"                      microseconds while the vCPUs run, 0 none (default 1000)\n"
		"  --dirty-limit MIBS  ring: cap each vCPU's dirty rate at MIBS MiB/s, holding\n"
		"                      it out of the guest at its ring-full exits (no reaper\n"
		"                      thread; a smaller --ring-entries holds it closer)\n"
		"  --clear-chunk N     clear: pages per KVM_CLEAR_DIRTY_LOG, multiple of 64\n"
		"                      (default 262144)\n"
		"  --verify            check every harvest against a copy of guest RAM; lost\n"
		"                      pages are printed and make the run exit 1.  File\n"
		"                      workloads: also compare the image with the content the\n"
		"                      workload must have produced; a difference exits 1\n"
		"  --json FILE|-       JSON lines: one object per epoch, then a summary\n"
		"  --console           echo the guest's serial console to stderr\n"
		"  --quiet             no progress line (on a terminal, an epoch longer than a\n"
		"                      second shows one on stderr)\n"
		"\n"
		"live migration (pre-copy; docs/migration.md):\n"
		"  --migrate-to ADDR   send the running guest to 'dirtyscope receive' at\n"
		"                      unix:PATH or tcp:HOST:PORT; exits 0 once it took over\n"
		"  --migrate-after-epoch N  start when epoch N ends (default 1; 0: at boot)\n"
		"  --downtime-limit MS switch over when the rest can be sent in MS at the\n"
		"                      measured bandwidth (default 300)\n"
		"  --max-rounds N      switch over after N rounds whatever is left (default 30)\n"
		"  --max-bandwidth R   cap the stream at R bytes/s, suffixes K M G (default none)\n"
		"  --throttle auto|dirty-limit|off  when the guest dirties faster than the\n"
		"                      link sends: auto slows the vCPUs down in growing steps\n"
		"                      (20%%, +10%%); dirty-limit holds each vCPU at\n"
		"                      --dirty-limit MiB/s (default 1; --log ring) (default off)\n"
		"  --migrate-retries N attempts after a failed one, 500 ms apart (default 3)\n"
		"  --kvm-device PATH   KVM device (default /dev/kvm)\n"
		"  -h, --help          this text\n"
		"\n"
		"File workloads default to --writes 64 and --epochs 4; --seed drives them too.\n"
		"\n",
		modes, anon, files, tests, policies);
	cli_exit_status(f, run_exits);
}

enum ds_fail cmd_run(int argc, char **argv)
{
	static const struct runopts_cmd cmd = {.name = "run", .usage = run_usage};
	struct run_opts o;
	enum ds_fail fail = runopts_get(&o, argc, argv, &cmd);
	if (fail || o.help)
		return fail;
	/* The user's image is recovered and checked before anything reads it. */
	if ((fail = runimage_check(&o)))
		return fail;

	struct out_file json = {0};
	struct sink table, js;
	if (o.json_path && (fail = out_file_open(&json, "--json", o.json_path)))
		return fail;
	if (o.file_world && !o.disk.path && (fail = runimage_temp(&o))) {
		out_file_close(&json, 0);
		return fail;
	}
	struct session_config cfg = o.cfg;
	cfg.image_path = o.disk.path;
	runopts_add_sinks(&cfg, &json, &js, &table);

	runopts_catch_signals();

	struct run_summary sum = {0};
	cfg.fail = &fail;
	cfg.verify_image = true; /* the image check is one of the run's verdicts */
	session_run(&cfg, &sum);
	runimage_close_temp(&o);
	/* Keep the JSON whenever the guest ran: its summary says how the run
	 * ended, a failure included (docs/cli.md). */
	enum ds_fail jfail = out_file_close(&json, sum.reported);
	/* A lost output outweighs a failed check, as at stdout (main.c): the
	 * finding went nowhere. */
	return jfail && (!fail || fail == DS_FAIL_CHECK) ? jfail : fail;
}
