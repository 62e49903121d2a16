/*
 * Harvesting without KVM (logger/dlog/harvest.h) and the frameset it fills
 * (logger/dlog/frameset.h):
 *
 *   - frameset: add (new / duplicate / out of range), test, clear, sort;
 *   - harvest_bitmap: bits in the first and last words, nbits that is not a
 *     multiple of 64 (bits past nbits are ignored), the first_page offset,
 *     counting with out == NULL, -ERANGE past the frameset;
 *   - harvest_ring, against a ring that a few helpers drive as KVM does:
 *     publishing entries at KVM's dirty index and resetting them as
 *     KVM_RESET_DIRTY_RINGS would.  Simple collection, stopping at the first
 *     unpublished entry, wrap-around, a completely full ring, duplicates,
 *     two slots, bad entries (-EIO, left unconsumed) and out == NULL;
 *   - dlog_ring_overflow_msg: where (boot or epoch N), the size that would
 *     have held it, doubled past twice what was seen, capped by KVM's
 *     largest ring, and bitmap advice when no ring can hold it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <linux/kvm.h>

#include "tests/lib/ds_test.h"
#include "logger/dlog/dlog.h"
#include "logger/dlog/frameset.h"
#include "logger/dlog/harvest.h"

/* ---- frameset ---------------------------------------------------------- */

static void test_frameset_add_dedupe(void)
{
	struct frameset s;

	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 200), 0);
	CU_ASSERT_EQUAL(s.count, 0);
	CU_ASSERT_EQUAL(frameset_add(&s, 5), 1);
	CU_ASSERT_EQUAL(frameset_add(&s, 5), 0); /* already present */
	CU_ASSERT_EQUAL(frameset_add(&s, 0), 1);
	CU_ASSERT_EQUAL(frameset_add(&s, 199), 1); /* last valid index */
	CU_ASSERT_EQUAL(s.count, 3);
	/* Insertion order is kept until frameset_sort(). */
	CU_ASSERT_EQUAL(s.list[0], 5);
	CU_ASSERT_EQUAL(s.list[1], 0);
	CU_ASSERT_EQUAL(s.list[2], 199);
	CU_ASSERT_TRUE(frameset_test(&s, 0));
	CU_ASSERT_TRUE(frameset_test(&s, 5));
	CU_ASSERT_TRUE(frameset_test(&s, 199));
	CU_ASSERT_FALSE(frameset_test(&s, 1));
	CU_ASSERT_FALSE(frameset_test(&s, 198));
	frameset_free(&s);
}

static void test_frameset_range(void)
{
	struct frameset s;

	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 100), 0);
	CU_ASSERT_EQUAL(frameset_add(&s, 100), -ERANGE);
	CU_ASSERT_EQUAL(frameset_add(&s, UINT64_MAX), -ERANGE);
	CU_ASSERT_EQUAL(s.count, 0); /* unchanged */
	/* test() must not read past the bitmap either. */
	CU_ASSERT_FALSE(frameset_test(&s, 100));
	CU_ASSERT_FALSE(frameset_test(&s, UINT64_MAX));
	frameset_free(&s);
}

static void test_frameset_clear(void)
{
	struct frameset s;

	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 1000), 0);
	/* Two members sharing a bitmap word, one in another word. */
	CU_ASSERT_EQUAL(frameset_add(&s, 64), 1);
	CU_ASSERT_EQUAL(frameset_add(&s, 65), 1);
	CU_ASSERT_EQUAL(frameset_add(&s, 999), 1);
	frameset_clear(&s);
	CU_ASSERT_EQUAL(s.count, 0);
	CU_ASSERT_FALSE(frameset_test(&s, 64));
	CU_ASSERT_FALSE(frameset_test(&s, 65));
	CU_ASSERT_FALSE(frameset_test(&s, 999));
	/* Usable again after clearing: the old members are new again. */
	CU_ASSERT_EQUAL(frameset_add(&s, 65), 1);
	CU_ASSERT_EQUAL(s.count, 1);
	CU_ASSERT_EQUAL(s.list[0], 65);
	CU_ASSERT_TRUE(frameset_test(&s, 65));
	CU_ASSERT_FALSE(frameset_test(&s, 64));
	frameset_free(&s);
}

