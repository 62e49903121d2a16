/*
 * dirtyscope libvirt: QEMU's dirty-rate measurement of any libvirt domain
 * (dirtyrate), the standalone guest kernel in a transient domain (boot),
 * and QEMU's answers set beside the truth (accuracy, cmd_libvirt_accuracy.c).
 * docs/libvirt.md describes them.
 */
#include <errno.h>
#include <getopt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/libvirt_common.h"
#include "tools/runopts_out.h"
#include "util/esc.h"
#include "util/io.h"
#include "util/json.h"
#include "util/log.h"
#include "util/parse.h"
#include "virt/virt_conn.h"
#include "virt/virt_console.h"
#include "virt/virt_dirtyrate.h"
#include "virt/virt_domain.h"

/* How long a booting guest may take to print its first line: -machine pc
 * runs SeaBIOS emulated here, a few seconds, more on a busy machine. */
#define LV_BOOT_TIMEOUT_NS (60ULL * 1000000000ULL)

static void libvirt_usage(FILE *f)
{
	fprintf(f, "usage: dirtyscope libvirt <command> [options]\n"
		   "\n"
		   "commands:\n"
		   "  dirtyrate DOMAIN  QEMU's dirty-rate calculation on a running domain\n"
		   "  boot              the guest kernel in a transient domain, standalone\n"
		   "  accuracy          QEMU's modes against the true dirty rate\n"
		   "\n"
		   "'dirtyscope libvirt <command> --help' describes each; the man page is\n"
		   "dirtyscope-libvirt(1).  libvirtd must be running: as root,\n"
		   "%s starts one.\n"
		   "\n",
		VIRT_START_SCRIPT);
	static const struct cli_exit codes[] = {
	    {DS_EXIT_OK, NULL},
	    {DS_EXIT_CHECK, "accuracy: the guest's own data check, or its counts, failed"},
	    {DS_EXIT_USAGE, "bad option or value; an unknown domain"},
	    {DS_EXIT_PLATFORM, "libvirtd unreachable; no guest kernel ELF file"},
	    {DS_EXIT_FAILED, "libvirt or the guest failed mid-way"},
	    {DS_EXIT_INTERRUPTED, "SIGINT or SIGTERM; what dirtyscope started is destroyed"},
	    {-1, NULL}};
	cli_exit_status(f, codes);
}

/* The category of a measuring or waiting step's -errno. */
static enum ds_fail step_fail(int err)
{
	return err == -EINTR ? DS_FAIL_INTERRUPTED : err == -EINVAL ? DS_FAIL_USAGE : DS_FAIL_RUN;
}

/* ------------------------------------------------------------ dirtyrate */

static void dirtyrate_usage(FILE *f)
{
	fprintf(f, "usage: dirtyscope libvirt dirtyrate DOMAIN [options]\n"
		   "\n"
		   "Measure a running domain's dirty rate with QEMU's calc-dirty-rate, through\n"
		   "libvirt, in one mode or all three; a mode the host or the domain cannot do\n"
		   "is reported as unsupported, not as a failure.\n"
		   "\n"
		   "  --connect URI    libvirt URI (default %s)\n"
		   "  --mode M         page-sampling, dirty-bitmap, dirty-ring or all (default all)\n"
		   "  --calc-time S    seconds per calculation, 1 to %d (default 1)\n"
		   "  --repeat N       calculations per mode (default 1)\n"
		   "  --json FILE      JSON lines: one object per calculation, then a summary\n"
		   "                   ('-': stdout instead of the table)\n"
		   "  -h, --help       this text\n"
		   "\n",
		VIRT_DEFAULT_URI, VIRT_DR_MAX_CALC_S);
	static const struct cli_exit codes[] = {
	    {DS_EXIT_OK, "every calculation measured, or its mode is unsupported or stalled"},
	    {DS_EXIT_USAGE, "bad option or value; no such domain (named)"},
	    {DS_EXIT_PLATFORM, "libvirtd unreachable (the URI is named)"},
	    {DS_EXIT_FAILED, "libvirt failed, or the domain went away, mid-way"},
	    {DS_EXIT_INTERRUPTED, "SIGINT or SIGTERM"},
	    {-1, NULL}};
	cli_exit_status(f, codes);
}

