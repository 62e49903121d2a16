/*
 * libFuzzer target: the standalone guest's console as the host assembles it
 * into lines (virt_console_feed, virt/virt_console.c), before and around
 * the line parser fuzz_guestline covers.  Input: a first byte that sets the
 * size of the pieces the bytes arrive in (1 to 256), then the console's
 * bytes, anything at all.  Besides surviving it, the assembly must keep its
 * contract: every byte counted; a record only for a line that parsed, of a
 * kind that exists; arrival times that never go back; and the same records
 * and bad-line count whatever the pieces' size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virt/virt_console.h"

/* Feed `data` in pieces of `piece` bytes, the k-th at time k; the records,
 * their count and the bad lines out. */
static size_t feed(const uint8_t *data, size_t size, size_t piece, struct virt_console_rec **recs,
		   uint64_t *bad)
{
	struct virt_console c;
	virt_console_init(&c, NULL, NULL);
	uint64_t t = 0;
	for (size_t off = 0; off < size; off += piece, t++) {
		size_t n = size - off < piece ? size - off : piece;
		if (virt_console_feed(&c, (const char *)data + off, n, t))
			abort(); /* only an allocation can fail */
	}
	if (virt_console_bytes(&c) != size)
		abort();
	size_t nr = virt_console_copy(&c, recs);
	*bad = c.bad_lines;
	virt_console_close(&c);
	return nr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t piece = (size_t)data[0] + 1;
	struct virt_console_rec *a = NULL, *b = NULL;
	uint64_t bad_a, bad_b;
	size_t na = feed(data + 1, size - 1, piece, &a, &bad_a);
	size_t nb = feed(data + 1, size - 1, size, &b, &bad_b);

	if (na != nb || bad_a != bad_b)
		abort();
	for (size_t i = 0; i < na; i++) {
		if (a[i].line.kind == VIRT_LINE_OTHER || a[i].line.kind > VIRT_LINE_DONE)
			abort();
		if (memcmp(&a[i].line, &b[i].line, sizeof(a[i].line)))
			abort();
		if (i && a[i].t_ns < a[i - 1].t_ns)
			abort();
	}
	free(a);
	free(b);
	return 0;
}
