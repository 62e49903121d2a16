/* The one error line (util/log.h). */
#include <stdio.h>

#include "util/log.h"

void log_verr(const char *fmt, va_list ap)
{
	/* One fputs of the whole line would need a buffer; stderr is
	 * unbuffered, so the three calls below can interleave with another
	 * thread's line, which the run's threads avoid by reporting through
	 * their owner (logger/migrate/). */
	fputs("dirtyscope: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verr(fmt, ap);
	va_end(ap);
}
