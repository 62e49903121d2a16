/*
 * What every subcommand shares: the usage error and the one map from a
 * failure category to the process's exit code (docs/cli.md, "Exit codes").
 * Kept apart from main.c, which only dispatches, so the subcommands depend
 * on this file and main.c on them, never round in a circle.
 */
#include <stdarg.h>
#include <string.h>

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

/*
 * What each exit code means, worded once: docs/cli.md's table, shortened.
 * A command's detail replaces the default detail, never the meaning, so a
 * code reads the same in every --help.
 */
static const struct {
	int code;
	const char *meaning;
	const char *detail; /* when the command gives none; may be NULL */
} exit_meanings[] = {
    {DS_EXIT_OK, "success", NULL},
    {DS_EXIT_CHECK, "a check failed", "lost pages, an image that is not what it must be"},
    {DS_EXIT_USAGE, "usage or input error", "a bad option, value, argument or input file"},
    {DS_EXIT_PLATFORM, "the platform cannot do it",
     "no /dev/kvm, no permission, a capability missing"},
    {DS_EXIT_FAILED, "the run or host I/O failed",
     "the guest crashed or KVM failed mid-run, or an output or image could not be written"},
    {DS_EXIT_MIGRATION, "live migration did not happen", NULL},
    {DS_EXIT_INTERRUPTED, "interrupted", "SIGINT or SIGTERM; no --json file is kept"},
};

#define EXIT_INDENT 7  /* "  130  " */
#define EXIT_WIDTH  79 /* the help texts' width */

/* Print words at column col (the cursor is there), wrapping to EXIT_INDENT. */
static void print_wrapped(FILE *f, const char *text, int col)
{
	const char *p = text;
	while (*p) {
		size_t word = strcspn(p, " ");
		if (col > EXIT_INDENT && col + 1 + (int)word > EXIT_WIDTH) {
			fprintf(f, "\n%*s", EXIT_INDENT, "");
			col = EXIT_INDENT;
		} else if (col > EXIT_INDENT) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, word, f);
		col += (int)word;
		p += word;
		p += strspn(p, " ");
	}
	fputc('\n', f);
}

void cli_exit_status(FILE *f, const struct cli_exit *codes)
{
	size_t n = sizeof(exit_meanings) / sizeof(exit_meanings[0]);

	fprintf(f, "Exit status:\n");
	for (size_t i = 0; codes ? codes[i].code >= 0 : i < n; i++) {
		int code = codes ? codes[i].code : exit_meanings[i].code;
		const char *detail = codes ? codes[i].detail : NULL;
		size_t m = 0;
		while (m < n && exit_meanings[m].code != code)
			m++;
		if (m == n)
			continue; /* not a code: a bug in a table, not worth a lie */
		if (!detail)
			detail = exit_meanings[m].detail;
		char line[512];
		snprintf(line, sizeof(line), "%s%s%s", exit_meanings[m].meaning, detail ? ": " : "",
			 detail ? detail : "");
		fprintf(f, "  %-3d  ", code);
		print_wrapped(f, line, EXIT_INDENT);
	}
}
