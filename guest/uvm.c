/*
 * User address spaces: VMAs, the page-fault path, fork's copy on write, and
 * kernel access to user memory.
 *
 * The fault path mirrors Linux's handle_mm_fault: find the VMA (find_vma),
 * then by kind
 *   anonymous      zero-filled page on first touch (do_anonymous_page)
 *   file, shared   the page-cache page itself (filemap_fault); whether the PTE
 *                  starts writable, and what a write fault on it does, is the
 *                  dirty-tracking policy's call (dirty.c: page_mkwrite & co.)
 *   file, private  the page-cache page mapped read-only; the first store
 *                  copies it (do_wp_page's COW from the page cache)
 * and a store to a present read-only anonymous page shared after fork copies
 * it unless this PTE is its last user (do_wp_page's reuse case).
 *
 * The kernel never dereferences user addresses: copy_in/copy_out resolve each
 * user page through mm_fault (so a bad pointer is -EFAULT, never a kernel
 * fault) and copy through the direct map.  A store the kernel makes that way
 * sets no PTE D bit, so copy_out marks page-cache pages dirty itself, as
 * Linux's get_user_pages(FOLL_WRITE) callers do with set_page_dirty_lock().
 */
#include "../include/abi/syscall.h"
#include "defs.h"
#include "fs.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

static struct page *pages;
static uint64_t nr_pfns;
static uint32_t boot_flags;

/* Allocate the page-info array: one struct page per page frame up to the
 * end of RAM.  Fresh RAM is zero, so nothing is initialised here. */
void uvm_init(void)
{
	const struct abi_boot_params *bp = P2V(ABI_BOOT_PARAMS_GPA);
	const struct abi_ram_range *last = &bp->ranges[bp->nr_ranges - 1];
	nr_pfns = (last->base + last->size) / ABI_PAGE_SIZE;
	boot_flags = bp->flags;
	uint64_t bytes = nr_pfns * sizeof(struct page);
	pages = P2V(pmem_alloc_kernel_contig((bytes + ABI_PAGE_SIZE - 1) / ABI_PAGE_SIZE));
}

/* The info of the page frame at pa. */
struct page *page_of(uint64_t pa)
{
	uint64_t pfn = pa / ABI_PAGE_SIZE;
	if (pfn >= nr_pfns)
		panic("page_of(%lx) beyond RAM", pa);
	return &pages[pfn];
}

/* The GPA of the frame a struct page describes (page_of's inverse). */
uint64_t page_pa(struct page *pg)
{
	return (uint64_t)(pg - pages) * ABI_PAGE_SIZE;
}

static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* Invalidate va's TLB entry on this CPU if mm is its running address space
 * (an address space not running is flushed by the CR3 load that switches
 * to it: no PCIDs, no global user pages). */
static int tlb_batch, tlb_batch_dirty;
static uint32_t tlb_batch_cpus; /* other CPUs the open batch owes a flush */

void mm_invlpg_local(struct mm *mm, uint64_t va)
{
	if ((rcr3() & PTE_ADDR) != V2P(mm->pml4))
		return;
	if (tlb_batch)
		tlb_batch_dirty = 1;
	else
		invlpg(va);
}

/* Invalidate va's translation of mm on every CPU: here, and by a shootdown
 * on each other CPU that runs a process of mm (Linux's flush_tlb_page):
 * the page is not clean, nor read-only, nor unmapped until every CPU has
 * forgotten the old PTE. */
void mm_invlpg(struct mm *mm, uint64_t va)
{
	mm_invlpg_local(mm, va);
	uint32_t others = tlb_cpus_of(mm);
	if (!others)
		return;
	if (tlb_batch)
		tlb_batch_cpus |= others;
	else
		tlb_shootdown(others);
}

/*
 * Batch the TLB invalidations of many PTE changes into one CR3 reload, for
 * callers that change many pages at once (cleaning the pages the host wrote
 * back).  Each invlpg may cost an exit on a paravirtual MMU; one reload
 * flushes every non-global entry, which user mappings are.
 */
void mm_tlb_batch_begin(void)
{
	tlb_batch = 1;
	tlb_batch_dirty = 0;
	tlb_batch_cpus = 0;
}

void mm_tlb_batch_end(void)
{
	tlb_batch = 0;
	if (tlb_batch_dirty)
		lcr3(rcr3());
	tlb_batch_dirty = 0;
	if (tlb_batch_cpus)
		tlb_shootdown(tlb_batch_cpus);
	tlb_batch_cpus = 0;
}

