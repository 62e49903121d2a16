/*
 * logger/guestview/mirror.c: the page-cache mirror, on a guest RAM (vmm/mem.c, no KVM)
 * holding page tables, a page-cache index, a process list and a free list
 * written by hand, first honest, then lying in each of the ways mirror.h
 * promises to count, report and skip.
 *
 * The world every case starts from (GPAs):
 *   0x10000..0x12fff   boot PML4, PDPT, PD: the kernel half maps 16 MiB at
 *                      DMAP_BASE with 2 MiB pages
 *   0x300000           the index of inode 1 (8 entries)
 *   0x301000           the process list (procs_cap 4, one process, pid 7)
 *   0x400000..2        F0..F2: file pages 0, 1 and 5 of inode 1
 *   0x410000, 0x411000 A0 (anonymous), C0 (private copy)
 *   0x420000..2        L0 -> L1 -> L2: the free list
 *   0x500000..         the process's page tables (bump allocated)
 * and the process maps VA_SHARED -> F0 (W, D) in a MAP_SHARED VMA of inode 1,
 * VA_ANON -> A0 in an anonymous VMA, VA_PRIV -> C0 in a MAP_PRIVATE VMA.
 * Every other frame is kernel data.
 *
 * Lies are reported to an open_memstream FILE, so the lines can be counted
 * and read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/ds_test.h"
#include "abi/layout.h"
#include "abi/pcache.h"
#include "logger/guestview/mirror.h"
#include "mmu/mmu.h"
#include "vmm/mem.h"

#define MIB	 (1ULL << 20)
#define RAM_SIZE (16 * MIB)
#define NR_PAGES (RAM_SIZE / ABI_PAGE_SIZE)

#define P   MMU_PTE_P
#define W   MMU_PTE_W
#define U   MMU_PTE_U
#define A   MMU_PTE_A
#define D   MMU_PTE_D
#define PS  MMU_PTE_PS
#define MID (P | W | U | A)

#define BOOT_PML4 ABI_BOOT_PT_GPA
#define BOOT_PDPT (ABI_BOOT_PT_GPA + 0x1000)
#define BOOT_PD	  (ABI_BOOT_PT_GPA + 0x2000)
#define INDEX_GPA 0x300000ULL
#define PROCS_GPA 0x301000ULL
#define INDEX2	  0x302000ULL
#define F0	  0x400000ULL
#define F1	  0x401000ULL
#define F2	  0x402000ULL
#define A0	  0x410000ULL
#define C0	  0x411000ULL
#define X0	  0x412000ULL /* spare frames the cases map or name */
#define X1	  0x413000ULL
#define X2	  0x414000ULL
#define L0	  0x420000ULL
#define L1	  0x421000ULL
#define L2	  0x422000ULL
#define PT_BASE	  0x500000ULL
#define KFRAME	  0x800000ULL /* nobody names it */

#define HOLE	(ABI_HOLE_START)  /* not RAM */
#define FAR	(1ULL << 40)	  /* not RAM either */
#define RAM_END (RAM_SIZE - 0ULL) /* first GPA past RAM */

#define VA_SHARED 0x100000000000ULL
#define VA_PRIV	  0x100000010000ULL
#define VA_ANON	  0x400000ULL

#define PROCS_CAP 4
#define PID	  7

#define BOOT_TABLES 3
#define PROC_TABLES 7 /* PML4; PDPT, PD, PT for PML4[0] and again for PML4[32] */

/* ---- the world -------------------------------------------------------------- */

static struct guest_mem mem;
static struct mirror mi;
static struct abi_pc_desc *desc;
static struct abi_pc_proc *procs; /* host view of PROCS_GPA */
static uint64_t pml4;		  /* the process's */
static uint64_t pt_next;
static uint64_t tables[16];
static unsigned int nr_tables;
static FILE *rep;
static char *rep_buf;
static size_t rep_len;

