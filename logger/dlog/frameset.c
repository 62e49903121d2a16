#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "logger/dlog/frameset.h"

static void *lazy_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int frameset_init(struct frameset *s, uint64_t nbits)
{
	memset(s, 0, sizeof(*s));
	s->nbits = nbits; /* before allocating: frameset_free needs the sizes */
	s->bits = lazy_alloc((nbits + 63) / 64 * 8);
	s->list = lazy_alloc(nbits * 8);
	if (!s->bits || !s->list) {
		frameset_free(s);
		return -ENOMEM;
	}
	return 0;
}

void frameset_clear(struct frameset *s)
{
	for (uint64_t i = 0; i < s->count; i++)
		s->bits[s->list[i] / 64] = 0;
	s->count = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void frameset_sort(struct frameset *s)
{
	qsort(s->list, s->count, sizeof(s->list[0]), cmp_u64);
}

void frameset_free(struct frameset *s)
{
	uint64_t bits_bytes = (s->nbits + 63) / 64 * 8, list_bytes = s->nbits * 8;
	if (s->bits)
		munmap(s->bits, bits_bytes ? bits_bytes : 1);
	if (s->list)
		munmap(s->list, list_bytes ? list_bytes : 1);
	s->bits = s->list = NULL;
}
