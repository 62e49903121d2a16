/*
 * Page tables.  The VMM's boot tables map the kernel and all of RAM (the
 * direct map, 2 MiB pages, A and D preset so kernel accesses never write page
 * tables).  Workload memory gets 4 KiB pages in an address space of its own,
 * which shares the boot PML4's upper (kernel) half.
 */
#include "defs.h"
#include "x86.h"

/*
 * Return the address of the level-0 PTE for va in the tree rooted at pml4.
 * With alloc set, missing intermediate tables are allocated (zeroed pages);
 * otherwise a missing table gives NULL.  A 2 MiB/1 GiB leaf on the way is a
 * broken invariant for the workload half.
 */
uint64_t *vm_walk(uint64_t *pml4, uint64_t va, int alloc)
{
	uint64_t *table = pml4;
	for (int level = 3; level > 0; level--) {
		uint64_t *pte = &table[PX(level, va)];
		if (*pte & PTE_P) {
			if (*pte & PTE_PS)
				panic("huge page at level %d for va %lx", level, va);
		} else {
			if (!alloc)
				return NULL;
			/* Intermediate entries carry A so the MMU never writes them. */
			*pte = pmem_alloc_kernel() | PTE_P | PTE_W | PTE_A;
		}
		table = P2V(*pte & PTE_ADDR);
	}
	return &table[PX(0, va)];
}

/* A new address space: a fresh PML4 whose kernel half is the boot PML4's. */
uint64_t *vm_new_space(void)
{
	uint64_t *pml4 = P2V(pmem_alloc_kernel());
	uint64_t *boot = P2V(rcr3() & PTE_ADDR);
	for (int i = 256; i < 512; i++)
		pml4[i] = boot[i];
	return pml4;
}

/*
 * Map `pages` fresh user pages at va (4 KiB aligned), writable, with A and D
 * clear: the first store in each page is what sets D.  The leaf table is
 * walked once per 512 pages, not per page, to keep boot cheap.
 */
void vm_map_fresh(uint64_t *pml4, uint64_t va, uint64_t pages)
{
	uint64_t *pte = NULL;
	for (uint64_t i = 0; i < pages; i++, va += ABI_PAGE_SIZE) {
		if (!pte || PX(0, va) == 0)
			pte = vm_walk(pml4, va, 1);
		else
			pte++;
		if (*pte & PTE_P)
			panic("va %lx already mapped", va);
		*pte = pmem_alloc_user() | PTE_P | PTE_W;
	}
}
