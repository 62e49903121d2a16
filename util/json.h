/* JSON text for the outputs: the one string escaper. */
#ifndef UTIL_JSON_H
#define UTIL_JSON_H

#include <stdio.h>

/* Write s as a JSON string literal (quotes and escapes included). */
void json_string(FILE *f, const char *s);

/* json_string, or null for a NULL s. */
void json_string_or_null(FILE *f, const char *s);

#endif