static uint64_t *gp(uint64_t gpa)
{
	uint64_t *p = mem_gpa_to_hva(&mem, gpa, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static uint64_t tbl_alloc(void)
{
	CU_ASSERT_FATAL(nr_tables < sizeof(tables) / sizeof(tables[0]));
	uint64_t g = pt_next;
	pt_next += ABI_PAGE_SIZE;
	tables[nr_tables++] = g;
	return g;
}

static unsigned int pidx(int level, uint64_t va)
{
	return (unsigned int)(va >> (12 + 9 * (level - 1))) & 511;
}

/* The table at `level` on va's path (4: the PML4), which must exist. */
static uint64_t table_of(uint64_t va, int level)
{
	uint64_t t = pml4;
	for (int l = 4; l > level; l--) {
		uint64_t e = *gp(t + 8ULL * pidx(l, va));
		CU_ASSERT_FATAL(e & P);
		t = e & MMU_PTE_ADDR;
	}
	return t;
}

/* Map va -> gpa with a 4 KiB page; returns the PTE's GPA. */
static uint64_t map4k(uint64_t va, uint64_t gpa, uint64_t flags)
{
	uint64_t t = pml4;
	for (int level = 4; level > 1; level--) {
		uint64_t *e = gp(t + 8ULL * pidx(level, va));
		if (!(*e & P))
			*e = tbl_alloc() | MID;
		t = *e & MMU_PTE_ADDR;
	}
	uint64_t pte = t + 8ULL * pidx(1, va);
	*gp(pte) = gpa | flags | P;
	return pte;
}

static void world_up(void)
{
	CU_ASSERT_EQUAL_FATAL(mem_create(&mem, RAM_SIZE), 0);
	CU_ASSERT_EQUAL_FATAL(mem.nr_pages, NR_PAGES);
	desc = calloc(1, sizeof(*desc));
	CU_ASSERT_PTR_NOT_NULL_FATAL(desc);
	rep_buf = NULL;
	rep_len = 0;
	rep = open_memstream(&rep_buf, &rep_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
	pt_next = PT_BASE;
	nr_tables = 0;

	/* Boot tables: the kernel half's direct map of all 16 MiB. */
	*gp(BOOT_PML4 + 8 * 256) = BOOT_PDPT | P | W | A;
	*gp(BOOT_PDPT) = BOOT_PD | P | W | A;
	for (uint64_t i = 0; i < RAM_SIZE / ABI_HUGE_SIZE; i++)
		*gp(BOOT_PD + 8 * i) = i * ABI_HUGE_SIZE | P | W | A | D | PS;

	/* The process. */
	pml4 = tbl_alloc();
	map4k(VA_SHARED, F0, W | U | A | D);
	map4k(VA_ANON, A0, W | U | A | D);
	map4k(VA_PRIV, C0, W | U | A);
	CU_ASSERT_EQUAL_FATAL(nr_tables, PROC_TABLES);
	procs = mem_gpa_to_hva(&mem, PROCS_GPA, PROCS_CAP * sizeof(*procs));
	CU_ASSERT_PTR_NOT_NULL_FATAL(procs);
	procs[0].pid = PID;
	procs[0].cr3 = pml4;
	procs[0].nvma = 3;
	procs[0].vmas[0] = (struct abi_pc_vma){VA_ANON, VA_ANON + 0x1000, ABI_PC_VMA_ANON, 0, 0};
	procs[0].vmas[1] =
	    (struct abi_pc_vma){VA_SHARED, VA_SHARED + 8 * 0x1000, ABI_PC_VMA_SHARED, 1, 0};
	procs[0].vmas[2] = (struct abi_pc_vma){VA_PRIV, VA_PRIV + 0x1000, ABI_PC_VMA_PRIVATE, 1, 0};
	desc->procs_gpa = PROCS_GPA;
	desc->procs_cap = PROCS_CAP;
	desc->nr_procs = 1;

	/* Inode 1, 8 pages, pages 0, 1 and 5 cached. */
	uint64_t *index = gp(INDEX_GPA);
	index[0] = F0 | ABI_PCE_PRESENT | ABI_PCE_UPTODATE;
	index[1] = F1 | ABI_PCE_PRESENT | ABI_PCE_UPTODATE | ABI_PCE_DIRTY;
	index[5] = F2 | ABI_PCE_PRESENT | ABI_PCE_UPTODATE;
	desc->nr_files = 1;
	desc->files[0] = (struct abi_pc_file){.ino = 1, .npages = 8, .index_gpa = INDEX_GPA};

	/* The free list. */
	*gp(L0) = L1;
	*gp(L1) = L2;
	*gp(L2) = 0;
	desc->free_head = L0;
	desc->nr_free = 3;

	CU_ASSERT_EQUAL_FATAL(mirror_init(&mi, &mem, rep), 0);
}

static void world_down(void)
{
	mirror_free(&mi);
	fclose(rep);
	free(rep_buf);
	free(desc);
	mem_destroy(&mem);
}

static void build(void)
{
	CU_ASSERT_EQUAL_FATAL(mirror_build(&mi, desc), 0);
	fflush(rep);
}

static const struct mirror_frame *fr(uint64_t gpa)
{
	int64_t i = mem_gpa_to_index(&mem, gpa);
	CU_ASSERT_FATAL(i >= 0);
	return mirror_frame(&mi, (uint64_t)i);
}

static int cls(uint64_t gpa)
{
	return fr(gpa)->cls;
}

/* Lines printed to the report so far. */
static unsigned int rep_lines(void)
{
	unsigned int n = 0;
	for (size_t i = 0; i < rep_len; i++)
		n += rep_buf[i] == '\n';
	return n;
}

/* Whether report line `line` (0-based) contains s. */
static int rep_line_has(unsigned int line, const char *s)
{
	const char *p = rep_buf;
	for (unsigned int i = 0; p && i < line; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p || !*p)
		return 0;
	const char *end = strchr(p, '\n');
	size_t n = end ? (size_t)(end - p) : strlen(p);
	char line_buf[512];
	if (n >= sizeof(line_buf))
		n = sizeof(line_buf) - 1;
	memcpy(line_buf, p, n);
	line_buf[n] = 0;
	return strstr(line_buf, s) != NULL;
}

static uint64_t class_sum(void)
{
	uint64_t s = 0;
	for (int c = 0; c < MIRROR_CLASS_NR; c++)
		s += mi.class_frames[c];
	return s;
}

/* The honest classes of the world, for the frames a case did not touch. */
static void check_process_tables(void)
{
	for (unsigned int i = 0; i < PROC_TABLES; i++)
		CU_ASSERT_EQUAL(cls(tables[i]), MIRROR_PAGETABLE);
	CU_ASSERT_EQUAL(cls(BOOT_PML4), MIRROR_PAGETABLE);
	CU_ASSERT_EQUAL(cls(BOOT_PDPT), MIRROR_PAGETABLE);
	CU_ASSERT_EQUAL(cls(BOOT_PD), MIRROR_PAGETABLE);
}

/* ---- 1. the honest guest -------------------------------------------------- */

static void test_honest(void)
{
	world_up();
	build();
	CU_ASSERT_EQUAL(mi.errors, 0);
	CU_ASSERT_EQUAL(mi.errors_total, 0);
	CU_ASSERT_EQUAL(rep_len, 0);

	/* File pages, named by the index. */
	CU_ASSERT_EQUAL(mirror_file_slot(&mi, 1), 0);
	CU_ASSERT_EQUAL(mirror_file_slot(&mi, 2), -1);
	CU_ASSERT_EQUAL(mi.nr_files, 1);
	CU_ASSERT_EQUAL(mi.files[0].ino, 1);
	CU_ASSERT_EQUAL(mi.files[0].npages, 8);
	CU_ASSERT_EQUAL(mi.files[0].entries[1],
			F1 | ABI_PCE_PRESENT | ABI_PCE_UPTODATE | ABI_PCE_DIRTY);
	CU_ASSERT_EQUAL(mi.files[0].entries[2], 0);
	static const struct {
		uint64_t gpa;
		uint32_t index;
		uint8_t flags;
	} files[] = {
	    {F0, 0, MIRROR_F_PTE_DIRTY | MIRROR_F_PTE_W},
	    {F1, 1, 0},
	    {F2, 5, 0},
	};
	for (unsigned int i = 0; i < 3; i++) {
		const struct mirror_frame *f = fr(files[i].gpa);
		CU_ASSERT_EQUAL(f->cls, MIRROR_FILE);
		CU_ASSERT_EQUAL(f->file, 0);
		CU_ASSERT_EQUAL(f->index, files[i].index);
		CU_ASSERT_EQUAL(f->flags, files[i].flags);
	}

	/* The tables the CPU walks: the boot set and the process's. */
	check_process_tables();
	/* A table page is not mapped by any user PTE: no W/D flags. */
	CU_ASSERT_EQUAL(fr(pml4)->flags, 0);

	/* Anonymous, private copy, free. */
	CU_ASSERT_EQUAL(cls(A0), MIRROR_ANON);
	CU_ASSERT_EQUAL(fr(A0)->flags, MIRROR_F_PTE_DIRTY | MIRROR_F_PTE_W);
	CU_ASSERT_EQUAL(cls(C0), MIRROR_COW);
	CU_ASSERT_EQUAL(fr(C0)->flags, MIRROR_F_PTE_W);
	for (uint64_t g = L0; g <= L2; g += 0x1000) {
		CU_ASSERT_EQUAL(cls(g), MIRROR_FREE);
		CU_ASSERT_EQUAL(fr(g)->flags, MIRROR_F_FREE_SEEN);
	}

	/* Everything else is kernel data, the published structures included. */
	CU_ASSERT_EQUAL(cls(KFRAME), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(cls(0), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(cls(INDEX_GPA), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(cls(PROCS_GPA), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(cls(RAM_END - 0x1000), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(fr(KFRAME)->flags, 0);

	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FILE], 3);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_PAGETABLE], BOOT_TABLES + PROC_TABLES);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_ANON], 1);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_COW], 1);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FREE], 3);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_KERNEL],
			NR_PAGES - 3 - BOOT_TABLES - PROC_TABLES - 1 - 1 - 3);
	CU_ASSERT_EQUAL(class_sum(), mem.nr_pages);

	/* Nothing here writes guest memory: the list links are still there. */
	CU_ASSERT_EQUAL(*gp(L0), L1);
	CU_ASSERT_EQUAL(*gp(INDEX_GPA + 8),
			F1 | ABI_PCE_PRESENT | ABI_PCE_UPTODATE | ABI_PCE_DIRTY);
	world_down();
}

