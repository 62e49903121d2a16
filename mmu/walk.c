/*
 * Enumerating every leaf mapping of a guest address space.
 *
 * The tables are guest-written and untrusted, and a depth bound alone does
 * not make enumerating them cheap.  An entry may name its own table or an
 * ancestor (a loop: the "recursive mapping" trick Windows uses on purpose,
 * or a guest bug, or a hostile guest), and the CPU happily follows it,
 * reinterpreting the table one level down: the same page then shows up as
 * data pages at many VAs.  Worse, 512 entries may all name one table, whose
 * 512 entries all name one table, ...: 512^3 table visits from four pages of
 * RAM.  So the walk
 *   - recurses at most four levels deep (level 1 entries are never followed),
 *   - refuses a table already on the path from CR3 (MMU_R_LOOP), and
 *   - stops after max_tables table visits (MMU_R_TABLE_LIMIT), which bounds
 *     the aliasing blow-up that is not a loop (tables shared across paths
 *     are legitimate, e.g. the boot tables map GiB 0 twice).
 * Every refused entry is reported and its subtree skipped; the rest of the
 * tree is still walked, because one corrupt entry should not hide the
 * address space's other mappings from whoever compares them.
 */
#include <errno.h>
#include <string.h>

#include "mmu/mmu.h"
#include "mmu/pte.h"

struct walk {
	const struct mmu *m;
	const struct mmu_walk_ops *ops;
	struct mmu_walk_stats st;
	uint64_t budget;
	uint64_t lo, hi;  /* linear range [lo, hi), see pte_lin_to_va */
	uint64_t path[6]; /* path[level]: GPA of the table read at that level */
};

/* Count and report one refused entry. */
static void walk_bad(struct walk *w, enum mmu_reason r, int level, uint64_t lin, uint64_t e_gpa,
		     uint64_t e)
{
	w->st.bad++;
	if (w->ops->bad) {
		struct mmu_fault f = {
		    .reason = r,
		    .level = level,
		    .va = pte_lin_to_va(lin),
		    .entry_gpa = e_gpa,
		    .entry = e,
		};
		w->ops->bad(w->ops->ctx, &f);
	}
}

static bool walk_on_path(const struct walk *w, int level, uint64_t table)
{
	for (int l = level; l <= 4; l++)
		if (w->path[l] == table)
			return true;
	return false;
}

/*
 * Walk the entries of the table at `table` (level `level`, already mapped at
 * t) that overlap the range.  base is the linear VA of entry 0; ew/eu/enx the
 * effective W/U/XD of the levels above.  Returns 0 or a value that ends the
 * whole walk.  Recursion depth is level - 1 <= 3.
 */