static void test_frameset_sort(void)
{
	static const uint64_t in[] = {700, 3, 64, 0, 511, 63, 999};
	static const uint64_t sorted[] = {0, 3, 63, 64, 511, 700, 999};
	struct frameset s;

	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 1000), 0);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		CU_ASSERT_EQUAL(frameset_add(&s, in[i]), 1);
	frameset_sort(&s);
	CU_ASSERT_EQUAL_FATAL(s.count, sizeof(sorted) / sizeof(sorted[0]));
	for (size_t i = 0; i < s.count; i++)
		CU_ASSERT_EQUAL(s.list[i], sorted[i]);
	/* Sorting reorders the list only: membership is unchanged. */
	for (size_t i = 0; i < s.count; i++)
		CU_ASSERT_TRUE(frameset_test(&s, sorted[i]));
	frameset_free(&s);
}

/* ---- harvest_bitmap ---------------------------------------------------- */

static void test_bitmap_first_last_word(void)
{
	uint64_t bm[4] = {0};
	struct frameset s;

	/* Bit 0 and bit 63 of word 0, bit 0 and bit 63 of the last word. */
	bm[0] = 1ULL | 1ULL << 63;
	bm[3] = 1ULL | 1ULL << 63;
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 256), 0);
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 256, 0, &s), 4);
	CU_ASSERT_EQUAL(s.count, 4);
	CU_ASSERT_TRUE(frameset_test(&s, 0));
	CU_ASSERT_TRUE(frameset_test(&s, 63));
	CU_ASSERT_TRUE(frameset_test(&s, 192));
	CU_ASSERT_TRUE(frameset_test(&s, 255));
	CU_ASSERT_FALSE(frameset_test(&s, 64));
	CU_ASSERT_FALSE(frameset_test(&s, 191));
	frameset_free(&s);
}

static void test_bitmap_partial_word(void)
{
	/*
	 * KVM's bitmap is whole longs; bits past the slot's last page are
	 * garbage as far as we are concerned and must not become pages.
	 */
	uint64_t bm[2] = {0, UINT64_MAX};
	struct frameset s;

	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 1000), 0);
	/* nbits = 70: only bits 64..69 of word 1 count. */
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 70, 0, &s), 6);
	CU_ASSERT_EQUAL(s.count, 6);
	for (uint64_t i = 64; i < 70; i++)
		CU_ASSERT_TRUE(frameset_test(&s, i));
	CU_ASSERT_FALSE(frameset_test(&s, 70));
	CU_ASSERT_FALSE(frameset_test(&s, 127));

	/* nbits below one word: the rest of word 0 is ignored too. */
	frameset_clear(&s);
	bm[0] = UINT64_MAX;
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 1, 0, &s), 1);
	CU_ASSERT_EQUAL(s.count, 1);
	CU_ASSERT_TRUE(frameset_test(&s, 0));

	/* nbits == 0 reads nothing. */
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 0, 0, &s), 0);
	frameset_free(&s);
}

static void test_bitmap_first_page(void)
{
	uint64_t bm[2] = {1ULL << 5, 1ULL << 1};
	struct frameset s;

	/* A slot whose page 0 is RAM index 1000. */
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 2000), 0);
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 128, 1000, &s), 2);
	CU_ASSERT_TRUE(frameset_test(&s, 1005));
	CU_ASSERT_TRUE(frameset_test(&s, 1065));
	CU_ASSERT_FALSE(frameset_test(&s, 5));
	CU_ASSERT_FALSE(frameset_test(&s, 65));
	frameset_free(&s);
}

static void test_bitmap_count_only(void)
{
	uint64_t bm[3] = {0xff, 0, 0x8000000000000001ULL};

	CU_ASSERT_EQUAL(harvest_bitmap(bm, 192, 0, NULL), 10);
	/* With out == NULL the nbits mask still applies (bit 128 only). */
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 129, 0, NULL), 9);
	/* And no range check: there is no set to overflow. */
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 192, UINT64_MAX / 2, NULL), 10);
}

static void test_bitmap_erange(void)
{
	uint64_t bm[2] = {1, 1ULL << 36}; /* pages 0 and 100 of the slot */
	struct frameset s;

	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 100), 0);
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 128, 0, &s), -ERANGE);
	frameset_clear(&s);
	/* Offset by first_page, a page in range of the slot may still overflow. */
	bm[1] = 0;
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 128, 99, &s), 1);
	CU_ASSERT_EQUAL(harvest_bitmap(bm, 128, 100, &s), -ERANGE);
	frameset_free(&s);
}