/* ---- 2. a lying index ----------------------------------------------------- */

static void test_lying_index(void)
{
	world_up();
	uint64_t pt_shared = table_of(VA_SHARED, 1);
	uint64_t *index = gp(INDEX_GPA);
	const uint64_t pu = ABI_PCE_PRESENT | ABI_PCE_UPTODATE;
	index[0] = F0 | pu;		      /* good */
	index[1] = HOLE | pu;		      /* 1: in the hole */
	index[2] = FAR | pu;		      /* 2: far beyond RAM */
	index[3] = F1 | pu | 0x100;	      /* 3: unknown flag bits */
	index[4] = F0 | pu;		      /* 4: F0 again */
	index[5] = pt_shared | pu;	      /* 5: the process's PT */
	index[6] = F2 | pu;		      /* good */
	index[7] = KFRAME | ABI_PCE_UPTODATE; /* not present: ignored, whatever it says */
	/* 6: an index in the hole; 7: one entry past the end of RAM; 8: an
	 * npages so large the index runs far past RAM. */
	desc->files[1] = (struct abi_pc_file){.ino = 2, .npages = 4, .index_gpa = HOLE};
	desc->files[2] = (struct abi_pc_file){.ino = 3, .npages = 2, .index_gpa = RAM_END - 8};
	desc->files[3] = (struct abi_pc_file){.ino = 4, .npages = 0xffffffffu, .index_gpa = INDEX2};
	desc->nr_files = 4;
	build();

	CU_ASSERT_EQUAL(mi.errors, 8);
	CU_ASSERT_EQUAL(mi.errors_total, 8);
	/* Kept: the good entries. */
	CU_ASSERT_EQUAL(cls(F0), MIRROR_FILE);
	CU_ASSERT_EQUAL(fr(F0)->index, 0); /* the first claim wins */
	CU_ASSERT_EQUAL(fr(F0)->file, 0);
	CU_ASSERT_EQUAL(cls(F2), MIRROR_FILE);
	CU_ASSERT_EQUAL(fr(F2)->index, 6);
	/* Skipped: the bad ones, and never trusted later. */
	CU_ASSERT_EQUAL(cls(F1), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(cls(pt_shared), MIRROR_PAGETABLE);
	CU_ASSERT_EQUAL(cls(KFRAME), MIRROR_KERNEL);
	for (unsigned int i = 1; i <= 5; i++)
		CU_ASSERT_EQUAL(mi.files[0].entries[i], 0);
	CU_ASSERT_EQUAL(mi.files[0].entries[0], F0 | pu);
	CU_ASSERT_EQUAL(mi.files[0].entries[6], F2 | pu);
	CU_ASSERT_EQUAL(mi.files[0].entries[7], KFRAME | ABI_PCE_UPTODATE);
	/* Files whose index is not RAM are not published. */
	CU_ASSERT_EQUAL(mi.nr_files, 1);
	CU_ASSERT_EQUAL(mirror_file_slot(&mi, 1), 0);
	CU_ASSERT_EQUAL(mirror_file_slot(&mi, 2), -1);
	CU_ASSERT_EQUAL(mirror_file_slot(&mi, 3), -1);
	CU_ASSERT_EQUAL(mirror_file_slot(&mi, 4), -1);
	/* The rest of the world is untouched by the lies. */
	check_process_tables();
	CU_ASSERT_EQUAL(cls(A0), MIRROR_ANON);
	CU_ASSERT_EQUAL(cls(C0), MIRROR_COW);
	CU_ASSERT_EQUAL(cls(L2), MIRROR_FREE);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FILE], 2);
	CU_ASSERT_EQUAL(class_sum(), mem.nr_pages);

	/* One line per lie, in the order found; the 8th says it is the last. */
	CU_ASSERT_EQUAL(rep_lines(), 8);
	CU_ASSERT(rep_line_has(0, "inode 1 page 1"));
	CU_ASSERT(rep_line_has(0, "is not RAM"));
	CU_ASSERT(rep_line_has(1, "inode 1 page 2"));
	CU_ASSERT(rep_line_has(2, "has unknown flags"));
	CU_ASSERT(rep_line_has(3, "inode 1 page 4"));
	CU_ASSERT(rep_line_has(3, "claimed by another file page"));
	CU_ASSERT(rep_line_has(4, "is a page table"));
	CU_ASSERT(rep_line_has(5, "index of inode 2"));
	CU_ASSERT(rep_line_has(6, "index of inode 3"));
	CU_ASSERT(rep_line_has(7, "index of inode 4"));
	CU_ASSERT(rep_line_has(7, "(further lies counted only)"));
	CU_ASSERT_FALSE(rep_line_has(6, "further lies"));

	/* Built again: the same lies, counted again, printed no more. */
	build();
	CU_ASSERT_EQUAL(mi.errors, 8);
	CU_ASSERT_EQUAL(mi.errors_total, 16);
	CU_ASSERT_EQUAL(rep_lines(), 8);
	world_down();

	/* An inode named twice, or out of range, and a misaligned index. */
	world_up();
	desc->files[1] = (struct abi_pc_file){.ino = 1, .npages = 1, .index_gpa = INDEX2};
	desc->files[2] =
	    (struct abi_pc_file){.ino = ABI_FS_MAX_INODES, .npages = 1, .index_gpa = INDEX2};
	desc->files[3] = (struct abi_pc_file){.ino = 5, .npages = 1, .index_gpa = INDEX2 + 4};
	/* Never opened: no index, not a lie. */
	desc->files[4] = (struct abi_pc_file){.ino = 6, .npages = 3, .index_gpa = 0};
	desc->files[5] = (struct abi_pc_file){.ino = 7, .npages = 0, .index_gpa = INDEX2};
	*gp(INDEX2) = X0 | ABI_PCE_PRESENT;
	desc->nr_files = 6;
	build();
	CU_ASSERT_EQUAL(mi.errors, 3);
	CU_ASSERT_EQUAL(mi.nr_files, 1);
	CU_ASSERT_EQUAL(cls(X0), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(mirror_file_slot(&mi, 5), -1);
	CU_ASSERT_EQUAL(mirror_file_slot(&mi, 6), -1);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FILE], 3);
	CU_ASSERT(rep_line_has(0, "names inode 1 twice or out of range"));
	CU_ASSERT(rep_line_has(2, "index of inode 5"));

	/* nr_files beyond the table is clamped, not read past it. */
	desc->nr_files = 0xffffffffu;
	build();
	CU_ASSERT_EQUAL(mi.errors, 3);
	CU_ASSERT_EQUAL(mi.nr_files, 1);
	world_down();
}