/* A new, empty user address space.  Returns 0 or -ABI_ENOMEM. */
int mm_init(struct mm *mm)
{
	uint64_t pa = pmem_try_alloc(1);
	if (!pa)
		return -ABI_ENOMEM;
	memset(mm, 0, sizeof(*mm));
	mm->pml4 = P2V(pa);
	uint64_t *boot = P2V(ABI_BOOT_PT_GPA);
	for (int i = 256; i < 512; i++)
		mm->pml4[i] = boot[i];
	mm->mmap_next = ABI_USER_MMAP_BASE;
	return 0;
}

/* The level-0 PTE for va, allocating page-table pages; NULL when RAM is out. */
static uint64_t *walk_alloc(struct mm *mm, uint64_t va)
{
	uint64_t *table = mm->pml4;
	for (int level = 3; level > 0; level--) {
		uint64_t *e = &table[PX(level, va)];
		if (!(*e & PTE_P)) {
			uint64_t pa = pmem_try_alloc(1);
			if (!pa)
				return NULL;
			/* U on intermediate levels: the leaf decides; A preset so the
			 * MMU never writes these tables. */
			*e = pa | PTE_P | PTE_W | PTE_U | PTE_A;
		}
		table = P2V(*e & PTE_ADDR);
	}
	return &table[PX(0, va)];
}

/* The level-0 PTE for va, or NULL when no page table covers it. */
uint64_t *mm_pte(struct mm *mm, uint64_t va)
{
	uint64_t *table = mm->pml4;
	for (int level = 3; level > 0; level--) {
		uint64_t e = table[PX(level, va)];
		if (!(e & PTE_P))
			return NULL;
		table = P2V(e & PTE_ADDR);
	}
	return &table[PX(0, va)];
}

/* The VMA holding va, or NULL. */
struct vma *mm_find(struct mm *mm, uint64_t va)
{
	for (int i = 0; i < mm->nvma; i++)
		if (va >= mm->vmas[i].start && va < mm->vmas[i].end)
			return &mm->vmas[i];
	return NULL;
}

/*
 * Add a VMA of len bytes (page multiple).  start 0 picks an address above
 * every mapping made so far.  Returns the start address, -ABI_ENOMEM when the
 * VMA table is full or the range is taken or not user space.
 */
int64_t mm_add_vma(struct mm *mm, uint64_t start, uint64_t len, uint32_t prot, uint32_t kind,
		   struct inode *ip, uint64_t pgoff)
{
	if (mm->nvma == MM_MAX_VMAS)
		return -ABI_ENOMEM;
	if (!start) {
		start = mm->mmap_next;
		mm->mmap_next += len + ABI_PAGE_SIZE; /* an unmapped guard page between mappings */
	}
	if (start + len < start || start + len > ABI_USER_TOP)
		return -ABI_ENOMEM;
	for (int i = 0; i < mm->nvma; i++)
		if (start < mm->vmas[i].end && mm->vmas[i].start < start + len)
			return -ABI_ENOMEM;
	struct vma *v = &mm->vmas[mm->nvma++];
	*v = (struct vma){start, start + len, prot, kind, ip, pgoff};
	if (ip)
		ip->nopen++;
	return (int64_t)start;
}

static uint64_t vma_pgoff(const struct vma *v, uint64_t va)
{
	return v->pgoff + (va - v->start) / ABI_PAGE_SIZE;
}

/* Copy the page at src into a new anonymous page; 0 when RAM is out. */
static uint64_t cow_copy(uint64_t src)
{
	uint64_t pa = pmem_try_alloc(0);
	if (!pa)
		return 0;
	memcpy(P2V(pa), P2V(src), ABI_PAGE_SIZE);
	struct page *np = page_of(pa);
	np->flags = PG_ANON;
	np->ref = 1;
	return pa;
}

/*
 * Resolve a fault (or a kernel access) at user address va: afterwards the
 * page is mapped with at least the access asked for, and *pa (if non-NULL)
 * is its frame.  Returns 0, -ABI_EFAULT (no VMA, or a store to a read-only
 * VMA), -ABI_ENOMEM or -ABI_EIO (file read failed).
 */
