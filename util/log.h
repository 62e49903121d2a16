/*
 * The host's only writer to stderr.  Every failure the user sees is one
 * line, "dirtyscope: <what failed>", printed once by the function that
 * knows what failed (docs/architecture.md, "Errors and exit codes");
 * progress lines and the guest's console echo are lines too, unprefixed.
 */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

#include <stdarg.h>

/* Print "dirtyscope: " + message + newline to stderr, as one write. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_err with a va_list, for wrappers that add their own prefix or return value. */
void log_verr(const char *fmt, va_list ap);

/* Print message + newline to stderr, as one write: progress lines (a
 * migration's rounds) and what the guest prints, never errors. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The first error line this process printed through log_err (without the
 * "dirtyscope: " prefix, escaped, cut to LOG_FIRST_MAX - 1 bytes), or NULL
 * if none: what a run's JSON summary names as the cause of a failure, the
 * first line being the cause and later ones its consequences. */
#define LOG_FIRST_MAX 512
const char *log_first_err(void);

#endif
