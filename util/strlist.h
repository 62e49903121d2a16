/* Lists of names for usage texts and messages: "a | b | c", "a, b or c". */
#ifndef UTIL_STRLIST_H
#define UTIL_STRLIST_H

#include <stddef.h>

/*
 * Write names[0..n) into buf (len bytes), separated by sep, the last two by
 * last (sep again for a plain list), and return buf.  A list longer than buf
 * is cut, never overrun; an empty list is "".
 */
const char *strlist_join(char *buf, size_t len, const char *const *names, size_t n, const char *sep,
			 const char *last);

#endif
