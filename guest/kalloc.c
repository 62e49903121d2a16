/*
 * Small kernel objects (rmap entries, open files, inodes): power-of-two
 * size classes from 32 to 2048 bytes, each a free list carved from kernel
 * pages.  Pages never go back to pmem: the object population of this kernel
 * is small and bounded by its tables.
 */
#include "defs.h"
#include "mm.h"

#define KA_MIN_SHIFT 5
#define KA_CLASSES   7 /* 32 .. 2048 */

static void *free_lists[KA_CLASSES];

static int size_class(uint64_t size)
{
	int c = 0;
	while ((32ULL << c) < size)
		c++;
	if (c >= KA_CLASSES)
		panic("kalloc of %lu bytes", size);
	return c;
}

/* A zeroed object of `size` bytes (<= 2048). */
void *kalloc(uint64_t size)
{
	int c = size_class(size);
	uint64_t osz = 1ULL << (c + KA_MIN_SHIFT);
	if (!free_lists[c]) {
		char *pg = P2V(pmem_alloc_kernel());
		for (uint64_t off = 0; off < ABI_PAGE_SIZE; off += osz) {
			*(void **)(pg + off) = free_lists[c];
			free_lists[c] = pg + off;
		}
	}
	void *p = free_lists[c];
	free_lists[c] = *(void **)p;
	memset(p, 0, osz);
	return p;
}

/* Free an object kalloc(size) returned. */
void kfree(void *p, uint64_t size)
{
	int c = size_class(size);
	*(void **)p = free_lists[c];
	free_lists[c] = p;
}
