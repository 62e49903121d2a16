/*
 * The page-cache mirror (logger/guestview/mirror.h).  One build, in three passes over
 * what the guest published, each bounded by guest RAM:
 *
 *   1. tables: walk the boot page tables and every published process's user
 *      half, marking each table page the walk reads.  These are the frames
 *      the CPU itself walks, so nothing later can make them something else.
 *   2. the page-cache index of every published file: each present entry
 *      names a file frame.
 *   3. leaves: walk the processes again; a user mapping of a frame not yet
 *      classified makes it anonymous or a private copy, by the published
 *      VMA around it, and every mapping records its W and D bits (the
 *      host's read-only view of the guest's PTE dirty bits).
 *   4. the free list, link by link.
 *
 * Whatever is left is kernel data.  Nothing here writes guest memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "abi/layout.h"
#include "logger/guestview/mirror.h"

#define USER_VA_END	 (1ULL << 47) /* the user half of the address space */
#define MIRROR_MAX_PROCS 4096	      /* processes read from one list, whatever it claims */

static const char *const class_names[MIRROR_CLASS_NR] = {
    "file", "page-table", "kernel", "anon", "cow", "free",
};

const char *mirror_class_name(enum mirror_class c)
{
	return (unsigned)c < MIRROR_CLASS_NR ? class_names[c] : "unknown";
}

__attribute__((format(printf, 2, 3))) static void lie(struct mirror *mi, const char *fmt, ...)
{
	mi->errors++;
	if (++mi->errors_total > MIRROR_REPORTED_MAX || !mi->report)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(mi->report, "dirtyscope: guest page-cache mirror: ");
	vfprintf(mi->report, fmt, ap);
	fprintf(mi->report, "%s\n",
		mi->errors_total == MIRROR_REPORTED_MAX ? " (further lies counted only)" : "");
	va_end(ap);
}

static const void *gpa_to_host(void *ctx, uint64_t gpa, uint64_t len)
{
	return mem_gpa_to_hva(ctx, gpa, len);
}

int mirror_init(struct mirror *mi, const struct guest_mem *m, FILE *report)
{
	memset(mi, 0, sizeof(*mi));
	mi->mem = m;
	mi->report = report;
	mi->mmu = (struct mmu){.gpa_to_host = gpa_to_host, .ctx = (void *)m, .nxe = true};
	mi->frames = calloc(m->nr_pages, sizeof(*mi->frames));
	return mi->frames ? 0 : -ENOMEM;
}

void mirror_free(struct mirror *mi)
{
	for (uint32_t i = 0; i < ABI_FS_MAX_INODES; i++)
		free(mi->files[i].entries);
	free(mi->frames);
	memset(mi, 0, sizeof(*mi));
}

int mirror_file_slot(const struct mirror *mi, uint32_t ino)
{
	for (uint32_t i = 0; i < mi->nr_files; i++)
		if (mi->files[i].ino == ino)
			return (int)i;
	return -1;
}

static struct mirror_frame *frame_at(struct mirror *mi, uint64_t gpa)
{
	int64_t idx = mem_gpa_to_index(mi->mem, gpa);
	return idx < 0 ? NULL : &mi->frames[idx];
}

/* The published processes, checked: returns how many of d->procs_gpa's
 * entries may be read (0 when the buffer itself is bad). */
static const struct abi_pc_proc *procs_of(struct mirror *mi, const struct abi_pc_desc *d,
					  uint32_t *n, bool report)
{
	*n = 0;
	if (!d->nr_procs)
		return NULL;
	uint32_t nr = d->nr_procs;
	if (nr > d->procs_cap || nr > MIRROR_MAX_PROCS) {
		if (report)
			lie(mi, "%u processes listed in a buffer of %u", d->nr_procs, d->procs_cap);
		nr = d->procs_cap < MIRROR_MAX_PROCS ? d->procs_cap : MIRROR_MAX_PROCS;
	}
	const struct abi_pc_proc *p =
	    d->procs_gpa % 8 ? NULL
			     : mem_gpa_to_hva(mi->mem, d->procs_gpa, (uint64_t)nr * sizeof(*p));
	if (!p) {
		if (report)
			lie(mi, "process list at %#" PRIx64 " is outside guest RAM", d->procs_gpa);
		return NULL;
	}
	*n = nr;
	return p;
}