/* ---- harvest_ring against a simulated KVM ------------------------------ */

#define RING_N 16

/* KVM's side of one vCPU's ring: where it writes next, where it resets next. */
struct fake_kvm {
	struct kvm_dirty_gfn ring[RING_N];
	uint32_t dirty_index;
	uint32_t reset_index;
};

static void fake_kvm_init(struct fake_kvm *k, uint32_t start)
{
	memset(k, 0, sizeof(*k));
	k->dirty_index = k->reset_index = start;
}

/* Publish an entry as KVM does: slot and offset first, then DIRTY, release. */
static void fake_kvm_publish(struct fake_kvm *k, uint32_t slot, uint64_t offset)
{
	struct kvm_dirty_gfn *e = &k->ring[k->dirty_index & (RING_N - 1)];

	e->slot = slot;
	e->offset = offset;
	__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
	k->dirty_index++;
}

/* KVM_RESET_DIRTY_RINGS: recycle entries userspace marked RESET, in order. */
static uint32_t fake_kvm_reset(struct fake_kvm *k)
{
	uint32_t n = 0;

	for (;;) {
		struct kvm_dirty_gfn *e = &k->ring[k->reset_index & (RING_N - 1)];
		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_RESET))
			break;
		e->flags = 0;
		k->reset_index++;
		n++;
		if (n == RING_N) /* never loop forever on a bad ring */
			break;
	}
	return n;
}

static const struct harvest_slot one_slot[] = {{.first_page = 0, .pages = 1024}};

static void test_ring_simple(void)
{
	struct fake_kvm k;
	struct frameset s;
	uint32_t fetch = 0;

	fake_kvm_init(&k, 0);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 1024), 0);
	fake_kvm_publish(&k, 0, 7);
	fake_kvm_publish(&k, 0, 3);
	fake_kvm_publish(&k, 0, 1023);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, &s), 3);
	CU_ASSERT_EQUAL(fetch, 3);
	CU_ASSERT_EQUAL_FATAL(s.count, 3);
	CU_ASSERT_EQUAL(s.list[0], 7); /* in ring order */
	CU_ASSERT_EQUAL(s.list[1], 3);
	CU_ASSERT_EQUAL(s.list[2], 1023);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(k.ring[i].flags, KVM_DIRTY_GFN_F_RESET);
	CU_ASSERT_EQUAL(fake_kvm_reset(&k), 3);

	/* Nothing new: nothing collected, fetch stays. */
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, &s), 0);
	CU_ASSERT_EQUAL(fetch, 3);

	/* A second round continues where the first stopped. */
	fake_kvm_publish(&k, 0, 500);
	frameset_clear(&s);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, &s), 1);
	CU_ASSERT_EQUAL(fetch, 4);
	CU_ASSERT_EQUAL(s.count, 1);
	CU_ASSERT_TRUE(frameset_test(&s, 500));
	frameset_free(&s);
}

static void test_ring_stops_at_unpublished(void)
{
	struct fake_kvm k;
	struct frameset s;
	uint32_t fetch = 0;

	fake_kvm_init(&k, 0);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 1024), 0);
	fake_kvm_publish(&k, 0, 10);
	fake_kvm_publish(&k, 0, 11);
	/*
	 * KVM has written slot/offset of the next entry but not yet set DIRTY
	 * (the release store comes last): it must not be collected, and nor
	 * may anything after it.
	 */
	k.ring[2].slot = 0;
	k.ring[2].offset = 12;
	k.ring[3].slot = 0;
	k.ring[3].offset = 13;
	k.ring[3].flags = KVM_DIRTY_GFN_F_DIRTY;
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, &s), 2);
	CU_ASSERT_EQUAL(fetch, 2);
	CU_ASSERT_EQUAL(s.count, 2);
	CU_ASSERT_FALSE(frameset_test(&s, 12));
	CU_ASSERT_FALSE(frameset_test(&s, 13));
	CU_ASSERT_EQUAL(k.ring[2].flags, 0);
	CU_ASSERT_EQUAL(k.ring[3].flags, KVM_DIRTY_GFN_F_DIRTY);
	frameset_free(&s);
}

