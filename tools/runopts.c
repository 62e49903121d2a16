/*
 * The options run and compare share (tools/runopts.h): parse, check,
 * defaults, limits.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "abi/boot.h"
#include "abi/pcache.h"
#include "abi/wlfile.h"
#include "logger/migrate/migaddr.h"
#include "tools/cli.h"
#include "tools/runopts.h"
#include "util/parse.h"
#include "vmm/wlnames.h"

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
	OPT_EPOCH_MS,
	OPT_QUIET,
	OPT_VCPUS,
	OPT_SHARE,
	OPT_REAPER,
	OPT_DIRTY_LIMIT,
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
    {"epoch-ms", required_argument, NULL, OPT_EPOCH_MS},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"vcpus", required_argument, NULL, OPT_VCPUS},
    {"share", required_argument, NULL, OPT_SHARE},
    {"reaper-us", required_argument, NULL, OPT_REAPER},
    {"dirty-limit", required_argument, NULL, OPT_DIRTY_LIMIT},
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

enum ds_fail runopts_parse(struct run_args *a, int argc, char **argv, const struct runopts_cmd *cmd)
{
	char why[320], list[256];
	int opt;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", run_options, NULL)) != -1) {
		switch (opt) {
		case OPT_LOG:
			a->mode = dlog_find(optarg);
			if (!a->mode)
				return usage_error(
				    "--log %s: unknown mode (%s)", optarg,
				    dlog_mode_list(false, ", ", ", ", list, sizeof(list)));
			break;
		case OPT_WORKLOAD: {
			const struct wl_name *w = wl_find(optarg);
			if (!w)
				return usage_error("--workload %s: unknown workload (%s)", optarg,
						   wl_list(WL_ANY, ", ", ", ", list, sizeof(list)));
			a->workload = w->id;
			a->workload_name = w->name;
			break;
		}
		case OPT_MEM: {
			int e = parse_size(optarg, &a->mem_bytes);
			if (e)
				return usage_error("--mem %s: not a size (e.g. 256M, 4G)", optarg);
			if (a->mem_bytes < ABI_RAM_MIN || a->mem_bytes > ABI_RAM_MAX)
				return usage_error("--mem %s: must be between 16M and 256G",
						   optarg);
			if (a->mem_bytes % ABI_PAGE_SIZE)
				return usage_error("--mem %s: not a multiple of 4K", optarg);
			break;
		}
		case OPT_WSS:
			NUM("--wss", 1, UINT32_MAX, a->wss_pages);
			break;
		case OPT_WRITES:
			NUM("--writes", 1, UINT32_MAX, a->writes);
			break;
		case OPT_EPOCHS:
			NUM("--epochs", 1, 1000000, a->epochs);
			break;
		case OPT_SEED:
			NUM("--seed", 0, UINT64_MAX, a->seed);
			a->seed_set = true;
			break;
		case OPT_HOT_PAGES:
			NUM("--hot-pages", 1, UINT32_MAX, a->hot_pages);
			break;
		case OPT_HOT_PCT:
			NUM("--hot-pct", 0, 100, a->hot_pct);
			a->hot_pct_set = true;
			break;
		case OPT_RING:
			NUM("--ring-entries", 1, UINT32_MAX, a->ring_entries);
			break;
		case OPT_CHUNK:
			NUM("--clear-chunk", 64, 1u << 31, a->clear_chunk);
			break;
		case OPT_VERIFY:
			a->verify = true;
			break;
		case OPT_JSON:
			a->json_path = optarg;
			break;
		case OPT_CONSOLE:
			a->console = true;
			break;
		case OPT_KVM:
			a->kvm_path = optarg;
			break;
		case OPT_POLICY: {
			const struct policy_name *p = policy_find(optarg);
			if (!p)
				return usage_error("--policy %s: unknown policy (%s)", optarg,
						   policy_list(", ", ", ", list, sizeof(list)));
			a->policy = p->id;
			a->policy_name = p->name;
			break;
		}
		case OPT_IMAGE:
			a->image_path = optarg;
			break;
		case OPT_CACHE:
			NUM("--cache-pages", 4, UINT32_MAX, a->cache_pages);
			break;
		case OPT_FLUSH:
			NUM("--flush-every", 0, UINT32_MAX, a->flush_every);
			a->flush_set = true;
			break;
		case OPT_SYNC:
			NUM("--sync-every", 0, UINT32_MAX, a->sync_every);
			a->sync_set = true;
			break;
		case OPT_WRITEBACK:
			if (!strcmp(optarg, "guest")) {
				a->host_wb = false;
			} else if (!strncmp(optarg, "host", 4) &&
				   (!optarg[4] || optarg[4] == ':')) {
				uint64_t v = 1;
				if (optarg[4] && parse_u64(optarg + 5, 1, 1000000, &v))
					return usage_error("--writeback %s: INTERVAL must be a "
							   "number of epochs, 1..1000000",
							   optarg);
				a->host_wb = true;
				a->host_wb_interval = (uint32_t)v;
			} else {
				return usage_error("--writeback %s: guest, host or host:INTERVAL",
						   optarg);
			}
			break;
		case OPT_MIGRATE_TO:
			if (migaddr_parse(optarg, &a->migrate_to, why, sizeof(why)))
				return usage_error("--migrate-to %s", why);
			a->migrate = true;
			break;
		case OPT_MIGRATE_AFTER:
			NUM("--migrate-after-epoch", 0, 1000000, a->after_epoch);
			a->after_epoch_set = a->migrate_opt = true;
			break;
		case OPT_DOWNTIME:
			NUM("--downtime-limit", 1, 3600000, a->downtime_ms);
			a->migrate_opt = true;
			break;
		case OPT_MAX_ROUNDS:
			NUM("--max-rounds", 1, 100000, a->max_rounds);
			a->migrate_opt = true;
			break;
		case OPT_MAX_BW:
			if (parse_size(optarg, &a->max_bandwidth) || !a->max_bandwidth)
				return usage_error("--max-bandwidth %s: bytes per second, e.g. 64M "
						   "(0 is not a rate)",
						   optarg);
			a->migrate_opt = true;
			break;
		case OPT_THROTTLE:
			a->throttle_auto = !strcmp(optarg, "auto");
			a->throttle_limit = !strcmp(optarg, "dirty-limit");
			if (!a->throttle_auto && !a->throttle_limit && strcmp(optarg, "off"))
				return usage_error("--throttle %s: auto, dirty-limit or off",
						   optarg);
			a->migrate_opt = true;
			break;
		case OPT_RETRIES:
			NUM("--migrate-retries", 0, 1000, a->retries);
			a->retries_set = a->migrate_opt = true;
			break;
		case OPT_VCPUS:
			NUM("--vcpus", 1, ABI_MAX_CPUS, a->vcpus);
			break;
		case OPT_SHARE:
			NUM("--share", 0, 100, a->share_pct);
			a->share_set = true;
			break;
		case OPT_DIRTY_LIMIT:
			NUM("--dirty-limit", 1, 1000000, a->dirty_limit);
			break;
		case OPT_REAPER:
			NUM("--reaper-us", 0, 1000000, a->reaper_us);
			a->reaper_set = true;
			break;
		case OPT_EPOCH_MS:
			NUM("--epoch-ms", 1, 3600000, a->epoch_ms);
			break;
		case OPT_QUIET:
			a->quiet = true;
			break;
		case OPT_PLOT:
			if (!cmd->compare)
				return usage_error("%s: unknown option --plot (try --help)",
						   cmd->name);
			a->plot_path = optarg;
			break;
		case 'h':
			cmd->usage(stdout);
			a->help = true;
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
	return DS_FAIL_NONE;
}

/* The workload that runs: --workload, else seq. */
static uint32_t workload_of(const struct run_args *a)
{
	return a->workload_name ? a->workload : ABI_WL_SEQ;
}

