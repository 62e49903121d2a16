/*
 * libFuzzer target: the standalone guest's serial lines as the host parses
 * them (virt/virt_line.c).  Input: one line's bytes, anything at all.
 * Besides surviving it, the parser must keep its contract: 0, -EPROTO or
 * -E2BIG; a kind that exists; on failure a zeroed record; a workload name
 * that is one of the three, NUL-terminated; an epoch's pages never above its
 * stores; and the same answer for the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virt/virt_line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virt_line a, b, zero;
	memset(&zero, 0, sizeof(zero));
	int ra = virt_line_parse((const char *)data, size, &a);
	int rb = virt_line_parse((const char *)data, size, &b);

	if (ra != rb || memcmp(&a, &b, sizeof(a)))
		abort();
	if (ra != 0 && ra != -EPROTO && ra != -E2BIG)
		abort();
	if (ra && memcmp(&a, &zero, sizeof(a)))
		abort();
	if (size > VIRT_LINE_MAX && ra != -E2BIG)
		abort();
	if (a.kind > VIRT_LINE_DONE)
		abort();
	if (memchr(a.workload, '\0', sizeof(a.workload)) == NULL)
		abort();
	if (a.kind == VIRT_LINE_BOOT && strcmp(a.workload, "seq") && strcmp(a.workload, "random") &&
	    strcmp(a.workload, "hotcold"))
		abort();
	if (a.kind == VIRT_LINE_EPOCH && a.pages > a.stores)
		abort();
	return 0;
}
