/*
 * mmu/: the host-side guest page-table walker, on page tables built in a
 * fake guest RAM, then on the real boot tables vmm/boot.c builds and on
 * workload tables built the way guest/vm.c builds them (no KVM needed).
 *
 * The fake RAM is 8 MiB at GPA 1 GiB (not 0, so a GPA used as a host offset
 * shows), between two PROT_NONE guard pages: a read the callback did not
 * vouch for crashes the suite instead of passing quietly.  The callback
 * counts its calls and the ones outside RAM, and asserts the walker only
 * ever asks for whole, aligned table pages.
 *
 * Page-table shapes covered: 4 KiB / 2 MiB / 1 GiB leaves, W and U ANDed over
 * the levels, A and D taken from the leaf alone, not-present at each level,
 * non-canonical VAs, a random sparse tree in both halves compared with an
 * independent list (whole range and random subranges), a range edge inside
 * a 2 MiB page, loops (a PDPT entry naming the PML4, a PD naming itself),
 * 512-fold aliasing that only the table budget stops, entries outside RAM,
 * reserved bits, and a leaf callback that stops the walk.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/lib/ds_test.h"
#include "abi/layout.h"
#include "guest/x86.h"
#include "mmu/mmu.h"
#include "vmm/boot.h"
#include "vmm/mem.h"

/* The walker must read the bits the guest writes. */
_Static_assert(MMU_PTE_P == PTE_P && MMU_PTE_W == PTE_W && MMU_PTE_U == PTE_U &&
		   MMU_PTE_A == PTE_A && MMU_PTE_D == PTE_D && MMU_PTE_PS == PTE_PS &&
		   MMU_PTE_ADDR == PTE_ADDR,
	       "mmu/ and guest/x86.h disagree on PTE bits");

#define KIB 1024ULL
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

#define P  MMU_PTE_P
#define W  MMU_PTE_W
#define U  MMU_PTE_U
#define A  MMU_PTE_A
#define D  MMU_PTE_D
#define PS MMU_PTE_PS

#define RAM_GPA	 (1ULL * GIB)
#define RAM_SIZE (8 * MIB)
#define MID	 (P | W | U | A) /* a permissive intermediate entry */

/* ---- fake guest RAM ------------------------------------------------------ */

static uint8_t *ram;	    /* host view of GPA RAM_GPA.. */
static uint64_t ram_next;   /* bump allocator, GPA */
static uint64_t cb_calls;   /* every gpa_to_host call */
static uint64_t cb_outside; /* calls for GPAs outside RAM (answered NULL) */

static const void *fake_gpa_to_host(void *ctx, uint64_t gpa, uint64_t len)
{
	cb_calls++;
	/* The walker's promise: whole, aligned table pages only. */
	CU_ASSERT_EQUAL(len, 4096);
	CU_ASSERT_EQUAL(gpa % 4096, 0);
	if (gpa < RAM_GPA || gpa - RAM_GPA >= RAM_SIZE || len > RAM_SIZE - (gpa - RAM_GPA)) {
		cb_outside++;
		return NULL;
	}
	return ram + (gpa - RAM_GPA);
}

static void fake_reset(void)
{
	memset(ram, 0, RAM_SIZE);
	ram_next = RAM_GPA;
	cb_calls = cb_outside = 0;
}

static struct mmu fake_mmu(void)
{
	return (struct mmu){.gpa_to_host = fake_gpa_to_host};
}

/* A fresh zeroed table page, GPA. */
static uint64_t pt_alloc(void)
{
	uint64_t g = ram_next;
	CU_ASSERT_FATAL(g + 4096 <= RAM_GPA + RAM_SIZE);
	ram_next += 4096;
	return g;
}

static uint64_t pt_count(void)
{
	return (ram_next - RAM_GPA) / 4096;
}

/* The test's own access to entry i of the table at GPA t. */
static uint64_t *ent(uint64_t t, unsigned int i)
{
	return (uint64_t *)(ram + (t - RAM_GPA)) + i;
}

static unsigned int idx(int level, uint64_t va)
{
	return (unsigned int)PX(level - 1, va);
}

static int size_level(uint64_t size)
{
	return size == MMU_PAGE_4K ? 1 : size == MMU_PAGE_2M ? 2 : 3;
}

/*
 * Map va -> gpa with a page of `size`, creating intermediate tables with
 * `mid` flags.  Returns the leaf entry's GPA, or 0 when something is in the
 * way (a leaf on the path, or the slot taken).  ew and eu (optional) get the
 * AND of W/U along the path, computed from the entries as built.
 */
static uint64_t map_page(uint64_t pml4, uint64_t va, uint64_t gpa, uint64_t size, uint64_t flags,
			 uint64_t mid, int *ew, int *eu)
{
	int leaf = size_level(size);
	uint64_t t = pml4;
	int w = 1, u = 1;

	for (int level = 4; level > leaf; level--) {
		uint64_t *e = ent(t, idx(level, va));
		if (!(*e & P))
			*e = pt_alloc() | mid;
		else if (*e & PS)
			return 0;
		w &= !!(*e & W);
		u &= !!(*e & U);
		t = *e & MMU_PTE_ADDR;
	}
	uint64_t *e = ent(t, idx(leaf, va));
	if (*e & P)
		return 0;
	*e = gpa | flags | P | (leaf > 1 ? PS : 0);
	if (ew)
		*ew = w & !!(flags & W);
	if (eu)
		*eu = u & !!(flags & U);
	return t + 8ULL * idx(leaf, va);
}

/* ---- collecting walk output ---------------------------------------------- */

#define MAX_LEAVES 4096
#define MAX_FAULTS 64

struct collect {
	struct mmu_leaf leaves[MAX_LEAVES];
	size_t n;
	struct mmu_fault faults[MAX_FAULTS];
	size_t nf;
	size_t stop_after; /* 0: never stop */
	int stop_value;
};

static int collect_leaf(void *ctx, const struct mmu_leaf *l)
{
	struct collect *c = ctx;
	CU_ASSERT_FATAL(c->n < MAX_LEAVES);
	c->leaves[c->n++] = *l;
	return c->stop_after && c->n == c->stop_after ? c->stop_value : 0;
}

static void collect_bad(void *ctx, const struct mmu_fault *f)
{
	struct collect *c = ctx;
	CU_ASSERT_FATAL(c->nf < MAX_FAULTS);
	c->faults[c->nf++] = *f;
}

static int walk_all(const struct mmu *m, uint64_t cr3, uint64_t lo, uint64_t hi, struct collect *c,
		    struct mmu_walk_stats *st)
{
	struct mmu_walk_ops ops = {.leaf = collect_leaf, .bad = collect_bad, .ctx = c};
	c->n = c->nf = 0;
	return mmu_walk_ex(m, cr3, lo, hi, &ops, st);
}

/* The fault reported for the entry at e_gpa, or NULL. */
static const struct mmu_fault *find_fault(const struct collect *c, uint64_t e_gpa)
{
	for (size_t i = 0; i < c->nf; i++)
		if (c->faults[i].entry_gpa == e_gpa)
			return &c->faults[i];
	return NULL;
}

/* ---- translate ------------------------------------------------------------ */