/* ---- 3. lying processes --------------------------------------------------- */

/* What the world looks like when the process was not walked at all. */
static void check_process_unseen(void)
{
	for (unsigned int i = 0; i < PROC_TABLES; i++)
		CU_ASSERT_EQUAL(cls(tables[i]), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(cls(A0), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(cls(C0), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(cls(F0), MIRROR_FILE);
	CU_ASSERT_EQUAL(fr(F0)->flags, 0);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_PAGETABLE], BOOT_TABLES);
	CU_ASSERT_EQUAL(class_sum(), mem.nr_pages);
}

static void test_lying_procs_list(void)
{
	/* More processes than the buffer holds: counted once (one lie, though
	 * the build reads the list in two passes), clamped to the buffer.
	 * Entry 1, past procs_cap, would make X0 a page table. */
	world_up();
	desc->procs_cap = 1;
	desc->nr_procs = 2;
	procs[1] = (struct abi_pc_proc){.pid = 8, .cr3 = X0};
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT_EQUAL(rep_lines(), 1);
	CU_ASSERT(rep_line_has(0, "2 processes listed in a buffer of 1"));
	CU_ASSERT_EQUAL(cls(X0), MIRROR_KERNEL);
	check_process_tables();
	CU_ASSERT_EQUAL(cls(A0), MIRROR_ANON);
	CU_ASSERT_EQUAL(cls(C0), MIRROR_COW);
	CU_ASSERT_EQUAL(class_sum(), mem.nr_pages);
	world_down();

	/* A process list outside RAM, running past its end, misaligned. */
	static const uint64_t bad_gpa[] = {HOLE, FAR, RAM_END - 100, PROCS_GPA + 4};
	for (unsigned int i = 0; i < sizeof(bad_gpa) / sizeof(bad_gpa[0]); i++) {
		world_up();
		desc->procs_gpa = bad_gpa[i];
		desc->procs_cap = 1;
		build();
		CU_ASSERT_EQUAL(mi.errors, 1);
		CU_ASSERT_EQUAL(rep_lines(), 1);
		CU_ASSERT(rep_line_has(0, "process list at"));
		check_process_unseen();
		world_down();
	}
}

static void test_lying_procs(void)
{
	/* A CR3 that is not RAM. */
	world_up();
	procs[0].cr3 = HOLE;
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT(rep_line_has(0, "pid 7: page tables at cr3 0xc0000000 have 1 malformed"));
	check_process_unseen();
	world_down();

	/* 1000 VMAs claimed: counted once, the 16 that fit still used (X1 is
	 * mapped in the 16th, so it is anonymous without a lie). */
	world_up();
	map4k(0x600000, X1, W | U);
	procs[0].nvma = 1000;
	procs[0].vmas[15] = (struct abi_pc_vma){0x600000, 0x601000, ABI_PC_VMA_ANON, 0, 0};
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT(rep_line_has(0, "pid 7 lists 1000 VMAs"));
	CU_ASSERT_EQUAL(cls(X1), MIRROR_ANON);
	CU_ASSERT_EQUAL(cls(A0), MIRROR_ANON);
	CU_ASSERT_EQUAL(cls(C0), MIRROR_COW);
	CU_ASSERT_EQUAL(cls(F0), MIRROR_FILE);
	world_down();

	/* A leaf outside every published VMA: anonymous, and a lie. */
	world_up();
	map4k(0x700000, X2, W | U);
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT(rep_line_has(0, "pid 7 maps va 0x700000 outside its published VMAs"));
	CU_ASSERT_EQUAL(cls(X2), MIRROR_ANON);
	CU_ASSERT_EQUAL(fr(X2)->flags, MIRROR_F_PTE_W);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_ANON], 2);
	world_down();

	/* A shared file VMA mapping a frame no index entry names. */
	world_up();
	map4k(VA_SHARED + 0x3000, X0, U);
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT(rep_line_has(0, "which no index entry names"));
	CU_ASSERT_EQUAL(cls(X0), MIRROR_ANON);
	world_down();

	/* A PML4 entry naming the PML4: refused by the walker, counted once by
	 * the mirror, and the build ends with the rest classified. */
	world_up();
	*gp(pml4 + 8 * 100) = pml4 | MID;
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT(rep_line_has(0, "have 1 malformed entries"));
	check_process_tables();
	CU_ASSERT_EQUAL(cls(A0), MIRROR_ANON);
	CU_ASSERT_EQUAL(cls(C0), MIRROR_COW);
	CU_ASSERT_EQUAL(cls(F0), MIRROR_FILE);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_PAGETABLE], BOOT_TABLES + PROC_TABLES);
	CU_ASSERT_EQUAL(class_sum(), mem.nr_pages);
	world_down();

	/* A leaf mapping one of its own page tables: read-only is allowed,
	 * writable is a lie; either way the frame stays a page table. */
	world_up();
	uint64_t pt_anon = table_of(VA_ANON, 1);
	uint64_t pte = map4k(VA_ANON + 0x1000, pt_anon, U);
	build();
	CU_ASSERT_EQUAL(mi.errors, 0);
	CU_ASSERT_EQUAL(cls(pt_anon), MIRROR_PAGETABLE);
	*gp(pte) |= W;
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT(rep_line_has(0, "writable at 0x401000"));
	CU_ASSERT_EQUAL(cls(pt_anon), MIRROR_PAGETABLE);
	CU_ASSERT_EQUAL(fr(pt_anon)->flags, MIRROR_F_PTE_W);
	world_down();

	/* A leaf naming a frame outside RAM: one lie per process. */
	world_up();
	map4k(0x700000, HOLE, W | U);
	map4k(0x701000, HOLE + 0x1000, W | U);
	procs[0].vmas[3] = (struct abi_pc_vma){0x700000, 0x702000, ABI_PC_VMA_ANON, 0, 0};
	procs[0].nvma = 4;
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT(rep_line_has(0, "which is not RAM"));
	CU_ASSERT_EQUAL(class_sum(), mem.nr_pages);
	world_down();
}

