/*
 * The lost-page oracle (logger/verify/oracle.h) over a fake 64-page RAM, fed
 * reported sets we build by hand:
 *
 *   - the teeth test: several pages changed, all but one reported, and the
 *     oracle names exactly that one;
 *   - no false positives: everything reported, or reported but unchanged;
 *   - the shadow follows RAM, so a change (or a lost page) is counted once;
 *   - a change in a page's last byte, and in the last page, is caught;
 *   - oracle_init's baseline includes initially non-zero RAM.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "tests/lib/ds_test.h"
#include "abi/layout.h"
#include "logger/dlog/frameset.h"
#include "logger/verify/oracle.h"

#define NR_PAGES 64
#define MAX_LOST NR_PAGES

/* What the lost callback saw. */
struct lost_log {
	uint64_t n;
	uint64_t index[MAX_LOST];
};

static void record_lost(void *ctx, uint64_t index)
{
	struct lost_log *l = ctx;

	if (l->n < MAX_LOST)
		l->index[l->n] = index;
	l->n++;
}

struct fixture {
	uint8_t *ram;
	struct oracle o;
	struct frameset reported;
	struct lost_log lost;
};

static uint8_t *page(struct fixture *f, uint64_t idx)
{
	return f->ram + idx * ABI_PAGE_SIZE;
}

/* Fresh zero RAM (as a new guest's is), the oracle's baseline and an empty set. */
static int setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	void *p = mmap(NULL, NR_PAGES * ABI_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	f->ram = p;
	if (frameset_init(&f->reported, NR_PAGES))
		return -1;
	return 0;
}

static int start(struct fixture *f)
{
	return oracle_init(&f->o, f->ram, NR_PAGES);
}

static uint64_t check(struct fixture *f)
{
	memset(&f->lost, 0, sizeof(f->lost));
	uint64_t n = oracle_check(&f->o, &f->reported, record_lost, &f->lost);
	frameset_clear(&f->reported); /* as the logger does, epoch by epoch */
	return n;
}

static void teardown(struct fixture *f)
{
	oracle_free(&f->o);
	frameset_free(&f->reported);
	munmap(f->ram, NR_PAGES * ABI_PAGE_SIZE);
}

/* Write one byte of page idx and report the page (a correct dirty log). */
static void write_reported(struct fixture *f, uint64_t idx, size_t off, uint8_t v)
{
	page(f, idx)[off] = v;
	CU_ASSERT(frameset_add(&f->reported, idx) >= 0);
}

static void test_teeth(void)
{
	/*
	 * The oracle exists to catch a dirty log that misses a store.  If it
	 * cannot tell one missing page among several, every "0 lost" it
	 * prints is worthless.
	 */
	static const uint64_t changed[] = {0, 1, 17, 31, 40, 63};
	const uint64_t dropped = 31;
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	CU_ASSERT_FATAL(start(&f) == 0);
	for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
		page(&f, changed[i])[100 + i] = 0xa5;
		/* Report every changed page but one: a missed store. */
		if (changed[i] != dropped)
			CU_ASSERT_EQUAL(frameset_add(&f.reported, changed[i]), 1);
	}
	CU_ASSERT_EQUAL(f.reported.count, 5);
	CU_ASSERT_FALSE(frameset_test(&f.reported, dropped));

	CU_ASSERT_EQUAL(check(&f), 1);
	CU_ASSERT_EQUAL_FATAL(f.lost.n, 1);
	CU_ASSERT_EQUAL(f.lost.index[0], dropped);
	teardown(&f);
}

static void test_all_reported(void)
{
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	CU_ASSERT_FATAL(start(&f) == 0);
	for (uint64_t i = 0; i < NR_PAGES; i += 3)
		write_reported(&f, i, i, (uint8_t)(i + 1));
	CU_ASSERT_EQUAL(check(&f), 0);
	CU_ASSERT_EQUAL(f.lost.n, 0);
	teardown(&f);
}

static void test_reported_unchanged(void)
{
	/* A page logged dirty but not changed is a false positive of the log
	 * (or a store of the same value), never a lost page. */
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	CU_ASSERT_FATAL(start(&f) == 0);
	CU_ASSERT_EQUAL(frameset_add(&f.reported, 5), 1);
	write_reported(&f, 6, 0, 0); /* stores the value already there */
	CU_ASSERT_EQUAL(check(&f), 0);
	CU_ASSERT_EQUAL(f.lost.n, 0);
	teardown(&f);
}

static void test_shadow_updated(void)
{
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	CU_ASSERT_FATAL(start(&f) == 0);
	write_reported(&f, 10, 0, 1);
	write_reported(&f, 11, 0, 2);
	CU_ASSERT_EQUAL(check(&f), 0);
	/* Next epoch, nothing written and nothing reported: nothing lost, as
	 * the shadow now holds the epoch-1 contents. */
	CU_ASSERT_EQUAL(check(&f), 0);
	CU_ASSERT_EQUAL(f.lost.n, 0);
	/* A new write to an old page is a new change. */
	page(&f, 10)[1] = 3;
	CU_ASSERT_EQUAL(check(&f), 1);
	CU_ASSERT_EQUAL_FATAL(f.lost.n, 1);
	CU_ASSERT_EQUAL(f.lost.index[0], 10);
	teardown(&f);
}

