/*
 * The oracle compares all of guest RAM with its shadow at every harvest.
 * Most of a large guest's RAM was never touched, and reading it would cost
 * seconds per harvest (and map the zero page across the VMM's page tables),
 * so the oracle asks the kernel which pages of the RAM mapping have ever
 * been populated (/proc/self/pagemap: present or swapped) and skips a page
 * that is unpopulated in RAM and was never written into the shadow: both read
 * as zero.  Everything else is compared byte for byte.  Without pagemap the
 * oracle compares every page.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abi/layout.h"
#include "logger/verify/oracle.h"

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define BATCH	   4096 /* pages per pagemap read */

static int page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (unsigned i = 0; i < ABI_PAGE_SIZE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

/*
 * Fill pop[0..n) with whether RAM pages first..first+n have ever been
 * populated.  Without pagemap, every page counts as populated.
 */
static void populated(const struct oracle *o, uint64_t first, uint64_t n, uint8_t *pop)
{
	uint64_t ent[BATCH];
	off_t off = (off_t)(((uintptr_t)o->ram / ABI_PAGE_SIZE + first) * sizeof(uint64_t));

	if (o->pagemap_fd < 0 || pread(o->pagemap_fd, ent, n * sizeof(uint64_t), off) !=
				     (ssize_t)(n * sizeof(uint64_t))) {
		memset(pop, 1, n);
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		pop[i] = (ent[i] & (PM_PRESENT | PM_SWAPPED)) != 0;
}

static void shadow_store(struct oracle *o, uint64_t i, const uint8_t *src)
{
	memcpy(o->shadow + i * ABI_PAGE_SIZE, src, ABI_PAGE_SIZE);
	o->written[i / 64] |= 1ULL << (i % 64);
}

int oracle_init(struct oracle *o, const uint8_t *ram, uint64_t nr_pages)
{
	uint8_t pop[BATCH];

	memset(o, 0, sizeof(*o));
	o->ram = ram;
	o->nr_pages = nr_pages;
	o->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	o->written = calloc((nr_pages + 63) / 64, sizeof(uint64_t));
	o->shadow = mmap(NULL, nr_pages * ABI_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (o->shadow == MAP_FAILED || !o->written) {
		if (o->shadow == MAP_FAILED)
			o->shadow = NULL;
		oracle_free(o);
		return -ENOMEM;
	}
	/* Only non-zero pages are copied: the shadow costs what the guest uses. */
	for (uint64_t first = 0; first < nr_pages; first += BATCH) {
		uint64_t n = nr_pages - first < BATCH ? nr_pages - first : BATCH;
		populated(o, first, n, pop);
		for (uint64_t k = 0; k < n; k++) {
			const uint8_t *src = ram + (first + k) * ABI_PAGE_SIZE;
			if (pop[k] && !page_is_zero(src))
				shadow_store(o, first + k, src);
		}
	}
	return 0;
}

uint64_t oracle_check(struct oracle *o, const struct frameset *reported,
		      void (*lost)(void *ctx, uint64_t index), void *ctx)
{
	uint8_t pop[BATCH];
	uint64_t nlost = 0;

	for (uint64_t first = 0; first < o->nr_pages; first += BATCH) {
		uint64_t n = o->nr_pages - first < BATCH ? o->nr_pages - first : BATCH;
		populated(o, first, n, pop);
		for (uint64_t k = 0; k < n; k++) {
			uint64_t i = first + k;
			/* Never populated and never shadowed: zero on both sides. */
			if (!pop[k] && !((o->written[i / 64] >> (i % 64)) & 1))
				continue;
			const uint8_t *now = o->ram + i * ABI_PAGE_SIZE;
			if (!memcmp(now, o->shadow + i * ABI_PAGE_SIZE, ABI_PAGE_SIZE))
				continue;
			if (!frameset_test(reported, i)) {
				nlost++;
				if (lost)
					lost(ctx, i);
			}
			shadow_store(o, i, now);
		}
	}
	return nlost;
}

void oracle_free(struct oracle *o)
{
	if (o->shadow)
		munmap(o->shadow, o->nr_pages * ABI_PAGE_SIZE);
	free(o->written);
	if (o->pagemap_fd >= 0)
		close(o->pagemap_fd);
	o->shadow = NULL;
	o->written = NULL;
	o->pagemap_fd = -1;
}