/* Pass 1 and the boot tables: every table page the walk reads. */
static void on_table(void *ctx, uint64_t gpa, int level)
{
	struct mirror *mi = ctx;
	(void)level;
	struct mirror_frame *f = frame_at(mi, gpa);
	if (f)
		f->cls = MIRROR_PAGETABLE;
}

/*
 * The work budget.  Page tables can alias (a table named from many entries,
 * or from itself one level down): the walker refuses loops on a path, but a
 * few pages of aliased tables still describe billions of leaves.  So a build
 * spends at most MIRROR_WORK(RAM pages) units, one per table read, per leaf
 * seen in pass 1, and per 4 KiB frame examined in pass 3: far above what any
 * honest guest needs (16 processes each mapping all of RAM), yet bounded by
 * the RAM size the user chose.  A guest that spends it all is lying.
 */
#define MIRROR_WORK(pages) (32 * (pages) + 65536)

static bool spend(struct mirror *mi, uint64_t units)
{
	if (mi->work < units) {
		if (!mi->over_budget)
			lie(mi, "page tables describe more mappings than RAM could hold "
				"(aliased tables?): walks stopped");
		mi->over_budget = true;
		mi->work = 0;
		return false;
	}
	mi->work -= units;
	return true;
}

/* Pass 1 and the boot walk: leaves only cost. */
static int leaf_ignore(void *ctx, const struct mmu_leaf *l)
{
	(void)l;
	return spend(ctx, 1) ? 0 : 1;
}

/* Walk one address space within what is left of the budget; the tables it
 * reads are charged afterwards (the walker stops at max_tables itself). */
static int budget_walk(struct mirror *mi, uint64_t cr3, uint64_t hi, const struct mmu_walk_ops *ops,
		       struct mmu_walk_stats *st)
{
	if (mi->over_budget)
		return 1;
	mi->mmu.max_tables = mi->work ? mi->work : 1;
	int ret = mmu_walk_ex(&mi->mmu, cr3, 0, hi, ops, st);
	spend(mi, st->tables);
	if (ret == -E2BIG)
		spend(mi, mi->work + 1); /* out of table visits: the same lie */
	return mi->over_budget ? 1 : ret;
}

/* Pass 3 state: the process being walked. */
struct leaf_walk {
	struct mirror *mi;
	struct abi_pc_proc p; /* a copy: the guest cannot change it mid-walk */
	uint64_t bad_leaves;
};

static const struct abi_pc_vma *vma_at(const struct abi_pc_proc *p, uint64_t va)
{
	for (uint32_t i = 0; i < p->nvma; i++)
		if (va >= p->vmas[i].start && va < p->vmas[i].end)
			return &p->vmas[i];
	return NULL;
}

static int on_leaf(void *ctx, const struct mmu_leaf *l)
{
	struct leaf_walk *w = ctx;
	struct mirror *mi = w->mi;
	if (!spend(mi, l->size / ABI_PAGE_SIZE))
		return 1;
	for (uint64_t off = 0; off < l->size; off += ABI_PAGE_SIZE) {
		uint64_t va = l->va + off;
		struct mirror_frame *f = frame_at(mi, l->gpa + off);
		if (!f) {
			/* Reported once per process: a bad large leaf would
			 * otherwise report each of its pages. */
			if (!w->bad_leaves++)
				lie(mi,
				    "pid %u maps va %#" PRIx64 " to gpa %#" PRIx64
				    ", which is not RAM",
				    w->p.pid, va, l->gpa + off);
			continue;
		}
		if (l->dirty)
			f->flags |= MIRROR_F_PTE_DIRTY;
		if (l->writable)
			f->flags |= MIRROR_F_PTE_W;
		if (f->cls == MIRROR_PAGETABLE) {
			if (l->writable)
				lie(mi, "pid %u maps page table %#" PRIx64 " writable at %#" PRIx64,
				    w->p.pid, l->gpa + off, va);
			continue;
		}
		if (f->cls != MIRROR_KERNEL)
			continue; /* a file page, or a page shared since fork */
		const struct abi_pc_vma *v = vma_at(&w->p, va);
		if (v && v->kind == ABI_PC_VMA_PRIVATE) {
			f->cls = MIRROR_COW;
			continue;
		}
		f->cls = MIRROR_ANON;
		if (!v)
			lie(mi, "pid %u maps va %#" PRIx64 " outside its published VMAs", w->p.pid,
			    va);
		else if (v->kind != ABI_PC_VMA_ANON)
			lie(mi,
			    "pid %u maps va %#" PRIx64 " of a shared file mapping to %#" PRIx64
			    ", which no index entry names",
			    w->p.pid, va, l->gpa + off);
	}
	return 0;
}

