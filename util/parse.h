/* Parsing of command-line numbers and sizes. */
#ifndef UTIL_PARSE_H
#define UTIL_PARSE_H

#include <stdint.h>

/*
 * Parse a byte size: decimal digits with an optional binary suffix K, M, G or
 * T (case-insensitive, optionally followed by "iB" or "B"): "4096", "256M",
 * "4G", "1GiB".  Returns 0, or -EINVAL for anything else (empty, signs,
 * spaces, fractions, unknown suffix) and -ERANGE on overflow.
 */
int parse_size(const char *s, uint64_t *out);

/* Parse an unsigned decimal integer within [min, max].  Returns 0, -EINVAL
 * (not a number) or -ERANGE (out of bounds). */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