int mm_fault(struct mm *mm, uint64_t va, int write, uint64_t *pa)
{
	va &= ~(uint64_t)(ABI_PAGE_SIZE - 1);
	struct vma *v = mm_find(mm, va);
	if (!v || (write && !(v->prot & ABI_PROT_WRITE)))
		return -ABI_EFAULT;
	uint64_t *pte = walk_alloc(mm, va);
	if (!pte)
		return -ABI_ENOMEM;
	int err = 0;

	if (*pte & PTE_P) {
		uint64_t old = *pte & PTE_ADDR;
		struct page *pg = page_of(old);
		if (write && !(*pte & PTE_W)) {
			if (v->kind == VMA_FILE_SHARED) {
				dirty_write_fault(v->ip, pg);
				*pte |= PTE_W;
			} else if ((pg->flags & PG_ANON) && pg->ref == 1) {
				*pte |= PTE_W; /* the last user reuses the page */
			} else {
				pg->flags |= PG_PINNED;
				uint64_t np = cow_copy(old);
				pg->flags &= ~PG_PINNED;
				if (!np)
					return -ABI_ENOMEM;
				if (pg->flags & PG_CACHE)
					pc_rmap_del(pg, mm, va);
				else if (--pg->ref == 0)
					pmem_free(old);
				*pte = np | PTE_P | PTE_W | PTE_U;
				old = np;
			}
			mm_invlpg(mm, va);
		}
		if (pa)
			*pa = old;
		return 0;
	}

	uint64_t frame, flags = PTE_P | PTE_U;
	if (v->kind == VMA_ANON) {
		frame = pmem_try_alloc(1);
		if (!frame)
			return -ABI_ENOMEM;
		page_of(frame)->flags = PG_ANON;
		page_of(frame)->ref = 1;
		if (v->prot & ABI_PROT_WRITE)
			flags |= PTE_W;
	} else {
		struct page *pg = pc_get(v->ip, vma_pgoff(v, va), 1, &err);
		if (!pg)
			return err;
		frame = page_pa(pg);
		if (v->kind == VMA_FILE_SHARED) {
			if ((v->prot & ABI_PROT_WRITE) && dirty_fault_writable(v->ip, pg, write))
				flags |= PTE_W;
			pc_rmap_add(pg, mm, va);
		} else if (write) {
			pg->flags |= PG_PINNED;
			frame = cow_copy(frame);
			pg->flags &= ~PG_PINNED;
			if (!frame)
				return -ABI_ENOMEM;
			flags |= PTE_W;
		} else {
			pc_rmap_add(pg, mm, va);
		}
	}
	*pte = frame | flags;
	if (pa)
		*pa = frame;
	return 0;
}

/* Drop the PTE at va in VMA v: the policy sees the D bit of shared file
 * pages (zap_pte_range's set_page_dirty), anonymous pages lose a user. */
static void zap_pte(struct mm *mm, struct vma *v, uint64_t va)
{
	uint64_t *pte = mm_pte(mm, va);
	if (!pte || !(*pte & PTE_P))
		return;
	uint64_t e = *pte, pa = e & PTE_ADDR;
	struct page *pg = page_of(pa);
	*pte = 0;
	mm_invlpg(mm, va);
	if (pg->flags & PG_CACHE) {
		if (v->kind == VMA_FILE_SHARED)
			dirty_unmap_pte(pg, mm, va, e);
		pc_rmap_del(pg, mm, va);
	} else if (--pg->ref == 0) {
		pg->flags = 0;
		pmem_free(pa);
	}
}

/*
 * Unmap [start, start+len): zap the PTEs, split or drop the VMAs, and write
 * back dirty pages of shared file mappings in the range.  Returns 0 or
 * -ABI_ENOMEM when a split would overflow the VMA table.
 */
int mm_unmap(struct mm *mm, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;
	for (int i = 0; i < mm->nvma; i++) {
		struct vma *v = &mm->vmas[i];
		if (v->end <= start || v->start >= end)
			continue;
		if (v->start < start && v->end > end && mm->nvma == MM_MAX_VMAS)
			return -ABI_ENOMEM;
	}
	for (int i = 0; i < mm->nvma; i++) {
		struct vma *v = &mm->vmas[i];
		if (v->end <= start || v->start >= end)
			continue;
		uint64_t lo = v->start > start ? v->start : start;
		uint64_t hi = v->end < end ? v->end : end;
		for (uint64_t va = lo; va < hi; va += ABI_PAGE_SIZE)
			zap_pte(mm, v, va);
		if (v->kind == VMA_FILE_SHARED)
			pc_writeback(v->ip, vma_pgoff(v, lo), vma_pgoff(v, hi) - 1);
		struct vma tail = *v;
		if (lo > v->start && hi < v->end) { /* split: keep both sides */
			v->end = lo;
			tail.pgoff = vma_pgoff(&tail, hi);
			tail.start = hi;
			mm->vmas[mm->nvma++] = tail;
			if (tail.ip)
				tail.ip->nopen++;
		} else if (lo > v->start) {
			v->end = lo;
		} else if (hi < v->end) {
			v->pgoff = vma_pgoff(v, hi);
			v->start = hi;
		} else {
			if (v->ip)
				v->ip->nopen--;
			mm->vmas[i--] = mm->vmas[--mm->nvma];
		}
	}
	return 0;
}

static void free_table(uint64_t *table, int level)
{
	for (int i = 0; i < 512; i++)
		if ((table[i] & PTE_P) && level > 1)
			free_table(P2V(table[i] & PTE_ADDR), level - 1);
		else if (table[i] & PTE_P)
			pmem_free(table[i] & PTE_ADDR);
}

