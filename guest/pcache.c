/*
 * The page cache.  Each file has a flat index, one 64-bit entry per page of
 * its extent: 0, or the GPA of the cached page OR'ed with ABI_PCE_* flags.
 * write(2), read(2) and every mapping of the file share these pages, so there
 * is no double caching and no coherence problem between the paths.
 *
 * The index arrays are also what the host reads (include/abi/pcache.h): the
 * guest publishes their addresses once, in the descriptor, and the flags in
 * the entries are the kernel's own dirty state, not a copy made for show.
 *
 * Writeback goes through the policy (dirty.c) for every page, so each policy
 * decides which pages a writeback writes.  It happens on msync, fsync,
 * munmap of a shared mapping, from the flusher (every flush_every system
 * calls, or when dirty pages pass a threshold), and when memory is short:
 * eviction writes a dirty victim back before freeing it.
 */
#include "../include/abi/syscall.h"
#include "defs.h"
#include "fs.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

uint32_t pc_policy;
uint32_t pc_boot_flags;
uint64_t pc_faults, pc_write_faults;
static struct abi_pc_desc *desc;
static struct inode *files[ABI_FS_MAX_INODES];
static uint64_t nr_cached, cache_limit, nr_dirty_hint;
static uint32_t flush_every, syscalls_since_flush;
static uint32_t clock_ino;
static uint64_t clock_index;

/* Writeback log of the open epoch (pages listed once: PG_WBEPOCH). */
static struct abi_pc_view_ent *view, *wb_log;
static uint64_t view_cap, wb_listed, wb_total;
static struct abi_pc_proc *proc_snap; /* desc->procs_gpa */
static struct abi_pc_hostwb *hostwb;  /* desc->hostwb_gpa: written by the host */
static uint64_t host_cleaned;

/* Set up the page cache for the file world: policy, limits, descriptor. */
void pc_init(const struct abi_boot_params *bp)
{
	pc_policy = bp->policy;
	pc_boot_flags = bp->flags;
	if (pc_policy < ABI_POLICY_WP || pc_policy > ABI_POLICY_LAST)
		panic("unknown dirty-tracking policy %u", pc_policy);
	flush_every = bp->flush_every;
	uint64_t avail = pmem_free_pages();
	cache_limit = avail / 2;
	if (bp->cache_pages && bp->cache_pages < cache_limit)
		cache_limit = bp->cache_pages;
	if (cache_limit < 4)
		panic("page cache of %lu pages is too small", cache_limit);
	/* Dirty pages are at most the cached pages; pages written back in an
	 * epoch are listed once each.  Beyond the cap the totals still count. */
	view_cap = cache_limit < 32768 ? cache_limit : 32768;
	uint64_t bytes = view_cap * sizeof(struct abi_pc_view_ent);
	uint64_t npg = (bytes + ABI_PAGE_SIZE - 1) / ABI_PAGE_SIZE;
	view = P2V(pmem_alloc_kernel_contig(2 * npg));
	wb_log = P2V(pmem_alloc_kernel_contig(npg));
	desc = P2V(pmem_alloc_kernel());
	desc->magic = ABI_PC_MAGIC;
	desc->version = ABI_PC_VERSION;
	desc->policy = pc_policy;
	desc->view_gpa = V2P(view);
	desc->view_cap = (uint32_t)(2 * view_cap);
	uint64_t snap_pages =
	    (ABI_MAX_PROCS * sizeof(struct abi_pc_proc) + ABI_PAGE_SIZE - 1) / ABI_PAGE_SIZE;
	proc_snap = P2V(pmem_alloc_kernel_contig(snap_pages));
	desc->procs_gpa = V2P(proc_snap);
	desc->procs_cap = ABI_MAX_PROCS;
	/* The host lists at most the pages the cache can hold. */
	uint64_t hw_pages =
	    (sizeof(*hostwb) + cache_limit * sizeof(struct abi_pc_view_ent) + ABI_PAGE_SIZE - 1) /
	    ABI_PAGE_SIZE;
	hostwb = P2V(pmem_alloc_kernel_contig(hw_pages));
	desc->hostwb_gpa = V2P(hostwb);
	desc->hostwb_cap = (uint32_t)cache_limit;
}

/*
 * Rewrite the descriptor's version-2 tail: every live address space (root
 * and VMAs), the free list's head, the fault counters.  The host uses them to
 * say what each dirty frame is; it validates them, so they need to be true
 * only for the answer to be useful, not for the host to be safe.
 */