static const char *const dr_status_names[] = {
    [VIRT_DR_MEASURED] = "measured",
    [VIRT_DR_UNSUPPORTED] = "unsupported",
    [VIRT_DR_STALLED] = "stalled",
};

/* One calculation as a JSON line. */
static void dr_json(FILE *f, const char *domain, unsigned rep, unsigned calc_s,
		    const struct virt_dr_result *r)
{
	fprintf(f, "{\"domain\":");
	json_string(f, domain);
	fprintf(f, ",\"mode\":\"%s\",\"repeat\":%u,\"calc-time-s\":%u,\"status\":\"%s\"",
		virt_dr_mode_name(r->mode), rep, calc_s, dr_status_names[r->status]);
	if (r->status == VIRT_DR_MEASURED) {
		fprintf(f, ",\"mibs\":%.0f", r->mibs);
		if (r->nr_vcpus) {
			fprintf(f, ",\"vcpu-mibs\":[");
			for (unsigned i = 0; i < r->nr_vcpus; i++)
				fprintf(f, "%s%.0f", i ? "," : "", r->vcpu_mibs[i]);
			fprintf(f, "]");
		}
		fprintf(f, ",\"wait-ms\":%.0f", (double)r->wait_ns / 1e6);
	} else {
		fprintf(f, ",\"reason\":");
		json_string(f, r->why);
	}
	fprintf(f, "}\n");
	io_flush(f);
}

/* One calculation as a table row. */
static void dr_row(FILE *f, unsigned rep, const struct virt_dr_result *r)
{
	if (r->status != VIRT_DR_MEASURED) {
		char why[200];
		fprintf(f, " %-14s %6u  %s: %s\n", virt_dr_mode_name(r->mode), rep,
			dr_status_names[r->status], esc_str(why, sizeof(why), r->why, true));
		return;
	}
	fprintf(f, " %-14s %6u %9.0f", virt_dr_mode_name(r->mode), rep, r->mibs);
	for (unsigned i = 0; i < r->nr_vcpus; i++)
		fprintf(f, "%s%.0f", i ? " " : "  vcpus: ", r->vcpu_mibs[i]);
	fprintf(f, "\n");
	io_flush(f);
}

static enum ds_fail cmd_dirtyrate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"connect", required_argument, NULL, 'c'}, {"mode", required_argument, NULL, 'm'},
	    {"calc-time", required_argument, NULL, 't'}, {"repeat", required_argument, NULL, 'r'},
	    {"json", required_argument, NULL, 'j'},	   {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *uri = NULL, *json_path = NULL;
	unsigned calc_s = 1, first = 0, last = VIRT_DR_NR - 1;
	uint64_t repeat = 1;
	struct out_file json = {0};
	enum ds_fail fail = DS_FAIL_NONE;
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			uri = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "all")) {
				first = 0;
				last = VIRT_DR_NR - 1;
			} else {
				enum virt_dr_mode m;
				if (virt_dr_mode_parse(optarg, &m))
					return usage_error("--mode: page-sampling, dirty-bitmap, "
							   "dirty-ring or all");
				first = last = m;
			}
			break;
		case 't':
			if (lv_parse_calc_time(optarg, &calc_s))
				return DS_FAIL_USAGE;
			break;
		case 'r':
			if (parse_u64(optarg, 1, 1000, &repeat))
				return usage_error("--repeat: a number from 1 to 1000");
			break;
		case 'j':
			json_path = optarg;
			break;
		case 'h':
			dirtyrate_usage(stdout);
			return DS_FAIL_NONE;
		default:
			dirtyrate_usage(stderr);
			return DS_FAIL_USAGE;
		}
	}
	if (optind != argc - 1)
		return usage_error("libvirt dirtyrate: one DOMAIN (name, UUID or id)");
	const char *name = argv[optind];
	if (json_path && (fail = out_file_open(&json, "--json", json_path)))
		return fail;
	lv_catch_signals();
	if (!(conn = virt_connect(uri))) {
		fail = DS_FAIL_PLATFORM;
		goto out;
	}
	int missing;
	if (!(dom = virt_domain_lookup(conn, name, &missing))) {
		fail = missing ? DS_FAIL_USAGE : DS_FAIL_RUN;
		goto out;
	}
	FILE *table = json.f == stdout ? NULL : stdout;
	if (table)
		fprintf(table, " %-14s %6s %9s\n", "mode", "repeat", "MiB/s");
	unsigned measured = 0, unsupported = 0, stalled = 0;
	for (unsigned m = first; m <= last; m++) {
		for (unsigned rep = 1; rep <= repeat; rep++) {
			struct virt_dr_result r;
			int ret = virt_dirtyrate_measure(dom, m, calc_s, &r, &lv_stop);
			if (ret == -ENOENT) {
				log_err("domain %s went away", name);
				fail = DS_FAIL_RUN;
				goto out;
			}
			if (ret) {
				fail = step_fail(ret);
				goto out;
			}
			if (table)
				dr_row(table, rep, &r);
			if (json.f)
				dr_json(json.f, virDomainGetName(dom), rep, calc_s, &r);
			measured += r.status == VIRT_DR_MEASURED;
			stalled += r.status == VIRT_DR_STALLED;
			if (r.status == VIRT_DR_UNSUPPORTED) {
				unsupported++;
				break; /* the same answer every time */
			}
		}
	}
	if (json.f) {
		fprintf(json.f, "{\"summary\":true,\"domain\":");
		json_string(json.f, virDomainGetName(dom));
		fprintf(json.f,
			",\"calc-time-s\":%u,\"measured\":%u,\"unsupported\":%u,\"stalled\":%u}\n",
			calc_s, measured, unsupported, stalled);
	}