/* Tear down an address space.  mm must not be the running one. */
void mm_free(struct mm *mm)
{
	while (mm->nvma)
		mm_unmap(mm, mm->vmas[0].start, mm->vmas[0].end - mm->vmas[0].start);
	for (int i = 0; i < 256; i++)
		if (mm->pml4[i] & PTE_P) {
			free_table(P2V(mm->pml4[i] & PTE_ADDR), 2);
			pmem_free(mm->pml4[i] & PTE_ADDR);
		}
	pmem_free(V2P(mm->pml4));
	mm->pml4 = NULL;
}

/*
 * fork: copy src's VMAs into the empty dst.  Anonymous and private pages
 * become copy-on-write in both (read-only PTEs, one more reference); page-
 * cache pages of private mappings get one more rmap entry.  Shared file
 * mappings are not copied: the child faults them in from the page cache
 * (Linux's copy_page_range skips them the same way).  Returns 0 or -errno.
 */
int mm_copy(struct mm *dst, struct mm *src)
{
	for (int i = 0; i < src->nvma; i++) {
		struct vma *v = &src->vmas[i];
		if (mm_add_vma(dst, v->start, v->end - v->start, v->prot, v->kind, v->ip,
			       v->pgoff) < 0)
			return -ABI_ENOMEM;
		if (v->kind == VMA_FILE_SHARED)
			continue;
		for (uint64_t va = v->start; va < v->end; va += ABI_PAGE_SIZE) {
			uint64_t *s = mm_pte(src, va);
			if (!s || !(*s & PTE_P))
				continue;
			uint64_t *d = walk_alloc(dst, va);
			if (!d)
				return -ABI_ENOMEM;
			struct page *pg = page_of(*s & PTE_ADDR);
			/* The test-only broken fork leaves both PTEs of mmap()ed
			 * anonymous pages writable on one page: parent and child then
			 * see each other's stores there (stack and data stay COW, so
			 * the processes themselves still work). */
			if (!(boot_flags & ABI_BOOT_F_TEST_NO_COW) || (pg->flags & PG_CACHE) ||
			    v->start < ABI_USER_MMAP_BASE ||
			    v->end > ABI_USER_STACK_TOP - ABI_USER_STACK_PAGES * ABI_PAGE_SIZE)
				*s &= ~PTE_W;
			*d = (*s & (PTE_ADDR | PTE_P | PTE_U | PTE_W));
			if (pg->flags & PG_CACHE)
				pc_rmap_add(pg, dst, va);
			else
				pg->ref++;
		}
	}
	dst->mmap_next = src->mmap_next;
	if ((rcr3() & PTE_ADDR) == V2P(src->pml4))
		lcr3(rcr3()); /* the parent's PTEs lost W */
	return 0;
}

/* Walk [uva, uva+len) page by page, resolving each page for the access. */
static int user_range(struct mm *mm, uint64_t uva, uint64_t len, int write, void *buf, int in)
{
	if (uva + len < uva || uva + len > ABI_USER_TOP)
		return -ABI_EFAULT;
	char *b = buf;
	while (len) {
		uint64_t pa, off = uva % ABI_PAGE_SIZE;
		uint64_t n = ABI_PAGE_SIZE - off < len ? ABI_PAGE_SIZE - off : len;
		int err = mm_fault(mm, uva, write, &pa);
		if (err)
			return err == -ABI_ENOMEM ? err : -ABI_EFAULT;
		if (in) {
			memcpy(b, (char *)P2V(pa) + off, n);
		} else {
			memcpy((char *)P2V(pa) + off, b, n);
			struct page *pg = page_of(pa);
			if (pg->flags & PG_CACHE)
				pc_set_dirty(pg);
		}
		b += n;
		uva += n;
		len -= n;
	}
	return 0;
}

/* Copy len bytes from user address uva.  0 or -ABI_EFAULT. */
int copy_in(struct mm *mm, void *dst, uint64_t uva, uint64_t len)
{
	return user_range(mm, uva, len, 0, dst, 1);
}

/* Copy len bytes to user address uva.  0 or -ABI_EFAULT. */
int copy_out(struct mm *mm, uint64_t uva, const void *src, uint64_t len)
{
	return user_range(mm, uva, len, 1, (void *)src, 0);
}

/* Copy a NUL-terminated string of at most max-1 bytes.  Returns its length,
 * -ABI_EFAULT or -ABI_ENAMETOOLONG. */
int copy_in_str(struct mm *mm, char *dst, uint64_t uva, uint64_t max)
{
	for (uint64_t i = 0; i < max; i++) {
		int err = copy_in(mm, &dst[i], uva + i, 1);
		if (err)
			return err;
		if (!dst[i])
			return (int)i;
	}
	return -ABI_ENAMETOOLONG;
}