static void walk_procs(struct mirror *mi, const struct abi_pc_desc *d, bool leaves)
{
	uint32_t n;
	/* Both passes read the same list: only the second reports it. */
	const struct abi_pc_proc *procs = procs_of(mi, d, &n, leaves);
	struct mmu_walk_ops ops = {
	    .leaf = leaves ? on_leaf : leaf_ignore,
	    .table = leaves ? NULL : on_table,
	};
	for (uint32_t i = 0; i < n; i++) {
		struct leaf_walk w = {.mi = mi};
		memcpy(&w.p, &procs[i], sizeof(w.p));
		if (w.p.nvma > ABI_PC_MAX_VMAS) {
			if (leaves)
				lie(mi, "pid %u lists %u VMAs, at most %u fit", w.p.pid, w.p.nvma,
				    ABI_PC_MAX_VMAS);
			w.p.nvma = ABI_PC_MAX_VMAS;
		}
		ops.ctx = leaves ? (void *)&w : (void *)mi;
		struct mmu_walk_stats st;
		int ret = budget_walk(mi, w.p.cr3, USER_VA_END, &ops, &st);
		if (mi->over_budget)
			return;
		/* Malformed tables are the walker's to refuse; say so once. */
		if (leaves && (ret || st.bad))
			lie(mi,
			    "pid %u: page tables at cr3 %#" PRIx64 " have %" PRIu64
			    " malformed entries",
			    w.p.pid, w.p.cr3, st.bad ? st.bad : 1);
	}
}

/* Pass 2: the page-cache index of every published file. */
static int read_files(struct mirror *mi, const struct abi_pc_desc *d)
{
	uint32_t n = d->nr_files < ABI_FS_MAX_INODES ? d->nr_files : ABI_FS_MAX_INODES;
	mi->nr_files = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct abi_pc_file *pf = &d->files[i];
		if (!pf->index_gpa || !pf->npages)
			continue; /* never opened */
		if (pf->ino >= ABI_FS_MAX_INODES || mirror_file_slot(mi, pf->ino) >= 0) {
			lie(mi, "file entry %u names inode %u twice or out of range", i, pf->ino);
			continue;
		}
		/* With the image's extents known, an index of another length is
		 * a lie; this also bounds what is copied by the image's size. */
		if (mi->extent_pages[pf->ino] && pf->npages != mi->extent_pages[pf->ino]) {
			lie(mi, "index of inode %u has %u pages, its extent %" PRIu64, pf->ino,
			    pf->npages, mi->extent_pages[pf->ino]);
			continue;
		}
		uint64_t bytes = (uint64_t)pf->npages * 8;
		const uint64_t *idx =
		    pf->index_gpa % 8 ? NULL : mem_gpa_to_hva(mi->mem, pf->index_gpa, bytes);
		if (!idx) {
			lie(mi, "index of inode %u (%u pages at %#" PRIx64 ") is outside guest RAM",
			    pf->ino, pf->npages, pf->index_gpa);
			continue;
		}
		struct mirror_file *mf = &mi->files[mi->nr_files];
		uint64_t *e = realloc(mf->entries, bytes);
		if (!e)
			return -ENOMEM;
		memcpy(e, idx, bytes);
		mf->entries = e;
		mf->ino = pf->ino;
		mf->npages = pf->npages;
		uint16_t slot = (uint16_t)mi->nr_files++;

		for (uint32_t p = 0; p < mf->npages; p++) {
			uint64_t v = e[p];
			if (!(v & ABI_PCE_PRESENT))
				continue;
			uint64_t gpa = v & ~ABI_PCE_FLAGS;
			struct mirror_frame *f = frame_at(mi, gpa);
			const char *why = NULL;
			if (v & ABI_PCE_FLAGS &
			    ~(ABI_PCE_PRESENT | ABI_PCE_UPTODATE | ABI_PCE_DIRTY |
			      ABI_PCE_WRITEBACK))
				why = "has unknown flags";
			else if (!f)
				why = "is not RAM";
			else if (f->cls == MIRROR_PAGETABLE)
				why = "is a page table";
			else if (f->cls == MIRROR_FILE)
				why = "is claimed by another file page";
			if (why) {
				lie(mi, "inode %u page %u: entry %#" PRIx64 " %s", mf->ino, p, v,
				    why);
				e[p] = 0; /* skipped: never trusted later */
				continue;
			}
			*f = (struct mirror_frame){.cls = MIRROR_FILE, .file = slot, .index = p};
		}
	}
	return 0;
}