/* The bad-input programs check themselves and end no epoch. */
static bool selftest(uint32_t wl)
{
	return wl_kind(wl) == WL_SELFTEST;
}

enum ds_fail runopts_check(const struct run_args *a, const struct runopts_cmd *cmd)
{
	uint32_t wl = workload_of(a);
	bool file_world = session_file_workload(wl);
	char files[128], list[128];

	wl_list(WL_FILE, ", ", ", ", files, sizeof(files));
	/* compare has no default workload: name what is missing, not the
	 * anonymous default the user never chose. */
	if (cmd->compare && !a->workload_name)
		return usage_error("compare: --workload is required (a file workload: %s)", files);
	if (cmd->compare && (!file_world || selftest(wl)))
		return usage_error("compare: --workload %s: compare needs a file workload (%s)",
				   wl_name_of(wl), files);
	if (!file_world &&
	    (a->policy_name || a->image_path || a->cache_pages || a->flush_set || a->sync_set))
		return usage_error("--policy, --image, --cache-pages, --flush-every and "
				   "--sync-every are for file workloads");
	if (a->host_wb && (!file_world || selftest(wl)))
		return usage_error("--writeback host: needs a file workload (%s)", files);
	if ((a->migrate || a->migrate_opt) && cmd->compare)
		return usage_error("compare: live migration options are for run");
	if (a->migrate_opt && !a->migrate)
		return usage_error("--migrate-after-epoch, --downtime-limit, --max-rounds, "
				   "--max-bandwidth, --throttle and --migrate-retries need "
				   "--migrate-to");
	if (a->migrate && a->host_wb)
		return usage_error("--migrate-to: not with --writeback host (the journal does not "
				   "move)");
	if (a->migrate && a->mode && !a->mode->kvm_log)
		return usage_error("--migrate-to: --log %s cannot run; use %s", a->mode->name,
				   dlog_mode_list(true, ", ", " or ", list, sizeof(list)));
	if (a->migrate && selftest(wl))
		return usage_error("--migrate-to: %s end no epoch to migrate after",
				   wl_list(WL_SELFTEST, ", ", " and ", list, sizeof(list)));
	if (a->migrate && file_world && !a->image_path)
		return usage_error("--migrate-to: a file workload needs --image (the destination "
				   "opens the same image)");
	/* Only the anonymous workloads run until the host says stop; the
	 * migration and compare decide on epochs the guest ends. */
	if (a->epoch_ms && file_world)
		return usage_error("--epoch-ms: for the anonymous workloads (%s) only",
				   wl_list(WL_ANON, ", ", " and ", list, sizeof(list)));
	if (a->epoch_ms && a->migrate)
		return usage_error("--epoch-ms: not with --migrate-to");
	if (a->reaper_set && (!a->mode || a->mode != &dlog_mode_ring))
		return usage_error("--reaper-us: for --log ring");
	if (a->throttle_limit && (!a->mode || a->mode != &dlog_mode_ring))
		return usage_error("--throttle dirty-limit: for --log ring (each vCPU's ring "
				   "measures its rate)");
	if (a->throttle_limit && a->reaper_set && a->reaper_us)
		return usage_error("--throttle dirty-limit: not with --reaper-us %llu (the limit "
				   "acts when a ring fills, which the reaper thread prevents)",
				   (unsigned long long)a->reaper_us);
	if (a->dirty_limit && (!a->mode || a->mode != &dlog_mode_ring))
		return usage_error("--dirty-limit: for --log ring (each vCPU's ring measures its "
				   "rate)");
	if (a->dirty_limit && a->reaper_set && a->reaper_us)
		return usage_error("--dirty-limit: not with --reaper-us %llu (the limit acts when "
				   "a ring fills, which the reaper thread prevents)",
				   (unsigned long long)a->reaper_us);
	if (a->dirty_limit && cmd->compare)
		return usage_error("compare: --dirty-limit is for run");
	if (a->share_set && a->vcpus < 2)
		return usage_error("--share: for a guest with --vcpus 2 or more");
	if (a->hot_pages && wl != ABI_WL_HOTCOLD)
		return usage_error("--hot-pages: only for --workload hotcold");
	uint64_t n = a->ring_entries;
	if (n & (n - 1))
		return usage_error("--ring-entries %llu: not a power of two",
				   (unsigned long long)n);
	return DS_FAIL_NONE;
}

