/*
 * dirtyscope receive: the destination of a live migration.  Listen, accept
 * one source, build the machine its HELLO describes, load the guest from
 * the stream and run it to the end of its workload (docs/migration.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/migrate/migctl.h"
#include "logger/migrate/migrate.h"
#include "logger/output.h"
#include "logger/session.h"
#include "fs/dsfs.h"
#include "tools/cli.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/sigmask.h"
#include "tools/runopts_out.h"

static const struct cli_exit receive_exits[] = {
    {DS_EXIT_OK, "the guest finished here and its own data check passed"},
    {DS_EXIT_CHECK, "the guest's own data check, lost pages (--verify), or an image mismatch"},
    {DS_EXIT_USAGE, "a bad option, or a disk or log this host cannot serve the guest with"},
    {DS_EXIT_PLATFORM, NULL},
    {DS_EXIT_FAILED, NULL},
    {DS_EXIT_MIGRATION, "no guest arrived (stream refused, source aborted, link dropped)"},
    {DS_EXIT_INTERRUPTED, NULL},
    {-1, NULL},
};

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
		"  --listen ADDR       unix:PATH (created, removed at exit; a stale socket\n"
		"                      there is replaced) or tcp:HOST:PORT on a loopback\n"
		"                      address (localhost, 127.0.0.0/8, ::1)\n"
		"  --allow-remote      listen on a tcp address other hosts can reach; the\n"
		"                      stream is not authenticated (docs/migration.md)\n"
		"  --log MODE          dirty log here: %s (default bitmap)\n"
		"  --ring-entries N    ring: entries per vCPU ring (default 4096)\n"
		"  --image FILE        the disk for a guest that has one (a DSFS image of\n"
		"                      the source's image size)\n"
		"  --disk-dir DIR      or: the file in DIR named as the source's image\n"
		"                      (its file name only)\n"
		"  --verify            check every harvest against a copy of guest RAM; file\n"
		"                      workloads: check the image's content at the end\n"
		"  --json FILE|-       JSON lines: the incoming migration, epochs, summary\n"
		"  --console           echo the guest's serial console to stderr\n"
		"  --kvm-device PATH   KVM device (default /dev/kvm)\n"
		"  -h, --help          this text\n"
		"\n",
		modes);
	cli_exit_status(f, receive_exits);
}

enum {
	O_LISTEN = 256,
	O_LOG,
	O_RING,
	O_IMAGE,
	O_DISK_DIR,
	O_ALLOW_REMOTE,
	O_VERIFY,
	O_JSON,
	O_CONSOLE,
	O_KVM
};

static const struct option options[] = {
    {"listen", required_argument, NULL, O_LISTEN},
    {"log", required_argument, NULL, O_LOG},
    {"ring-entries", required_argument, NULL, O_RING},
    {"image", required_argument, NULL, O_IMAGE},
    {"disk-dir", required_argument, NULL, O_DISK_DIR},
    {"allow-remote", no_argument, NULL, O_ALLOW_REMOTE},
    {"verify", no_argument, NULL, O_VERIFY},
    {"json", required_argument, NULL, O_JSON},
    {"console", no_argument, NULL, O_CONSOLE},
    {"kvm-device", required_argument, NULL, O_KVM},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What the peer hears when the disk is refused: nothing about this host's
 * files (the reason is printed here only). */
#define NO_DISK "the destination has no disk for this guest"

/*
 * The disk for an incoming guest: only what this command line names, never
 * a path from the stream (which nothing authenticates).  --image FILE, or
 * the file in --disk-dir DIR named as HELLO names the source's image: a
 * plain file name, opened without following a symbolic link.  Either must
 * be a regular file holding valid DSFS of the source's image size and
 * identity.  Fills path and *checked (the file that passed, which the
 * session then insists on: a file swapped in at path later is refused);
 * returns 0, or -1 with the reason printed.
 */