/* Pass 4: the free list, bounded by RAM's page count. */
static void walk_free(struct mirror *mi, const struct abi_pc_desc *d)
{
	uint64_t gpa = d->free_head, n = 0;
	while (gpa) {
		struct mirror_frame *f = gpa % ABI_PAGE_SIZE ? NULL : frame_at(mi, gpa);
		const uint64_t *link = f ? mem_gpa_to_hva(mi->mem, gpa, 8) : NULL;
		if (!link) {
			lie(mi, "free list link %#" PRIx64 " is not a RAM page", gpa);
			return;
		}
		if (f->flags & MIRROR_F_FREE_SEEN) {
			lie(mi, "free list loops at %#" PRIx64, gpa);
			return;
		}
		f->flags |= MIRROR_F_FREE_SEEN;
		if (f->cls != MIRROR_KERNEL) {
			lie(mi, "free list holds %#" PRIx64 ", a %s frame in use", gpa,
			    mirror_class_name(f->cls));
			return;
		}
		f->cls = MIRROR_FREE;
		n++;
		gpa = __atomic_load_n(link, __ATOMIC_RELAXED);
	}
	if (n != d->nr_free)
		lie(mi, "free list holds %" PRIu64 " pages, %" PRIu64 " claimed", n, d->nr_free);
}

int mirror_build(struct mirror *mi, const struct abi_pc_desc *d)
{
	const struct guest_mem *m = mi->mem;
	mi->errors = 0;
	mi->work = MIRROR_WORK(m->nr_pages);
	mi->over_budget = false;
	for (uint64_t i = 0; i < m->nr_pages; i++)
		mi->frames[i] = (struct mirror_frame){.cls = MIRROR_KERNEL};

	/* The boot tables map the kernel half every process shares. */
	struct mmu_walk_ops boot = {.leaf = leaf_ignore, .table = on_table, .ctx = mi};
	struct mmu_walk_stats st;
	int bret = budget_walk(mi, ABI_BOOT_PT_GPA, 0, &boot, &st);
	if (!mi->over_budget && (bret || st.bad))
		lie(mi, "the boot page tables have %" PRIu64 " malformed entries",
		    st.bad ? st.bad : 1);
	walk_procs(mi, d, false);
	int ret = read_files(mi, d);
	if (ret)
		return ret;
	walk_procs(mi, d, true);
	walk_free(mi, d);

	memset(mi->class_frames, 0, sizeof(mi->class_frames));
	for (uint64_t i = 0; i < m->nr_pages; i++)
		mi->class_frames[mi->frames[i].cls]++;
	return 0;
}
