/* Printing outside bytes safely (util/esc.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/esc.h"

const char *esc_str(char *out, size_t n, const char *s, bool controls_only)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = controls_only ? *p >= 0x20 && *p != 0x7f
					   : *p != '\\' && esc_printable(*p);
		size_t need = plain ? 1 : 4;
		if (o + need >= n)
			break;
		if (plain)
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", *p);
	}
	out[o] = 0;
	return out;
}

char *esc_dup(const char *s, bool controls_only)
{
	size_t n = strlen(s) * 4 + 1;
	char *out = malloc(n);
	return out ? (char *)esc_str(out, n, s, controls_only) : NULL;
}

/* XML text (esc.h). */
void esc_put_xml(FILE *f, const char *s, size_t n)
{
	static const char special[] = "&<>\"'";
	static const char *const entity[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};

	if (n < strlen(s))
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++) {
		const char *e = strchr(special, s[i]);

		if (e)
			fputs(entity[e - special], f);
		else /* XML 1.0 forbids control characters */
			fputc((unsigned char)s[i] < 0x20 ? '?' : s[i], f);
	}
}