static int receive_disk(const struct migrate_hello_cfg *h, const char *image, const char *dir,
			char *path, size_t pathlen, struct stat *checked)
{
	const char *name = h->image;
	struct dsfs_image img;
	struct stat st, lst;
	char why[256];

	if (image) {
		snprintf(path, pathlen, "%s", image);
	} else if (dir) {
		if (!name[0] || strchr(name, '/') || strstr(name, "..")) {
			log_err("incoming migration refused: the source's image name '%s' is "
				"not a plain file name (--disk-dir takes only those)",
				name);
			return -1;
		}
		if ((size_t)snprintf(path, pathlen, "%s/%s", dir, name) >= pathlen) {
			log_err("incoming migration refused: --disk-dir %s: path too long", dir);
			return -1;
		}
		/* No symbolic link out of DIR: O_NOFOLLOW on the last component,
		 * and the file dsfs_open checks below must be this one. */
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &lst)) {
			log_err("incoming migration refused: %s: %s%s", path, strerror(errno),
				errno == ELOOP ? " (a symbolic link; --disk-dir takes none)" : "");
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		if (!S_ISREG(lst.st_mode)) {
			log_err("incoming migration refused: %s: not a regular file", path);
			return -1;
		}
	} else {
		log_err("incoming migration refused: the guest has a disk (%s on the source); "
			"name this host's copy with --image FILE or --disk-dir DIR",
			name);
		return -1;
	}
	int ret = dsfs_open(path, O_RDONLY, &img, why, sizeof(why));
	if (ret) {
		log_err("incoming migration refused: %s: %s", path, why);
		return -1;
	}
	ret = fstat(img.fd, &st);
	dsfs_close(&img);
	if (ret || (dir && (st.st_dev != lst.st_dev || st.st_ino != lst.st_ino))) {
		log_err("incoming migration refused: %s changed while it was checked", path);
		return -1;
	}
	if (img.size != h->image_size) {
		log_err("incoming migration refused: %s: %llu bytes, the source's image has %llu",
			path, (unsigned long long)img.size, (unsigned long long)h->image_size);
		return -1;
	}
	if (memcmp(img.meta.sb.uuid, h->image_uuid, sizeof(h->image_uuid))) {
		char mine[DSFS_UUID_STR], theirs[DSFS_UUID_STR];
		log_err("incoming migration refused: %s is another image (identity %s, the "
			"source's is %s): the destination needs the source's image or a copy",
			path, dsfs_uuid_str(img.meta.sb.uuid, mine),
			dsfs_uuid_str(h->image_uuid, theirs));
		return -1;
	}
	if (access(path, R_OK | W_OK)) {
		log_err("incoming migration refused: %s: %s", path, strerror(errno));
		return -1;
	}
	*checked = st;
	return 0;
}

/*
 * Wait until lfd has a connection to accept (0), or a stop signal came
 * (-EINTR), or polling failed (-errno).  The stop signals stay blocked but
 * inside ppoll, which unblocks them and waits in one step: a SIGINT that
 * came before the wait is seen by the check, one during it ends it, and
 * none can slip in between and leave the receiver waiting for nobody (a
 * plain check before a blocking accept has that window, and a loaded
 * machine found it).
 */
static int wait_for_connection(int lfd)
{
	sigset_t old;
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int ret = 0;

	sigmask_block_stop(&old);
	while (!vm_stop_requested()) {
		int n = ppoll(&p, 1, NULL, &old);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
	}
	if (!ret && vm_stop_requested())
		ret = -EINTR;
	sigmask_restore(&old);
	return ret;
}

