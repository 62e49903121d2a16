/*
 * One translation, the way the CPU's page walker does it, and the reason
 * names.  The walk over a range is walk.c; both decode entries with pte.h.
 */
#include <errno.h>
#include <string.h>

#include "mmu/mmu.h"
#include "mmu/pte.h"

static const char *const reason_names[MMU_R_NR] = {
    [MMU_R_OK] = "ok",
    [MMU_R_NOT_PRESENT] = "not-present",
    [MMU_R_NONCANONICAL] = "non-canonical",
    [MMU_R_OUTSIDE_RAM] = "outside-ram",
    [MMU_R_RSVD_ADDR] = "reserved-address-bits",
    [MMU_R_RSVD_PS] = "reserved-ps-in-pml4",
    [MMU_R_RSVD_LARGE] = "reserved-large-page-bits",
    [MMU_R_RSVD_XD] = "reserved-xd-without-nxe",
    [MMU_R_LOOP] = "loop",
    [MMU_R_TABLE_LIMIT] = "table-limit",
};

const char *mmu_reason_name(enum mmu_reason r)
{
	if ((unsigned int)r >= MMU_R_NR || !reason_names[r])
		return "unknown";
	return reason_names[r];
}

/* Record where a translation stopped and why. */
static int xlate_stop(struct mmu_xlate *out, int err, enum mmu_reason r, int level, uint64_t e,
		      uint64_t e_gpa)
{
	out->reason = r;
	out->level = level;
	out->pte = e;
	out->pte_gpa = e_gpa;
	return err;
}

int mmu_translate(const struct mmu *m, uint64_t cr3, uint64_t gva, struct mmu_xlate *out)
{
	if (!pte_mmu_ok(m) || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!pte_canonical(gva))
		return xlate_stop(out, -EFAULT, MMU_R_NONCANONICAL, 0, 0, 0);

	/* CR3 is the level-5 "entry": an unusable PML4 is its fault. */
	uint64_t table = cr3 & MMU_PTE_ADDR;
	if (table & pte_rsvd_addr_mask(m))
		return xlate_stop(out, -EIO, MMU_R_RSVD_ADDR, MMU_LEVEL_CR3, cr3, 0);

	uint64_t parent = cr3, parent_gpa = 0;
	int parent_level = MMU_LEVEL_CR3;
	/*
	 * W and U are permissions, and the CPU grants an access only if every
	 * level on the way grants it, so the effective value is the AND.  XD
	 * likewise forbids from any level: an OR.
	 */
	bool w = true, u = true, nx = false;

	for (int level = 4; level >= 1; level--) {
		const uint64_t *t = pte_table(m, table);
		if (!t)
			return xlate_stop(out, -EIO, MMU_R_OUTSIDE_RAM, parent_level, parent,
					  parent_gpa);
		unsigned int i = pte_index(level, gva);
		uint64_t e = pte_read(t, i);
		uint64_t e_gpa = table + 8ULL * i;

		/* Not present: the CPU ignores every other bit, so do we. */
		if (!(e & MMU_PTE_P))
			return xlate_stop(out, -EFAULT, MMU_R_NOT_PRESENT, level, e, e_gpa);
		enum mmu_reason r = pte_check(m, level, e);
		if (r != MMU_R_OK)
			return xlate_stop(out, -EIO, r, level, e, e_gpa);

		w = w && (e & MMU_PTE_W);
		u = u && (e & MMU_PTE_U);
		nx = nx || (m->nxe && (e & MMU_PTE_XD));
		if (pte_is_leaf(level, e)) {
			uint64_t size = pte_span(level);
			out->gpa = pte_addr(level, e) | (gva & (size - 1));
			out->page_size = size;
			out->writable = w;
			out->user = u;
			out->nx = nx;
			/*
			 * A and D come from the leaf alone.  The CPU sets A in
			 * every entry it walks through, so an upper-level A
			 * only says "some page below was touched"; D exists
			 * only in leaves.  Only the leaf speaks for this page.
			 */
			out->accessed = e & MMU_PTE_A;
			out->dirty = e & MMU_PTE_D;
			return xlate_stop(out, 0, MMU_R_OK, level, e, e_gpa);
		}
		parent = e;
		parent_gpa = e_gpa;
		parent_level = level;
		table = pte_addr(level, e);
	}
	/* Level 1 entries are always leaves: not reached. */
	return -EIO;
}