static void test_xlate_sizes(void)
{
	struct mmu m = fake_mmu();
	struct mmu_xlate x;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	uint64_t va4k = 0x0000123456789000ULL, va2m = 0x0000000040200000ULL;
	uint64_t va1g = 0xffff888000000000ULL; /* upper half: index 273 */
	uint64_t e4k = map_page(pml4, va4k, 0x5000, MMU_PAGE_4K, W | A, MID, NULL, NULL);
	uint64_t e2m = map_page(pml4, va2m, 0x7600000, MMU_PAGE_2M, W | A | D, MID, NULL, NULL);
	uint64_t e1g = map_page(pml4, va1g, 0x1c0000000ULL, MMU_PAGE_1G, A, MID, NULL, NULL);
	CU_ASSERT_FATAL(e4k && e2m && e1g);

	/* PCID and flag bits in CR3 (and bit 63, no-flush) are not the PML4's. */
	uint64_t cr3 = pml4 | 0x18 | 0x5 | (1ULL << 63);

	CU_ASSERT_EQUAL(mmu_translate(&m, cr3, va4k + 0xabc, &x), 0);
	CU_ASSERT_EQUAL(x.gpa, 0x5abc);
	CU_ASSERT_EQUAL(x.page_size, MMU_PAGE_4K);
	CU_ASSERT_EQUAL(x.level, 1);
	CU_ASSERT_EQUAL(x.pte_gpa, e4k);
	CU_ASSERT_EQUAL(x.pte, *ent(e4k & ~0xfffULL, (e4k & 0xfff) / 8));
	CU_ASSERT_EQUAL(x.reason, MMU_R_OK);

	CU_ASSERT_EQUAL(mmu_translate(&m, cr3, va2m + 0x1fffff, &x), 0);
	CU_ASSERT_EQUAL(x.gpa, 0x7600000 + 0x1fffff);
	CU_ASSERT_EQUAL(x.page_size, MMU_PAGE_2M);
	CU_ASSERT_EQUAL(x.level, 2);
	CU_ASSERT_EQUAL(x.pte_gpa, e2m);
	CU_ASSERT(x.pte & PS);

	CU_ASSERT_EQUAL(mmu_translate(&m, cr3, va1g + 0x12345678, &x), 0);
	CU_ASSERT_EQUAL(x.gpa, 0x1c0000000ULL + 0x12345678);
	CU_ASSERT_EQUAL(x.page_size, MMU_PAGE_1G);
	CU_ASSERT_EQUAL(x.level, 3);
	CU_ASSERT_EQUAL(x.pte_gpa, e1g);

	/* The page next door is not mapped. */
	CU_ASSERT_EQUAL(mmu_translate(&m, cr3, va4k + 0x1000, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.reason, MMU_R_NOT_PRESENT);
	CU_ASSERT_EQUAL(x.level, 1);
	CU_ASSERT_EQUAL(cb_outside, 0);
}

static void test_xlate_w_u_and(void)
{
	struct mmu m = fake_mmu();
	struct mmu_xlate x;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	/* Leaf says W|U; one level above says no: the CPU refuses, so do we. */
	static const struct {
		uint64_t mid, leaf;
		int w, u;
	} cases[] = {
	    {P | W | U, W | U, 1, 1}, {P | U, W | U, 0, 1}, /* read-only PML4E/PDPTE/PD: no write */
	    {P | W, W | U, 1, 0},			    /* supervisor intermediate: no user */
	    {P, W | U, 0, 0},	      {P | W | U, U, 0, 1}, /* read-only leaf */
	    {P | W | U, W, 1, 0},			    /* supervisor leaf */
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* A fresh PML4 slot per case, so the intermediates are its own. */
		uint64_t va = (uint64_t)(i + 1) << 39;
		int ew, eu;
		CU_ASSERT_FATAL(
		    map_page(pml4, va, 0x9000, MMU_PAGE_4K, cases[i].leaf, cases[i].mid, &ew, &eu));
		CU_ASSERT_EQUAL(mmu_translate(&m, pml4, va, &x), 0);
		CU_ASSERT_EQUAL(x.writable, cases[i].w);
		CU_ASSERT_EQUAL(x.user, cases[i].u);
		CU_ASSERT_EQUAL(ew, cases[i].w); /* the builder agrees */
	}
	/* One read-only level in the middle only: PDPTE. */
	uint64_t va = 0x0000008000000000ULL * 20;
	CU_ASSERT_FATAL(map_page(pml4, va, 0x400000, MMU_PAGE_2M, W | U, MID, NULL, NULL));
	uint64_t pdpt = *ent(pml4, idx(4, va)) & MMU_PTE_ADDR;
	*ent(pdpt, idx(3, va)) &= ~W;
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, va, &x), 0);
	CU_ASSERT_FALSE(x.writable);
	CU_ASSERT_TRUE(x.user);
}

static void test_xlate_a_d_from_leaf(void)
{
	struct mmu m = fake_mmu();
	struct mmu_xlate x;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	/* Intermediates with A and D set say nothing about this page. */
	uint64_t va = 0x40000000ULL;
	CU_ASSERT_FATAL(map_page(pml4, va, 0x3000, MMU_PAGE_4K, W, MID | D, NULL, NULL));
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, va, &x), 0);
	CU_ASSERT_FALSE(x.accessed);
	CU_ASSERT_FALSE(x.dirty);

	/* And a dirty leaf under intermediates with A clear is still dirty. */
	va += 0x1000;
	uint64_t e = map_page(pml4, va, 0x4000, MMU_PAGE_4K, W | A | D, P | W, NULL, NULL);
	CU_ASSERT_FATAL(e);
	uint64_t pdpt = *ent(pml4, idx(4, va)) & MMU_PTE_ADDR;
	uint64_t pd = *ent(pdpt, idx(3, va)) & MMU_PTE_ADDR;
	*ent(pml4, idx(4, va)) &= ~A;
	*ent(pdpt, idx(3, va)) &= ~A;
	*ent(pd, idx(2, va)) &= ~A;
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, va, &x), 0);
	CU_ASSERT_TRUE(x.accessed);
	CU_ASSERT_TRUE(x.dirty);

	/* Accessed but clean, 2 MiB. */
	uint64_t va2 = 0x80000000ULL;
	CU_ASSERT_FATAL(map_page(pml4, va2, 0x600000, MMU_PAGE_2M, A, MID | D, NULL, NULL));
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, va2 + 5, &x), 0);
	CU_ASSERT_TRUE(x.accessed);
	CU_ASSERT_FALSE(x.dirty);
}

static void test_xlate_not_present(void)
{
	struct mmu m = fake_mmu();
	struct mmu_xlate x;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	uint64_t va = 0x00007f0012345000ULL;
	uint64_t leaf = map_page(pml4, va, 0x8000, MMU_PAGE_4K, W, MID, NULL, NULL);
	CU_ASSERT_FATAL(leaf);
	uint64_t pdpt = *ent(pml4, idx(4, va)) & MMU_PTE_ADDR;
	uint64_t pd = *ent(pdpt, idx(3, va)) & MMU_PTE_ADDR;
	uint64_t pt = *ent(pd, idx(2, va)) & MMU_PTE_ADDR;
	uint64_t tables[5] = {0, pt, pd, pdpt, pml4};

	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, va, &x), 0);
	/* Clear P at each level in turn; the other bits stay, and are ignored. */
	for (int level = 1; level <= 4; level++) {
		uint64_t *e = ent(tables[level], idx(level, va));
		*e &= ~P;
		CU_ASSERT_EQUAL(mmu_translate(&m, pml4, va, &x), -EFAULT);
		CU_ASSERT_EQUAL(x.reason, MMU_R_NOT_PRESENT);
		CU_ASSERT_EQUAL(x.level, level);
		CU_ASSERT_EQUAL(x.pte_gpa, tables[level] + 8ULL * idx(level, va));
		CU_ASSERT_EQUAL(x.pte, *e);
		*e |= P;
	}
	/* Not present with garbage (reserved) bits is still just not present. */
	*ent(pt, idx(1, va)) = 0xfff0000000000ffeULL;
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, va, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.reason, MMU_R_NOT_PRESENT);
	CU_ASSERT_EQUAL(cb_outside, 0);
}

static void test_xlate_noncanonical(void)
{
	struct mmu m = fake_mmu();
	struct mmu_xlate x;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	/* Map the last lower-half page and the first upper-half page. */
	CU_ASSERT_FATAL(
	    map_page(pml4, 0x00007ffffffff000ULL, 0x1000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(
	    map_page(pml4, 0xffff800000000000ULL, 0x2000, MMU_PAGE_4K, W, MID, NULL, NULL));
	static const uint64_t bad[] = {
	    0x0000800000000000ULL, 0x0000fffffffff000ULL, 0xffff7fffffffffffULL,
	    0x8000000000000000ULL, 0x7fffffffffffffffULL, 0x00ff800000000000ULL,
	};
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t calls = cb_calls;
		CU_ASSERT_EQUAL(mmu_translate(&m, pml4, bad[i], &x), -EFAULT);
		CU_ASSERT_EQUAL(x.reason, MMU_R_NONCANONICAL);
		CU_ASSERT_EQUAL(x.level, 0);
		CU_ASSERT_EQUAL(cb_calls, calls); /* nothing read */
	}
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 0x00007fffffffffffULL, &x), 0);
	CU_ASSERT_EQUAL(x.gpa, 0x1fff);
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 0xffff800000000001ULL, &x), 0);
	CU_ASSERT_EQUAL(x.gpa, 0x2001);
}

/* ---- walk: a random sparse tree against an independent list ------------- */