/* ---- 4. a lying free list ------------------------------------------------- */

static void test_lying_free(void)
{
	/* A loop: counted, the walk ends, the pages before it are free. */
	world_up();
	*gp(L1) = L0;
	desc->nr_free = 2;
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT(rep_line_has(0, "free list loops at 0x420000"));
	CU_ASSERT_EQUAL(cls(L0), MIRROR_FREE);
	CU_ASSERT_EQUAL(cls(L1), MIRROR_FREE);
	CU_ASSERT_EQUAL(cls(L2), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FREE], 2);
	world_down();

	/* A page that links to itself. */
	world_up();
	*gp(L0) = L0;
	desc->nr_free = 1;
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT_EQUAL(cls(L0), MIRROR_FREE);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FREE], 1);
	world_down();

	/* Frames in use on the list: a file page, a page table, an anonymous
	 * page.  Counted, the frame keeps its class. */
	const struct {
		uint64_t gpa;
		int cls;
		const char *what;
	} used[] = {
	    {F0, MIRROR_FILE, " file frame in use"},
	    {BOOT_PD, MIRROR_PAGETABLE, " page-table frame in use"},
	    {A0, MIRROR_ANON, " anon frame in use"},
	    {C0, MIRROR_COW, " cow frame in use"},
	};
	for (unsigned int i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
		world_up();
		*gp(L0) = used[i].gpa;
		desc->nr_free = 2;
		build();
		CU_ASSERT_EQUAL(mi.errors, 1);
		CU_ASSERT_EQUAL(cls(used[i].gpa), used[i].cls);
		CU_ASSERT_EQUAL(cls(L0), MIRROR_FREE);
		CU_ASSERT_EQUAL(cls(L1), MIRROR_KERNEL);
		CU_ASSERT(rep_line_has(0, used[i].what));
		world_down();
	}

	/* Links that are not RAM pages: the hole, past RAM, misaligned, and a
	 * head that is not RAM. */
	static const uint64_t bad_link[] = {HOLE, FAR, RAM_END, L2 + 8, L2 + 0x800};
	for (unsigned int i = 0; i < sizeof(bad_link) / sizeof(bad_link[0]); i++) {
		world_up();
		*gp(L1) = bad_link[i];
		desc->nr_free = 2;
		build();
		CU_ASSERT_EQUAL(mi.errors, 1);
		CU_ASSERT(rep_line_has(0, "is not a RAM page"));
		CU_ASSERT_EQUAL(cls(L0), MIRROR_FREE);
		CU_ASSERT_EQUAL(cls(L1), MIRROR_FREE);
		CU_ASSERT_EQUAL(cls(L2), MIRROR_KERNEL);
		world_down();
	}
	world_up();
	desc->free_head = FAR;
	desc->nr_free = 0;
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FREE], 0);
	world_down();

	/* The count disagrees with the list: too many, too few, none listed. */
	static const struct {
		uint64_t head, nr_free;
		uint64_t free;
	} counts[] = {{L0, 7, 3}, {L0, 0, 3}, {L0, 2, 3}, {0, 3, 0}};
	for (unsigned int i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		world_up();
		desc->free_head = counts[i].head;
		desc->nr_free = counts[i].nr_free;
		build();
		CU_ASSERT_EQUAL(mi.errors, 1);
		CU_ASSERT(rep_line_has(0, "claimed"));
		CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FREE], counts[i].free);
		world_down();
	}
	/* And an empty list that says so is honest. */
	world_up();
	desc->free_head = 0;
	desc->nr_free = 0;
	build();
	CU_ASSERT_EQUAL(mi.errors, 0);
	CU_ASSERT_EQUAL(cls(L0), MIRROR_KERNEL);
	world_down();
}

