/*
 * The options `run` and `compare` share: parsing, validation and defaults,
 * the JSON output file, and the disk image of a file workload.  Everything a
 * user can get wrong is checked here, before KVM is touched, so a bad option
 * costs nothing and says exactly what is wrong.
 */
#ifndef TOOLS_RUNOPTS_H
#define TOOLS_RUNOPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "logger/session.h"

/* An output file (--json, --plot) is written under a temporary name and renamed into place
 * only when the run completed, so no half-written file looks finished. */
struct out_file {
	const char *opt; /* the option that named it, for messages */
	const char *path;
	char tmp[4096];
	FILE *f;
	int stream; /* not a regular file: written in place, never renamed */
};

/* The disk of a file workload: the user's, or a temporary one. */
struct disk {
	char tmp[4096]; /* non-empty: a temporary image to remove */
	const char *path;
	const char *file; /* the workload's file, NULL for badblk */
};

/* Which command is parsing, and what it adds to run's options. */
struct runopts_cmd {
	const char *name;	/* "run" or "compare", for messages */
	void (*usage)(FILE *f); /* printed by --help */
	bool compare;		/* accept --plot; file workloads only */
};

struct run_opts {
	struct session_config cfg;
	const char *json_path; /* --json, or NULL */
	const char *plot_path; /* compare --plot, or NULL */
	struct disk disk;      /* file workloads; path NULL until an image exists */
	bool file_world;
	struct hostwb_config hostwb;   /* --writeback host; cfg.hostwb points here */
	struct migrate_config migrate; /* --migrate-to; cfg.migrate points here */
	bool help;		       /* --help was printed: nothing more to do */
};

/*
 * Parse and check argv (argv[0] is the command's name).  Returns
 * DS_FAIL_NONE with *o filled in (o->help: --help was printed, nothing more
 * to do), or what failed after a one-line error.
 */
enum ds_fail runopts_parse(struct run_opts *o, int argc, char **argv,
			   const struct runopts_cmd *cmd);

/* Open the file an option (`opt`, for messages) names, or stdout for "-".
 * A path that cannot be written is a usage error. */
enum ds_fail out_file_open(struct out_file *j, const char *opt, const char *path);

/* Close it: keep the file if `keep`, else remove it.  A failed write of a
 * kept file is DS_FAIL_IO. */
enum ds_fail out_file_close(struct out_file *j, int keep);

/* Make a temporary image holding just the workload's file, when the user gave
 * none.  On failure (DS_FAIL_IO) nothing is left behind. */
enum ds_fail runopts_temp_image(struct run_opts *o);

/* Remove the temporary image, and its host writeback journal, if any. */
void runopts_remove_temp_image(struct run_opts *o);

/* Give cfg its outputs: JSON lines on json->f (if open) into js, and the
 * table on stdout into table, unless the JSON goes to stdout (the table
 * would corrupt it). */
void runopts_add_sinks(struct session_config *cfg, const struct out_file *json, struct sink *js,
		       struct sink *table);

/* SIGINT and SIGTERM stop the guest cleanly (vm_request_stop), so output
 * files are removed rather than left half-written. */
void runopts_catch_signals(void);

#endif
