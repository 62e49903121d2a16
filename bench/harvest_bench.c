/*
 * bench_harvest: how close the pure harvest functions (logger/dlog/harvest.h) come
 * to the physical floor of their work, at native speed and without KVM.
 *
 * A simulated 4 GiB guest (1M pages, split at the 3 GiB hole into two slots as
 * vmm/mem.c does) is dirtied at 0.1%, 1%, 10% and 100% (random pages, fixed
 * seed) and once in contiguous runs.  For each case, side by side in one run
 * and best of BENCH_REPS repetitions:
 *
 *   bitmap  harvest_bitmap of both slots into a frameset, against a plain
 *           sequential read of the same bitmap words (sum of popcounts);
 *   ring    harvest_ring of a 65536-entry ring holding the same dirty pages
 *           (capped at the ring size) as KVM publishes them, against a plain
 *           read of the same ring entries (sum of offsets), and against the
 *           ring's protocol floor: the read, plus what any harvest must
 *           write, each entry's RESET mark for KVM and its page noted down
 *           (no checks, no de-duplication).
 *
 * frameset_clear is timed separately and not part of the ratio.  Every timed
 * pass starts with its input warm in cache (KVM has just written it), so a
 * harvest and its floor see the same cache state.  Project rule: performance
 * is a ratio taken side by side in one run, never an absolute time asserted
 * anywhere; this program reports, it does not judge.  See bench/README.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "abi/layout.h"
#include "logger/dlog/frameset.h"
#include "logger/dlog/harvest.h"
#include "util/time.h"

#define BENCH_RAM_PAGES	   (4ULL << 30 >> ABI_PAGE_SHIFT)     /* 4 GiB guest */
#define BENCH_LOW_PAGES	   (ABI_HOLE_START >> ABI_PAGE_SHIFT) /* slot 0: below the hole */
#define BENCH_BITMAP_WORDS (BENCH_RAM_PAGES / 64)
#define BENCH_RING_ENTRIES 65536u
#define BENCH_REPS	   300
#define BENCH_SEED	   0x6469727479ULL
#define BENCH_RUN_PAGES	   256	/* clustered: one run of 1 MiB ... */
#define BENCH_RUN_REGION   2560 /* ... at a random offset in every 10 MiB */

struct bench_case {
	const char *name;
	double density_pct;
	bool clustered;
};

static const struct bench_case bench_cases[] = {
    {"random-0.1%", 0.1, false},   {"random-1%", 1.0, false},	  {"random-10%", 10.0, false},
    {"random-100%", 100.0, false}, {"clustered-10%", 10.0, true},
};

struct bench_result {
	const struct bench_case *c;
	uint64_t dirty;
	uint64_t bm_harvest_ns, bm_floor_ns, bm_clear_ns;
	uint32_t ring_n;
	uint64_t ring_harvest_ns, ring_floor_ns, ring_clear_ns;
	uint64_t ring_proto_ns; /* the protocol floor */
};

/* The simulated guest: one bitmap over all RAM indexes (slot 1's bits start
 * at a word boundary), one vCPU ring, and the slot table for ring entries. */
struct bench_state {
	uint64_t *bitmap;
	struct kvm_dirty_gfn *ring;
	uint64_t *pages; /* dirty RAM indexes, in the order the guest wrote them */
	uint32_t *perm;	 /* scratch for drawing distinct random pages */
	uint64_t *noted; /* the protocol floor's pages, one per ring entry */
	struct frameset fs;
	struct harvest_slot slots[2];
};

/* Keeps the floors' results alive so the compiler cannot drop the reads. */
static volatile uint64_t bench_sink;

/* splitmix64: small, fast, and the same sequence on every host. */
static uint64_t bench_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * The bitmap floor.  Without -mpopcnt GCC turns __builtin_popcountll into a
 * libgcc call per word, which would make the floor several times slower than
 * reading memory and flatter the harvest; on x86-64 use the instruction when
 * the CPU has it (checked at run time, and named in the output).
 */
#if defined(__x86_64__)
__attribute__((target("popcnt"), noinline)) static uint64_t bench_popcount_hw(const uint64_t *w,
									      uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++)
		sum += (uint64_t)__builtin_popcountll(w[i]);
	return sum;
}
#endif

__attribute__((noinline)) static uint64_t bench_popcount_sw(const uint64_t *w, uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++)
		sum += (uint64_t)__builtin_popcountll(w[i]);
	return sum;
}

static uint64_t (*bench_popcount)(const uint64_t *w, uint64_t n) = bench_popcount_sw;

static const char *bench_popcount_init(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("popcnt")) {
		bench_popcount = bench_popcount_hw;
		return "popcnt instruction";
	}
#endif
	return "libgcc popcount (no popcnt instruction: the floor is pessimistic)";
}