/* ---- 5. rebuilds ---------------------------------------------------------- */

static void test_rebuild(void)
{
	world_up();
	/* Build 1: A0 mapped; nr_free claims one page too many. */
	desc->nr_free = 4;
	build();
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT_EQUAL(mi.errors_total, 1);
	CU_ASSERT_EQUAL(cls(A0), MIRROR_ANON);
	CU_ASSERT_EQUAL(fr(A0)->flags, MIRROR_F_PTE_DIRTY | MIRROR_F_PTE_W);

	/* Build 2: the guest unmaps A0 and frees it: now the count is right. */
	*gp(table_of(VA_ANON, 1) + 8ULL * pidx(1, VA_ANON)) = 0;
	*gp(A0) = L0;
	desc->free_head = A0;
	build();
	CU_ASSERT_EQUAL(mi.errors, 0);
	CU_ASSERT_EQUAL(mi.errors_total, 1);
	CU_ASSERT_EQUAL(cls(A0), MIRROR_FREE);
	CU_ASSERT_EQUAL(fr(A0)->flags, MIRROR_F_FREE_SEEN); /* no stale PTE bits */
	CU_ASSERT_EQUAL(cls(L2), MIRROR_FREE);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FREE], 4);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_ANON], 0);
	/* Its PT is still walked, though now empty. */
	CU_ASSERT_EQUAL(cls(table_of(VA_ANON, 1)), MIRROR_PAGETABLE);

	/* Build 3: F1 dropped from the cache and reused as anonymous memory;
	 * two lies (a doubly-claimed frame, a free-list loop). */
	*gp(INDEX_GPA + 8) = 0;
	*gp(INDEX_GPA + 8 * 3) = F0 | ABI_PCE_PRESENT;
	map4k(VA_ANON, F1, W | U);
	*gp(L2) = A0;
	build();
	CU_ASSERT_EQUAL(mi.errors, 2);
	CU_ASSERT_EQUAL(mi.errors_total, 3);
	CU_ASSERT_EQUAL(cls(F1), MIRROR_ANON);
	CU_ASSERT_EQUAL(fr(F1)->flags, MIRROR_F_PTE_W);
	CU_ASSERT_EQUAL(fr(F0)->index, 0);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FILE], 2);
	CU_ASSERT_EQUAL(mi.class_frames[MIRROR_FREE], 4);
	CU_ASSERT_EQUAL(rep_lines(), 3);

	/* Build 4: honest again. */
	*gp(INDEX_GPA + 8 * 3) = 0;
	*gp(L2) = 0;
	build();
	CU_ASSERT_EQUAL(mi.errors, 0);
	CU_ASSERT_EQUAL(mi.errors_total, 3);
	CU_ASSERT_EQUAL(class_sum(), mem.nr_pages);
	world_down();

	/* Without a report FILE the lies are still counted, per build and in
	 * total (mirror.h: "counted only"). */
	world_up();
	struct mirror quiet;
	CU_ASSERT_EQUAL_FATAL(mirror_init(&quiet, &mem, NULL), 0);
	desc->nr_free = 4;
	CU_ASSERT_EQUAL(mirror_build(&quiet, desc), 0);
	CU_ASSERT_EQUAL(quiet.errors, 1);
	CU_ASSERT_EQUAL(mirror_build(&quiet, desc), 0);
	CU_ASSERT_EQUAL(quiet.errors, 1);
	CU_ASSERT_EQUAL(quiet.errors_total, 2);
	mirror_free(&quiet);
	world_down();
}

