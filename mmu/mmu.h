/*
 * Host-side x86-64 guest page-table walker: GVA -> GPA, and the W/U/A/D bits
 * the guest's MMU sees, read from outside the guest.
 *
 * A pure library: it reads guest memory only through the caller's
 * gpa_to_host callback, never writes it, keeps no state between calls and
 * knows nothing of KVM.  That is what lets the tests run it on a malloc'd
 * fake guest RAM, and lets the VMM run it on a live guest.
 *
 * The tables are written by the guest, so they are untrusted input: every
 * entry may be garbage, point outside RAM, point back up the tree, or change
 * while we read it.  Nothing here trusts them further than the CPU would, and
 * the walk is bounded however they are built.
 *
 * Levels use the SDM's numbering: 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT.  Level
 * MMU_LEVEL_CR3 (5) names CR3 itself when the PML4 it names is unusable.
 * Only 4-level paging (48-bit VAs) with 1 GiB pages available is modelled.
 */
#ifndef MMU_MMU_H
#define MMU_MMU_H

#include <stdbool.h>
#include <stdint.h>

#define MMU_PTE_P    0x001ULL /* present */
#define MMU_PTE_W    0x002ULL /* writable */
#define MMU_PTE_U    0x004ULL /* user */
#define MMU_PTE_A    0x020ULL /* accessed */
#define MMU_PTE_D    0x040ULL /* dirty (leaves only) */
#define MMU_PTE_PS   0x080ULL /* 2 MiB / 1 GiB leaf (PD / PDPT only) */
#define MMU_PTE_XD   (1ULL << 63)
#define MMU_PTE_ADDR 0x000ffffffffff000ULL

#define MMU_LEVEL_CR3 5

#define MMU_PAGE_4K (1ULL << 12)
#define MMU_PAGE_2M (1ULL << 21)
#define MMU_PAGE_1G (1ULL << 30)

/* Table visits mmu_walk allows when struct mmu leaves max_tables at 0: 4 GiB
 * of page tables, several times what a 256 GiB guest (ABI_RAM_MAX) mapped
 * entirely with 4 KiB pages needs. */
#define MMU_MAX_TABLES_DEFAULT (1ULL << 20)

/* Why a translation stopped or a walk skipped an entry.  Names (kebab-case,
 * for JSON) from mmu_reason_name(). */
enum mmu_reason {
	MMU_R_OK,
	MMU_R_NOT_PRESENT,  /* P clear: a fault, not a malformed table */
	MMU_R_NONCANONICAL, /* bits 63:47 of the VA differ */
	MMU_R_OUTSIDE_RAM,  /* the table this entry (or CR3) names is not guest RAM */
	MMU_R_RSVD_ADDR,    /* address bits 51:MAXPHYADDR set */
	MMU_R_RSVD_PS,	    /* PS set in a PML4 entry */
	MMU_R_RSVD_LARGE,   /* 2 MiB / 1 GiB leaf with address bits 20:13 / 29:13 set */
	MMU_R_RSVD_XD,	    /* bit 63 set while EFER.NXE is clear */
	MMU_R_LOOP,	    /* walk: the table is already on the path from CR3 */
	MMU_R_TABLE_LIMIT,  /* walk: max_tables table visits used up */
	MMU_R_NR
};

/*
 * What the walker needs to know about the guest.  gpa_to_host returns a host
 * pointer to [gpa, gpa + len) when all of it is guest RAM, else NULL; it is
 * only ever called for one whole, 4 KiB aligned table page (len 4096), and
 * the walker reads that page one 8-byte entry at a time.  vmm/mem.c's
 * mem_gpa_to_hva fits behind a one-line wrapper.
 */
struct mmu {
	const void *(*gpa_to_host)(void *ctx, uint64_t gpa, uint64_t len);
	void *ctx;
	unsigned int maxphyaddr; /* CPUID 0x80000008 EAX[7:0], 32..52; 0 means 52 */
	bool nxe;		 /* EFER.NXE: when clear, bit 63 is reserved */
	uint64_t max_tables;	 /* mmu_walk_ex bound; 0 means MMU_MAX_TABLES_DEFAULT */
};