static void publish_memory(void)
{
	uint32_t n = 0;
	for (int p = 0; p < ABI_MAX_PROCS; p++) {
		struct proc *pr = &procs[p];
		if (pr->state == P_UNUSED || pr->state == P_ZOMBIE || !pr->mm.pml4)
			continue;
		struct abi_pc_proc *s = &proc_snap[n++];
		s->pid = (uint32_t)pr->pid;
		s->nvma = (uint32_t)pr->mm.nvma;
		s->cr3 = V2P(pr->mm.pml4);
		for (int i = 0; i < pr->mm.nvma; i++) {
			const struct vma *v = &pr->mm.vmas[i];
			s->vmas[i] = (struct abi_pc_vma){v->start, v->end, v->kind,
							 v->ip ? v->ip->ino : 0, v->pgoff};
		}
	}
	desc->nr_procs = n;
	pmem_free_list(&desc->free_head, &desc->nr_free);
	desc->faults = pc_faults;
	desc->write_faults = pc_write_faults;
	desc->host_cleaned = host_cleaned;
	desc->tlb_shootdowns = tlb_shootdowns;
	desc->tlb_ipis = tlb_ipis;
}

/* GPA of the page-cache descriptor, for the READY hypercall. */
uint64_t pc_desc_gpa(void)
{
	return V2P(desc);
}

/* Give an inode its index on first open, and publish it. */
void pc_file_open(struct inode *ip)
{
	if (ip->index)
		return;
	uint64_t npg = (ip->npages * 8 + ABI_PAGE_SIZE - 1) / ABI_PAGE_SIZE;
	ip->index = P2V(pmem_alloc_kernel_contig(npg ? npg : 1));
	files[ip->ino] = ip;
	struct abi_pc_file *f = &desc->files[desc->nr_files];
	f->ino = ip->ino;
	f->npages = (uint32_t)ip->npages;
	/* Written last: the host treats index_gpa 0 as "not published yet". */
	__atomic_store_n(&f->index_gpa, V2P(ip->index), __ATOMIC_RELEASE);
	desc->nr_files++;
}

/* The index entry of a page-cache page. */
uint64_t *pc_entry(struct page *pg)
{
	return &files[pg->ino]->index[pg->index];
}

/* The inode a page-cache page belongs to. */
struct inode *pc_inode(struct page *pg)
{
	return files[pg->ino];
}

/* Set the page's dirty flag (set_page_dirty). */
void pc_set_dirty(struct page *pg)
{
	uint64_t *e = pc_entry(pg);
	if (!(*e & ABI_PCE_DIRTY))
		nr_dirty_hint++;
	*e |= ABI_PCE_DIRTY;
}

/* Record a reverse-map entry: pg is mapped at va in mm. */
void pc_rmap_add(struct page *pg, struct mm *mm, uint64_t va)
{
	struct rmap *r = kalloc(sizeof(*r));
	r->mm = mm;
	r->va = va;
	r->stale = 0;
	r->next = pg->rmap;
	pg->rmap = r;
}

/* Remove the reverse-map entry for (mm, va). */
void pc_rmap_del(struct page *pg, struct mm *mm, uint64_t va)
{
	for (struct rmap **p = &pg->rmap; *p; p = &(*p)->next)
		if ((*p)->mm == mm && (*p)->va == va) {
			struct rmap *r = *p;
			*p = r->next;
			kfree(r, sizeof(*r));
			return;
		}
	panic("rmap entry for va %lx missing", va);
}

static int write_page(struct inode *ip, uint64_t index)
{
	uint64_t *e = &ip->index[index];
	uint64_t pa = *e & PTE_ADDR;
	*e |= ABI_PCE_WRITEBACK;
	int err = blk_rw(1, fs_sector(ip, index), pa, ABI_PAGE_SIZE);
	*e &= ~ABI_PCE_WRITEBACK;
	if (err) {
		*e |= ABI_PCE_DIRTY; /* keep it dirty: the data is still only here */
		return err;
	}
	wb_total++;
	struct page *pg = page_of(pa);
	if (!(pg->flags & PG_WBEPOCH) && wb_listed < view_cap) {
		pg->flags |= PG_WBEPOCH;
		wb_log[wb_listed++] = (struct abi_pc_view_ent){ip->ino, (uint32_t)index, pa};
	}
	return 0;
}

