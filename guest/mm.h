/*
 * The file world's memory structures: per-process address spaces (struct
 * mm) made of VMAs, the per-physical-page info array (struct page), and the
 * reverse map from a page-cache page to every PTE that maps it.
 */
#ifndef GUEST_MM_H
#define GUEST_MM_H

#include <stdint.h>

#include "../include/abi/pcache.h"

struct inode;

/* vma.kind: the values the host reads in the published process snapshot. */
#define VMA_ANON	 ABI_PC_VMA_ANON    /* stack, MAP_ANONYMOUS, program image */
#define VMA_FILE_SHARED	 ABI_PC_VMA_SHARED  /* stores reach the page cache */
#define VMA_FILE_PRIVATE ABI_PC_VMA_PRIVATE /* copy on write from the page cache */

struct vma {
	uint64_t start, end; /* page aligned, [start, end) */
	uint32_t prot;	     /* ABI_PROT_READ | ABI_PROT_WRITE */
	uint32_t kind;	     /* VMA_* */
	struct inode *ip;    /* file VMAs */
	uint64_t pgoff;	     /* file page mapped at start */
};

#define MM_MAX_VMAS ABI_PC_MAX_VMAS

struct mm {
	uint64_t *pml4; /* direct-map address; kernel half shared with the boot PML4 */
	struct vma vmas[MM_MAX_VMAS];
	int nvma;
	uint64_t mmap_next; /* next address mmap hands out */
};

/* struct page.flags */
#define PG_ANON	   1 /* anonymous page; ref counts the PTEs mapping it */
#define PG_CACHE   2 /* page-cache page; ino/index name it, rmap lists its PTEs */
#define PG_WBEPOCH 4 /* written back in the current epoch (listed once in the view) */
#define PG_PINNED  8 /* in use by the kernel right now: eviction must skip it */

struct rmap {
	struct rmap *next;
	struct mm *mm;
	uint64_t va;
	/* noflush's test hook (ABI_BOOT_F_TEST_STALE_TLB): the kernel cleaned
	 * this mapping while another CPU ran it, and that CPU keeps its stale
	 * writable translation for as long as the mapping lives. */
	int stale;
};

struct page {
	uint32_t ref;
	uint32_t flags;
	uint32_t ino, index;
	struct rmap *rmap;
};

/* uvm.c */
void uvm_init(void);
struct page *page_of(uint64_t pa);
int mm_init(struct mm *mm);
void mm_free(struct mm *mm);
int mm_copy(struct mm *dst, struct mm *src);
struct vma *mm_find(struct mm *mm, uint64_t va);
int64_t mm_add_vma(struct mm *mm, uint64_t start, uint64_t len, uint32_t prot, uint32_t kind,
		   struct inode *ip, uint64_t pgoff);
int mm_unmap(struct mm *mm, uint64_t start, uint64_t len);
int mm_fault(struct mm *mm, uint64_t va, int write, uint64_t *pa);
uint64_t *mm_pte(struct mm *mm, uint64_t va);
void mm_invlpg(struct mm *mm, uint64_t va);
void mm_invlpg_local(struct mm *mm, uint64_t va);
/* tlb.c: the CPUs other than this one that run a process of mm (a mask),
 * and the shootdown that makes each of them flush its TLB, waiting until
 * every one has.  Both under the kernel lock. */
uint32_t tlb_cpus_of(const struct mm *mm);
void tlb_shootdown(uint32_t cpus);
extern uint64_t tlb_shootdowns, tlb_ipis;
void mm_tlb_batch_begin(void);
void mm_tlb_batch_end(void);
int copy_in(struct mm *mm, void *dst, uint64_t uva, uint64_t len);
int copy_out(struct mm *mm, uint64_t uva, const void *src, uint64_t len);
int copy_in_str(struct mm *mm, char *dst, uint64_t uva, uint64_t max);

/* kalloc.c */
void *kalloc(uint64_t size);
void kfree(void *p, uint64_t size);

#endif