enum ds_fail cmd_receive(int argc, char **argv)
{
	struct session_config cfg = {
	    .kvm_path = "/dev/kvm",
	    .mode = &dlog_mode_bitmap,
	    .dlog = dlog_config_default(),
	};
	struct migaddr addr;
	const char *listen_on = NULL, *json_path = NULL, *image = NULL, *disk_dir = NULL;
	bool allow_remote = false;
	char why[320], modes[128], disk[4096];
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
		case O_DISK_DIR:
			disk_dir = optarg;
			break;
		case O_ALLOW_REMOTE:
			allow_remote = true;
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
	if (image && disk_dir)
		return usage_error("receive: --image and --disk-dir exclude each other");
	if (!allow_remote && !migaddr_is_loopback(&addr))
		return usage_error("receive: --listen %s is not a loopback address and the "
				   "stream is not authenticated; add --allow-remote to accept "
				   "guests from other hosts",
				   listen_on);

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
	/* TEST HOOK: DIRTYSCOPE_TEST_SIGINT_BEFORE_WAIT=1 raises SIGINT here,
	 * after the handler and before the wait for a connection, the window a
	 * loaded machine once found (tests/test_trust.c); not for users. */
	if (getenv("DIRTYSCOPE_TEST_SIGINT_BEFORE_WAIT"))
		raise(SIGINT);
	fprintf(stderr, "dirtyscope: waiting for a guest on %s\n", addr.text);
	int fd;
	char peek;
	/* A connection that closes before its first byte is another receive
	 * probing whether this socket is stale (migaddr_listen): not a source. */
	for (;;) {
		fd = wait_for_connection(lfd);
		if (fd == 0)
			fd = migaddr_accept(lfd, MIGRATE_IO_MS, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "accepting a connection: %s", strerror(-fd));
		if (fd < 0 || recv(fd, &peek, 1, MSG_PEEK) != 0)
			break;
		close(fd);
	}
	close(lfd);
	if (addr.family == AF_UNIX)
		unlink(addr.path);
	if (fd < 0) {
		fprintf(stderr, "dirtyscope: %s\n", why);
		out_file_close(&json, 0);
		return vm_stop_requested() ? DS_FAIL_INTERRUPTED : DS_FAIL_MIGRATION;
	}

	struct migin in;
	struct run_summary sum = {0}; /* reported: the guest ran here */
	fail = DS_FAIL_MIGRATION;     /* until the guest runs here */
	if (migin_open(&in, fd))
		goto out;
	if (in.cfg.flags & MIGRATE_CFG_F_DISK) {
		struct stat checked;
		if (receive_disk(&in.cfg, image, disk_dir, disk, sizeof(disk), &checked)) {
			/* Input, not platform: this side's disk cannot serve. */
			migctl_send(fd, MIGCTL_NACK, 0, NO_DISK);
			in.nacked = true;
			fail = DS_FAIL_USAGE;
			goto out;
		}
		cfg.image_pinned = true;
		cfg.image_dev = (uint64_t)checked.st_dev;
		cfg.image_ino = (uint64_t)checked.st_ino;
	} else if (image || disk_dir) {
		log_info("dirtyscope: %s: the incoming guest has no disk; ignored",
			 image ? "--image" : "--disk-dir");
	}
	session_config_incoming(&cfg, &in, in.cfg.flags & MIGRATE_CFG_F_DISK ? disk : NULL);

	struct sink table, js;
	runopts_add_sinks(&cfg, &json, &js, &table);
	/* Before the guest is resumed here, the session's category says why
	 * it never came: the platform, this side's options or disk, or the
	 * stream (DS_FAIL_MIGRATION). */
	cfg.fail = &fail;
	cfg.verify_image = true; /* the image check is one of the run's verdicts */
	session_run(&cfg, &sum);
	if (!in.resumed && !in.nacked)
		/* The machine could not be built here (a missing disk, no
		 * KVM...): the source should hear it from us, not guess. */
		migctl_send(fd, MIGCTL_NACK, 0,
			    "the destination could not set up the machine (see its messages)");
out:
	migin_close(&in);
	close(fd);
	/* Kept whenever the guest ran here: its summary says how it ended. */
	enum ds_fail jfail = out_file_close(&json, sum.reported);
	return fail ? fail : jfail;
}