static void test_ring_wraparound(void)
{
	struct fake_kvm k;
	struct frameset s;
	uint32_t fetch = RING_N - 3;

	/* The indexes are free-running u32s; only their low bits pick a slot. */
	fake_kvm_init(&k, RING_N - 3);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 1024), 0);
	for (uint64_t i = 0; i < 6; i++)
		fake_kvm_publish(&k, 0, 100 + i);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, &s), 6);
	CU_ASSERT_EQUAL(fetch, RING_N + 3);
	CU_ASSERT_EQUAL_FATAL(s.count, 6);
	for (uint64_t i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(s.list[i], 100 + i); /* in order across the end */
	for (uint32_t i = RING_N - 3; i < RING_N + 3; i++)
		CU_ASSERT_EQUAL(k.ring[i & (RING_N - 1)].flags, KVM_DIRTY_GFN_F_RESET);
	/* Entries 3 .. N-4 were never published and are untouched. */
	CU_ASSERT_EQUAL(k.ring[3].flags, 0);
	CU_ASSERT_EQUAL(k.ring[RING_N - 4].flags, 0);
	CU_ASSERT_EQUAL(fake_kvm_reset(&k), 6);
	CU_ASSERT_EQUAL(k.reset_index, RING_N + 3);
	frameset_free(&s);
}

static void test_ring_u32_wrap(void)
{
	struct fake_kvm k;
	struct frameset s;
	uint32_t fetch = UINT32_MAX - 1;

	/* The free-running u32 index itself overflows: 2^32 - 2 .. 2^32 + 1. */
	fake_kvm_init(&k, UINT32_MAX - 1);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 1024), 0);
	for (uint64_t i = 0; i < 4; i++)
		fake_kvm_publish(&k, 0, 200 + i);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, &s), 4);
	CU_ASSERT_EQUAL(fetch, 2);
	CU_ASSERT_EQUAL_FATAL(s.count, 4);
	for (uint64_t i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(s.list[i], 200 + i);
	CU_ASSERT_EQUAL(fake_kvm_reset(&k), 4);
	frameset_free(&s);
}

static void test_ring_full(void)
{
	struct fake_kvm k;
	struct frameset s;
	uint32_t fetch = 5;

	/*
	 * A full ring has every entry DIRTY, so "stop at the first unpublished
	 * entry" never triggers: the entry count is the only bound.  Going on
	 * would re-read entry 5, already marked RESET, and (were it still
	 * DIRTY) count it twice.
	 */
	fake_kvm_init(&k, 5);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 1024), 0);
	for (uint64_t i = 0; i < RING_N; i++)
		fake_kvm_publish(&k, 0, 300 + i);
	for (int i = 0; i < RING_N; i++)
		CU_ASSERT_EQUAL(k.ring[i].flags, KVM_DIRTY_GFN_F_DIRTY);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, &s), RING_N);
	CU_ASSERT_EQUAL(fetch, 5 + RING_N);
	CU_ASSERT_EQUAL_FATAL(s.count, RING_N);
	for (uint64_t i = 0; i < RING_N; i++)
		CU_ASSERT_EQUAL(s.list[i], 300 + i);
	for (int i = 0; i < RING_N; i++)
		CU_ASSERT_EQUAL(k.ring[i].flags, KVM_DIRTY_GFN_F_RESET);
	/* Again without a reset: every entry is RESET, none is collected. */
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, &s), 0);
	CU_ASSERT_EQUAL(fetch, 5 + RING_N);
	CU_ASSERT_EQUAL(fake_kvm_reset(&k), RING_N);
	CU_ASSERT_EQUAL(k.reset_index, 5 + RING_N);
	frameset_free(&s);
}

static void test_ring_duplicates(void)
{
	struct fake_kvm k;
	struct frameset s;
	uint32_t fetch = 0;

	/* KVM logs a page again after its protection was re-armed by a reset. */
	fake_kvm_init(&k, 0);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 1024), 0);
	fake_kvm_publish(&k, 0, 42);
	fake_kvm_publish(&k, 0, 43);
	fake_kvm_publish(&k, 0, 42);
	fake_kvm_publish(&k, 0, 42);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, &s), 4);
	CU_ASSERT_EQUAL(fetch, 4);
	CU_ASSERT_EQUAL(s.count, 2);
	CU_ASSERT_TRUE(frameset_test(&s, 42));
	CU_ASSERT_TRUE(frameset_test(&s, 43));
	CU_ASSERT_EQUAL(fake_kvm_reset(&k), 4);
	frameset_free(&s);
}