static void test_lost_once(void)
{
	/* A lost page belongs to the epoch it was lost in; counting it again in
	 * every later epoch would inflate the loss count. */
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	CU_ASSERT_FATAL(start(&f) == 0);
	page(&f, 20)[7] = 0x42; /* never reported */
	CU_ASSERT_EQUAL(check(&f), 1);
	CU_ASSERT_EQUAL(f.lost.index[0], 20);
	CU_ASSERT_EQUAL(check(&f), 0);
	CU_ASSERT_EQUAL(f.lost.n, 0);
	CU_ASSERT_EQUAL(check(&f), 0);
	teardown(&f);
}

static void test_last_byte(void)
{
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	CU_ASSERT_FATAL(start(&f) == 0);
	/* Last byte of a page in the middle, and of the last page of RAM. */
	page(&f, 32)[ABI_PAGE_SIZE - 1] = 1;
	page(&f, NR_PAGES - 1)[ABI_PAGE_SIZE - 1] = 1;
	CU_ASSERT_EQUAL(check(&f), 2);
	CU_ASSERT_EQUAL_FATAL(f.lost.n, 2);
	CU_ASSERT_EQUAL(f.lost.index[0], 32); /* ascending RAM order */
	CU_ASSERT_EQUAL(f.lost.index[1], NR_PAGES - 1);
	teardown(&f);
}

static void test_high_index(void)
{
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	CU_ASSERT_FATAL(start(&f) == 0);
	write_reported(&f, 63, 0, 9);
	page(&f, 62)[0] = 9;
	CU_ASSERT_EQUAL(check(&f), 1);
	CU_ASSERT_EQUAL_FATAL(f.lost.n, 1);
	CU_ASSERT_EQUAL(f.lost.index[0], 62);
	teardown(&f);
}

static void test_init_nonzero(void)
{
	/*
	 * oracle_init skips zero pages (the shadow starts zero), so a bug there
	 * would either report the kernel image, loaded before the first check,
	 * as a lost page or miss a later change back to zero.
	 */
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	memset(page(&f, 2), 0xcc, ABI_PAGE_SIZE);
	page(&f, 7)[ABI_PAGE_SIZE - 1] = 1;
	page(&f, 63)[0] = 0xff;
	CU_ASSERT_FATAL(start(&f) == 0);
	CU_ASSERT_EQUAL(check(&f), 0);
	CU_ASSERT_EQUAL(f.lost.n, 0);
	/* Changing a pre-loaded page back to zero is a change. */
	page(&f, 7)[ABI_PAGE_SIZE - 1] = 0;
	CU_ASSERT_EQUAL(check(&f), 1);
	CU_ASSERT_EQUAL_FATAL(f.lost.n, 1);
	CU_ASSERT_EQUAL(f.lost.index[0], 7);
	teardown(&f);
}

static void test_null_callback(void)
{
	/* lost may be NULL: the count alone is returned. */
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	CU_ASSERT_FATAL(start(&f) == 0);
	page(&f, 3)[0] = 1;
	page(&f, 4)[0] = 1;
	CU_ASSERT_EQUAL(oracle_check(&f.o, &f.reported, NULL, NULL), 2);
	CU_ASSERT_EQUAL(oracle_check(&f.o, &f.reported, NULL, NULL), 0);
	teardown(&f);
}

/*
 * The oracle skips pages the kernel says were never populated, unless the
 * shadow holds data for them.  A page that held data at init and was then
 * dropped (MADV_DONTNEED: unpopulated again, reads as zero) has changed and
 * must still be caught.
 */
static void test_dropped_page(void)
{
	struct fixture f;

	CU_ASSERT_FATAL(setup(&f) == 0);
	page(&f, 5)[100] = 0x5a;
	CU_ASSERT_FATAL(start(&f) == 0);
	CU_ASSERT_EQUAL(madvise(page(&f, 5), ABI_PAGE_SIZE, MADV_DONTNEED), 0);
	CU_ASSERT_EQUAL(page(&f, 5)[100], 0);
	CU_ASSERT_EQUAL(check(&f), 1);
	CU_ASSERT_EQUAL(f.lost.n, 1);
	CU_ASSERT_EQUAL(f.lost.index[0], 5);
	CU_ASSERT_EQUAL(check(&f), 0); /* the shadow now holds the zero page */
	teardown(&f);
}

static const struct ds_case cases[] = {
    {"page dropped after init is caught", test_dropped_page},
    {"teeth: one unreported page is lost", test_teeth},
    {"all reported: none lost", test_all_reported},
    {"reported but unchanged: none lost", test_reported_unchanged},
    {"shadow updated after check", test_shadow_updated},
    {"lost page counted once", test_lost_once},
    {"change in last byte", test_last_byte},
    {"last RAM index", test_high_index},
    {"init copies non-zero pages", test_init_nonzero},
    {"NULL lost callback", test_null_callback},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("oracle", cases);
}