struct expect {
	uint64_t va, gpa, size, pte_gpa;
	int w, u, a, d;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned int rng_index(void)
{
	/* Crowd the low and high ends of tables so paths share tables. */
	unsigned int r = (unsigned int)(rng() % 16);
	return rng() % 2 ? r : 511 - r;
}

static int cmp_expect(const void *a, const void *b)
{
	uint64_t x = ((const struct expect *)a)->va, y = ((const struct expect *)b)->va;
	return x < y ? -1 : x > y;
}

#define SPARSE_N 400

static struct expect sparse[SPARSE_N];
static size_t sparse_n;

/* Build the tree: mixed sizes, both halves, random flags at every level. */
static uint64_t build_sparse(uint64_t seed)
{
	static const unsigned int top[] = {0, 1, 2, 255, 256, 257, 510, 511};
	uint64_t pml4 = pt_alloc();
	rng_state = seed;
	sparse_n = 0;
	for (int tries = 0; sparse_n < SPARSE_N && tries < 10 * SPARSE_N; tries++) {
		uint64_t r = rng() % 10;
		uint64_t size = r < 7 ? MMU_PAGE_4K : r < 9 ? MMU_PAGE_2M : MMU_PAGE_1G;
		int leaf = size_level(size);
		uint64_t lin = (uint64_t)top[rng() % 8] << 39;
		for (int level = 3; level >= leaf; level--)
			lin |= (uint64_t)rng_index() << (12 + 9 * (level - 1));
		uint64_t va = lin & (1ULL << 47) ? lin | 0xffff000000000000ULL : lin;
		uint64_t gpa = (rng() & 0x000ffffffffff000ULL) & ~(size - 1);
		uint64_t flags = rng() & (W | U | A | D);
		/* Intermediates: present, A, random W/U but mostly permissive. */
		uint64_t mid = P | A | (rng() % 4 ? W : 0) | (rng() % 4 ? U : 0);
		int ew, eu;
		uint64_t e_gpa = map_page(pml4, va, gpa, size, flags, mid, &ew, &eu);
		if (!e_gpa)
			continue;
		sparse[sparse_n++] =
		    (struct expect){va, gpa, size, e_gpa, ew, eu, !!(flags & A), !!(flags & D)};
	}
	qsort(sparse, sparse_n, sizeof(sparse[0]), cmp_expect);
	return pml4;
}

static int overlaps(const struct expect *e, uint64_t lo, uint64_t hi)
{
	/* hi 0 is 2^64; va + size - 1 cannot overflow. */
	return e->va + e->size - 1 >= lo && (hi == 0 || e->va < hi);
}

/* Walk [lo, hi) and compare with the list, entry by entry, in order. */
static void check_sparse_range(const struct mmu *m, uint64_t pml4, uint64_t lo, uint64_t hi)
{
	static struct collect c;
	struct mmu_walk_stats st;
	CU_ASSERT_EQUAL_FATAL(walk_all(m, pml4, lo, hi, &c, &st), 0);
	size_t k = 0;
	for (size_t i = 0; i < sparse_n; i++) {
		const struct expect *e = &sparse[i];
		if (!overlaps(e, lo, hi))
			continue;
		CU_ASSERT_FATAL(k < c.n);
		const struct mmu_leaf *l = &c.leaves[k++];
		CU_ASSERT_EQUAL(l->va, e->va);
		CU_ASSERT_EQUAL(l->gpa, e->gpa);
		CU_ASSERT_EQUAL(l->size, e->size);
		CU_ASSERT_EQUAL(l->level, size_level(e->size));
		CU_ASSERT_EQUAL(l->pte_gpa, e->pte_gpa);
		CU_ASSERT_EQUAL(l->writable, e->w);
		CU_ASSERT_EQUAL(l->user, e->u);
		CU_ASSERT_EQUAL(l->accessed, e->a);
		CU_ASSERT_EQUAL(l->dirty, e->d);
	}
	CU_ASSERT_EQUAL(c.n, k);
	CU_ASSERT_EQUAL(st.leaves, k);
	CU_ASSERT_EQUAL(st.bad, 0);
	CU_ASSERT_EQUAL(c.nf, 0);
}

static void test_walk_sparse(void)
{
	struct mmu m = fake_mmu();
	static struct collect c;
	struct mmu_walk_stats st;
	fake_reset();
	uint64_t pml4 = build_sparse(0x5eed1234abcdULL);
	CU_ASSERT_FATAL(sparse_n > SPARSE_N / 2);

	/* The whole address space: every table visited once, nothing else. */
	check_sparse_range(&m, pml4, 0, 0);
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, 0, &c, &st), 0);
	CU_ASSERT_EQUAL(st.tables, pt_count());
	CU_ASSERT_EQUAL(cb_outside, 0);
	/* Ascending VA, lower half before upper half. */
	for (size_t i = 1; i < c.n; i++)
		CU_ASSERT(c.leaves[i - 1].va < c.leaves[i].va);

	/* The simple form sees the same leaves. */
	static struct collect c2;
	c2.n = 0;
	CU_ASSERT_EQUAL(mmu_walk(&m, pml4, 0, 0, collect_leaf, &c2), 0);
	CU_ASSERT_EQUAL(c2.n, c.n);

	/* Each half alone, and ranges that start or end in the gap. */
	check_sparse_range(&m, pml4, 0, 1ULL << 47);
	check_sparse_range(&m, pml4, 0xffff800000000000ULL, 0);
	check_sparse_range(&m, pml4, 0x0000900000000000ULL, 0);
	check_sparse_range(&m, pml4, 0x1000, 0xffff000000000000ULL);

	/* Random ranges, edges anywhere (often inside large pages). */
	for (int i = 0; i < 200; i++) {
		uint64_t a = sparse[rng() % sparse_n].va + rng() % (2 * GIB) - GIB;
		uint64_t b = sparse[rng() % sparse_n].va + rng() % (2 * GIB) - GIB;
		if (a > b) {
			uint64_t t = a;
			a = b;
			b = t;
		}
		check_sparse_range(&m, pml4, a, b);
	}

	/* Every listed leaf translates to what the walk said, at any offset. */
	for (size_t i = 0; i < sparse_n; i++) {
		struct mmu_xlate x;
		uint64_t off = rng() & (sparse[i].size - 1);
		CU_ASSERT_EQUAL(mmu_translate(&m, pml4, sparse[i].va + off, &x), 0);
		CU_ASSERT_EQUAL(x.gpa, sparse[i].gpa + off);
		CU_ASSERT_EQUAL(x.writable, sparse[i].w);
		CU_ASSERT_EQUAL(x.user, sparse[i].u);
		CU_ASSERT_EQUAL(x.dirty, sparse[i].d);
		CU_ASSERT_EQUAL(x.pte_gpa, sparse[i].pte_gpa);
	}
}