/* Write back the policy's dirty pages in [first, last] of ip, without the
 * scan policy's page-table scan (the callers run it once). */
static int writeback_range(struct inode *ip, uint64_t first, uint64_t last)
{
	if (!ip->index || !ip->npages)
		return 0;
	int ret = 0;
	if (last >= ip->npages)
		last = ip->npages - 1;
	for (uint64_t i = first; i <= last; i++) {
		uint64_t e = ip->index[i];
		if (!(e & ABI_PCE_PRESENT))
			continue;
		if (dirty_clear_for_io(page_of(e & PTE_ADDR)) && write_page(ip, i))
			ret = -ABI_EIO;
	}
	if (first == 0 && last + 1 >= ip->npages)
		ip->wrmap_dirty = 0;
	return ret;
}

/*
 * Write back the cached pages [first, last] of ip that the policy says are
 * dirty (genfs_putpages / write_cache_pages).  Under scan the page tables
 * are the dirty record (method 1a), so they are scanned first.  Returns 0
 * or -ABI_EIO.
 */
int pc_writeback(struct inode *ip, uint64_t first, uint64_t last)
{
	dirty_scan();
	return writeback_range(ip, first, last);
}

/* Write back every file and the metadata block, then flush the device.
 * One page-table scan serves every file. */
int pc_flush_all(void)
{
	int ret = 0;
	dirty_scan();
	for (int i = 0; i < ABI_FS_MAX_INODES; i++)
		if (files[i] && writeback_range(files[i], 0, files[i]->npages - 1))
			ret = -ABI_EIO;
	if (fs_write_meta() || blk_flush())
		ret = -ABI_EIO;
	nr_dirty_hint = 0;
	return ret;
}

/* The flusher: every flush_every system calls, or when many pages were
 * dirtied since the last run (the dirty threshold, a quarter of the cache). */
void pc_syscall_tick(void)
{
	if (!desc)
		return;
	syscalls_since_flush++;
	if ((flush_every && syscalls_since_flush >= flush_every) ||
	    nr_dirty_hint > cache_limit / 4) {
		syscalls_since_flush = 0;
		if (pc_flush_all())
			klog("flusher: write error");
	}
}

/* Evict one page-cache page: unmap it everywhere (the policy sees each D
 * bit), write it back if dirty, free it.  Returns 1 if a page was freed. */
static int evict_one(void)
{
	for (uint64_t scanned = 0; scanned < 2 * (nr_cached + 1) * ABI_FS_MAX_INODES;) {
		struct inode *ip = files[clock_ino];
		if (!ip || clock_index >= ip->npages) {
			clock_ino = (clock_ino + 1) % ABI_FS_MAX_INODES;
			clock_index = 0;
			scanned++;
			continue;
		}
		uint64_t idx = clock_index++;
		uint64_t e = ip->index[idx];
		scanned++;
		if (!(e & ABI_PCE_PRESENT))
			continue;
		struct page *pg = page_of(e & PTE_ADDR);
		if (pg->flags & PG_PINNED)
			continue;
		while (pg->rmap) {
			struct rmap *r = pg->rmap;
			uint64_t *pte = mm_pte(r->mm, r->va);
			struct vma *v = mm_find(r->mm, r->va);
			if (pte && (*pte & PTE_P)) {
				if (v && v->kind == VMA_FILE_SHARED)
					dirty_unmap_pte(pg, r->mm, r->va, *pte);
				*pte = 0;
				mm_invlpg(r->mm, r->va);
			}
			pc_rmap_del(pg, r->mm, r->va);
		}
		if (dirty_clear_for_io(pg) && write_page(ip, idx))
			return 0;
		ip->index[idx] = 0;
		*pg = (struct page){0};
		pmem_free(e & PTE_ADDR);
		nr_cached--;
		return 1;
	}
	return 0;
}

/* pmem's hook when RAM runs out. */
int pc_reclaim(void)
{
	return desc ? evict_one() : 0;
}

/*
 * The cached page `index` of ip, reading it from disk when `read` is set and
 * it is not cached (a page about to be overwritten whole needs no read).
 * Returns NULL with *err = -ABI_ENOMEM or -ABI_EIO.
 */
