/*
 * dirtyscope receive: the destination of a live migration.  Listen, accept
 * one source, build the machine its HELLO describes, load the guest from
 * the stream and run it to the end of its workload (docs/migration.md).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "logger/verify/fileverify.h"
#include "logger/migrate/migctl.h"
#include "logger/migrate/migrate.h"
#include "logger/output.h"
#include "logger/session.h"
#include "tools/cli.h"
#include "util/parse.h"
#include "tools/runopts_out.h"

static void receive_usage(FILE *f)
{
	char modes[128];

	/* Migration harvests KVM's own log (struct dlog_mode.kvm_log). */
	dlog_mode_list(true, " | ", " | ", modes, sizeof(modes));
	fprintf(f,
		"usage: dirtyscope receive --listen ADDR [options]\n"
		"Wait for one guest sent by 'dirtyscope run --migrate-to ADDR', resume it\n"
		"and run its workload to the end, logging its dirty pages epoch by epoch.\n"
		"\n"
		"  --listen ADDR       unix:PATH (created, removed at exit) or tcp:HOST:PORT\n"
		"  --log MODE          dirty log here: %s (default bitmap)\n"
		"  --ring-entries N    ring: entries per vCPU ring (default 4096)\n"
		"  --image FILE        the disk, if not at the path the source used\n"
		"  --verify            check every harvest against a copy of guest RAM; file\n"
		"                      workloads: check the image's content at the end\n"
		"  --json FILE|-       JSON lines: the incoming migration, epochs, summary\n"
		"  --console           echo the guest's serial console to stderr\n"
		"  --kvm-device PATH   KVM device (default /dev/kvm)\n"
		"  -h, --help          this text\n"
		"\n"
		"exit codes: 0 the guest finished here and its own data check passed,\n"
		"1 its check failed (or lost pages, image mismatch), 2 usage error,\n"
		"3 platform cannot do it, 4 guest crashed or KVM failed, 5 no guest\n"
		"arrived (stream refused, source aborted, link dropped), 130 interrupted\n",
		modes);
}

enum { O_LISTEN = 256, O_LOG, O_RING, O_IMAGE, O_VERIFY, O_JSON, O_CONSOLE, O_KVM };

static const struct option options[] = {
    {"listen", required_argument, NULL, O_LISTEN},
    {"log", required_argument, NULL, O_LOG},
    {"ring-entries", required_argument, NULL, O_RING},
    {"image", required_argument, NULL, O_IMAGE},
    {"verify", no_argument, NULL, O_VERIFY},
    {"json", required_argument, NULL, O_JSON},
    {"console", no_argument, NULL, O_CONSOLE},
    {"kvm-device", required_argument, NULL, O_KVM},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

enum ds_fail cmd_receive(int argc, char **argv)
{
	struct session_config cfg = {
	    .kvm_path = "/dev/kvm",
	    .mode = &dlog_mode_bitmap,
	    .dlog = dlog_config_default(),
	};
	struct migaddr addr;
	const char *listen_on = NULL, *json_path = NULL, *image = NULL;
	char why[320], modes[128];
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case O_LISTEN:
			listen_on = optarg;
			if (migaddr_parse(optarg, &addr, why, sizeof(why)))
				return usage_error("--listen %s", why);
			break;
		case O_LOG:
			cfg.mode = dlog_find(optarg);
			if (!cfg.mode || !cfg.mode->kvm_log)
				return usage_error(
				    "--log %s: %s", optarg,
				    dlog_mode_list(true, ", ", " or ", modes, sizeof(modes)));
			break;
		case O_RING: {
			uint64_t v;
			if (parse_u64(optarg, 1, UINT32_MAX, &v) || (v & (v - 1)))
				return usage_error("--ring-entries %s: a power of two", optarg);
			cfg.dlog.ring_entries = (uint32_t)v;
			break;
		}
		case O_IMAGE:
			image = optarg;
			break;
		case O_VERIFY:
			cfg.verify = true;
			break;
		case O_JSON:
			json_path = optarg;
			break;
		case O_CONSOLE:
			cfg.echo_console = true;
			break;
		case O_KVM:
			cfg.kvm_path = optarg;
			break;
		case 'h':
			receive_usage(stdout);
			return DS_FAIL_NONE;
		default:
			if (optopt >= O_LISTEN)
				return usage_error("receive: %s needs an argument",
						   argv[optind - 1]);
			return usage_error("receive: unknown option %s (try --help)",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("receive: unexpected argument '%s'", argv[optind]);
	if (!listen_on)
		return usage_error("receive: --listen ADDR is required");

	struct out_file json = {0};
	enum ds_fail fail;
	if (json_path && (fail = out_file_open(&json, "--json", json_path)))
		return fail;
	int lfd = migaddr_listen(&addr, why, sizeof(why));
	if (lfd < 0) {
		/* The address given cannot be listened on: in use, no permission,
		 * no such directory, not this host's. */
		fprintf(stderr, "dirtyscope: %s\n", why);
		out_file_close(&json, 0);
		return DS_FAIL_USAGE;
	}
	runopts_catch_signals();
	fprintf(stderr, "dirtyscope: waiting for a guest on %s\n", addr.text);
	int fd = migaddr_accept(lfd, MIGRATE_IO_MS, why, sizeof(why));
	close(lfd);
	if (addr.family == AF_UNIX)
		unlink(addr.path);
	if (fd < 0) {
		fprintf(stderr, "dirtyscope: %s\n", why);
		out_file_close(&json, 0);
		return vm_stop_requested() ? DS_FAIL_INTERRUPTED : DS_FAIL_MIGRATION;
	}

	struct migin in;
	fail = DS_FAIL_MIGRATION; /* until the guest runs here */
	if (migin_open(&in, fd))
		goto out;
	session_config_incoming(&cfg, &in, image);
	if (image && !(in.cfg.flags & MIGRATE_CFG_F_DISK))
		fprintf(stderr, "dirtyscope: --image %s: the incoming guest has no disk; ignored\n",
			image);
	if (cfg.image_path && access(cfg.image_path, R_OK | W_OK)) {
		/* Input, not platform: the disk named (by the source, or by
		 * --image) is not here. */
		snprintf(why, sizeof(why), "the disk %s cannot be opened here: %s%s",
			 cfg.image_path, strerror(errno), image ? "" : " (use --image)");
		fprintf(stderr, "dirtyscope: %s\n", why);
		migctl_send(fd, MIGCTL_NACK, 0, why);
		fail = DS_FAIL_USAGE;
		goto out;
	}

	struct sink table, js;
	runopts_add_sinks(&cfg, &json, &js, &table);
	struct run_summary sum = {0};
	/* Before the guest is resumed here, the session's category says why
	 * it never came: the platform, this side's options or disk, or the
	 * stream (DS_FAIL_MIGRATION). */
	cfg.fail = &fail;
	int ret = session_run(&cfg, &sum);
	if (!in.resumed && !in.nacked)
		/* The machine could not be built here (a missing disk, no
		 * KVM...): the source should hear it from us, not guess. */
		migctl_send(fd, MIGCTL_NACK, 0,
			    "the destination could not set up the machine (see its messages)");
	if (in.resumed && ret >= 0 && cfg.image_path && cfg.verify &&
	    session_file_workload(cfg.wl.workload)) {
		long v = fileverify_image(cfg.image_path, &cfg.wl, stderr);
		if (!fail)
			fail = fileverify_fail(v);
	}
out:
	migin_close(&in);
	close(fd);
	enum ds_fail jfail = out_file_close(&json, !fail || fail == DS_FAIL_CHECK);
	return fail ? fail : jfail;
}