static void test_walk_range_inside_2m(void)
{
	struct mmu m = fake_mmu();
	static struct collect c;
	struct mmu_walk_stats st;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	uint64_t v = 0x40000000ULL; /* 2 MiB page [v, v + 2M) */
	CU_ASSERT_FATAL(map_page(pml4, v - 0x1000, 0x1000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, v, 0x200000, MMU_PAGE_2M, W | D, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, v + 2 * MIB, 0x3000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(
	    map_page(pml4, v + 2 * MIB + 0x1000, 0x4000, MMU_PAGE_4K, W, MID, NULL, NULL));

	/* Starting mid-page: the page is reported whole (A/D are per leaf). */
	CU_ASSERT_EQUAL(walk_all(&m, pml4, v + MIB, v + 2 * MIB + 0x1000, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 2);
	CU_ASSERT_EQUAL(c.leaves[0].va, v);
	CU_ASSERT_EQUAL(c.leaves[0].size, 2 * MIB);
	CU_ASSERT_EQUAL(c.leaves[0].gpa, 0x200000);
	CU_ASSERT_TRUE(c.leaves[0].dirty);
	CU_ASSERT_EQUAL(c.leaves[1].va, v + 2 * MIB);

	/* Ending mid-page. */
	CU_ASSERT_EQUAL(walk_all(&m, pml4, v - 0x1000, v + 1, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 2);
	CU_ASSERT_EQUAL(c.leaves[0].va, v - 0x1000);
	CU_ASSERT_EQUAL(c.leaves[1].va, v);

	/* Wholly inside it. */
	CU_ASSERT_EQUAL(walk_all(&m, pml4, v + 0x1000, v + 0x2000, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 1);
	CU_ASSERT_EQUAL(c.leaves[0].va, v);

	/* Ending exactly at its start, and starting exactly at its end. */
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, v, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 1);
	CU_ASSERT_EQUAL(c.leaves[0].va, v - 0x1000);
	CU_ASSERT_EQUAL(walk_all(&m, pml4, v + 2 * MIB, 0, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 2);
	CU_ASSERT_EQUAL(c.leaves[0].va, v + 2 * MIB);
}

/* ---- walk: malformed tables ---------------------------------------------- */

static void test_walk_loops(void)
{
	struct mmu m = fake_mmu();
	static struct collect c;
	struct mmu_walk_stats st;
	struct mmu_xlate x;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	/* Real mappings before, between and after the bad entries. */
	uint64_t va0 = 0x1000, va1 = 7 * GIB + 0x3000, va2 = 9 * GIB + 9 * MIB;
	CU_ASSERT_FATAL(map_page(pml4, va0, 0xa000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, va1, 0xb000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, va2, 0xc000, MMU_PAGE_4K, W, MID, NULL, NULL));
	uint64_t pdpt = *ent(pml4, 0) & MMU_PTE_ADDR;
	uint64_t pd7 = *ent(pdpt, 7) & MMU_PTE_ADDR;

	/* PDPT[5] -> the PML4: a table two levels up on the path. */
	*ent(pdpt, 5) = pml4 | P | W | A;
	/* PD (of GiB 7) entry 100 -> that PD itself. */
	*ent(pd7, 100) = pd7 | P | W | A;

	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, 0, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 3);
	CU_ASSERT_EQUAL(c.leaves[0].va, va0);
	CU_ASSERT_EQUAL(c.leaves[1].va, va1);
	CU_ASSERT_EQUAL(c.leaves[2].va, va2);
	CU_ASSERT_EQUAL(st.bad, 2);
	CU_ASSERT_EQUAL_FATAL(c.nf, 2);
	/* Reported in VA order, with where and what. */
	CU_ASSERT_EQUAL(c.faults[0].reason, MMU_R_LOOP);
	CU_ASSERT_EQUAL(c.faults[0].level, 3);
	CU_ASSERT_EQUAL(c.faults[0].va, 5 * GIB);
	CU_ASSERT_EQUAL(c.faults[0].entry_gpa, pdpt + 5 * 8);
	CU_ASSERT_EQUAL(c.faults[0].entry, pml4 | P | W | A);
	CU_ASSERT_EQUAL(c.faults[1].reason, MMU_R_LOOP);
	CU_ASSERT_EQUAL(c.faults[1].level, 2);
	CU_ASSERT_EQUAL(c.faults[1].va, 7 * GIB + 100 * 2 * MIB);
	CU_ASSERT_EQUAL(c.faults[1].entry_gpa, pd7 + 100 * 8);
	CU_ASSERT_STRING_EQUAL(mmu_reason_name(c.faults[0].reason), "loop");
	/* The self-reference was never followed: PML4, PDPT, 3 PDs, 3 PTs. */
	CU_ASSERT_EQUAL(st.tables, pt_count());

	/*
	 * mmu_translate follows the loop as the CPU does: VA (PML4 0, PDPT 5,
	 * PD 0, PT 5) reads PML4[0] as a PDE (-> the PDPT, used as a PT) and
	 * PDPT[5] as a PTE: a 4 KiB leaf mapping the PML4 page itself.
	 */
	uint64_t rva = 5 * GIB + 5 * 0x1000;
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, rva + 8, &x), 0);
	CU_ASSERT_EQUAL(x.gpa, pml4 + 8);
	CU_ASSERT_EQUAL(x.level, 1);
	CU_ASSERT_EQUAL(x.pte_gpa, pdpt + 5 * 8);

	/* A 4 KiB leaf mapping its own PT page is no loop: leaves are not
	 * followed, and the guest may map its page tables. */
	uint64_t pt0 = *ent(*ent(pdpt, 0) & MMU_PTE_ADDR, 0) & MMU_PTE_ADDR;
	*ent(pt0, 2) = pt0 | P | W;
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, 4 * GIB, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 2);
	CU_ASSERT_EQUAL(c.leaves[1].va, 0x2000);
	CU_ASSERT_EQUAL(c.leaves[1].gpa, pt0);
	CU_ASSERT_EQUAL(c.nf, 0);

	/* A PD entry naming the PML4 (three levels up). */
	*ent(pd7, 101) = pml4 | P | W | A;
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 7 * GIB, 8 * GIB, &c, &st), 0);
	CU_ASSERT_EQUAL(c.n, 1);
	CU_ASSERT_EQUAL_FATAL(c.nf, 2);
	CU_ASSERT_EQUAL(c.faults[1].entry_gpa, pd7 + 101 * 8);
	CU_ASSERT_EQUAL(c.faults[1].reason, MMU_R_LOOP);
	CU_ASSERT_EQUAL(cb_outside, 0);
}

/* Counts leaves instead of keeping them, for walks with too many. */
struct count {
	uint64_t leaves;
	struct mmu_fault fault; /* the last one */
	uint64_t faults;
};

static int count_leaf(void *ctx, const struct mmu_leaf *l)
{
	((struct count *)ctx)->leaves++;
	return 0;
}

static void count_bad(void *ctx, const struct mmu_fault *f)
{
	struct count *n = ctx;
	n->fault = *f;
	n->faults++;
}

static void test_walk_alias_budget(void)
{
	struct mmu m = fake_mmu();
	struct count n = {0};
	struct mmu_walk_ops ops = {.leaf = count_leaf, .bad = count_bad, .ctx = &n};
	struct mmu_walk_stats st;
	fake_reset();
	/*
	 * Four pages: every PML4 entry names one PDPT, every PDPT entry one PD,
	 * every PD entry one PT, every PT entry a page.  No table repeats on any
	 * path, yet a full walk would read 512^3 PTs.  Only the budget stops it.
	 */
	uint64_t pml4 = pt_alloc(), pdpt = pt_alloc(), pd = pt_alloc(), pt = pt_alloc();
	for (unsigned int i = 0; i < 512; i++) {
		*ent(pml4, i) = pdpt | P | W | A;
		*ent(pdpt, i) = pd | P | W | A;
		*ent(pd, i) = pt | P | W | A;
		*ent(pt, i) = (0x100000ULL + i * 4096) | P | W;
	}
	m.max_tables = 1000;
	CU_ASSERT_EQUAL(mmu_walk_ex(&m, pml4, 0, 0, &ops, &st), -E2BIG);
	CU_ASSERT_EQUAL(st.tables, 1000);
	/* PML4, PDPT, PD, 512 PTs, the PD again, 484 PTs: 996 PTs of 512. */
	CU_ASSERT_EQUAL(st.leaves, 996 * 512);
	CU_ASSERT_EQUAL(n.leaves, 996 * 512);
	/* Reported once, at the entry that wanted table 1001: PD entry 484
	 * under PDPT entry 1. */
	CU_ASSERT_EQUAL(st.bad, 1);
	CU_ASSERT_EQUAL(n.faults, 1);
	CU_ASSERT_EQUAL(n.fault.reason, MMU_R_TABLE_LIMIT);
	CU_ASSERT_EQUAL(n.fault.level, 2);
	CU_ASSERT_EQUAL(n.fault.va, 1 * GIB + 484 * 2 * MIB);
	CU_ASSERT_EQUAL(n.fault.entry_gpa, pd + 484 * 8);

	/* Within budget the aliases are walked, and are not loops. */
	n = (struct count){0};
	CU_ASSERT_EQUAL(mmu_walk_ex(&m, pml4, 0, 1 * GIB, &ops, &st), 0);
	CU_ASSERT_EQUAL(st.tables, 515);
	CU_ASSERT_EQUAL(n.leaves, 512 * 512);
	CU_ASSERT_EQUAL(n.faults, 0);

	/* The default budget (no max_tables) applies too; the upper half
	 * repeats the lower one, so stop early through a small range. */
	m.max_tables = 0;
	n = (struct count){0};
	CU_ASSERT_EQUAL(
	    mmu_walk_ex(&m, pml4, 0xffff800000000000ULL, 0xffff800000400000ULL, &ops, &st), 0);
	CU_ASSERT_EQUAL(n.leaves, 1024);
	CU_ASSERT_EQUAL(st.tables, 5);
	CU_ASSERT_EQUAL(cb_outside, 0);
}