static void test_ring_two_slots(void)
{
	/* As vmm/mem.c lays out 4.5 GiB: slot 1 is RAM index 3 GiB / 4 KiB on. */
	static const struct harvest_slot slots[] = {
	    {.first_page = 0, .pages = 786432},
	    {.first_page = 786432, .pages = 393216},
	};
	struct fake_kvm k;
	struct frameset s;
	uint32_t fetch = 0;

	fake_kvm_init(&k, 0);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 786432 + 393216), 0);
	fake_kvm_publish(&k, 1, 0);
	fake_kvm_publish(&k, 0, 786431);
	fake_kvm_publish(&k, 1, 393215);
	fake_kvm_publish(&k, 1, 5);
	fake_kvm_publish(&k, 0, 5);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, slots, 2, &s), 5);
	CU_ASSERT_EQUAL_FATAL(s.count, 5);
	CU_ASSERT_EQUAL(s.list[0], 786432);
	CU_ASSERT_EQUAL(s.list[1], 786431);
	CU_ASSERT_EQUAL(s.list[2], 786432 + 393215);
	CU_ASSERT_EQUAL(s.list[3], 786432 + 5);
	CU_ASSERT_EQUAL(s.list[4], 5);
	frameset_free(&s);
}

/* Publish `slot`/`offset` after one good entry; expect -EIO with only the good one consumed. */
static void check_bad_entry(uint32_t slot, uint64_t offset)
{
	static const struct harvest_slot slots[] = {
	    {.first_page = 0, .pages = 100},
	    {.first_page = 100, .pages = 50},
	};
	struct fake_kvm k;
	struct frameset s;
	uint32_t fetch = 0;

	fake_kvm_init(&k, 0);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, 150), 0);
	fake_kvm_publish(&k, 0, 1);
	fake_kvm_publish(&k, slot, offset);
	fake_kvm_publish(&k, 0, 2);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, slots, 2, &s), -EIO);
	/* The good entry before it was consumed; the bad one and the rest not. */
	CU_ASSERT_EQUAL(fetch, 1);
	CU_ASSERT_EQUAL(k.ring[0].flags, KVM_DIRTY_GFN_F_RESET);
	CU_ASSERT_EQUAL(k.ring[1].flags, KVM_DIRTY_GFN_F_DIRTY);
	CU_ASSERT_EQUAL(k.ring[2].flags, KVM_DIRTY_GFN_F_DIRTY);
	CU_ASSERT_FALSE(frameset_test(&s, 2));
	/* Retrying does not skip it: still -EIO, fetch unchanged. */
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, slots, 2, &s), -EIO);
	CU_ASSERT_EQUAL(fetch, 1);
	CU_ASSERT_EQUAL(k.ring[1].flags, KVM_DIRTY_GFN_F_DIRTY);
	frameset_free(&s);
}

static void test_ring_bad_slot(void)
{
	check_bad_entry(2, 0);	    /* slot id == nr_slots */
	check_bad_entry(0xffff, 0); /* largest slot id */
}

static void test_ring_bad_offset(void)
{
	check_bad_entry(0, 100); /* == slot 0's pages */
	check_bad_entry(1, 50);	 /* == slot 1's pages: would be RAM index 150 */
	check_bad_entry(1, UINT64_MAX);
}

static void test_ring_bad_as_id(void)
{
	/* Slot field bits 16..31 are the address space (SMM is as_id 1). */
	check_bad_entry(1u << 16, 0);
	check_bad_entry(1u << 16 | 1, 0);
	check_bad_entry(0xffffu << 16, 0);
}

