#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "abi/layout.h"
#include "logger/oracle.h"

static int page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (unsigned i = 0; i < ABI_PAGE_SIZE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

int oracle_init(struct oracle *o, const uint8_t *ram, uint64_t nr_pages)
{
	o->ram = ram;
	o->nr_pages = nr_pages;
	o->shadow = mmap(NULL, nr_pages * ABI_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (o->shadow == MAP_FAILED) {
		o->shadow = NULL;
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < nr_pages; i++) {
		const uint8_t *src = ram + i * ABI_PAGE_SIZE;
		if (!page_is_zero(src))
			memcpy(o->shadow + i * ABI_PAGE_SIZE, src, ABI_PAGE_SIZE);
	}
	return 0;
}

uint64_t oracle_check(struct oracle *o, const struct frameset *reported,
		      void (*lost)(void *ctx, uint64_t index), void *ctx)
{
	uint64_t nlost = 0;
	for (uint64_t i = 0; i < o->nr_pages; i++) {
		const uint8_t *now = o->ram + i * ABI_PAGE_SIZE;
		uint8_t *then = o->shadow + i * ABI_PAGE_SIZE;
		if (!memcmp(now, then, ABI_PAGE_SIZE))
			continue;
		if (!frameset_test(reported, i)) {
			nlost++;
			if (lost)
				lost(ctx, i);
		}
		memcpy(then, now, ABI_PAGE_SIZE);
	}
	return nlost;
}

void oracle_free(struct oracle *o)
{
	if (o->shadow)
		munmap(o->shadow, o->nr_pages * ABI_PAGE_SIZE);
	o->shadow = NULL;
}