/* One translation (mmu_translate). */
struct mmu_xlate {
	uint64_t gpa;	    /* translated address, page offset included */
	uint64_t page_size; /* MMU_PAGE_4K, _2M or _1G */
	int level;	    /* leaf level; on error where it stopped (0: non-canonical) */
	enum mmu_reason reason;
	uint64_t pte;	  /* the leaf entry; on error the offending entry (CR3 at level 5) */
	uint64_t pte_gpa; /* where that entry lives (0 for CR3) */
	bool writable;	  /* W at every level */
	bool user;	  /* U at every level */
	bool nx;	  /* XD at any level (only with nxe) */
	bool accessed;	  /* the leaf's A */
	bool dirty;	  /* the leaf's D */
};

/* One present leaf mapping (mmu_walk).  va/gpa/size describe the whole
 * page, even when it only overlaps the walked range. */
struct mmu_leaf {
	uint64_t va;
	uint64_t gpa;
	uint64_t size;
	int level;
	uint64_t pte;
	uint64_t pte_gpa;
	bool writable, user, nx, accessed, dirty; /* as in struct mmu_xlate */
};

/* An entry mmu_walk_ex refused; the subtree below it is skipped. */
struct mmu_fault {
	enum mmu_reason reason;
	int level;	    /* the entry's level (MMU_LEVEL_CR3 for CR3) */
	uint64_t va;	    /* first VA the entry maps */
	uint64_t entry_gpa; /* where the entry lives (0 for CR3) */
	uint64_t entry;	    /* its value as read */
};

struct mmu_walk_ops {
	int (*leaf)(void *ctx, const struct mmu_leaf *leaf);
	void (*bad)(void *ctx, const struct mmu_fault *f); /* optional */
	/* Optional: every table page the walk reads (the PML4 at level 4
	 * first), once per visit, so a caller can tell page-table frames. */
	void (*table)(void *ctx, uint64_t gpa, int level);
	void *ctx;
};

struct mmu_walk_stats {
	uint64_t tables; /* table pages read */
	uint64_t leaves; /* leaf callbacks made */
	uint64_t bad;	 /* entries refused (bad callbacks made, or would have been) */
};

/*
 * Translate gva in the address space rooted at cr3 (bits 51:12 name the
 * PML4; PCID and flag bits are ignored), as the CPU would, filling *out.
 * Returns 0; -EFAULT for a non-canonical gva (out->level 0) or a not-present
 * entry (out->level is the entry's level); -EIO for a malformed entry
 * (out->reason says which rule; out->pte/pte_gpa the entry); -EINVAL for a
 * bad struct mmu.  Reads at most four entries.  A table that names itself or
 * an ancestor is followed, as the CPU follows it (the "recursive mapping"
 * trick): four reads cannot loop.
 */
int mmu_translate(const struct mmu *m, uint64_t cr3, uint64_t gva, struct mmu_xlate *out);

/*
 * Call fn for every present leaf mapping that overlaps [va_lo, va_hi), in
 * ascending VA order; va_hi 0 means the end of the address space (2^64).
 * Malformed entries are skipped silently (see mmu_walk_ex to see them).
 * Returns 0, the first nonzero value fn returned (the walk stops there), or
 * an error as mmu_walk_ex.
 */
int mmu_walk(const struct mmu *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
	     int (*fn)(void *ctx, const struct mmu_leaf *leaf), void *ctx);

/*
 * mmu_walk with a report of every malformed entry: ops->bad (if set) gets
 * each one, its subtree is skipped and the walk goes on.  Malformed means
 * what mmu_translate refuses with -EIO, plus a table already on the path
 * from CR3 (MMU_R_LOOP) and running out of the max_tables visit budget
 * (MMU_R_TABLE_LIMIT, reported once, ends the walk).  *stats (optional) is
 * filled even on error.  Returns 0, ops->leaf's first nonzero return,
 * -EINVAL (bad struct mmu, va_lo > va_hi with va_hi != 0, no ops->leaf),
 * -EIO when CR3's PML4 itself is unusable (reported at MMU_LEVEL_CR3) or
 * -E2BIG when the budget ran out.  Have ops->leaf return positive values to
 * tell them from these.
 */
int mmu_walk_ex(const struct mmu *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
		const struct mmu_walk_ops *ops, struct mmu_walk_stats *stats);

/* Kebab-case name of a reason ("not-present", "loop", ...); "unknown" for
 * values outside the enum. */
const char *mmu_reason_name(enum mmu_reason r);

#endif