static void test_walk_outside_ram(void)
{
	struct mmu m = fake_mmu();
	static struct collect c;
	struct mmu_walk_stats st;
	struct mmu_xlate x;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	uint64_t va_ok1 = 0x1000, va_ok2 = 12 * GIB, va_ok3 = 0xffffffff80000000ULL;
	CU_ASSERT_FATAL(map_page(pml4, va_ok1, 0x1000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, va_ok2, 0x200000, MMU_PAGE_2M, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, va_ok3, 0, MMU_PAGE_1G, W, MID, NULL, NULL));
	uint64_t pdpt = *ent(pml4, 0) & MMU_PTE_ADDR;
	uint64_t pd = *ent(pdpt, 0) & MMU_PTE_ADDR;
	/* A leaf may map a GPA that is not RAM (MMIO): it is never read. */
	CU_ASSERT_FATAL(map_page(pml4, 0x5000, ABI_HOLE_START, MMU_PAGE_4K, W, MID, NULL, NULL));

	/* Tables outside RAM at three levels: below it, just past its end,
	 * far above it.  The last RAM page itself is fine. */
	*ent(pml4, 3) = 0x0 | P | W | A;
	*ent(pdpt, 4) = (RAM_GPA + RAM_SIZE) | P | W | A;
	*ent(pd, 5) = (1ULL << 40) | P | W | A;
	*ent(pd, 6) = (RAM_GPA + RAM_SIZE - 4096) | P | W | A; /* zero page: empty PT */

	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, 0, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 4);
	CU_ASSERT_EQUAL(c.leaves[0].va, va_ok1);
	CU_ASSERT_EQUAL(c.leaves[1].va, 0x5000);
	CU_ASSERT_EQUAL(c.leaves[1].gpa, ABI_HOLE_START);
	CU_ASSERT_EQUAL(c.leaves[2].va, va_ok2);
	CU_ASSERT_EQUAL(c.leaves[3].va, va_ok3);
	CU_ASSERT_EQUAL(st.bad, 3);
	CU_ASSERT_EQUAL_FATAL(c.nf, 3);
	const struct mmu_fault *f = find_fault(&c, pml4 + 3 * 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->reason, MMU_R_OUTSIDE_RAM);
	CU_ASSERT_EQUAL(f->level, 4);
	CU_ASSERT_EQUAL(f->va, 3ULL << 39);
	f = find_fault(&c, pdpt + 4 * 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->level, 3);
	CU_ASSERT_EQUAL(f->entry, (RAM_GPA + RAM_SIZE) | P | W | A);
	f = find_fault(&c, pd + 5 * 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->level, 2);
	CU_ASSERT_EQUAL(f->va, 5 * 2 * MIB);
	/* One question per bad entry, answered NULL, and nothing read there
	 * (the guard pages would have crashed us). */
	CU_ASSERT_EQUAL(cb_outside, 3);

	/* Translate agrees, naming the entry that points out. */
	cb_outside = 0;
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, (3ULL << 39) + 0x1234, &x), -EIO);
	CU_ASSERT_EQUAL(x.reason, MMU_R_OUTSIDE_RAM);
	CU_ASSERT_EQUAL(x.level, 4);
	CU_ASSERT_EQUAL(x.pte_gpa, pml4 + 3 * 8);
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 4 * GIB, &x), -EIO);
	CU_ASSERT_EQUAL(x.level, 3);
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 5 * 2 * MIB + 7, &x), -EIO);
	CU_ASSERT_EQUAL(x.level, 2);
	CU_ASSERT_EQUAL(x.pte_gpa, pd + 5 * 8);
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 6 * 2 * MIB, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.level, 1);
	CU_ASSERT_EQUAL(cb_outside, 3);

	/* CR3 itself outside RAM: level 5, nothing to walk. */
	cb_outside = 0;
	CU_ASSERT_EQUAL(walk_all(&m, 2 * GIB, 0, 0, &c, &st), -EIO);
	CU_ASSERT_EQUAL(c.n, 0);
	CU_ASSERT_EQUAL_FATAL(c.nf, 1);
	CU_ASSERT_EQUAL(c.faults[0].level, MMU_LEVEL_CR3);
	CU_ASSERT_EQUAL(c.faults[0].reason, MMU_R_OUTSIDE_RAM);
	CU_ASSERT_EQUAL(c.faults[0].entry, 2 * GIB);
	CU_ASSERT_EQUAL(st.bad, 1);
	CU_ASSERT_EQUAL(st.tables, 0);
	CU_ASSERT_EQUAL(mmu_translate(&m, 2 * GIB, 0x1000, &x), -EIO);
	CU_ASSERT_EQUAL(x.level, MMU_LEVEL_CR3);
	CU_ASSERT_EQUAL(x.reason, MMU_R_OUTSIDE_RAM);
	CU_ASSERT_EQUAL(cb_outside, 2);
}

/* One reserved-bit case: an entry, where it goes, and what must be said. */
struct rsvd_case {
	uint64_t va;
	uint64_t size;	   /* leaf size to build */
	int level;	   /* level of the entry to spoil */
	uint64_t set;	   /* bits to set in it */
	enum mmu_reason r; /* MMU_R_OK: still fine */
};

static void test_reserved_bits(void)
{
	static const struct rsvd_case cases[] = {
	    /* Address bits at or above MAXPHYADDR (40 here), leaf and not. */
	    {0x1000, MMU_PAGE_4K, 1, 1ULL << 45, MMU_R_RSVD_ADDR},
	    {1ULL << 39, MMU_PAGE_4K, 3, 1ULL << 41, MMU_R_RSVD_ADDR},
	    {2ULL << 39, MMU_PAGE_4K, 4, 1ULL << 51, MMU_R_RSVD_ADDR},
	    {3ULL << 39, MMU_PAGE_4K, 1, 1ULL << 39, MMU_R_OK}, /* below MAXPHYADDR */
	    /* PS in a PML4 entry. */
	    {4ULL << 39, MMU_PAGE_4K, 4, PS, MMU_R_RSVD_PS},
	    /* Low address bits of large leaves; bit 12 is PAT, allowed. */
	    {5ULL << 39, MMU_PAGE_2M, 2, 1ULL << 13, MMU_R_RSVD_LARGE},
	    {6ULL << 39, MMU_PAGE_2M, 2, 1ULL << 20, MMU_R_RSVD_LARGE},
	    {7ULL << 39, MMU_PAGE_2M, 2, 1ULL << 12, MMU_R_OK},
	    {8ULL << 39, MMU_PAGE_1G, 3, 1ULL << 29, MMU_R_RSVD_LARGE},
	    {9ULL << 39, MMU_PAGE_1G, 3, 1ULL << 13, MMU_R_RSVD_LARGE},
	    {10ULL << 39, MMU_PAGE_1G, 3, 1ULL << 12, MMU_R_OK},
	    /* XD without EFER.NXE (this project's guest runs without it). */
	    {11ULL << 39, MMU_PAGE_4K, 2, MMU_PTE_XD, MMU_R_RSVD_XD},
	    /* Bits 62:52 and 11:9 are the guest's to use. */
	    {12ULL << 39, MMU_PAGE_4K, 1, 0x7ff0000000000e00ULL, MMU_R_OK},
	    /* PAT (bit 7) in a 4 KiB PTE is not PS. */
	    {13ULL << 39, MMU_PAGE_4K, 1, PS, MMU_R_OK},
	};
	struct mmu m = fake_mmu();
	static struct collect c;
	struct mmu_walk_stats st;
	struct mmu_xlate x;
	uint64_t e_gpa[sizeof(cases) / sizeof(cases[0])];
	size_t nbad = 0;

	fake_reset();
	m.maxphyaddr = 40;
	uint64_t pml4 = pt_alloc();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rsvd_case *k = &cases[i];
		CU_ASSERT_FATAL(
		    map_page(pml4, k->va, 0x40000000ULL, k->size, W | A, MID, NULL, NULL));
		uint64_t t = pml4;
		for (int level = 4; level > k->level; level--)
			t = *ent(t, idx(level, k->va)) & MMU_PTE_ADDR;
		*ent(t, idx(k->level, k->va)) |= k->set;
		e_gpa[i] = t + 8ULL * idx(k->level, k->va);
		nbad += k->r != MMU_R_OK;
	}

	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, 0, &c, &st), 0);
	CU_ASSERT_EQUAL(st.bad, nbad);
	CU_ASSERT_EQUAL(c.nf, nbad);
	CU_ASSERT_EQUAL(c.n, sizeof(cases) / sizeof(cases[0]) - nbad);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rsvd_case *k = &cases[i];
		const struct mmu_fault *f = find_fault(&c, e_gpa[i]);
		int ret = mmu_translate(&m, pml4, k->va, &x);
		if (k->r == MMU_R_OK) {
			CU_ASSERT_PTR_NULL(f);
			CU_ASSERT_EQUAL(ret, 0);
			/* PAT and the guest's bits stay out of the address. */
			CU_ASSERT_EQUAL(x.gpa,
					0x40000000ULL | (k->set & MMU_PTE_ADDR & ~(k->size - 1)));
			continue;
		}
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_EQUAL(f->reason, k->r);
		CU_ASSERT_EQUAL(f->level, k->level);
		CU_ASSERT_EQUAL(f->va, k->va);
		CU_ASSERT_EQUAL(ret, -EIO);
		CU_ASSERT_EQUAL(x.reason, k->r);
		CU_ASSERT_EQUAL(x.level, k->level);
		CU_ASSERT_EQUAL(x.pte_gpa, e_gpa[i]);
	}

	/* With EFER.NXE, XD is a permission: the leaf below is no-execute. */
	m.nxe = true;
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 11ULL << 39, &x), 0);
	CU_ASSERT_TRUE(x.nx);
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 0x1000, &x), -EIO);
	CU_ASSERT_FALSE(x.nx);

	/* The default MAXPHYADDR, 52, allows bits 51:40. */
	m = fake_mmu();
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 0x1000, &x), 0);
	CU_ASSERT_EQUAL(x.gpa, 0x40000000ULL | (1ULL << 45));

	/* CR3 naming a PML4 above MAXPHYADDR. */
	m.maxphyaddr = 40;
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4 | (1ULL << 44), 0x1000, &x), -EIO);
	CU_ASSERT_EQUAL(x.level, MMU_LEVEL_CR3);
	CU_ASSERT_EQUAL(x.reason, MMU_R_RSVD_ADDR);
	CU_ASSERT_EQUAL(walk_all(&m, pml4 | (1ULL << 44), 0, 0, &c, &st), -EIO);
	CU_ASSERT_EQUAL_FATAL(c.nf, 1);
	CU_ASSERT_EQUAL(c.faults[0].reason, MMU_R_RSVD_ADDR);

	/* A MAXPHYADDR no CPU has is refused. */
	m.maxphyaddr = 53;
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 0x1000, &x), -EINVAL);
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, 0, &c, &st), -EINVAL);
	CU_ASSERT_EQUAL(cb_outside, 0);
}

