/*
 * What every subcommand shares: the usage error and the one map from a
 * failure category to the process's exit code (docs/cli.md, "Exit codes").
 * Kept apart from main.c, which only dispatches, so the subcommands depend
 * on this file and main.c on them, never round in a circle.
 */
#include <stdarg.h>

#include "tools/cli.h"
#include "util/log.h"

enum ds_fail usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_verr(fmt, ap);
	va_end(ap);
	return DS_FAIL_USAGE;
}

int ds_exit_code(enum ds_fail fail)
{
	return ds_fail_exit(fail);
}
