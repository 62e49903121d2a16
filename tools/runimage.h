/*
 * The disk image of a file workload, for `run` and `compare`: the user's
 * (--image), recovered and checked before anything reads it, or a temporary
 * one made to fit the workload.  The commands call these after the options
 * are parsed, so option parsing never touches a file.
 */
#ifndef TOOLS_RUNIMAGE_H
#define TOOLS_RUNIMAGE_H

#include "tools/runopts.h"
#include "util/fail.h"

/*
 * For a file workload: the user's image first, if any: a previous run with
 * host writeback may have died mid-commit, so its journal is recovered
 * (with one line on stderr, as `dirtyscope recover` would), then the image
 * must be valid DSFS holding the workload's file, whose capacity sets the
 * working set when --wss was not given (with --verify, the file must be as
 * mkimage made it).  Then, with or without an image, the file must be able
 * to hold what the workload writes.  Nothing to do for anonymous
 * workloads.
 */
enum ds_fail runimage_check(struct run_opts *o);

/* A file workload without --image: make a temporary image holding just the
 * workload's file, a file without a name in $TMPDIR (else /tmp) that
 * o->disk.path reaches as /proc/self/fd/N; with --writeback host, its
 * journal will be made without a name there too.  Nothing is ever left
 * behind, whatever ends the process.  On failure, DS_FAIL_IO. */
enum ds_fail runimage_temp(struct run_opts *o);

/* Close the temporary image, if any, which frees it; o->disk.path is then
 * NULL. */
void runimage_close_temp(struct run_opts *o);

#endif