void runopts_defaults(struct run_opts *o, const struct run_args *a)
{
	memset(o, 0, sizeof(*o));
	struct session_config *cfg = &o->cfg;
	uint32_t wl = workload_of(a);

	*cfg = (struct session_config){
	    .kvm_path = a->kvm_path ? a->kvm_path : "/dev/kvm",
	    .mode = a->mode ? a->mode : &dlog_mode_bitmap,
	    .dlog = dlog_config_default(),
	    .workload_name = wl_name_of(wl),
	    .wl = {.workload = wl,
		   .epochs = a->epochs ? (uint32_t)a->epochs : 10,
		   .wss_pages = a->wss_pages ? a->wss_pages : 512,
		   .writes_per_epoch = a->writes,
		   .seed = a->seed_set ? a->seed : 1,
		   .hot_pct = a->hot_pct_set ? (uint32_t)a->hot_pct : 90,
		   .policy = a->policy,
		   .cache_pages = a->cache_pages,
		   .flush_every = a->flush_every,
		   .sync_every = a->sync_every,
		   .nr_cpus = a->vcpus ? (uint32_t)a->vcpus : 1,
		   .share_pct = (uint32_t)a->share_pct},
	    .policy_name = a->policy_name,
	    .mem_bytes = a->mem_bytes ? a->mem_bytes : 256ull << 20,
	    .verify = a->verify,
	    .echo_console = a->console,
	    .epoch_ms = (uint32_t)a->epoch_ms,
	    /* A live line only for a person watching, and not asked away. */
	    .progress = !a->quiet && isatty(STDERR_FILENO),
	};
	if (a->ring_entries)
		cfg->dlog.ring_entries = (uint32_t)a->ring_entries;
	if (a->clear_chunk)
		cfg->dlog.clear_chunk_pages = a->clear_chunk;
	if (a->reaper_set)
		cfg->dlog.reaper_us = (uint32_t)a->reaper_us;
	cfg->dirty_limit_mibs = (uint32_t)a->dirty_limit;
	/* QEMU's vcpu-dirty-limit default for its dirty-limit throttle. */
	if (a->throttle_limit && !a->dirty_limit)
		cfg->dirty_limit_mibs = MIGRATE_DEFAULT_DIRTY_LIMIT_MIBS;
	if (cfg->dirty_limit_mibs)
		cfg->dlog.reaper_us = 0; /* the limit acts at ring-full exits */
	o->json_path = a->json_path;
	o->plot_path = a->plot_path;
	o->disk.path = a->image_path;
	o->wss_set = a->wss_pages != 0;
	o->file_world = session_file_workload(wl);
	if (a->migrate) {
		o->migrate = (struct migrate_config){
		    .to = a->migrate_to,
		    .after_epoch = a->after_epoch_set ? a->after_epoch : 1,
		    .downtime_limit_ms =
			a->downtime_ms ? a->downtime_ms : MIGRATE_DEFAULT_DOWNTIME_MS,
		    .max_rounds = a->max_rounds ? a->max_rounds : MIGRATE_DEFAULT_MAX_ROUNDS,
		    .max_bandwidth = a->max_bandwidth,
		    .throttle_auto = a->throttle_auto,
		    .throttle_dirty_limit = a->throttle_limit,
		    .retries = a->retries_set ? a->retries : MIGRATE_DEFAULT_RETRIES,
		    .retry_delay_ms = 500};
		cfg->migrate = &o->migrate;
	}
	if (a->host_wb) {
		o->hostwb =
		    (struct hostwb_config){.interval = a->host_wb_interval, .verify = a->verify};
		cfg->hostwb = &o->hostwb;
	}
	if (o->file_world) {
		if (!cfg->policy_name) {
			cfg->wl.policy = ABI_POLICY_WP;
			cfg->policy_name = policy_name_of(ABI_POLICY_WP);
		}
		if (!a->wss_pages)
			cfg->wl.wss_pages = FILE_DEFAULT_PAGES;
		if (!a->epochs)
			cfg->wl.epochs = FILE_DEFAULT_EPOCHS;
		if (selftest(wl))
			cfg->wl.epochs = 0;
		if (!cfg->wl.writes_per_epoch)
			cfg->wl.writes_per_epoch = FILE_DEFAULT_WRITES;
		if (!a->flush_set)
			cfg->wl.flush_every = FILE_DEFAULT_FLUSH;
		if (!a->sync_set)
			cfg->wl.sync_every = cfg->wl.writes_per_epoch / 4;
		o->disk.file = abi_wl_file_name(wl);
	}
	if (!cfg->wl.writes_per_epoch)
		cfg->wl.writes_per_epoch = cfg->wl.wss_pages;
	if (wl == ABI_WL_HOTCOLD) {
		cfg->wl.hot_pages = a->hot_pages ? a->hot_pages : cfg->wl.wss_pages / 10;
		if (!cfg->wl.hot_pages)
			cfg->wl.hot_pages = 1;
	}
}