/* ---- walk: the table callback -------------------------------------------- */

#define MAX_TABLE_CB 64

struct table_log {
	uint64_t gpa[MAX_TABLE_CB];
	int level[MAX_TABLE_CB];
	size_t n;
};

static void log_table(void *ctx, uint64_t gpa, int level)
{
	struct table_log *t = ctx;
	CU_ASSERT_FATAL(t->n < MAX_TABLE_CB);
	t->gpa[t->n] = gpa;
	t->level[t->n++] = level;
}

static int ignore_leaf(void *ctx, const struct mmu_leaf *l)
{
	return 0;
}

/* Walk [lo, hi) logging table visits into *t; returns mmu_walk_ex's value. */
static int walk_tables(const struct mmu *m, uint64_t cr3, uint64_t lo, uint64_t hi,
		       struct table_log *t, struct mmu_walk_stats *st)
{
	struct mmu_walk_ops ops = {.leaf = ignore_leaf, .table = log_table, .ctx = t};
	t->n = 0;
	return mmu_walk_ex(m, cr3, lo, hi, &ops, st);
}

/* The log is exactly `n` visits: gpa[i] at level[i], in that order. */
static void check_tables(const struct table_log *t, const uint64_t *gpa, const int *level, size_t n)
{
	CU_ASSERT_EQUAL_FATAL(t->n, n);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(t->gpa[i], gpa[i]);
		CU_ASSERT_EQUAL(t->level[i], level[i]);
	}
}

static void test_walk_table_callback(void)
{
	struct mmu m = fake_mmu();
	static struct table_log t;
	struct mmu_walk_stats st;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	const uint64_t hi4k = 0xffff800000000000ULL, hi1g = 0xffffffffc0000000ULL;
	CU_ASSERT_FATAL(map_page(pml4, 0x1000, 0x1000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, 0x3000, 0x2000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(
	    map_page(pml4, 5 * GIB + 2 * MIB, 0x200000, MMU_PAGE_2M, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, 7 * GIB + 0x1000, 0x3000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, hi4k, 0x4000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, hi1g, 0x40000000, MMU_PAGE_1G, W, MID, NULL, NULL));
	uint64_t pdpt0 = *ent(pml4, 0) & MMU_PTE_ADDR;
	uint64_t pd0 = *ent(pdpt0, 0) & MMU_PTE_ADDR;
	uint64_t pt0 = *ent(pd0, 0) & MMU_PTE_ADDR;
	uint64_t pd5 = *ent(pdpt0, 5) & MMU_PTE_ADDR;
	uint64_t pd7 = *ent(pdpt0, 7) & MMU_PTE_ADDR;
	uint64_t pt7 = *ent(pd7, 0) & MMU_PTE_ADDR;
	uint64_t pdpt256 = *ent(pml4, 256) & MMU_PTE_ADDR;
	uint64_t pd256 = *ent(pdpt256, 0) & MMU_PTE_ADDR;
	uint64_t pt256 = *ent(pd256, 0) & MMU_PTE_ADDR;
	uint64_t pdpt511 = *ent(pml4, 511) & MMU_PTE_ADDR;

	/* Every table page once, the PML4 first, depth first in VA order. */
	const uint64_t all[] = {pml4, pdpt0,   pd0,   pt0,   pd5,    pd7,
				pt7,  pdpt256, pd256, pt256, pdpt511};
	const int all_lv[] = {4, 3, 2, 1, 2, 2, 1, 3, 2, 1, 3};
	CU_ASSERT_EQUAL_FATAL(pt_count(), sizeof(all) / sizeof(all[0]));
	CU_ASSERT_EQUAL(walk_tables(&m, pml4, 0, 0, &t, &st), 0);
	check_tables(&t, all, all_lv, sizeof(all) / sizeof(all[0]));
	CU_ASSERT_EQUAL(st.tables, t.n);
	CU_ASSERT_EQUAL(st.leaves, 6);

	/* A range reads (and reports) only the tables on its paths. */
	const uint64_t low[] = {pml4, pdpt0, pd0, pt0};
	const int low_lv[] = {4, 3, 2, 1};
	CU_ASSERT_EQUAL(walk_tables(&m, pml4, 0, 4 * GIB, &t, &st), 0);
	check_tables(&t, low, low_lv, 4);
	CU_ASSERT_EQUAL(st.tables, 4);

	/* Refused tables get no callback: loops (a PDPT entry naming the PML4,
	 * a PD naming itself) and tables outside RAM (below it, far above). */
	*ent(pdpt0, 9) = pml4 | P | W | A;
	*ent(pd0, 10) = pd0 | P | W | A;
	*ent(pml4, 3) = 0x0 | P | W | A;
	*ent(pd7, 3) = (1ULL << 40) | P | W | A;
	CU_ASSERT_EQUAL(walk_tables(&m, pml4, 0, 0, &t, &st), 0);
	check_tables(&t, all, all_lv, sizeof(all) / sizeof(all[0]));
	CU_ASSERT_EQUAL(st.bad, 4);
	CU_ASSERT_EQUAL(st.tables, t.n);

	/* A table reached by two paths (no loop) is reported once per visit. */
	*ent(pdpt0, 20) = pd7 | P | W | A;
	const uint64_t twice[] = {pml4, pdpt0, pd0,	pt0,   pd5,   pd7,    pt7,
				  pd7,	pt7,   pdpt256, pd256, pt256, pdpt511};
	const int twice_lv[] = {4, 3, 2, 1, 2, 2, 1, 2, 1, 3, 2, 1, 3};
	CU_ASSERT_EQUAL(walk_tables(&m, pml4, 0, 0, &t, &st), 0);
	check_tables(&t, twice, twice_lv, sizeof(twice) / sizeof(twice[0]));
	CU_ASSERT_EQUAL(st.tables, t.n);
	CU_ASSERT_EQUAL(st.bad, 5); /* PD 7's bad entry, once per visit */

	/* A CR3 outside RAM: no table read, no callback. */
	CU_ASSERT_EQUAL(walk_tables(&m, RAM_GPA + RAM_SIZE, 0, 0, &t, &st), -EIO);
	CU_ASSERT_EQUAL(t.n, 0);
	CU_ASSERT_EQUAL(st.tables, 0);
	/* Outside RAM: 2 tables in the third walk, 3 in the fourth (PD 7's
	 * bad entry is read on both visits), then CR3. */
	CU_ASSERT_EQUAL(cb_outside, 6);
}

/* ---- walk: stopping, arguments, names ------------------------------------ */

static void test_walk_stop(void)
{
	struct mmu m = fake_mmu();
	static struct collect c;
	struct mmu_walk_stats st;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	for (uint64_t i = 0; i < 10; i++)
		CU_ASSERT_FATAL(
		    map_page(pml4, i * 3 * GIB, i * 4096, MMU_PAGE_4K, W, MID, NULL, NULL));

	c.stop_after = 3;
	c.stop_value = 7;
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, 0, &c, &st), 7);
	CU_ASSERT_EQUAL(c.n, 3);
	CU_ASSERT_EQUAL(st.leaves, 3);
	CU_ASSERT_EQUAL(c.leaves[2].va, 6 * GIB);

	/* A negative errno from the callback comes back as is. */
	c.stop_after = 1;
	c.stop_value = -ENOSPC;
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, 0, &c, &st), -ENOSPC);
	CU_ASSERT_EQUAL(c.n, 1);
	c.stop_after = 0;

	/* The simple form stops too. */
	c.n = 0;
	c.stop_after = 10;
	c.stop_value = 1;
	CU_ASSERT_EQUAL(mmu_walk(&m, pml4, 0, 0, collect_leaf, &c), 1);
	CU_ASSERT_EQUAL(c.n, 10);
	c.stop_after = 0;
	CU_ASSERT_EQUAL(mmu_walk(&m, pml4, 0, 0, collect_leaf, &c), 0);
}