/* The ring floor: read what the harvest reads, the published entries. */
__attribute__((noinline)) static uint64_t bench_ring_read(const struct kvm_dirty_gfn *ring,
							  uint32_t n)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < n; i++)
		sum += ring[i].offset;
	return sum;
}

/* The ring's protocol floor: read each entry, note its page down and mark
 * it RESET, as any harvest must; no checks and no de-duplication. */
__attribute__((noinline)) static void bench_ring_protocol(struct kvm_dirty_gfn *ring, uint32_t n,
							  const struct harvest_slot *slots,
							  uint64_t *noted)
{
	for (uint32_t i = 0; i < n; i++) {
		noted[i] = slots[ring[i].slot & 1].first_page + ring[i].offset;
		__atomic_store_n(&ring[i].flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
	}
}

/* Publish pages[0..n) at ring[0..n) as KVM does: slot and offset, then the
 * DIRTY flag with release ordering.  Entries from n on stay unpublished. */
static void bench_ring_publish(struct bench_state *st, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct kvm_dirty_gfn *e = &st->ring[i];
		uint32_t slot = st->pages[i] >= BENCH_LOW_PAGES;

		e->slot = slot;
		e->offset = st->pages[i] - st->slots[slot].first_page;
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
	}
}

/* Fill st->pages for case c and set the bitmap to match.  Returns the number
 * of dirty pages (all distinct). */
static uint64_t bench_make_pages(struct bench_state *st, const struct bench_case *c)
{
	uint64_t rng = BENCH_SEED, n = 0;

	if (c->clustered) {
		uint64_t slack = BENCH_RUN_REGION - BENCH_RUN_PAGES + 1;
		for (uint64_t r = 0; r + BENCH_RUN_REGION <= BENCH_RAM_PAGES;
		     r += BENCH_RUN_REGION) {
			uint64_t start = r + bench_rand(&rng) % slack;
			for (uint64_t p = 0; p < BENCH_RUN_PAGES; p++)
				st->pages[n++] = start + p;
		}
	} else {
		/* The first n steps of a Fisher-Yates shuffle: n distinct pages in
		 * random order. */
		uint64_t want = (uint64_t)((double)BENCH_RAM_PAGES * c->density_pct / 100.0 + 0.5);
		for (uint64_t i = 0; i < BENCH_RAM_PAGES; i++)
			st->perm[i] = (uint32_t)i;
		for (; n < want; n++) {
			uint64_t j = n + bench_rand(&rng) % (BENCH_RAM_PAGES - n);
			uint32_t t = st->perm[j];
			st->perm[j] = st->perm[n];
			st->perm[n] = t;
			st->pages[n] = t;
		}
	}
	memset(st->bitmap, 0, BENCH_BITMAP_WORDS * 8);
	for (uint64_t i = 0; i < n; i++)
		st->bitmap[st->pages[i] / 64] |= 1ULL << (st->pages[i] % 64);
	return n;
}