static void test_ring_null_out(void)
{
	struct fake_kvm k;
	uint32_t fetch = RING_N - 1;

	fake_kvm_init(&k, RING_N - 1);
	fake_kvm_publish(&k, 0, 1);
	fake_kvm_publish(&k, 0, 2);
	fake_kvm_publish(&k, 0, 1);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, NULL), 3);
	CU_ASSERT_EQUAL(fetch, RING_N + 2);
	CU_ASSERT_EQUAL(k.ring[RING_N - 1].flags, KVM_DIRTY_GFN_F_RESET);
	CU_ASSERT_EQUAL(k.ring[0].flags, KVM_DIRTY_GFN_F_RESET);
	CU_ASSERT_EQUAL(k.ring[1].flags, KVM_DIRTY_GFN_F_RESET);
	CU_ASSERT_EQUAL(fake_kvm_reset(&k), 3);

	/* Bad entries are still refused without a set to record them in. */
	fake_kvm_publish(&k, 0, 1024);
	CU_ASSERT_EQUAL(harvest_ring(k.ring, RING_N, &fetch, one_slot, 1, NULL), -EIO);
	CU_ASSERT_EQUAL(fetch, RING_N + 2);
}

/* ---- the ring overflow message ---------------------------------------- */

static void test_overflow_msg(void)
{
	char m[512];
	/* At boot: no earlier harvest to name, four times the ring advised. */
	dlog_ring_overflow_msg(m, sizeof(m), 0, 256, 65536, 256, 0, 0, false);
	CU_ASSERT(strstr(m, "overflow at boot:") != NULL);
	CU_ASSERT(strstr(m, "vCPU 0's ring of 256 entries filled up") != NULL);
	CU_ASSERT(strstr(m, "at least 256 entries") != NULL);
	CU_ASSERT(strstr(m, "largest harvest") == NULL);
	CU_ASSERT(strstr(m, "try --ring-entries 1024 or more") != NULL);
	/* In an epoch, wrapped: four times the ring is under twice what was
	 * seen, so the advice doubles until it is not (2 * 5000 -> 16384). */
	dlog_ring_overflow_msg(m, sizeof(m), 3, 2048, 65536, 5000, 4077, 7, true);
	CU_ASSERT(strstr(m, "overflow in epoch 7:") != NULL);
	CU_ASSERT(strstr(m, "vCPU 3's ring of 2048 entries wrapped") != NULL);
	CU_ASSERT(strstr(m, "at least 5000 entries") != NULL);
	CU_ASSERT(strstr(m, "largest harvest before took 4077") != NULL);
	CU_ASSERT(strstr(m, "try --ring-entries 16384 or more") != NULL);
	/* Past KVM's largest ring: that ring, or a bitmap mode. */
	dlog_ring_overflow_msg(m, sizeof(m), 0, 32768, 65536, 32768, 100, 2, false);
	CU_ASSERT(strstr(m, "try --ring-entries 65536 (this KVM's largest)") != NULL);
	/* Already the largest: only a bitmap mode. */
	dlog_ring_overflow_msg(m, sizeof(m), 0, 65536, 65536, 65536, 100, 2, false);
	CU_ASSERT(strstr(m, "no ring this KVM allows holds it: use --log bitmap or clear") != NULL);
	/* One line, whatever the numbers. */
	CU_ASSERT(strchr(m, '\n') == NULL);
}

static const struct ds_case cases[] = {
    {"frameset add and dedupe", test_frameset_add_dedupe},
    {"frameset out of range", test_frameset_range},
    {"frameset clear", test_frameset_clear},
    {"frameset sort", test_frameset_sort},
    {"bitmap first and last word", test_bitmap_first_last_word},
    {"bitmap partial last word", test_bitmap_partial_word},
    {"bitmap first_page offset", test_bitmap_first_page},
    {"bitmap count only", test_bitmap_count_only},
    {"bitmap -ERANGE", test_bitmap_erange},
    {"ring simple", test_ring_simple},
    {"ring stops at unpublished entry", test_ring_stops_at_unpublished},
    {"ring wrap-around", test_ring_wraparound},
    {"ring u32 index wrap", test_ring_u32_wrap},
    {"ring completely full", test_ring_full},
    {"ring duplicates", test_ring_duplicates},
    {"ring two slots", test_ring_two_slots},
    {"ring bad slot id", test_ring_bad_slot},
    {"ring bad offset", test_ring_bad_offset},
    {"ring bad as_id", test_ring_bad_as_id},
    {"ring out NULL", test_ring_null_out},
    {"ring overflow message", test_overflow_msg},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("harvest", cases);
}