struct page *pc_get(struct inode *ip, uint64_t index, int read, int *err)
{
	uint64_t e = ip->index[index];
	if (e & ABI_PCE_PRESENT)
		return page_of(e & PTE_ADDR);
	if (nr_cached >= cache_limit)
		evict_one();
	uint64_t pa = pmem_try_alloc(0);
	if (!pa) {
		*err = -ABI_ENOMEM;
		return NULL;
	}
	if (read && blk_rw(0, fs_sector(ip, index), pa, ABI_PAGE_SIZE)) {
		pmem_free(pa);
		*err = -ABI_EIO;
		return NULL;
	}
	struct page *pg = page_of(pa);
	*pg = (struct page){.flags = PG_CACHE, .ino = ip->ino, .index = (uint32_t)index};
	ip->index[index] = pa | ABI_PCE_PRESENT | ABI_PCE_UPTODATE;
	nr_cached++;
	return pg;
}

/*
 * End of an epoch: fill the view buffer with the pages the kernel considers
 * dirty, then the pages written back since the last epoch, and set the
 * hypercall's count arguments (include/abi/pcache.h).
 */
void pc_publish_epoch(uint64_t *args)
{
	uint64_t nd = 0, td = 0;
	for (int f = 0; f < ABI_FS_MAX_INODES; f++) {
		struct inode *ip = files[f];
		if (!ip)
			continue;
		for (uint64_t i = 0; i < ip->npages; i++) {
			uint64_t e = ip->index[i];
			if (!(e & ABI_PCE_PRESENT) || !dirty_considered(page_of(e & PTE_ADDR)))
				continue;
			td++;
			if (nd < view_cap)
				view[nd++] =
				    (struct abi_pc_view_ent){ip->ino, (uint32_t)i, e & PTE_ADDR};
		}
	}
	uint64_t nw = 0;
	for (uint64_t k = 0; k < wb_listed; k++) {
		/* The frame may have been evicted (and reused) since its writeback:
		 * the entry still says what was written, but the flag is only
		 * the page's while it is that same cache page. */
		struct page *pg = page_of(wb_log[k].gpa);
		if ((pg->flags & PG_CACHE) && pg->ino == wb_log[k].ino &&
		    pg->index == wb_log[k].index)
			pg->flags &= ~PG_WBEPOCH;
		view[nd + nw++] = wb_log[k];
	}
	args[ABI_SYNC_VIEW_DIRTY] = nd;
	args[ABI_SYNC_VIEW_WB] = nw;
	args[ABI_SYNC_DIRTY_ALL] = td;
	args[ABI_SYNC_WB_ALL] = wb_total;
	publish_memory();
	wb_listed = 0;
	wb_total = 0;
}

/*
 * Return from the SYNC of `epoch`: if the host wrote pages of this epoch's
 * snapshot to the disk (include/abi/pcache.h, version 3), clean them.  No
 * user instruction has run since the snapshot, so a listed page that is
 * still the same cache page holds exactly the bytes the host wrote; cleaning
 * it under the policy (dirty_host_written) re-arms the policy's own tracking,
 * so a later store makes it dirty again and the next writeback writes it.
 * The host is trusted no more than it must be: an entry that does not name
 * a cached, up-to-date page of an open file is skipped, which leaves that
 * page dirty (the guest writes it itself: never wrong, only slower).
 */
void pc_host_written(uint64_t epoch)
{
	if (!desc || hostwb->epoch != epoch)
		return;
	uint64_t n = hostwb->listed;
	if (n > desc->hostwb_cap)
		n = desc->hostwb_cap;
	mm_tlb_batch_begin();
	for (uint64_t k = 0; k < n; k++) {
		struct abi_pc_view_ent ent = hostwb->ents[k];
		if (ent.ino >= ABI_FS_MAX_INODES || !files[ent.ino] ||
		    ent.index >= files[ent.ino]->npages)
			continue;
		uint64_t e = files[ent.ino]->index[ent.index];
		if ((e & (ABI_PCE_PRESENT | ABI_PCE_UPTODATE)) !=
			(ABI_PCE_PRESENT | ABI_PCE_UPTODATE) ||
		    (e & PTE_ADDR) != ent.gpa)
			continue;
		if (dirty_host_written(page_of(ent.gpa)))
			host_cleaned++;
	}
	mm_tlb_batch_end();
	hostwb->epoch = 0; /* consumed: a stale message is never applied twice */
}
