/*
 * What `run`, `compare` and `receive` put around a session: the output
 * files (--json, --plot), the table and JSON sinks, and the signals that
 * stop the guest cleanly.
 */
#ifndef TOOLS_RUNOPTS_OUT_H
#define TOOLS_RUNOPTS_OUT_H

#include <stdio.h>

#include "logger/session.h"
#include "util/fail.h"

/* An output file (--json, --plot) is written under a temporary name and renamed into place
 * only when the run completed, so no half-written file looks finished. */
struct out_file {
	const char *opt; /* the option that named it, for messages */
	const char *path;
	char tmp[4096];
	FILE *f;
	int stream; /* not a regular file: written in place, never renamed */
};

/* Open the file an option (`opt`, for messages) names, or stdout for "-".
 * A path that cannot be written is a usage error. */
enum ds_fail out_file_open(struct out_file *j, const char *opt, const char *path);

/* Close it: keep the file if `keep`, else remove it.  A failed write of a
 * kept file is DS_FAIL_IO. */
enum ds_fail out_file_close(struct out_file *j, int keep);

/* Give cfg its outputs: JSON lines on json->f (if open) into js, and the
 * table on stdout into table, unless the JSON goes to stdout (the table
 * would corrupt it). */
void runopts_add_sinks(struct session_config *cfg, const struct out_file *json, struct sink *js,
		       struct sink *table);

/* SIGINT and SIGTERM stop the guest cleanly (vm_request_stop), so output
 * files are removed rather than left half-written. */
void runopts_catch_signals(void);

#endif