out:
	if (fail == DS_FAIL_INTERRUPTED)
		log_err("interrupted");
	if (dom)
		virDomainFree(dom);
	if (conn)
		virConnectClose(conn);
	if (json_path) {
		enum ds_fail f2 = out_file_close(&json, fail == DS_FAIL_NONE);
		if (fail == DS_FAIL_NONE)
			fail = f2;
	}
	return fail;
}

/* ------------------------------------------------------------------ boot */

static void boot_usage(FILE *f)
{
	fprintf(f, "usage: dirtyscope libvirt boot [options]\n"
		   "\n"
		   "Start dirtyscope's guest kernel standalone in a transient libvirt domain\n"
		   "(direct kernel boot: QEMU, -machine pc, CPU model qemu64) and read its\n"
		   "serial console back.  Without --follow the domain keeps running once the\n"
		   "guest's workload started, for 'dirtyscope libvirt dirtyrate NAME' (end it\n"
		   "with 'virsh destroy NAME'); with --follow its lines are printed as they\n"
		   "come and it is destroyed when the guest ends, or on SIGINT.\n"
		   "\n"
		   "  --connect URI    libvirt URI (default %s)\n"
		   "  --name NAME      the domain's name (default dirtyscope-PID)\n"
		   "  --workload W     seq, random or hotcold (default seq)\n"
		   "  --wss N          working set, pages (default 512)\n"
		   "  --writes N       page stores per epoch (default: the working set)\n"
		   "  --epochs N       epochs, then the guest ends (default 0: until destroyed)\n"
		   "  --seed N         the workload's seed (default 1)\n"
		   "  --hot-pages N --hot-pct P   hotcold's hot set (default wss/10, 90%%)\n"
		   "  --mem SIZE       guest RAM, 32M to 3G (default 128M)\n"
		   "  --dirty-ring N   start QEMU with KVM's dirty ring of N entries per vCPU\n"
		   "                   (a power of two, 1024 to 65536): needed by dirtyrate's\n"
		   "                   dirty-ring mode, and dirty-bitmap cannot run with it\n"
		   "  --accel A        kvm, tcg (QEMU's emulator) or auto: kvm where libvirtd\n"
		   "                   offers it, else tcg (default auto)\n"
		   "  --follow         print the console's lines until the guest ends\n"
		   "  -h, --help       this text\n"
		   "\n",
		VIRT_DEFAULT_URI);
	static const struct cli_exit codes[] = {
	    {DS_EXIT_OK, "the guest booted (with --follow: ended, its data check passed)"},
	    {DS_EXIT_CHECK, "with --follow: the guest's own data check failed"},
	    {DS_EXIT_USAGE, "bad option or value; a name already taken"},
	    {DS_EXIT_PLATFORM, "libvirtd unreachable; no guest kernel ELF file; --accel kvm "
				"or --dirty-ring where libvirtd offers no KVM"},
	    {DS_EXIT_FAILED, "the domain did not start, the guest did not boot or panicked"},
	    {DS_EXIT_INTERRUPTED, "SIGINT or SIGTERM: the domain is destroyed"},
	    {-1, NULL}};
	cli_exit_status(f, codes);
}

