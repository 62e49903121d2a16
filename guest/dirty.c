/*
 * The four dirty-tracking policies: how a store into a MAP_SHARED file page
 * becomes "this page must be written back".  Each hook below is named for
 * the kernel function it mirrors (see docs/policies.md).
 *
 *   wp     Linux.  Shared file pages are mapped read-only until the first
 *          store; the write fault (do_wp_page -> wp_page_shared ->
 *          page_mkwrite) sets the page dirty and makes the PTE writable.
 *          Writeback (clear_page_dirty_for_io) calls page_mkclean, which
 *          write-protects and cleans every PTE through the reverse map, so
 *          the next store faults again.
 *   dbit   NetBSD UVM.  A write fault only marks the vnode dirty and maps the
 *          page writable; the page flag stays clean.  At writeback
 *          (genfs_putpages) pmap_clear_modify reads and clears the D bits of
 *          every PTE through the reverse map, and a set D bit is what makes
 *          the page get written.
 *   scan   Page-table scanning: no write protection at all.  A scan of
 *          every process's page tables (periodic, and before each writeback)
 *          moves D bits into page dirty flags; its cost grows with the
 *          mapped size, not with the dirty pages.
 *   lossy  The bug a kernel gets when it cleans a page without cleaning its
 *          PTEs: like wp until the first
 *          writeback, which clears the page flag but leaves the PTEs writable
 *          and dirty, so later stores never fault, never set the flag, and
 *          no later msync or fsync writes them.
 *   noflush wp, but page_mkclean flushes only this CPU's TLB: another CPU
 *          that runs a process mapping the page keeps its cached writable,
 *          dirty translation, stores through it without a fault and
 *          without setting D, and the store is never written back (the
 *          bug of a kernel that forgets the shootdown, tlb.c).  Whether the
 *          race shows depends on the CPUs' TLBs; the test hook
 *          ABI_BOOT_F_TEST_STALE_TLB makes it certain by keeping such a
 *          mapping writable for as long as it lives.
 *
 * Stores the kernel makes itself (write(2), read(2) into a mapping) set the
 * page flag directly in every policy (pc_set_dirty).
 */
#include "defs.h"
#include "fs.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

/*
 * A not-present fault in a writable shared file mapping: return whether the
 * new PTE may be writable.  wp and lossy map read-only until a store, whose
 * fault is page_mkwrite (the page becomes dirty); dbit maps a store's page
 * writable and marks only the vnode; scan always maps writable.
 */
int dirty_fault_writable(struct inode *ip, struct page *pg, int write)
{
	switch (pc_policy) {
	case ABI_POLICY_SCAN:
		return 1;
	case ABI_POLICY_DBIT:
		if (write) {
			ip->wrmap_dirty = 1;
			pc_write_faults++;
		}
		return write;
	default: /* wp, lossy, noflush */
		if (write) {
			pc_set_dirty(pg);
			pc_write_faults++;
		}
		return write;
	}
}

/* A store to a present, read-only PTE of a shared file page (do_wp_page's
 * shared case).  The caller makes the PTE writable afterwards. */
void dirty_write_fault(struct inode *ip, struct page *pg)
{
	pc_write_faults++;
	if (pc_policy == ABI_POLICY_DBIT)
		ip->wrmap_dirty = 1; /* the D bit will say which page */
	else
		pc_set_dirty(pg); /* page_mkwrite -> set_page_dirty */
}

/* The reverse-map entry of (mm, va), which must exist. */
static struct rmap *rmap_of(struct page *pg, struct mm *mm, uint64_t va)
{
	for (struct rmap *r = pg->rmap; r; r = r->next)
		if (r->mm == mm && r->va == va)
			return r;
	panic("rmap entry for va %lx missing", va);
}

/* A PTE of pg mapped by (mm, va) is being removed (munmap, exit, eviction):
 * keep its D bit as the page flag (zap_pte_range).  lossy trusts only its
 * flag and drops it; a stale mapping's D bit is the one the kernel thinks
 * it cleared (the CPU with the stale translation never set it again). */
void dirty_unmap_pte(struct page *pg, struct mm *mm, uint64_t va, uint64_t pte)
{
	/* Only the test hook makes stale mappings: walk the rmap for it alone. */
	int stale = (pc_boot_flags & ABI_BOOT_F_TEST_STALE_TLB) && rmap_of(pg, mm, va)->stale;
	if (pc_policy != ABI_POLICY_LOSSY && (pte & PTE_D) && !stale)
		pc_set_dirty(pg);
}

uint64_t dirty_stale_mappings; /* noflush's hook: mappings left stale */

/* noflush's test hook: whether the mapping (mm, va) stays writable as a
 * stale translation of another CPU running mm would. */
static int stale_on_other_cpu(struct mm *mm)
{
	return pc_policy == ABI_POLICY_NOFLUSH && (pc_boot_flags & ABI_BOOT_F_TEST_STALE_TLB) &&
	       tlb_cpus_of(mm) != 0;
}

/* Walk pg's reverse map; clear `clear` bits in every PTE and return the OR
 * of the bits in `test` found set.  A stale mapping (noflush's hook) is
 * one the kernel believes clean and read-only: it is skipped. */
