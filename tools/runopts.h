/*
 * The options `run` and `compare` share, in four steps that only look at
 * the command line, never at a file or KVM:
 *
 *   runopts_parse     getopt_long into struct run_args: each value checked
 *                     on its own (a number, a size, a known name), nothing
 *                     inferred
 *   runopts_check     which options go together
 *   runopts_defaults  the session's configuration, every default filled in
 *   runopts_limits    values against each other once defaults are known
 *
 * runopts_get runs the four.  Everything a user can get wrong is refused
 * there, with one line, before an image is touched or KVM opened.  The
 * disk image comes after, in the command, visibly (tools/runimage.h), and
 * so do the outputs (tools/runopts_out.h).
 */
#ifndef TOOLS_RUNOPTS_H
#define TOOLS_RUNOPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "logger/migrate/migaddr.h"
#include "logger/session.h"
#include "util/fail.h"

/* Which command is parsing, and what it adds to run's options. */
struct runopts_cmd {
	const char *name;	/* "run" or "compare", for messages */
	void (*usage)(FILE *f); /* printed by --help */
	bool compare;		/* accept --plot; file workloads only */
};

/* What the command line said.  0, NULL or false: not given (the *_set
 * flags mark options whose 0 is a value). */
struct run_args {
	bool help; /* --help was printed: nothing more to do */
	const struct dlog_mode *mode;
	const char *workload_name; /* with workload, ABI_WL_* */
	uint32_t workload;
	const char *policy_name; /* with policy, ABI_POLICY_* */
	uint32_t policy;
	uint64_t mem_bytes;
	uint64_t wss_pages;
	uint64_t writes;
	uint64_t epochs;
	uint64_t seed;
	bool seed_set;
	uint64_t hot_pages;
	uint64_t hot_pct;
	bool hot_pct_set;
	uint64_t ring_entries;
	uint64_t clear_chunk;
	bool verify;
	bool console;
	const char *json_path;
	const char *plot_path; /* compare only */
	const char *kvm_path;
	const char *image_path;
	uint64_t cache_pages;
	uint64_t flush_every;
	bool flush_set;
	uint64_t sync_every;
	bool sync_set;
	bool host_wb; /* --writeback host[:interval] (guest: false) */
	uint32_t host_wb_interval;
	bool migrate; /* --migrate-to migrate_to */
	struct migaddr migrate_to;
	/* Live migration's tuning; migrate_opt: any of it given. */
	bool migrate_opt;
	uint64_t after_epoch;
	bool after_epoch_set;
	uint64_t downtime_ms;
	uint64_t max_rounds;
	uint64_t max_bandwidth;
	bool throttle_auto;
	bool throttle_limit; /* --throttle dirty-limit */
	uint64_t retries;
	bool retries_set;
	uint64_t epoch_ms; /* --epoch-ms: epochs by the host's clock */
	uint64_t vcpus;	   /* --vcpus: 1..ABI_MAX_CPUS */
	uint64_t share_pct; /* --share: anonymous writes over the whole working set */
	bool share_set;
	uint64_t reaper_us; /* --reaper-us: the ring reaper's period, 0 none */
	bool reaper_set;
	uint64_t dirty_limit; /* --dirty-limit MiB/s per vCPU; 0 none */
	bool quiet;	   /* --quiet: no progress line */
};

/* The disk of a file workload: the user's, or a temporary one. */
struct disk {
	/* Non-empty: the temporary image, a file without a name open at
	 * tmp_fd, reached by the path /proc/self/fd/N held here. */
	char tmp[64];
	int tmp_fd;
	char tmp_dir[4096]; /* the directory it was made in: $TMPDIR or /tmp */
	const char *path;
	const char *file; /* the workload's file, NULL for badblk */
};

/* What the command runs with. */
struct run_opts {
	struct session_config cfg;
	const char *json_path; /* --json, or NULL */
	const char *plot_path; /* compare --plot, or NULL */
	struct disk disk;      /* file workloads; path NULL until an image exists */
	bool file_world;
	bool wss_set;		       /* --wss given: else a user image's file sets it */
	struct hostwb_config hostwb;   /* --writeback host; cfg.hostwb points here */
	struct migrate_config migrate; /* --migrate-to; cfg.migrate points here */
	bool help;		       /* --help was printed: nothing more to do */
};

/* Parse argv (argv[0] is the command's name) into *a.  After --help,
 * DS_FAIL_NONE with a->help set. */
enum ds_fail runopts_parse(struct run_args *a, int argc, char **argv,
			   const struct runopts_cmd *cmd);

/* Refuse options that do not go together, or not with this command. */
enum ds_fail runopts_check(const struct run_args *a, const struct runopts_cmd *cmd);

/* Fill *o from a: the session's configuration with every default (the file
 * workloads' differ from the anonymous ones').  Cannot fail. */
void runopts_defaults(struct run_opts *o, const struct run_args *a);

/* Refuse values that do not fit each other or the guest, defaults
 * included (the working set against RAM, hot pages against it, ...). */
enum ds_fail runopts_limits(const struct run_opts *o, const struct run_args *a);

/* Parse, check, defaults and limits, then the test hooks: *o is ready for
 * the disk image (runimage_check) unless it returns a failure or o->help. */
enum ds_fail runopts_get(struct run_opts *o, int argc, char **argv, const struct runopts_cmd *cmd);

/* TEST HOOK (tools/testhook.c): set o's test fields from the environment
 * (DIRTYSCOPE_TEST_KVM_FAIL, DIRTYSCOPE_TEST_STOP_IN_COMMIT); a malformed
 * value is a usage error. */
enum ds_fail runopts_test_hooks(struct run_opts *o);

#endif