/* --follow: every console line as it comes, escaped into one line. */
static void follow_line(void *arg, const struct virt_console_rec *r, const char *raw, size_t n,
			int bad)
{
	char shown[VIRT_LINE_MAX * 4 + 1];
	fprintf(stdout, "%s\n", esc_str(shown, sizeof(shown), raw, true));
	io_flush(stdout);
}

static enum ds_fail cmd_boot(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"connect", required_argument, NULL, 'c'},	{"name", required_argument, NULL, 'n'},
	    {"workload", required_argument, NULL, 'W'}, {"wss", required_argument, NULL, 'W'},
	    {"writes", required_argument, NULL, 'W'},	{"seed", required_argument, NULL, 'W'},
	    {"hot-pages", required_argument, NULL, 'W'}, {"hot-pct", required_argument, NULL, 'W'},
	    {"mem", required_argument, NULL, 'W'},	{"epochs", required_argument, NULL, 'e'},
	    {"dirty-ring", required_argument, NULL, 'R'}, {"follow", no_argument, NULL, 'f'},
	    {"accel", required_argument, NULL, 'a'},	{"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	enum { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG } accel = ACCEL_AUTO;
	struct lv_workload w;
	const char *uri = NULL;
	char name[VIRT_NAME_MAX + 1], kernel[4096 + 64], cmdline[512];
	int follow = 0, c, li;
	uint64_t ring = 0;
	enum ds_fail fail;
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;
	struct virt_console con;
	bool con_open = false;

	lv_workload_default(&w, 512);
	snprintf(name, sizeof(name), "dirtyscope-%d", (int)getpid());
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 'c':
			uri = optarg;
			break;
		case 'n':
			if (!virt_name_ok(optarg))
				return usage_error("--name: 1 to %d letters, digits, '-', '_' or '.'",
						   VIRT_NAME_MAX);
			snprintf(name, sizeof(name), "%s", optarg);
			break;
		case 'W':
			if (lv_workload_opt(&w, opts[li].name, optarg) < 0)
				return DS_FAIL_USAGE;
			break;
		case 'e':
			if (parse_u64(optarg, 0, 1000000, &w.epochs))
				return usage_error("--epochs: 0 (until destroyed) to 1000000");
			break;
		case 'R':
			if (parse_u64(optarg, 1024, 65536, &ring) || (ring & (ring - 1)))
				return usage_error("--dirty-ring: a power of two from 1024 to 65536");
			break;
		case 'f':
			follow = 1;
			break;
		case 'a':
			if (!strcmp(optarg, "kvm"))
				accel = ACCEL_KVM;
			else if (!strcmp(optarg, "tcg"))
				accel = ACCEL_TCG;
			else if (!strcmp(optarg, "auto"))
				accel = ACCEL_AUTO;
			else
				return usage_error("--accel: kvm, tcg or auto");
			break;
		case 'h':
			boot_usage(stdout);
			return DS_FAIL_NONE;
		default:
			boot_usage(stderr);
			return DS_FAIL_USAGE;
		}
	}
	if (optind != argc)
		return usage_error("libvirt boot: unexpected argument '%s'", argv[optind]);
	if (ring && accel == ACCEL_TCG)
		return usage_error("--dirty-ring needs KVM: not with --accel tcg");
	if ((fail = lv_workload_check(&w)) || (fail = lv_kernel(kernel, sizeof(kernel))))
		return fail;
	lv_cmdline(&w, cmdline, sizeof(cmdline));
	lv_catch_signals();
	/* The console's data comes through libvirt's event loop. */
	if (virt_events_start())
		return DS_FAIL_RUN;
	if (!(conn = virt_connect(uri)))
		return DS_FAIL_PLATFORM;
	if (accel != ACCEL_TCG) {
		int kvm = virt_host_kvm(conn);
		if (kvm < 0) {
			fail = DS_FAIL_PLATFORM;
			goto out;
		}
		if (!kvm && (accel == ACCEL_KVM || ring)) {
			virt_log_no_kvm(conn, ring ? "a dirty ring needs KVM"
						   : "--accel kvm cannot be met");
			fail = DS_FAIL_PLATFORM;
			goto out;
		}
		if (!kvm)
			accel = ACCEL_TCG;
	}
	struct virt_domain_cfg cfg = {.name = name,
				      .kernel = kernel,
				      .cmdline = cmdline,
				      .mem_mib = w.mem_mib,
				      .ring_entries = (unsigned)ring,
				      .tcg = accel == ACCEL_TCG};
	if (!(dom = virt_domain_start_paused(conn, &cfg, !follow))) {
		fail = virt_err_code() == VIR_ERR_OPERATION_FAILED &&
			       strstr(virt_err(), "already")
			   ? DS_FAIL_USAGE
			   : DS_FAIL_RUN;
		goto out;
	}
	fail = DS_FAIL_RUN;
	if (virt_console_open(&con, conn, dom, follow ? follow_line : NULL, NULL))
		goto out;
	con_open = true;
	if (virDomainResume(dom) < 0) {
		log_err("domain %s: resuming: %s", name, virt_err());
		goto out;
	}
	size_t idx;
	int ret = virt_console_wait(&con, follow ? VIRT_LINE_DONE : VIRT_LINE_READY, 0,
				    follow ? UINT64_MAX : LV_BOOT_TIMEOUT_NS, &lv_stop, &idx);
	if (ret == -EINTR) {
		log_err("interrupted: domain %s destroyed", name);
		fail = DS_FAIL_INTERRUPTED;
		goto out;
	}
	if (ret) {
		log_err("domain %s: the guest %s", name,
			ret == -ETIMEDOUT ? "printed no line in 60 s"
			: ret == -EPIPE	  ? "ended before its workload (it panicked? "
					    "--follow shows its lines)"
					  : "console failed");
		goto out;
	}
	if (!follow) {
		printf("domain %s: running %s, %llu pages, %llu MiB, %s (%s)\n", name, w.name,
		       (unsigned long long)w.wss, (unsigned long long)w.mem_mib,
		       cfg.tcg ? "QEMU's emulator (TCG)" : "KVM",
		       w.epochs ? "until its epochs end" : "until destroyed");
		fail = DS_FAIL_NONE;
		goto out;
	}
	pthread_mutex_lock(&con.lock);
	struct virt_line done = con.recs[idx].line;
	pthread_mutex_unlock(&con.lock);
	if (done.check_failed) {
		log_err("domain %s: the guest's own data check failed", name);
		fail = DS_FAIL_CHECK;
	} else if (done.status) {
		log_err("domain %s: the guest ended with status %llu", name,
			(unsigned long long)done.status);
	} else {
		fail = DS_FAIL_NONE;
	}
out:
	/* Without --follow a booted domain stays; anything else goes. */
	if (dom && (follow || fail != DS_FAIL_NONE))
		virt_domain_destroy(dom);
	else if (dom)
		virDomainFree(dom);
	if (con_open)
		virt_console_close(&con);
	if (conn)
		virConnectClose(conn);
	return fail;
}

enum ds_fail cmd_libvirt(int argc, char **argv)
{
	if (argc < 2) {
		libvirt_usage(stderr);
		return DS_FAIL_USAGE;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "dirtyrate"))
		return cmd_dirtyrate(argc - 1, argv + 1);
	if (!strcmp(sub, "boot"))
		return cmd_boot(argc - 1, argv + 1);
	if (!strcmp(sub, "accuracy"))
		return cmd_libvirt_accuracy(argc - 1, argv + 1);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		libvirt_usage(stdout);
		return DS_FAIL_NONE;
	}
	return usage_error("libvirt: unknown command '%s' (dirtyrate, boot or accuracy)", sub);
}