static uint64_t rmap_update(struct page *pg, uint64_t test, uint64_t clear)
{
	uint64_t seen = 0;
	for (struct rmap *r = pg->rmap; r; r = r->next) {
		uint64_t *pte = mm_pte(r->mm, r->va);
		if (!pte || !(*pte & PTE_P) || r->stale)
			continue;
		seen |= *pte & test;
		if (!(*pte & clear))
			continue;
		if (stale_on_other_cpu(r->mm)) {
			r->stale = 1; /* the kernel thinks it cleaned it */
			dirty_stale_mappings++;
			continue;
		}
		*pte &= ~clear;
		/* A cached translation would keep D set (and W), so the next
		 * store would neither fault nor set D again: on every CPU,
		 * except under noflush, which forgets the others. */
		if (pc_policy == ABI_POLICY_NOFLUSH)
			mm_invlpg_local(r->mm, r->va);
		else
			mm_invlpg(r->mm, r->va);
	}
	return seen;
}

/* Linux's page_mkclean: write-protect and clean every PTE; nonzero if any
 * was dirty. */
static int page_mkclean(struct page *pg)
{
	return rmap_update(pg, PTE_D, PTE_W | PTE_D) != 0;
}

/* NetBSD's pmap_clear_modify: clear every PTE's D bit; nonzero if any was set. */
static int pmap_clear_modify(struct page *pg)
{
	return rmap_update(pg, PTE_D, PTE_D) != 0;
}

/*
 * Writeback is about to consider pg: return whether it must be written, with
 * the policy's cleaning done (clear_page_dirty_for_io for wp; the PG_CLEAN /
 * pmap_clear_modify test of genfs_putpages for dbit).
 */
int dirty_clear_for_io(struct page *pg)
{
	uint64_t *e = pc_entry(pg);
	int dirty = (*e & ABI_PCE_DIRTY) != 0;
	switch (pc_policy) {
	case ABI_POLICY_WP:
	case ABI_POLICY_NOFLUSH:
		if (!dirty)
			return 0;
		/* A dirty PTE re-dirties the page: it is being written now anyway. */
		page_mkclean(pg);
		break;
	case ABI_POLICY_DBIT:
		dirty |= pmap_clear_modify(pg);
		break;
	default: /* scan: dirty_scan ran first; lossy: the bug, no cleaning */
		break;
	}
	*e &= ~ABI_PCE_DIRTY;
	return dirty;
}

/*
 * The host wrote pg's current bytes to the disk (pc_host_written): clean it
 * as this policy's own writeback would after writing it, so the policy sees
 * the next store.  wp write-protects (page_mkclean), dbit and scan clear the
 * D bits (pmap_clear_modify); lossy clears only the flag, its bug, which
 * host writeback makes harmless because the host sees every store anyway.
 * Returns whether the policy had the page dirty: only then did the host
 * save the guest a write.
 */
int dirty_host_written(struct page *pg)
{
	uint64_t *e = pc_entry(pg);
	int dirty = (*e & ABI_PCE_DIRTY) != 0;
	switch (pc_policy) {
	case ABI_POLICY_WP:
	case ABI_POLICY_NOFLUSH:
		page_mkclean(pg);
		break;
	case ABI_POLICY_DBIT:
	case ABI_POLICY_SCAN:
		dirty |= pmap_clear_modify(pg);
		break;
	default:
		break;
	}
	*e &= ~ABI_PCE_DIRTY;
	return dirty;
}

/* Whether the kernel considers pg dirty right now, for the epoch view:
 * the page flag, and for dbit also a D bit (pmap_is_modified). */
int dirty_considered(struct page *pg)
{
	if (*pc_entry(pg) & ABI_PCE_DIRTY)
		return 1;
	return pc_policy == ABI_POLICY_DBIT && rmap_update(pg, PTE_D, 0);
}

/* scan: walk every process's shared file mappings and move each set D bit
 * into its page's dirty flag, clearing the D bit.  A no-op under the other
 * policies, so writeback paths call it unconditionally. */
void dirty_scan(void)
{
	if (pc_policy != ABI_POLICY_SCAN)
		return;
	for (int p = 0; p < ABI_MAX_PROCS; p++) {
		struct proc *pr = &procs[p];
		if (pr->state == P_UNUSED || pr->state == P_ZOMBIE || !pr->mm.pml4)
			continue;
		for (int i = 0; i < pr->mm.nvma; i++) {
			struct vma *v = &pr->mm.vmas[i];
			if (v->kind != VMA_FILE_SHARED)
				continue;
			for (uint64_t va = v->start; va < v->end; va += ABI_PAGE_SIZE) {
				uint64_t *pte = mm_pte(&pr->mm, va);
				if (!pte || (*pte & (PTE_P | PTE_D)) != (PTE_P | PTE_D))
					continue;
				*pte &= ~PTE_D;
				mm_invlpg(&pr->mm, va);
				pc_set_dirty(page_of(*pte & PTE_ADDR));
			}
		}
	}
}