/* ---- 6. names ------------------------------------------------------------- */

static void test_class_names(void)
{
	static const char *const names[MIRROR_CLASS_NR] = {
	    [MIRROR_FILE] = "file",	[MIRROR_PAGETABLE] = "page-table",
	    [MIRROR_KERNEL] = "kernel", [MIRROR_ANON] = "anon",
	    [MIRROR_COW] = "cow",	[MIRROR_FREE] = "free",
	};
	for (int c = 0; c < MIRROR_CLASS_NR; c++)
		CU_ASSERT_STRING_EQUAL(mirror_class_name((enum mirror_class)c), names[c]);
	CU_ASSERT_STRING_EQUAL(mirror_class_name(MIRROR_CLASS_NR), "unknown");
	CU_ASSERT_STRING_EQUAL(mirror_class_name((enum mirror_class)255), "unknown");
	CU_ASSERT_STRING_EQUAL(mirror_class_name((enum mirror_class) - 1), "unknown");
}

/* The image's extents bound the index: another length is a lie, and the
 * file is skipped (its shared mapping of F0 then names no index entry). */
static void test_extents(void)
{
	world_up();
	mi.extent_pages[1] = 8;
	build();
	CU_ASSERT_EQUAL(mi.errors, 0);
	CU_ASSERT_EQUAL(cls(F0), MIRROR_FILE);
	mi.extent_pages[1] = 4;
	build();
	CU_ASSERT_EQUAL(mirror_file_slot(&mi, 1), -1);
	CU_ASSERT_EQUAL(mi.errors, 2);
	CU_ASSERT_EQUAL(cls(F1), MIRROR_KERNEL);
	CU_ASSERT_EQUAL(cls(F0), MIRROR_ANON);
	CU_ASSERT(strstr(rep_buf, "its extent 4") != NULL);
	world_down();
}