static void test_walk_args(void)
{
	struct mmu m = fake_mmu();
	static struct collect c;
	struct mmu_walk_stats st;
	struct mmu_xlate x;
	fake_reset();
	uint64_t pml4 = pt_alloc();
	uint64_t top = 0xfffffffffffff000ULL;
	CU_ASSERT_FATAL(map_page(pml4, top, 0x1000, MMU_PAGE_4K, W, MID, NULL, NULL));
	CU_ASSERT_FATAL(map_page(pml4, 0, 0x2000, MMU_PAGE_4K, W, MID, NULL, NULL));

	/* va_hi 0 reaches the last page; there is no other way to. */
	CU_ASSERT_EQUAL(walk_all(&m, pml4, top, 0, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 1);
	CU_ASSERT_EQUAL(c.leaves[0].va, top);
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0, top, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, 1);
	CU_ASSERT_EQUAL(c.leaves[0].va, 0);

	/* Empty ranges, and ranges wholly in the non-canonical gap, read
	 * nothing at all. */
	uint64_t calls = cb_calls;
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 0x1000, 0x1000, &c, &st), 0);
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 1ULL << 47, 0xffff800000000000ULL, &c, &st), 0);
	CU_ASSERT_EQUAL(walk_all(&m, pml4, 1ULL << 50, 1ULL << 60, &c, &st), 0);
	CU_ASSERT_EQUAL(c.n, 0);
	CU_ASSERT_EQUAL(st.tables, 0);
	CU_ASSERT_EQUAL(cb_calls, calls);

	/* Bad arguments. */
	struct mmu_walk_ops ops = {.leaf = collect_leaf, .ctx = &c};
	CU_ASSERT_EQUAL(mmu_walk_ex(&m, pml4, 0x2000, 0x1000, &ops, &st), -EINVAL);
	CU_ASSERT_EQUAL(mmu_walk_ex(&m, pml4, 0, 0, NULL, &st), -EINVAL);
	ops.leaf = NULL;
	CU_ASSERT_EQUAL(mmu_walk_ex(&m, pml4, 0, 0, &ops, &st), -EINVAL);
	CU_ASSERT_EQUAL(mmu_walk(NULL, pml4, 0, 0, collect_leaf, &c), -EINVAL);
	CU_ASSERT_EQUAL(mmu_translate(NULL, pml4, 0, &x), -EINVAL);
	CU_ASSERT_EQUAL(mmu_translate(&m, pml4, 0, NULL), -EINVAL);
	struct mmu none = {0};
	CU_ASSERT_EQUAL(mmu_walk(&none, pml4, 0, 0, collect_leaf, &c), -EINVAL);
	CU_ASSERT_EQUAL(mmu_translate(&none, pml4, 0, &x), -EINVAL);
	/* Stats are optional. */
	ops.leaf = collect_leaf;
	c.n = 0;
	CU_ASSERT_EQUAL(mmu_walk_ex(&m, pml4, 0, 0, &ops, NULL), 0);
	CU_ASSERT_EQUAL(c.n, 2);
}

