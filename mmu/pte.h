/*
 * Entry decoding shared by mmu_translate and mmu_walk (internal to mmu/).
 * Both must apply exactly the same rules, or a leaf the walk reports could
 * fail to translate and the other way round.
 */
#ifndef MMU_PTE_H
#define MMU_PTE_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/mmu.h"

#define PTE_TABLE_SIZE 4096ULL
#define PTE_ENTRIES    512
#define PTE_VA_BITS    48
#define PTE_LIN_MASK   ((1ULL << PTE_VA_BITS) - 1)

/* Whether the caller's struct mmu can be used at all. */
static inline bool pte_mmu_ok(const struct mmu *m)
{
	return m && m->gpa_to_host && m->maxphyaddr <= 52 &&
	       (m->maxphyaddr == 0 || m->maxphyaddr >= 32);
}

/* Address bits 51:MAXPHYADDR: the CPU faults with PFERR_RSVD when any is set,
 * so a walker that used them would invent a translation the guest never has. */
static inline uint64_t pte_rsvd_addr_mask(const struct mmu *m)
{
	unsigned int bits = m->maxphyaddr ? m->maxphyaddr : 52;
	return MMU_PTE_ADDR & ~((1ULL << bits) - 1);
}

/* Bytes of VA one entry at `level` maps (level 1: 4 KiB ... level 4: 512 GiB). */
static inline uint64_t pte_span(int level)
{
	return 1ULL << (12 + 9 * (level - 1));
}

static inline unsigned int pte_index(int level, uint64_t va)
{
	return (unsigned int)(va >> (12 + 9 * (level - 1))) & (PTE_ENTRIES - 1);
}

/* A present entry is a leaf at level 1 always (bit 7 there is PAT), and at
 * levels 2 and 3 when PS is set. */
static inline bool pte_is_leaf(int level, uint64_t e)
{
	return level == 1 || ((level == 2 || level == 3) && (e & MMU_PTE_PS));
}

/* The frame a leaf maps, or the table a non-leaf names. */
static inline uint64_t pte_addr(int level, uint64_t e)
{
	if (level > 1 && pte_is_leaf(level, e))
		return e & MMU_PTE_ADDR & ~(pte_span(level) - 1);
	return e & MMU_PTE_ADDR;
}

/*
 * The reserved-bit rules the CPU checks on a present entry, in the order the
 * reasons are most useful to a reader.  Large leaves keep bit 12 for PAT, so
 * their reserved low address bits start at 13.
 */
static inline enum mmu_reason pte_check(const struct mmu *m, int level, uint64_t e)
{
	if ((e & MMU_PTE_XD) && !m->nxe)
		return MMU_R_RSVD_XD;
	if (e & pte_rsvd_addr_mask(m))
		return MMU_R_RSVD_ADDR;
	if (level == 4 && (e & MMU_PTE_PS))
		return MMU_R_RSVD_PS;
	if (level > 1 && pte_is_leaf(level, e) && (e & (pte_span(level) - 1) & ~0x1fffULL))
		return MMU_R_RSVD_LARGE;
	return MMU_R_OK;
}

/* Host pointer to the whole table page at gpa, or NULL when it is not all
 * guest RAM.  The only way this library reaches guest memory. */
static inline const uint64_t *pte_table(const struct mmu *m, uint64_t gpa)
{
	return m->gpa_to_host(m->ctx, gpa, PTE_TABLE_SIZE);
}

/*
 * Entry i of a mapped table, read once with one 8-byte load.  The guest (and
 * its CPU, setting A and D) may rewrite the entry while we look: reading it
 * once and deciding everything from that copy means present bit, address and
 * flags all come from one value the guest really stored, never a mix of two.
 * Relaxed is enough: we order against nothing else in the entry's page.
 */
static inline uint64_t pte_read(const uint64_t *table, unsigned int i)
{
	return __atomic_load_n(&table[i], __ATOMIC_RELAXED);
}

/* Canonical 48-bit VA <-> its 48-bit linear position.  Linear order is VA
 * order, which is what lets one walk cover both halves in ascending VA. */
static inline uint64_t pte_lin_to_va(uint64_t lin)
{
	return (lin & (1ULL << 47)) ? (lin | ~PTE_LIN_MASK) : lin;
}

static inline bool pte_canonical(uint64_t va)
{
	return pte_lin_to_va(va & PTE_LIN_MASK) == va;
}

#endif