/*
 * Aliased tables: four pages whose every entry names the next level's one
 * table describe 256 x 512^3 leaves.  The build must stop at its work
 * budget, count one lie, and still classify what needs no walk.
 */
static void test_aliasing_budget(void)
{
	const uint64_t t4 = 0x600000, t3 = 0x601000, t2 = 0x602000, t1 = 0x603000;
	world_up();
	for (unsigned int i = 0; i < 512; i++) {
		if (i < 256)
			*gp(t4 + 8ULL * i) = t3 | MID;
		*gp(t3 + 8ULL * i) = t2 | MID;
		*gp(t2 + 8ULL * i) = t1 | MID;
		*gp(t1 + 8ULL * i) = X0 | MID;
	}
	procs[1] = (struct abi_pc_proc){.pid = 9, .cr3 = t4};
	desc->nr_procs = 2;
	build();
	CU_ASSERT(mi.over_budget);
	CU_ASSERT_EQUAL(mi.errors, 1);
	CU_ASSERT(strstr(rep_buf, "aliased") != NULL);
	CU_ASSERT_EQUAL(cls(F0), MIRROR_FILE);
	CU_ASSERT_EQUAL(cls(L0), MIRROR_FREE);
	CU_ASSERT_EQUAL(cls(t4), MIRROR_PAGETABLE);
	/* The next build starts with a fresh budget. */
	desc->nr_procs = 1;
	build();
	CU_ASSERT(!mi.over_budget);
	CU_ASSERT_EQUAL(mi.errors, 0);
	CU_ASSERT_EQUAL(cls(A0), MIRROR_ANON);
	world_down();
}

static const struct ds_case cases[] = {
    {"honest guest: every class", test_honest},
    {"lying index: bad entries and bad indexes skipped", test_lying_index},
    {"lying process list: too long, not RAM", test_lying_procs_list},
    {"lying processes: CR3, VMAs, leaves, loops", test_lying_procs},
    {"lying free list: loops, used frames, bad links, counts", test_lying_free},
    {"rebuild: classes follow, errors per build", test_rebuild},
    {"class names", test_class_names},
    {"the image's extents bound each index", test_extents},
    {"aliased page tables stop at the work budget", test_aliasing_budget},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("mirror", cases);
}
