/*
 * The options run and compare share (tools/runopts.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "abi/boot.h"
#include "abi/pcache.h"
#include "abi/wlfile.h"
#include "fs/dsfs.h"
#include "logger/hostwb/journal.h"
#include "logger/migrate/migaddr.h"
#include "logger/output.h"
#include "logger/session.h"
#include "tools/cli.h"
#include "util/log.h"
#include "util/parse.h"
#include "tools/runopts.h"

static const struct {
	const char *name;
	uint32_t id;
} workloads[] = {
    {"seq", ABI_WL_SEQ},	 {"random", ABI_WL_RANDOM},   {"hotcold", ABI_WL_HOTCOLD},
    {"db", ABI_WL_DB},		 {"log", ABI_WL_LOG},	      {"shared2", ABI_WL_SHARED2},
    {"private", ABI_WL_PRIVATE}, {"forkcow", ABI_WL_FORKCOW}, {"mixed", ABI_WL_MIXED},
    {"badsys", ABI_WL_BADSYS},	 {"badblk", ABI_WL_BADBLK},
};

static const struct {
	const char *name;
	uint32_t id;
} policies[] = {
    {"wp", ABI_POLICY_WP},
    {"dbit", ABI_POLICY_DBIT},
    {"scan", ABI_POLICY_SCAN},
    {"lossy", ABI_POLICY_LOSSY},
};

/* File workloads' defaults: small, because guest code runs at about 10^6
 * instructions per second here (docs/platform-notes.md). */
#define FILE_DEFAULT_PAGES  64
#define FILE_DEFAULT_WRITES 64
#define FILE_DEFAULT_EPOCHS 4
#define FILE_DEFAULT_FLUSH  200

enum {
	OPT_LOG = 256,
	OPT_WORKLOAD,
	OPT_MEM,
	OPT_WSS,
	OPT_WRITES,
	OPT_EPOCHS,
	OPT_SEED,
	OPT_HOT_PAGES,
	OPT_HOT_PCT,
	OPT_RING,
	OPT_CHUNK,
	OPT_VERIFY,
	OPT_JSON,
	OPT_CONSOLE,
	OPT_KVM,
	OPT_POLICY,
	OPT_IMAGE,
	OPT_CACHE,
	OPT_FLUSH,
	OPT_SYNC,
	OPT_PLOT,
	OPT_WRITEBACK,
	OPT_MIGRATE_TO,
	OPT_MIGRATE_AFTER,
	OPT_DOWNTIME,
	OPT_MAX_ROUNDS,
	OPT_MAX_BW,
	OPT_THROTTLE,
	OPT_RETRIES,
};

