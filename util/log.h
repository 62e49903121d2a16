/*
 * The one error line.  Every failure the user sees is one line on stderr,
 * "dirtyscope: <what failed>", printed once, by the function that knows what
 * failed (docs/architecture.md, "Errors").
 */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

#include <stdarg.h>

/* Print "dirtyscope: " + message + newline to stderr. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_err with a va_list, for wrappers that add their own prefix or return value. */
void log_verr(const char *fmt, va_list ap);

#endif
