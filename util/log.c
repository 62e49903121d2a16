/* The host's only writer to stderr (util/log.h). */
#include <stdio.h>
#include <stdlib.h>

#include "util/esc.h"
#include "util/log.h"

/* The whole line, control bytes escaped (util/esc.h), in one fputs on unbuffered stderr, so that lines from the
 * vCPU thread and the migration thread never interleave mid-line. */
static void vline(const char *prefix, const char *fmt, va_list ap)
{
	char *msg = NULL;
	va_list copy;

	va_copy(copy, ap);
	int n = vasprintf(&msg, fmt, copy);
	va_end(copy);
	if (n < 0) {
		/* No memory for the line: print it in pieces rather than lose it. */
		fputs(prefix, stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		return;
	}
	/* One line whatever the arguments held: a name or an argument with a
	 * newline or an escape sequence is printed escaped. */
	char *safe = esc_dup(msg, true);
	if (safe) {
		free(msg);
		msg = safe;
	}
	char *line = NULL;
	if (asprintf(&line, "%s%s\n", prefix, msg) >= 0) {
		fputs(line, stderr);
		free(line);
	} else {
		fprintf(stderr, "%s%s\n", prefix, msg);
	}
	free(msg);
}

void log_verr(const char *fmt, va_list ap)
{
	vline("dirtyscope: ", fmt, ap);
}

void log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("dirtyscope: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("", fmt, ap);
	va_end(ap);
}
