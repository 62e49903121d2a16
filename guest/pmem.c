/*
 * Physical page allocator.  The VMM describes usable RAM as ranges in the
 * boot parameters (everything past the kernel image, split at the 3-4 GiB
 * hole).  Each range is a bump allocator: RAM the VMM hands us is fresh
 * anonymous memory, so a page never handed out before is already zero and
 * needs no clearing (zeroing costs ~0.4 ms per page here).  Nothing is freed
 * yet, so there is no free list to keep zeroed.
 *
 * Kernel pages (page tables, bitmaps) come from the lowest range with room.
 * User pages are interleaved round-robin over the ranges, like NUMA
 * interleave: a workload on a guest with RAM above the hole always touches
 * both memory slots, which keeps the VMM's multi-slot paths exercised.
 */
#include "defs.h"

struct range {
	uint64_t next, end; /* GPAs */
};

static struct range ranges[ABI_MAX_RAM_RANGES];
static int nr_ranges;
static int next_user_range;

/* Take the usable RAM ranges from the boot parameters. */
void pmem_init(const struct abi_boot_params *bp)
{
	if (bp->nr_ranges == 0 || bp->nr_ranges > ABI_MAX_RAM_RANGES)
		panic("bad RAM range count %u", bp->nr_ranges);
	for (uint32_t i = 0; i < bp->nr_ranges; i++) {
		const struct abi_ram_range *r = &bp->ranges[i];
		if ((r->base | r->size) % ABI_PAGE_SIZE || r->base + r->size < r->base)
			panic("bad RAM range %lx+%lx", r->base, r->size);
		ranges[i].next = r->base;
		ranges[i].end = r->base + r->size;
	}
	nr_ranges = (int)bp->nr_ranges;
}

static uint64_t take(struct range *r)
{
	uint64_t pa = r->next;
	r->next += ABI_PAGE_SIZE;
	return pa;
}

/* Allocate one zeroed page for kernel use; panics when RAM is exhausted. */
uint64_t pmem_alloc_kernel(void)
{
	for (int i = 0; i < nr_ranges; i++)
		if (ranges[i].next < ranges[i].end)
			return take(&ranges[i]);
	panic("out of memory (kernel page)");
}

/* Allocate one zeroed page for a workload, interleaved over the RAM ranges. */
uint64_t pmem_alloc_user(void)
{
	for (int tries = 0; tries < nr_ranges; tries++) {
		struct range *r = &ranges[next_user_range];
		next_user_range = (next_user_range + 1) % nr_ranges;
		if (r->next < r->end)
			return take(r);
	}
	panic("out of memory (user page)");
}

/* Pages still available. */
uint64_t pmem_free_pages(void)
{
	uint64_t n = 0;
	for (int i = 0; i < nr_ranges; i++)
		n += (ranges[i].end - ranges[i].next) / ABI_PAGE_SIZE;
	return n;
}
