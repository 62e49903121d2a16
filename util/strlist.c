/* Lists of names (util/strlist.h). */
#include <stdio.h>

#include "util/strlist.h"

const char *strlist_join(char *buf, size_t len, const char *const *names, size_t n, const char *sep,
			 const char *last)
{
	size_t used = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		const char *before = !i ? "" : i + 1 == n ? last : sep;
		int w = snprintf(buf + used, len - used, "%s%s", before, names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return buf;
}
