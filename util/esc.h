/*
 * Bytes from outside (an image's file names, a migration stream, the
 * command line) printed safely: every byte that could move the cursor, end
 * the line or start a terminal escape sequence is written as \xNN, so one
 * record stays one line and a name cannot rewrite the terminal.
 */
#ifndef UTIL_ESC_H
#define UTIL_ESC_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

/* Copy the NUL-terminated s into out (n bytes, n > 0), writing every byte
 * outside 0x20..0x7e, and a backslash, as \xNN (a name: what is printed
 * reads back unambiguously).  With `controls_only`, only the control bytes
 * (below 0x20, and 0x7f) are escaped: a UTF-8 path or a backslash in a
 * message stays as typed, and the line is still one line.  Truncates rather
 * than overflow; always terminates.  Returns out. */
const char *esc_str(char *out, size_t n, const char *s, bool controls_only);

/* The same into a malloc'd string; NULL when memory runs out. */
char *esc_dup(const char *s, bool controls_only);

/* The byte a printable ASCII string may hold: 0x20..0x7e. */
static inline bool esc_printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Write the first n bytes of s (backed off to a UTF-8 boundary) as XML text:
 * the five specials as entities, control characters, which XML 1.0 forbids,
 * as '?'.  For the SVG pictures. */
void esc_put_xml(FILE *f, const char *s, size_t n);

#endif