static void test_reason_names(void)
{
	for (int i = 0; i < MMU_R_NR; i++) {
		const char *a = mmu_reason_name((enum mmu_reason)i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_STRING_NOT_EQUAL(a, "unknown");
		for (const char *p = a; *p; p++) /* kebab-case, for JSON */
			CU_ASSERT((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
				  *p == '-');
		for (int j = 0; j < i; j++)
			CU_ASSERT_STRING_NOT_EQUAL(a, mmu_reason_name((enum mmu_reason)j));
	}
	CU_ASSERT_STRING_EQUAL(mmu_reason_name(MMU_R_NOT_PRESENT), "not-present");
	CU_ASSERT_STRING_EQUAL(mmu_reason_name(MMU_R_OUTSIDE_RAM), "outside-ram");
	CU_ASSERT_STRING_EQUAL(mmu_reason_name(MMU_R_NR), "unknown");
	CU_ASSERT_STRING_EQUAL(mmu_reason_name((enum mmu_reason) - 1), "unknown");
}

/* ---- integration: the VMM's boot tables and the guest's workload tables -- */

static const void *mem_cb(void *ctx, uint64_t gpa, uint64_t len)
{
	return mem_gpa_to_hva(ctx, gpa, len);
}

/* Load the embedded guest into fresh RAM the way the VMM does (no KVM). */
static uint64_t boot_guest(struct guest_mem *gm, uint64_t ram_size, uint64_t *entry)
{
	struct boot_workload wl = {0};
	uint64_t cr3 = 0, ap_entry = 0;
	CU_ASSERT_EQUAL_FATAL(mem_create(gm, ram_size), 0);
	CU_ASSERT_EQUAL_FATAL(boot_load(gm, guest_image, (size_t)(guest_image_end - guest_image),
					&wl, entry, &ap_entry, &cr3),
			      0);
	return cr3;
}

/* The boot tables map each 2 MiB of RAM at DMAP_BASE + gpa and GiB 0 again
 * at KERNEL_VBASE: exactly that, in that order, W, supervisor, A and D. */
static void check_boot_map(uint64_t ram_size)
{
	static struct collect c;
	struct guest_mem gm;
	struct mmu_walk_stats st;
	struct mmu_xlate x;
	uint64_t entry;
	uint64_t cr3 = boot_guest(&gm, ram_size, &entry);
	struct mmu m = {.gpa_to_host = mem_cb, .ctx = &gm};

	CU_ASSERT_EQUAL_FATAL(walk_all(&m, cr3, 0, 0, &c, &st), 0);
	CU_ASSERT_EQUAL(c.nf, 0);
	size_t k = 0;
	uint64_t top = gm.slots[gm.nr_slots - 1].gpa + gm.slots[gm.nr_slots - 1].pages * 4096;
	for (uint64_t gpa = 0; gpa < top; gpa += 2 * MIB) {
		if (mem_gpa_to_index(&gm, gpa) < 0)
			continue; /* the hole */
		CU_ASSERT_FATAL(k < c.n);
		CU_ASSERT_EQUAL(c.leaves[k].va, ABI_DMAP_BASE + gpa);
		CU_ASSERT_EQUAL(c.leaves[k].gpa, gpa);
		k++;
	}
	for (uint64_t gpa = 0; gpa < GIB && gpa < gm.ram_size; gpa += 2 * MIB) {
		CU_ASSERT_FATAL(k < c.n);
		CU_ASSERT_EQUAL(c.leaves[k].va, ABI_KERNEL_VBASE + gpa);
		CU_ASSERT_EQUAL(c.leaves[k].gpa, gpa);
		k++;
	}
	CU_ASSERT_EQUAL(c.n, k);
	for (size_t i = 0; i < c.n; i++) {
		CU_ASSERT_EQUAL(c.leaves[i].size, 2 * MIB);
		CU_ASSERT_TRUE(c.leaves[i].writable);
		CU_ASSERT_FALSE(c.leaves[i].user);
		CU_ASSERT_TRUE(c.leaves[i].accessed);
		CU_ASSERT_TRUE(c.leaves[i].dirty);
	}

	/* The entry point translates into the kernel image. */
	CU_ASSERT_EQUAL(mmu_translate(&m, cr3, entry, &x), 0);
	CU_ASSERT_EQUAL(x.gpa, entry - ABI_KERNEL_VBASE);
	CU_ASSERT(x.gpa >= ABI_KERNEL_GPA);
	/* The direct map, past the hole, is the GPA and not the RAM index. */
	if (gm.nr_slots > 1) {
		CU_ASSERT_EQUAL(mmu_translate(&m, cr3, ABI_DMAP_BASE + ABI_HOLE_END + 5, &x), 0);
		CU_ASSERT_EQUAL(x.gpa, ABI_HOLE_END + 5);
		/* The hole has no PD at all. */
		CU_ASSERT_EQUAL(mmu_translate(&m, cr3, ABI_DMAP_BASE + ABI_HOLE_START, &x),
				-EFAULT);
		CU_ASSERT_EQUAL(x.level, 3);
	}
	/* Nothing in the lower half before the guest builds it. */
	CU_ASSERT_EQUAL(mmu_translate(&m, cr3, ABI_WORKLOAD_BASE, &x), -EFAULT);
	CU_ASSERT_EQUAL(x.level, 4);
	mem_destroy(&gm);
}

static void test_boot_tables(void)
{
	check_boot_map(64 * MIB);
	check_boot_map(4 * GIB + GIB / 2); /* two slots; MAP_NORESERVE, so cheap */
}

/* Host-side twins of guest/vm.c's vm_walk/vm_new_space/vm_map_fresh, over a
 * bump allocator standing in for pmem_alloc_kernel/pmem_alloc_user. */
struct gv {
	struct guest_mem *gm;
	uint64_t next_kernel, next_user;
};

static uint64_t *gv_p2v(struct gv *g, uint64_t pa)
{
	uint64_t *p = mem_gpa_to_hva(g->gm, pa, 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static uint64_t gv_alloc(struct gv *g, uint64_t *next)
{
	uint64_t pa = *next;
	*next += 4096;
	memset(gv_p2v(g, pa), 0, 4096);
	return pa;
}

static uint64_t *gv_walk(struct gv *g, uint64_t *pml4, uint64_t va)
{
	uint64_t *table = pml4;
	for (int level = 3; level > 0; level--) {
		uint64_t *pte = &table[PX(level, va)];
		if (!(*pte & PTE_P))
			*pte = gv_alloc(g, &g->next_kernel) | PTE_P | PTE_W | PTE_A;
		table = gv_p2v(g, *pte & PTE_ADDR);
	}
	return &table[PX(0, va)];
}

static void test_guest_workload_tables(void)
{
	static struct collect c;
	struct guest_mem gm;
	struct mmu_walk_stats st;
	uint64_t entry;
	uint64_t boot_cr3 = boot_guest(&gm, 64 * MIB, &entry);
	struct gv g = {&gm, 32 * MIB, 48 * MIB};
	struct mmu m = {.gpa_to_host = mem_cb, .ctx = &gm};
	enum { PAGES = 1500 }; /* from PT index 300: four PTs, two of them full */
	uint64_t base = ABI_WORKLOAD_BASE + 300 * 4096;

	/* vm_new_space: a fresh PML4 sharing the boot PML4's upper half. */
	uint64_t pml4_pa = gv_alloc(&g, &g.next_kernel);
	uint64_t *pml4 = gv_p2v(&g, pml4_pa), *boot = gv_p2v(&g, boot_cr3);
	for (int i = 256; i < 512; i++)
		pml4[i] = boot[i];
	/* vm_map_fresh: writable, A and D clear. */
	uint64_t *pte = NULL, va = base;
	for (int i = 0; i < PAGES; i++, va += 4096) {
		pte = !pte || PX(0, va) == 0 ? gv_walk(&g, pml4, va) : pte + 1;
		*pte = gv_alloc(&g, &g.next_user) | PTE_P | PTE_W;
	}
	/* Stores to every 7th page: what the CPU writes back into the PTE. */
	va = base;
	for (int i = 0; i < PAGES; i += 7)
		*gv_walk(&g, pml4, base + (uint64_t)i * 4096) |= PTE_A | PTE_D;

	CU_ASSERT_EQUAL(walk_all(&m, pml4_pa, base, base + PAGES * 4096ULL, &c, &st), 0);
	CU_ASSERT_EQUAL_FATAL(c.n, PAGES);
	for (int i = 0; i < PAGES; i++) {
		const struct mmu_leaf *l = &c.leaves[i];
		CU_ASSERT_EQUAL(l->va, base + (uint64_t)i * 4096);
		CU_ASSERT_EQUAL(l->gpa, 48 * MIB + (uint64_t)i * 4096);
		CU_ASSERT_EQUAL(l->size, 4096);
		CU_ASSERT_TRUE(l->writable);
		CU_ASSERT_FALSE(l->user); /* vm.c sets no U anywhere */
		CU_ASSERT_EQUAL(l->dirty, i % 7 == 0);
		CU_ASSERT_EQUAL(l->accessed, i % 7 == 0);
	}
	/* PML4, PDPT, PD, four PTs. */
	CU_ASSERT_EQUAL(st.tables, 7);

	/* The whole space: the workload, then the shared kernel half. */
	CU_ASSERT_EQUAL(walk_all(&m, pml4_pa, 0, 0, &c, &st), 0);
	CU_ASSERT_EQUAL(c.n, PAGES + 32 + 32);
	CU_ASSERT_EQUAL(c.leaves[0].va, base);
	CU_ASSERT_EQUAL(c.leaves[PAGES].va, ABI_DMAP_BASE);
	CU_ASSERT_EQUAL(c.nf, 0);
	mem_destroy(&gm);
}

static const struct ds_case cases[] = {
    {"translate 4K/2M/1G, CR3 low bits ignored", test_xlate_sizes},
    {"translate: W and U ANDed over levels", test_xlate_w_u_and},
    {"translate: A and D from the leaf", test_xlate_a_d_from_leaf},
    {"translate: not present at each level", test_xlate_not_present},
    {"translate: non-canonical VAs", test_xlate_noncanonical},
    {"walk: sparse tree vs independent list", test_walk_sparse},
    {"walk: range edges inside a 2 MiB page", test_walk_range_inside_2m},
    {"walk: loops refused and reported", test_walk_loops},
    {"walk: aliasing stopped by the table budget", test_walk_alias_budget},
    {"walk/translate: tables outside RAM", test_walk_outside_ram},
    {"walk/translate: reserved bits", test_reserved_bits},
    {"walk: table callback", test_walk_table_callback},
    {"walk: callback stops the walk", test_walk_stop},
    {"walk: ranges and bad arguments", test_walk_args},
    {"reason names", test_reason_names},
    {"integration: VMM boot tables", test_boot_tables},
    {"integration: guest/vm.c workload tables", test_guest_workload_tables},
    {NULL, NULL},
};

int main(void)
{
	/* Fake RAM between two PROT_NONE guard pages. */
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *area =
	    mmap(NULL, RAM_SIZE + 2 * (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || mprotect(area + pg, RAM_SIZE, PROT_READ | PROT_WRITE)) {
		perror("test_mmu: mmap");
		return 2;
	}
	ram = area + pg;
	int ret = ds_run_suite("mmu", cases);
	munmap(area, RAM_SIZE + 2 * (size_t)pg);
	return ret;
}
