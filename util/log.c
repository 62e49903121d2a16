/* The host's only writer to stderr (util/log.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/esc.h"
#include "util/log.h"

/* The process's first error line (log_first_err): claimed once by the
 * first log_err of any thread, readable once `first_ready` is set. */
static char first[LOG_FIRST_MAX];
static int first_claimed, first_ready;

static void remember_first(const char *msg)
{
	if (__atomic_exchange_n(&first_claimed, 1, __ATOMIC_ACQ_REL))
		return;
	snprintf(first, sizeof(first), "%s", msg);
	__atomic_store_n(&first_ready, 1, __ATOMIC_RELEASE);
}

const char *log_first_err(void)
{
	return __atomic_load_n(&first_ready, __ATOMIC_ACQUIRE) ? first : NULL;
}

/* The whole line, control bytes escaped (util/esc.h), in one fputs on unbuffered stderr, so that
 * lines from the vCPU thread and the migration thread never interleave mid-line. */
static void vline(const char *prefix, const char *fmt, va_list ap, bool error)
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
	if (error)
		remember_first(msg);
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
	vline("dirtyscope: ", fmt, ap, true);
}

void log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("dirtyscope: ", fmt, ap, true);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("", fmt, ap, false);
	va_end(ap);
}