static int walk_table(struct walk *w, int level, uint64_t table, const uint64_t *t, uint64_t base,
		      bool ew, bool eu, bool enx)
{
	const struct mmu *m = w->m;
	uint64_t span = pte_span(level);
	/* Only entries that overlap [lo, hi): the caller made sure some do. */
	unsigned int first = w->lo > base ? (unsigned int)((w->lo - base) / span) : 0;
	uint64_t last = (w->hi - 1 - base) / span;
	if (last > PTE_ENTRIES - 1)
		last = PTE_ENTRIES - 1;

	for (unsigned int i = first; i <= last; i++) {
		uint64_t e = pte_read(t, i);
		uint64_t e_gpa = table + 8ULL * i;
		uint64_t lin = base + i * span;

		/* A not-present entry costs one read, whatever it covers. */
		if (!(e & MMU_PTE_P))
			continue;
		enum mmu_reason r = pte_check(m, level, e);
		if (r != MMU_R_OK) {
			walk_bad(w, r, level, lin, e_gpa, e);
			continue;
		}
		/* Effective permissions: see mmu_translate. */
		bool lw = ew && (e & MMU_PTE_W);
		bool lu = eu && (e & MMU_PTE_U);
		bool lnx = enx || (m->nxe && (e & MMU_PTE_XD));

		if (pte_is_leaf(level, e)) {
			struct mmu_leaf leaf = {
			    .va = pte_lin_to_va(lin),
			    .gpa = pte_addr(level, e),
			    .size = span,
			    .level = level,
			    .pte = e,
			    .pte_gpa = e_gpa,
			    .writable = lw,
			    .user = lu,
			    .nx = lnx,
			    /* The leaf's own A and D: see mmu_translate. */
			    .accessed = e & MMU_PTE_A,
			    .dirty = e & MMU_PTE_D,
			};
			w->st.leaves++;
			int ret = w->ops->leaf(w->ops->ctx, &leaf);
			if (ret)
				return ret;
			continue;
		}

		uint64_t child = pte_addr(level, e);
		if (walk_on_path(w, level, child)) {
			walk_bad(w, MMU_R_LOOP, level, lin, e_gpa, e);
			continue;
		}
		/* Out of budget: every later table would be refused too, so
		 * say it once and stop rather than report each one. */
		if (w->st.tables >= w->budget) {
			walk_bad(w, MMU_R_TABLE_LIMIT, level, lin, e_gpa, e);
			return -E2BIG;
		}
		const uint64_t *ct = pte_table(m, child);
		if (!ct) {
			walk_bad(w, MMU_R_OUTSIDE_RAM, level, lin, e_gpa, e);
			continue;
		}
		w->st.tables++;
		if (w->ops->table)
			w->ops->table(w->ops->ctx, child, level - 1);
		w->path[level - 1] = child;
		int ret = walk_table(w, level - 1, child, ct, lin, lw, lu, lnx);
		if (ret)
			return ret;
	}
	return 0;
}

/* Linear position of the first canonical VA at or above va; for an
 * exclusive end, of the first canonical VA not below it. */
static uint64_t walk_lin_ceil(uint64_t va)
{
	if (va < (1ULL << 47))
		return va;
	if (va < ~PTE_LIN_MASK + (1ULL << 47)) /* the non-canonical gap */
		return 1ULL << 47;
	return va & PTE_LIN_MASK;
}

int mmu_walk_ex(const struct mmu *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
		const struct mmu_walk_ops *ops, struct mmu_walk_stats *stats)
{
	struct walk w = {.m = m, .ops = ops};
	int ret = 0;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (!pte_mmu_ok(m) || !ops || !ops->leaf || (va_hi && va_lo > va_hi))
		return -EINVAL;
	w.budget = m->max_tables ? m->max_tables : MMU_MAX_TABLES_DEFAULT;
	w.lo = walk_lin_ceil(va_lo);
	w.hi = va_hi ? walk_lin_ceil(va_hi) : 1ULL << PTE_VA_BITS;
	if (w.lo >= w.hi)
		goto out; /* empty, or wholly inside the non-canonical gap */

	uint64_t pml4 = cr3 & MMU_PTE_ADDR;
	if (pml4 & pte_rsvd_addr_mask(m)) {
		walk_bad(&w, MMU_R_RSVD_ADDR, MMU_LEVEL_CR3, 0, 0, cr3);
		ret = -EIO;
		goto out;
	}
	const uint64_t *t = pte_table(m, pml4);
	if (!t) {
		walk_bad(&w, MMU_R_OUTSIDE_RAM, MMU_LEVEL_CR3, 0, 0, cr3);
		ret = -EIO;
		goto out;
	}
	/* Levels below the current one hold no table yet: no GPA is ~0. */
	for (int l = 0; l < 6; l++)
		w.path[l] = ~0ULL;
	w.path[4] = pml4;
	w.st.tables = 1;
	if (ops->table)
		ops->table(ops->ctx, pml4, 4);
	ret = walk_table(&w, 4, pml4, t, 0, true, true, false);
out:
	if (stats)
		*stats = w.st;
	return ret;
}

int mmu_walk(const struct mmu *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
	     int (*fn)(void *ctx, const struct mmu_leaf *leaf), void *ctx)
{
	struct mmu_walk_ops ops = {.leaf = fn, .ctx = ctx};
	return mmu_walk_ex(m, cr3, va_lo, va_hi, &ops, NULL);
}