static const struct option run_options[] = {
    {"log", required_argument, NULL, OPT_LOG},
    {"workload", required_argument, NULL, OPT_WORKLOAD},
    {"mem", required_argument, NULL, OPT_MEM},
    {"wss", required_argument, NULL, OPT_WSS},
    {"writes", required_argument, NULL, OPT_WRITES},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"hot-pages", required_argument, NULL, OPT_HOT_PAGES},
    {"hot-pct", required_argument, NULL, OPT_HOT_PCT},
    {"ring-entries", required_argument, NULL, OPT_RING},
    {"clear-chunk", required_argument, NULL, OPT_CHUNK},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"json", required_argument, NULL, OPT_JSON},
    {"console", no_argument, NULL, OPT_CONSOLE},
    {"kvm-device", required_argument, NULL, OPT_KVM},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"image", required_argument, NULL, OPT_IMAGE},
    {"cache-pages", required_argument, NULL, OPT_CACHE},
    {"flush-every", required_argument, NULL, OPT_FLUSH},
    {"sync-every", required_argument, NULL, OPT_SYNC},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"writeback", required_argument, NULL, OPT_WRITEBACK},
    {"migrate-to", required_argument, NULL, OPT_MIGRATE_TO},
    {"migrate-after-epoch", required_argument, NULL, OPT_MIGRATE_AFTER},
    {"downtime-limit", required_argument, NULL, OPT_DOWNTIME},
    {"max-rounds", required_argument, NULL, OPT_MAX_ROUNDS},
    {"max-bandwidth", required_argument, NULL, OPT_MAX_BW},
    {"throttle", required_argument, NULL, OPT_THROTTLE},
    {"migrate-retries", required_argument, NULL, OPT_RETRIES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static enum ds_fail bad_number(const char *opt, const char *arg, int err, uint64_t min,
			       uint64_t max)
{
	if (err == -ERANGE)
		return usage_error("%s %s: out of range (%llu..%llu)", opt, arg,
				   (unsigned long long)min, (unsigned long long)max);
	return usage_error("%s %s: not a number", opt, arg);
}

#define NUM(opt, min, max, dst)                                                                    \
	do {                                                                                       \
		uint64_t v_;                                                                       \
		int e_ = parse_u64(optarg, (min), (max), &v_);                                     \
		if (e_)                                                                            \
			return bad_number(opt, optarg, e_, (min), (max));                          \
		dst = v_;                                                                          \
	} while (0)

enum ds_fail out_file_open(struct out_file *j, const char *opt, const char *path)
{
	j->path = path;
	j->opt = opt;
	if (!strcmp(path, "-")) {
		j->f = stdout;
		return DS_FAIL_NONE;
	}
	/* A device or FIFO (/dev/null, a pipe) is a stream: write it directly.
	 * Renaming a temporary over it would replace the device node. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return usage_error("%s %s: is a directory", opt, path);
		j->f = fopen(path, "w");
		if (!j->f)
			return usage_error("%s %s: cannot open: %s", opt, path, strerror(errno));
		j->stream = 1;
		return DS_FAIL_NONE;
	}
	if (snprintf(j->tmp, sizeof(j->tmp), "%s.tmp-%d", path, (int)getpid()) >=
	    (int)sizeof(j->tmp))
		return usage_error("%s %s: path too long", opt, path);
	j->f = fopen(j->tmp, "w");
	if (!j->f)
		return usage_error("%s %s: cannot create %s: %s", opt, path, j->tmp,
				   strerror(errno));
	return DS_FAIL_NONE;
}

enum ds_fail out_file_close(struct out_file *j, int keep)
{
	if (!j->f || j->f == stdout)
		return DS_FAIL_NONE;
	if (j->stream) {
		int bad = fclose(j->f);
		j->f = NULL;
		return bad && keep ? DS_FAIL_IO : DS_FAIL_NONE;
	}
	int bad = ferror(j->f) | fflush(j->f) | fsync(fileno(j->f));
	bad |= fclose(j->f);
	j->f = NULL;
	if (keep && !bad && rename(j->tmp, j->path) == 0)
		return DS_FAIL_NONE;
	unlink(j->tmp);
	if (keep) {
		fprintf(stderr, "dirtyscope: %s %s: write failed: %s\n", j->opt, j->path,
			strerror(errno));
		return DS_FAIL_IO;
	}
	return DS_FAIL_NONE;
}

void runopts_add_sinks(struct session_config *cfg, const struct out_file *json, struct sink *js,
		       struct sink *table)
{
	if (json->f) {
		output_json_sink(js, json->f);
		cfg->sinks[cfg->nr_sinks++] = js;
	}
	if (json->f != stdout) {
		output_table_sink(table, stdout);
		cfg->sinks[cfg->nr_sinks++] = table;
	}
}

static void on_stop_signal(int sig)
{
	vm_request_stop();
}

void runopts_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
static bool all_zero(const uint8_t *b, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * A previous run with host writeback may have died mid-commit: bring the
 * image to its last committed epoch before anything reads it (the same
 * recovery `dirtyscope recover` runs).  A missing image is left to the
 * image check, which says so.
 */
static enum ds_fail recover_user_image(const char *path)
{
	struct journal_status st;
	char why[512];
	int ret = journal_inspect(path, &st, why, sizeof(why));
	if (ret == -ENOENT || (!ret && (st.state == JOURNAL_NONE || st.state == JOURNAL_CLEAN)))
		return DS_FAIL_NONE;
	if (ret) {
		enum ds_fail f = journal_fail(ret, DS_FAIL_USAGE);
		if (f == DS_FAIL_USAGE)
			log_err("--image %s: %s", path, why);
		else
			log_err("%s", why);
		return f;
	}
	ret = journal_recover(path, &st, why, sizeof(why));
	if (ret) {
		log_err("--image %s: recovery failed: %s", path, why);
		return journal_fail(ret, DS_FAIL_USAGE);
	}
	fprintf(stderr,
		"dirtyscope: --image %s: recovered from an interrupted host writeback: the "
		"image holds epoch %llu\n",
		path, (unsigned long long)st.epoch);
	return DS_FAIL_NONE;
}

/*
 * Check the user's image: valid DSFS, holding the workload's file.  Without
 * --wss the file's capacity sets the page count.  With --verify the file must
 * start as mkimage makes it (zero, and empty for log): the expected content
 * is computed from that start.
 */
static enum ds_fail check_user_image(struct session_config *cfg, struct disk *d, bool wss_set)
{
	struct dsfs_image img;
	char why[256];
	int ret = dsfs_open(d->path, O_RDWR, &img, why, sizeof(why));
	if (ret) {
		log_err("--image %s: %s", d->path, why);
		return dsfs_fail(ret, DS_FAIL_USAGE);
	}
	enum ds_fail code = DS_FAIL_NONE;
	int ino = d->file ? dsfs_find(&img, d->file) : -1;
	if (d->file && ino < 0) {
		code = usage_error("--image %s: no file '%s' (mkimage --file %s:SIZE)", d->path,
				   d->file, d->file);
		goto out;
	}
	if (ino >= 0) {
		uint64_t cap = img.meta.inodes[ino].nr_blocks;
		if (!wss_set)
			cfg->wl.wss_pages = cap;
		if (cfg->wl.wss_pages > cap || !cfg->wl.wss_pages) {
			code = usage_error("--wss %llu: file '%s' of %s holds %llu pages",
					   (unsigned long long)cfg->wl.wss_pages, d->file, d->path,
					   (unsigned long long)cap);
			goto out;
		}
	}
	if (ino >= 0 && cfg->verify) {
		uint8_t *buf;
		uint64_t len;
		if ((ret = dsfs_read_extent(&img, ino, &buf, &len))) {
			log_err("--image %s: cannot read file '%s'", d->path, d->file);
			code = dsfs_fail(ret, DS_FAIL_USAGE);
			goto out;
		}
		/* The expected content is computed for a file of exactly --wss
		 * pages, zero-filled, of size --wss pages (log: empty). */
		uint64_t want_size =
		    cfg->wl.workload == ABI_WL_LOG ? 0 : cfg->wl.wss_pages * ABI_PAGE_SIZE;
		bool fresh = all_zero(buf, len) && img.meta.inodes[ino].size == want_size &&
			     cfg->wl.wss_pages == img.meta.inodes[ino].nr_blocks;
		free(buf);
		if (!fresh)
			code = usage_error("--image %s: --verify needs file '%s' as mkimage --file "
					   "%s:%s makes it (zero-filled, --wss its capacity)",
					   d->path, d->file, d->file,
					   cfg->wl.workload == ABI_WL_LOG ? "0:CAPACITY" : "SIZE");
	}
out:
	dsfs_close(&img);
	return code;
}

enum ds_fail runopts_temp_image(struct run_opts *o)
{
	const struct session_config *cfg = &o->cfg;
	struct disk *d = &o->disk;
	const char *dir = getenv("TMPDIR");
	snprintf(d->tmp, sizeof(d->tmp), "%s/dirtyscope-XXXXXX.img", dir && *dir ? dir : "/tmp");
	int fd = mkstemps(d->tmp, 4);
	if (fd < 0) {
		fprintf(stderr, "dirtyscope: cannot create a temporary image in %s: %s\n",
			dir && *dir ? dir : "/tmp", strerror(errno));
		d->tmp[0] = 0;
		return DS_FAIL_IO;
	}
	close(fd);
	d->path = d->tmp;
	struct dsfs_file_spec f = {.capacity = cfg->wl.wss_pages * ABI_PAGE_SIZE};
	uint64_t size = (ABI_FS_DATA_START + cfg->wl.wss_pages) * ABI_PAGE_SIZE;
	if (d->file) {
		snprintf(f.name, sizeof(f.name), "%s", d->file);
		f.size = cfg->wl.workload == ABI_WL_LOG ? 0 : f.capacity;
	}
	char why[256];
	int ret = dsfs_mkimage(d->path, size, &f, d->file ? 1 : 0, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "dirtyscope: temporary image %s: %s\n", d->path, why);
		unlink(d->tmp);
		d->tmp[0] = 0;
		d->path = NULL;
		return DS_FAIL_IO;
	}
	return DS_FAIL_NONE;
}

void runopts_remove_temp_image(struct run_opts *o)
{
	if (!o->disk.tmp[0])
		return;
	char jpath[4096 + 16];
	if (!journal_path(o->disk.tmp, jpath, sizeof(jpath)))
		unlink(jpath);
	unlink(o->disk.tmp);
	o->disk.tmp[0] = 0;
}

/*
 * TEST HOOK: DIRTYSCOPE_TEST_KVM_FAIL=CALL:ERRNO makes the KVM ioctl CALL
 * (KVM_RUN or KVM_GET_DIRTY_LOG) fail once with ERRNO (a number, or EINVAL,
 * EPERM, EIO, EFAULT, ENOMEM) after the first epoch, as if KVM had refused
 * it mid-run (vmm/kvm.h).  tests/test_exit.c uses it to show that such a
 * failure exits 4 whatever its errno; it is not for users, and no usage text
 * mentions it.
 */
static enum ds_fail runopts_test_hooks(struct session_config *cfg)
{
	static const struct {
		const char *name;
		enum kvm_test_call call;
	} calls[] = {{"KVM_RUN", KVM_TEST_RUN}, {"KVM_GET_DIRTY_LOG", KVM_TEST_GET_DIRTY_LOG}};
	static const struct {
		const char *name;
		int err;
	} errs[] = {{"EINVAL", EINVAL},
		    {"EPERM", EPERM},
		    {"EIO", EIO},
		    {"EFAULT", EFAULT},
		    {"ENOMEM", ENOMEM}};
	const char *v = getenv("DIRTYSCOPE_TEST_KVM_FAIL");
	if (!v || !*v)
		return DS_FAIL_NONE;
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : 0;
	for (size_t i = 0; colon && i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (strlen(calls[i].name) != n || strncmp(v, calls[i].name, n))
			continue;
		uint64_t e = 0;
		for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++)
			if (!strcmp(colon + 1, errs[k].name))
				e = (uint64_t)errs[k].err;
		if (e || !parse_u64(colon + 1, 1, 4095, &e)) {
			cfg->test_kvm_fail = calls[i].call;
			cfg->test_kvm_fail_err = (int)e;
			return DS_FAIL_NONE;
		}
	}
	return usage_error("DIRTYSCOPE_TEST_KVM_FAIL=%s: a test hook, KVM_RUN:ERRNO or "
			   "KVM_GET_DIRTY_LOG:ERRNO",
			   v);
}