/* Harvest both slots' bitmaps, as dlog_bitmap.c does, slot by slot. */
static int64_t bench_harvest_bitmap(struct bench_state *st)
{
	int64_t total = 0;

	for (int i = 0; i < 2; i++) {
		const struct harvest_slot *s = &st->slots[i];
		int64_t n = harvest_bitmap(st->bitmap + s->first_page / 64, s->pages, s->first_page,
					   &st->fs);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

static void bench_min(uint64_t *best, uint64_t t0, uint64_t t1)
{
	if (t1 - t0 < *best)
		*best = t1 - t0;
}

/* Run one case.  Returns 0, or -EIO if a harvest disagrees with the input. */
static int bench_run_case(struct bench_state *st, const struct bench_case *c,
			  struct bench_result *r)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->dirty = bench_make_pages(st, c);
	r->ring_n = r->dirty < BENCH_RING_ENTRIES ? (uint32_t)r->dirty : BENCH_RING_ENTRIES;
	r->bm_harvest_ns = r->bm_floor_ns = r->bm_clear_ns = UINT64_MAX;
	r->ring_harvest_ns = r->ring_floor_ns = r->ring_clear_ns = r->ring_proto_ns = UINT64_MAX;
	memset(st->ring, 0, BENCH_RING_ENTRIES * sizeof(*st->ring));

	for (int rep = 0; rep < BENCH_REPS; rep++) {
		uint64_t t0, t1;
		int64_t got;
		uint32_t fetch = 0;

		/* bitmap: warm the input, harvest, clear; warm again, floor */
		bench_sink = bench_popcount(st->bitmap, BENCH_BITMAP_WORDS);
		t0 = time_now_ns();
		got = bench_harvest_bitmap(st);
		t1 = time_now_ns();
		bench_min(&r->bm_harvest_ns, t0, t1);
		if (got != (int64_t)r->dirty || st->fs.count != r->dirty) {
			fprintf(stderr,
				"bench_harvest: %s: bitmap harvest found %" PRId64 " pages, "
				"%" PRIu64 " expected\n",
				c->name, got, r->dirty);
			return -EIO;
		}
		t0 = time_now_ns();
		frameset_clear(&st->fs);
		t1 = time_now_ns();
		bench_min(&r->bm_clear_ns, t0, t1);
		bench_sink = bench_popcount(st->bitmap, BENCH_BITMAP_WORDS);
		t0 = time_now_ns();
		bench_sink = bench_popcount(st->bitmap, BENCH_BITMAP_WORDS);
		t1 = time_now_ns();
		bench_min(&r->bm_floor_ns, t0, t1);

		/* ring: publish (which warms it), harvest, clear; again, floor */
		bench_ring_publish(st, r->ring_n);
		t0 = time_now_ns();
		got = harvest_ring(st->ring, BENCH_RING_ENTRIES, &fetch, st->slots, 2, &st->fs);
		t1 = time_now_ns();
		bench_min(&r->ring_harvest_ns, t0, t1);
		if (got != r->ring_n || fetch != r->ring_n || st->fs.count != r->ring_n) {
			fprintf(stderr,
				"bench_harvest: %s: ring harvest collected %" PRId64
				" entries, %" PRIu32 " expected\n",
				c->name, got, r->ring_n);
			return -EIO;
		}
		t0 = time_now_ns();
		frameset_clear(&st->fs);
		t1 = time_now_ns();
		bench_min(&r->ring_clear_ns, t0, t1);
		bench_ring_publish(st, r->ring_n);
		t0 = time_now_ns();
		bench_sink = bench_ring_read(st->ring, r->ring_n);
		t1 = time_now_ns();
		bench_min(&r->ring_floor_ns, t0, t1);
		bench_ring_publish(st, r->ring_n);
		t0 = time_now_ns();
		bench_ring_protocol(st->ring, r->ring_n, st->slots, st->noted);
		t1 = time_now_ns();
		bench_min(&r->ring_proto_ns, t0, t1);
	}
	return 0;
}

static double bench_per(uint64_t ns, uint64_t n)
{
	return n ? (double)ns / (double)n : 0.0;
}

static double bench_ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* Print label centred in width w, padded with dashes. */
static void bench_print_rule(const char *label, int w)
{
	int len = (int)strlen(label) + 2, left = (w - len) / 2;

	for (int i = 0; i < w; i++) {
		if (i < left || i >= left + len)
			putchar('-');
		else if (i == left || i == left + len - 1)
			putchar(' ');
		else
			putchar(label[i - left - 1]);
	}
}

static void bench_print_header(const char *floor_how)
{
	printf("harvest_bench: 4 GiB guest (%llu pages, 2 slots), ring of %u entries, "
	       "best of %d\n",
	       (unsigned long long)BENCH_RAM_PAGES, BENCH_RING_ENTRIES, BENCH_REPS);
	printf("bitmap floor: %s\n", floor_how);
	printf("times in ns per dirty page (ring: per entry); ratio = harvest / floor; "
	       "clear is timed apart, not in the ratio;\n"
	       "ring proto = the ring's protocol floor (read, RESET mark, page noted), "
	       "p-ratio = harvest / proto\n\n");
	printf("%-14s %8s   ", "", "");
	bench_print_rule("bitmap", 37);
	printf("   ");
	bench_print_rule("ring", 63);
	printf("\n%-14s %8s | %9s %9s %7s %9s | %7s %9s %9s %7s %9s %7s %9s\n", "case", "dirty",
	       "harvest", "floor", "ratio", "clear", "entries", "harvest", "floor", "ratio", "proto",
	       "p-ratio", "clear");
}

static void bench_print_row(const struct bench_result *r)
{
	printf("%-14s %8" PRIu64 " | %9.4f %9.4f %7.2f %9.4f | %7" PRIu32 " %9.4f %9.4f %7.2f "
	       "%9.4f %7.2f %9.4f\n",
	       r->c->name, r->dirty, bench_per(r->bm_harvest_ns, r->dirty),
	       bench_per(r->bm_floor_ns, r->dirty), bench_ratio(r->bm_harvest_ns, r->bm_floor_ns),
	       bench_per(r->bm_clear_ns, r->dirty), r->ring_n,
	       bench_per(r->ring_harvest_ns, r->ring_n), bench_per(r->ring_floor_ns, r->ring_n),
	       bench_ratio(r->ring_harvest_ns, r->ring_floor_ns),
	       bench_per(r->ring_proto_ns, r->ring_n),
	       bench_ratio(r->ring_harvest_ns, r->ring_proto_ns),
	       bench_per(r->ring_clear_ns, r->ring_n));
	fflush(stdout);
}

static void bench_print_json(const struct bench_result *r)
{
	printf("{\"case\":\"%s\",\"pattern\":\"%s\",\"density-pct\":%g,\"ram-pages\":%llu,"
	       "\"dirty-pages\":%" PRIu64 ",\"reps\":%d,"
	       "\"bitmap-harvest-ns\":%" PRIu64 ",\"bitmap-floor-ns\":%" PRIu64
	       ",\"bitmap-clear-ns\":%" PRIu64 ",\"bitmap-harvest-ns-per-page\":%.3f,"
	       "\"bitmap-floor-ns-per-page\":%.3f,\"bitmap-ratio\":%.3f,"
	       "\"ring-entries\":%" PRIu32 ",\"ring-harvest-ns\":%" PRIu64
	       ",\"ring-floor-ns\":%" PRIu64 ",\"ring-clear-ns\":%" PRIu64
	       ",\"ring-harvest-ns-per-entry\":%.3f,\"ring-floor-ns-per-entry\":%.3f,"
	       "\"ring-ratio\":%.3f,\"ring-protocol-floor-ns\":%" PRIu64
	       ",\"ring-protocol-floor-ns-per-entry\":%.3f,\"ring-protocol-ratio\":%.3f}\n",
	       r->c->name, r->c->clustered ? "clustered" : "random", r->c->density_pct,
	       (unsigned long long)BENCH_RAM_PAGES, r->dirty, BENCH_REPS, r->bm_harvest_ns,
	       r->bm_floor_ns, r->bm_clear_ns, bench_per(r->bm_harvest_ns, r->dirty),
	       bench_per(r->bm_floor_ns, r->dirty), bench_ratio(r->bm_harvest_ns, r->bm_floor_ns),
	       r->ring_n, r->ring_harvest_ns, r->ring_floor_ns, r->ring_clear_ns,
	       bench_per(r->ring_harvest_ns, r->ring_n), bench_per(r->ring_floor_ns, r->ring_n),
	       bench_ratio(r->ring_harvest_ns, r->ring_floor_ns), r->ring_proto_ns,
	       bench_per(r->ring_proto_ns, r->ring_n), bench_ratio(r->ring_harvest_ns, r->ring_proto_ns));
	fflush(stdout);
}

static int bench_init(struct bench_state *st)
{
	memset(st, 0, sizeof(*st));
	st->slots[0] = (struct harvest_slot){.first_page = 0, .pages = BENCH_LOW_PAGES};
	st->slots[1] = (struct harvest_slot){.first_page = BENCH_LOW_PAGES,
					     .pages = BENCH_RAM_PAGES - BENCH_LOW_PAGES};
	st->bitmap = aligned_alloc(64, BENCH_BITMAP_WORDS * 8);
	st->ring = aligned_alloc(4096, BENCH_RING_ENTRIES * sizeof(*st->ring));
	st->pages = malloc(BENCH_RAM_PAGES * sizeof(*st->pages));
	st->perm = malloc(BENCH_RAM_PAGES * sizeof(*st->perm));
	st->noted = malloc(BENCH_RING_ENTRIES * sizeof(*st->noted));
	if (!st->bitmap || !st->ring || !st->pages || !st->perm || !st->noted)
		return -ENOMEM;
	return frameset_init(&st->fs, BENCH_RAM_PAGES);
}

static void bench_fini(struct bench_state *st)
{
	if (st->fs.bits)
		frameset_free(&st->fs);
	free(st->bitmap);
	free(st->ring);
	free(st->pages);
	free(st->perm);
	free(st->noted);
}

int main(int argc, char **argv)
{
	struct bench_state st;
	bool json = false;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: bench_harvest [--json]\n"
			       "Time harvest_bitmap and harvest_ring against a plain read of\n"
			       "the same memory; --json prints one JSON object per case\n"
			       "instead of a table.\n");
			return 0;
		} else {
			fprintf(stderr, "bench_harvest: unknown argument '%s' (try --help)\n",
				argv[i]);
			return 2;
		}
	}

	const char *floor_how = bench_popcount_init();
	if (bench_init(&st)) {
		fprintf(stderr, "bench_harvest: out of memory\n");
		bench_fini(&st);
		return 4;
	}
	if (!json)
		bench_print_header(floor_how);
	for (size_t i = 0; i < sizeof(bench_cases) / sizeof(bench_cases[0]); i++) {
		struct bench_result r;
		ret = bench_run_case(&st, &bench_cases[i], &r);
		if (ret)
			break;
		if (json)
			bench_print_json(&r);
		else
			bench_print_row(&r);
	}
	bench_fini(&st);
	return ret ? 1 : 0;
}