enum ds_fail runopts_limits(const struct run_opts *o, const struct run_args *a)
{
	const struct session_config *cfg = &o->cfg;

	if (cfg->wl.workload == ABI_WL_FORKCOW &&
	    (uint64_t)cfg->wl.writes_per_epoch * (cfg->wl.epochs + 1) > ABI_WL_FORKCOW_MAX_STORES)
		return usage_error("--writes %llu: forkcow keeps at most %u stores "
				   "(writes x (epochs + 1))",
				   (unsigned long long)cfg->wl.writes_per_epoch,
				   ABI_WL_FORKCOW_MAX_STORES);
	uint64_t max_wss = boot_max_wss(cfg->mem_bytes, guest_image, cfg->wl.nr_cpus);
	if (!o->file_world && cfg->wl.wss_pages > max_wss)
		return usage_error("--wss %llu: a guest with %llu MiB of RAM can map at most %llu "
				   "pages",
				   (unsigned long long)cfg->wl.wss_pages,
				   (unsigned long long)(cfg->mem_bytes >> 20),
				   (unsigned long long)max_wss);
	if (cfg->wl.wss_pages < cfg->wl.nr_cpus)
		return usage_error("--wss %llu: fewer pages than --vcpus %u (each vCPU writes a "
				   "partition of its own)",
				   (unsigned long long)cfg->wl.wss_pages, cfg->wl.nr_cpus);
	if (cfg->wl.workload == ABI_WL_HOTCOLD && cfg->wl.hot_pages > cfg->wl.wss_pages)
		return usage_error("--hot-pages %llu: larger than --wss %llu",
				   (unsigned long long)cfg->wl.hot_pages,
				   (unsigned long long)cfg->wl.wss_pages);
	if (cfg->dlog.clear_chunk_pages % 64)
		return usage_error("--clear-chunk %llu: not a multiple of 64",
				   (unsigned long long)cfg->dlog.clear_chunk_pages);
	if (cfg->migrate && cfg->migrate->after_epoch >= cfg->wl.epochs)
		return usage_error(
		    "--migrate-after-epoch %llu: the run has %u epochs; the migration "
		    "must start before the last one ends",
		    (unsigned long long)cfg->migrate->after_epoch, cfg->wl.epochs);
	return DS_FAIL_NONE;
}

enum ds_fail runopts_get(struct run_opts *o, int argc, char **argv, const struct runopts_cmd *cmd)
{
	struct run_args a;
	enum ds_fail fail = runopts_parse(&a, argc, argv, cmd);
	if (fail || a.help) {
		memset(o, 0, sizeof(*o));
		o->help = a.help;
		return fail;
	}
	if ((fail = runopts_check(&a, cmd)))
		return fail;
	runopts_defaults(o, &a);
	if ((fail = runopts_limits(o, &a)))
		return fail;
	return runopts_test_hooks(o);
}
