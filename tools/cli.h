/*
 * The dirtyscope command: its subcommands, and the one mapping from what
 * failed to the exit code.
 *
 * Every subcommand returns a category (util/fail.h), decided where the
 * failure is understood: the option parser for usage errors, the session by
 * the phase a failure came in, a library's *_fail() beside the refusals its
 * functions document.  Only main() turns it into an exit code
 * (ds_exit_code), so no exit code is ever derived from an errno.
 */
#ifndef TOOLS_CLI_H
#define TOOLS_CLI_H

#include <stdio.h>

#include "util/fail.h"

/* The exit code for a category (util/fail.h, ds_fail_exit). */
int ds_exit_code(enum ds_fail fail);

/* One exit code a command's --help lists, and the command's own cases of it. */
struct cli_exit {
	int code;	    /* DS_EXIT_*; -1 ends a list */
	const char *detail; /* what it means for this command; NULL: the code's default */
};

/*
 * Print the "Exit status:" block of a --help text: every code of `codes`
 * (ended by {-1}; NULL: every code there is), each with its meaning, which
 * cli.c alone words, and the command's detail, wrapped to 79 columns.  The
 * man pages (docs/man/) and docs/cli.md say the same; tests/test_install.sh
 * compares the codes.
 */
void cli_exit_status(FILE *f, const struct cli_exit *codes);

/* Each returns what failed, DS_FAIL_NONE for success (--help included). */
enum ds_fail cmd_run(int argc, char **argv);
enum ds_fail cmd_info(int argc, char **argv);
enum ds_fail cmd_mkimage(int argc, char **argv);
enum ds_fail cmd_compare(int argc, char **argv);
enum ds_fail cmd_recover(int argc, char **argv);
enum ds_fail cmd_verify_image(int argc, char **argv);
enum ds_fail cmd_receive(int argc, char **argv);
enum ds_fail cmd_libvirt(int argc, char **argv);

/* Print "dirtyscope: <msg>" and return DS_FAIL_USAGE. */
enum ds_fail usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