enum ds_fail runopts_parse(struct run_opts *o, int argc, char **argv, const struct runopts_cmd *cmd)
{
	o->help = false;
	struct session_config cfg = {
	    .kvm_path = "/dev/kvm",
	    .mode = &dlog_mode_bitmap,
	    .dlog = {.ring_entries = 4096, .clear_chunk_pages = DLOG_CLEAR_CHUNK_PAGES},
	    .workload_name = "seq",
	    .wl =
		{.workload = ABI_WL_SEQ, .epochs = 10, .wss_pages = 512, .seed = 1, .hot_pct = 90},
	    .mem_bytes = 256ull << 20,
	};
	const char *json_path = NULL, *plot_path = NULL;
	uint64_t hot_pages = 0;
	struct disk disk = {0};
	bool wss_set = false, epochs_set = false, flush_set = false, sync_set = false;
	bool host_wb = false, migrate = false, migrate_opt = false;
	struct migrate_config mig = {.after_epoch = 1,
				     .downtime_limit_ms = MIGRATE_DEFAULT_DOWNTIME_MS,
				     .max_rounds = MIGRATE_DEFAULT_MAX_ROUNDS,
				     .retries = MIGRATE_DEFAULT_RETRIES,
				     .retry_delay_ms = 500};
	char why[320];
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", run_options, NULL)) != -1) {
		switch (opt) {
		case OPT_LOG:
			cfg.mode = dlog_find(optarg);
			if (!cfg.mode)
				return usage_error(
				    "--log %s: unknown mode (bitmap, clear, ring, uffd)", optarg);
			break;
		case OPT_WORKLOAD: {
			size_t i;
			for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
				if (!strcmp(optarg, workloads[i].name))
					break;
			if (i == sizeof(workloads) / sizeof(workloads[0]))
				return usage_error(
				    "--workload %s: unknown workload (seq, random, hotcold, db, "
				    "log, "
				    "shared2, private, forkcow, mixed, badsys, badblk)",
				    optarg);
			cfg.wl.workload = workloads[i].id;
			cfg.workload_name = workloads[i].name;
			break;
		}
		case OPT_MEM: {
			int e = parse_size(optarg, &cfg.mem_bytes);
			if (e)
				return usage_error("--mem %s: not a size (e.g. 256M, 4G)", optarg);
			if (cfg.mem_bytes < ABI_RAM_MIN || cfg.mem_bytes > ABI_RAM_MAX)
				return usage_error("--mem %s: must be between 16M and 256G",
						   optarg);
			if (cfg.mem_bytes % ABI_PAGE_SIZE)
				return usage_error("--mem %s: not a multiple of 4K", optarg);
			break;
		}
		case OPT_WSS:
			NUM("--wss", 1, UINT32_MAX, cfg.wl.wss_pages);
			wss_set = true;
			break;
		case OPT_WRITES:
			NUM("--writes", 1, UINT32_MAX, cfg.wl.writes_per_epoch);
			break;
		case OPT_EPOCHS:
			NUM("--epochs", 1, 1000000, cfg.wl.epochs);
			epochs_set = true;
			break;
		case OPT_SEED:
			NUM("--seed", 0, UINT64_MAX, cfg.wl.seed);
			break;
		case OPT_HOT_PAGES:
			NUM("--hot-pages", 1, UINT32_MAX, hot_pages);
			break;
		case OPT_HOT_PCT:
			NUM("--hot-pct", 0, 100, cfg.wl.hot_pct);
			break;
		case OPT_RING:
			NUM("--ring-entries", 1, UINT32_MAX, cfg.dlog.ring_entries);
			break;
		case OPT_CHUNK:
			NUM("--clear-chunk", 64, 1u << 31, cfg.dlog.clear_chunk_pages);
			break;
		case OPT_VERIFY:
			cfg.verify = true;
			break;
		case OPT_JSON:
			json_path = optarg;
			break;
		case OPT_CONSOLE:
			cfg.echo_console = true;
			break;
		case OPT_KVM:
			cfg.kvm_path = optarg;
			break;
		case OPT_POLICY: {
			size_t i;
			for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
				if (!strcmp(optarg, policies[i].name))
					break;
			if (i == sizeof(policies) / sizeof(policies[0]))
				return usage_error(
				    "--policy %s: unknown policy (wp, dbit, scan, lossy)", optarg);
			cfg.wl.policy = policies[i].id;
			cfg.policy_name = policies[i].name;
			break;
		}
		case OPT_IMAGE:
			disk.path = optarg;
			break;
		case OPT_CACHE:
			NUM("--cache-pages", 4, UINT32_MAX, cfg.wl.cache_pages);
			break;
		case OPT_FLUSH:
			NUM("--flush-every", 0, UINT32_MAX, cfg.wl.flush_every);
			flush_set = true;
			break;
		case OPT_SYNC:
			NUM("--sync-every", 0, UINT32_MAX, cfg.wl.sync_every);
			sync_set = true;
			break;
		case OPT_WRITEBACK:
			if (!strcmp(optarg, "guest")) {
				host_wb = false;
			} else if (!strncmp(optarg, "host", 4) &&
				   (!optarg[4] || optarg[4] == ':')) {
				uint64_t v = 1;
				if (optarg[4] && parse_u64(optarg + 5, 1, 1000000, &v))
					return usage_error("--writeback %s: INTERVAL must be a "
							   "number of epochs, 1..1000000",
							   optarg);
				host_wb = true;
				o->hostwb = (struct hostwb_config){.interval = (uint32_t)v};
			} else {
				return usage_error("--writeback %s: guest, host or host:INTERVAL",
						   optarg);
			}
			break;
		case OPT_MIGRATE_TO:
			if (migaddr_parse(optarg, &mig.to, why, sizeof(why)))
				return usage_error("--migrate-to %s", why);
			migrate = true;
			break;
		case OPT_MIGRATE_AFTER:
			NUM("--migrate-after-epoch", 0, 1000000, mig.after_epoch);
			migrate_opt = true;
			break;
		case OPT_DOWNTIME:
			NUM("--downtime-limit", 1, 3600000, mig.downtime_limit_ms);
			migrate_opt = true;
			break;
		case OPT_MAX_ROUNDS:
			NUM("--max-rounds", 1, 100000, mig.max_rounds);
			migrate_opt = true;
			break;
		case OPT_MAX_BW:
			if (parse_size(optarg, &mig.max_bandwidth) || !mig.max_bandwidth)
				return usage_error("--max-bandwidth %s: bytes per second, e.g. 64M "
						   "(0 is not a rate)",
						   optarg);
			migrate_opt = true;
			break;
		case OPT_THROTTLE:
			if (!strcmp(optarg, "auto"))
				mig.throttle_auto = true;
			else if (!strcmp(optarg, "off"))
				mig.throttle_auto = false;
			else
				return usage_error("--throttle %s: auto or off", optarg);
			migrate_opt = true;
			break;
		case OPT_RETRIES:
			NUM("--migrate-retries", 0, 1000, mig.retries);
			migrate_opt = true;
			break;
		case OPT_PLOT:
			if (!cmd->compare)
				return usage_error("%s: unknown option --plot (try --help)",
						   cmd->name);
			plot_path = optarg;
			break;
		case 'h':
			cmd->usage(stdout);
			o->help = true;
			return DS_FAIL_NONE;
		default:
			/* getopt sets optopt to the option's value when its argument
			 * is missing, and to 0 for an unknown long option. */
			if (optopt >= OPT_LOG)
				return usage_error("%s: %s needs an argument", cmd->name,
						   argv[optind - 1]);
			if (optopt)
				return usage_error("%s: unknown option -%c (try --help)", cmd->name,
						   optopt);
			return usage_error("%s: unknown option %s (try --help)", cmd->name,
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("%s: unexpected argument '%s'", cmd->name, argv[optind]);

	/* Cross-option checks. */
	bool file_world = session_file_workload(cfg.wl.workload);
	if (cmd->compare &&
	    (!file_world || cfg.wl.workload == ABI_WL_BADSYS || cfg.wl.workload == ABI_WL_BADBLK))
		return usage_error("compare: --workload %s: compare needs a file workload (db, "
				   "log, shared2, private, forkcow, mixed)",
				   cfg.workload_name);
	if (!file_world &&
	    (cfg.policy_name || disk.path || cfg.wl.cache_pages || flush_set || sync_set))
		return usage_error("--policy, --image, --cache-pages, --flush-every and "
				   "--sync-every are for file workloads");
	if (host_wb &&
	    (!file_world || cfg.wl.workload == ABI_WL_BADSYS || cfg.wl.workload == ABI_WL_BADBLK))
		return usage_error("--writeback host: needs a file workload (db, log, shared2, "
				   "private, forkcow, mixed)");
	if ((migrate || migrate_opt) && cmd->compare)
		return usage_error("compare: live migration options are for run");
	if (migrate_opt && !migrate)
		return usage_error("--migrate-after-epoch, --downtime-limit, --max-rounds, "
				   "--max-bandwidth, --throttle and --migrate-retries need "
				   "--migrate-to");
	if (migrate && host_wb)
		return usage_error("--migrate-to: not with --writeback host (the journal does not "
				   "move)");
	if (migrate && cfg.mode == &dlog_mode_uffd)
		return usage_error("--migrate-to: --log %s cannot run; use bitmap, clear or ring",
				   cfg.mode->name);
	if (migrate && (cfg.wl.workload == ABI_WL_BADSYS || cfg.wl.workload == ABI_WL_BADBLK))
		return usage_error("--migrate-to: badsys and badblk end no epoch to migrate after");
	if (migrate && file_world && !disk.path)
		return usage_error("--migrate-to: a file workload needs --image (the destination "
				   "opens the same image)");
	if (migrate) {
		o->migrate = mig;
		cfg.migrate = &o->migrate;
	}
	if (host_wb) {
		o->hostwb.verify = cfg.verify;
		cfg.hostwb = &o->hostwb;
	}
	if (file_world) {
		if (!cfg.policy_name) {
			cfg.wl.policy = ABI_POLICY_WP;
			cfg.policy_name = "wp";
		}
		if (!wss_set)
			cfg.wl.wss_pages = FILE_DEFAULT_PAGES;
		if (!epochs_set)
			cfg.wl.epochs = FILE_DEFAULT_EPOCHS;
		/* The bad-input programs check themselves and end no epoch. */
		if (cfg.wl.workload == ABI_WL_BADSYS || cfg.wl.workload == ABI_WL_BADBLK)
			cfg.wl.epochs = 0;
		if (!cfg.wl.writes_per_epoch)
			cfg.wl.writes_per_epoch = FILE_DEFAULT_WRITES;
		if (!flush_set)
			cfg.wl.flush_every = FILE_DEFAULT_FLUSH;
		if (!sync_set)
			cfg.wl.sync_every = cfg.wl.writes_per_epoch / 4;
		disk.file = abi_wl_file_name(cfg.wl.workload);
		if (disk.path) {
			enum ds_fail e = recover_user_image(disk.path);
			if (e)
				return e;
			e = check_user_image(&cfg, &disk, wss_set);
			if (e)
				return e;
		}
		if (cfg.wl.workload == ABI_WL_LOG &&
		    (uint64_t)cfg.wl.epochs * cfg.wl.writes_per_epoch * 256 >
			cfg.wl.wss_pages * ABI_PAGE_SIZE)
			return usage_error("--wss %llu: too small for log's %llu appends of up to "
					   "256 bytes",
					   (unsigned long long)cfg.wl.wss_pages,
					   (unsigned long long)cfg.wl.epochs *
					       cfg.wl.writes_per_epoch);
		if (cfg.wl.workload == ABI_WL_FORKCOW &&
		    (uint64_t)cfg.wl.writes_per_epoch * (cfg.wl.epochs + 1) >
			ABI_WL_FORKCOW_MAX_STORES)
			return usage_error("--writes %llu: forkcow keeps at most %u stores "
					   "(writes x (epochs + 1))",
					   (unsigned long long)cfg.wl.writes_per_epoch,
					   ABI_WL_FORKCOW_MAX_STORES);
		if (cfg.wl.wss_pages > UINT32_MAX / 2)
			return usage_error("--wss %llu: too large for a file",
					   (unsigned long long)cfg.wl.wss_pages);
	}
	uint64_t max_wss = boot_max_wss(cfg.mem_bytes, guest_image);
	if (!file_world && cfg.wl.wss_pages > max_wss)
		return usage_error("--wss %llu: a guest with %llu MiB of RAM can map at most %llu "
				   "pages",
				   (unsigned long long)cfg.wl.wss_pages,
				   (unsigned long long)(cfg.mem_bytes >> 20),
				   (unsigned long long)max_wss);
	if (!cfg.wl.writes_per_epoch)
		cfg.wl.writes_per_epoch = cfg.wl.wss_pages;
	if (cfg.wl.workload == ABI_WL_HOTCOLD) {
		cfg.wl.hot_pages = hot_pages ? hot_pages : cfg.wl.wss_pages / 10;
		if (!cfg.wl.hot_pages)
			cfg.wl.hot_pages = 1;
		if (cfg.wl.hot_pages > cfg.wl.wss_pages)
			return usage_error("--hot-pages %llu: larger than --wss %llu",
					   (unsigned long long)cfg.wl.hot_pages,
					   (unsigned long long)cfg.wl.wss_pages);
	} else if (hot_pages) {
		return usage_error("--hot-pages: only for --workload hotcold");
	}
	uint64_t n = cfg.dlog.ring_entries;
	if (n & (n - 1))
		return usage_error("--ring-entries %llu: not a power of two",
				   (unsigned long long)n);
	if (cfg.dlog.clear_chunk_pages % 64)
		return usage_error("--clear-chunk %llu: not a multiple of 64",
				   (unsigned long long)cfg.dlog.clear_chunk_pages);

	if (migrate && mig.after_epoch >= cfg.wl.epochs)
		return usage_error(
		    "--migrate-after-epoch %llu: the run has %u epochs; the migration "
		    "must start before the last one ends",
		    (unsigned long long)mig.after_epoch, cfg.wl.epochs);
	o->cfg = cfg;
	o->json_path = json_path;
	o->plot_path = plot_path;
	o->disk = disk;
	o->file_world = file_world;
	return runopts_test_hooks(&o->cfg);
}
