/*
 * Physical page allocator.  The VMM describes usable RAM as ranges in the
 * boot parameters (everything past the kernel image, split at the 3-4 GiB
 * hole).  Each range is a bump allocator: RAM the VMM hands us is fresh
 * anonymous memory, so a page never handed out before is already zero and
 * needs no clearing (zeroing costs ~0.4 ms per page here).  Pages the file
 * world frees (processes exiting, evicted page-cache pages, freed page
 * tables) go on a free list and are zeroed only when a caller needs zeros:
 * a page about to be filled from disk or by a copy-on-write copy is not.
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
static uint64_t free_head; /* GPA of the first free page; its first word links on */
static uint64_t nr_free_listed;

/* Called when RAM runs out, to free page-cache pages; pcache.c overrides it. */
__attribute__((weak)) int pc_reclaim(void)
{
	return 0;
}

/*
 * ABI_BOOT_F_TEST_PREFAULT: store a zero into the first word of every
 * page not yet handed out.  The pages are fresh, so already zero: this
 * changes no content, only makes the host populate each page and map it
 * for the guest before any device writes into it.
 */
static void prefault(void)
{
	for (int i = 0; i < nr_ranges; i++)
		for (uint64_t pa = ranges[i].next; pa < ranges[i].end; pa += ABI_PAGE_SIZE)
			*(volatile uint64_t *)P2V(pa) = 0;
}

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
	if (bp->flags & ABI_BOOT_F_TEST_PREFAULT)
		prefault();
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

/* n physically contiguous fresh (zero) pages for kernel tables, from one range. */
uint64_t pmem_alloc_kernel_contig(uint64_t n)
{
	for (int i = 0; i < nr_ranges; i++)
		if ((ranges[i].end - ranges[i].next) / ABI_PAGE_SIZE >= n) {
			uint64_t pa = ranges[i].next;
			ranges[i].next += n * ABI_PAGE_SIZE;
			return pa;
		}
	panic("out of memory (%lu contiguous kernel pages)", n);
}

static uint64_t alloc_fresh(void)
{
	for (int tries = 0; tries < nr_ranges; tries++) {
		struct range *r = &ranges[next_user_range];
		next_user_range = (next_user_range + 1) % nr_ranges;
		if (r->next < r->end)
			return take(r);
	}
	return 0;
}

/*
 * Try to allocate a page: fresh RAM first (already zero, interleaved over
 * the ranges), then the free list, then whatever page-cache reclaim frees.
 * With `zero` the page is returned zeroed.  Returns 0 when RAM is exhausted.
 */
uint64_t pmem_try_alloc(int zero)
{
	for (int round = 0; round < 2; round++) {
		uint64_t pa = alloc_fresh();
		if (pa)
			return pa;
		if (free_head) {
			pa = free_head;
			free_head = *(uint64_t *)P2V(pa);
			nr_free_listed--;
			if (zero)
				memset(P2V(pa), 0, ABI_PAGE_SIZE);
			else
				*(uint64_t *)P2V(pa) = 0;
			return pa;
		}
		if (!pc_reclaim())
			break;
	}
	return 0;
}

/*
 * Allocate one zeroed page for a workload; panics when RAM is exhausted.
 * The fresh-RAM path is kept as short as the boot of a large anonymous
 * working set needs: on PVM every guest store (calls' pushes included) is a
 * dirty-ring entry, and the boot phase must stay under the ring's size.
 */
uint64_t pmem_alloc_user(void)
{
	for (int tries = 0; tries < nr_ranges; tries++) {
		struct range *r = &ranges[next_user_range];
		next_user_range = (next_user_range + 1) % nr_ranges;
		if (r->next < r->end)
			return take(r);
	}
	uint64_t pa = pmem_try_alloc(1);
	if (!pa)
		panic("out of memory (user page)");
	return pa;
}

/* Give a page back.  Its content is garbage until pmem_try_alloc(1) zeroes it. */
void pmem_free(uint64_t pa)
{
	if (pa % ABI_PAGE_SIZE || pa < ABI_KERNEL_GPA)
		panic("freeing bad page %lx", pa);
	*(uint64_t *)P2V(pa) = free_head;
	free_head = pa;
	nr_free_listed++;
}

/* The free list as the host may read it (include/abi/pcache.h). */
void pmem_free_list(uint64_t *head, uint64_t *n)
{
	*head = free_head;
	*n = nr_free_listed;
}

/* Pages still available. */
uint64_t pmem_free_pages(void)
{
	uint64_t n = 0;
	for (int i = 0; i < nr_ranges; i++)
		n += (ranges[i].end - ranges[i].next) / ABI_PAGE_SIZE;
	return n + nr_free_listed;
}
