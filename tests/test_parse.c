/*
 * Command-line number parsing (util/parse.h): parse_size's accepted forms
 * (plain bytes, K/M/G/T suffixes in either case, optional "B" or "iB") and
 * everything it must refuse, overflow included; parse_u64's bounds, garbage,
 * NULL and the full uint64_t range.  A refused input must leave *out alone.
 */
#include <errno.h>
#include <stdint.h>

#include "tests/lib/ds_test.h"
#include "util/parse.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = SENTINEL;

	CU_ASSERT_EQUAL(parse_size(s, &v), 0);
	CU_ASSERT_EQUAL(v, want);
}

static void size_err(const char *s, int err)
{
	uint64_t v = SENTINEL;

	CU_ASSERT_EQUAL(parse_size(s, &v), err);
	CU_ASSERT_EQUAL(v, SENTINEL);
}

static void test_size_plain(void)
{
	size_ok("0", 0);
	size_ok("1", 1);
	size_ok("4096", 4096);
	size_ok("007", 7); /* leading zeros are still decimal, not octal */
	size_ok("18446744073709551615", UINT64_MAX);
}

static void test_size_suffixes(void)
{
	size_ok("1K", 1ULL << 10);
	size_ok("16M", 16ULL << 20);
	size_ok("256m", 256ULL << 20);
	size_ok("4G", 4ULL << 30);
	size_ok("64G", 64ULL << 30);
	size_ok("1T", 1ULL << 40);
	size_ok("0G", 0);
	/* "B" and "iB" are decoration: the suffixes are binary either way. */
	size_ok("1GiB", 1ULL << 30);
	size_ok("2gb", 2ULL << 30);
	size_ok("3KB", 3ULL << 10);
	size_ok("5mib", 5ULL << 20);
	size_ok("1TIB", 1ULL << 40);
}

static void test_size_rejects(void)
{
	static const char *const bad[] = {
	    "",			    /* empty */
	    "-1",		    /* signs: strtoull would take "-1" as UINT64_MAX */
	    "+1",    " 1",	    /* spaces either side */
	    "1 ",    "1 G", "1.5G", /* fractions */
	    "1X",		    /* unknown suffix */
	    "G",		    /* suffix alone */
	    "1KK",		    /* suffix twice */
	    "1Gi",		    /* half of "iB" */
	    "1GiBs",		    /* trailing garbage */
	    "1GBB",  "1B",	    /* "B" only after a multiplier */
	    "0x10",		    /* no hex */
	    "1e9",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		size_err(bad[i], -EINVAL);
	CU_ASSERT_EQUAL(parse_size(NULL, &(uint64_t){0}), -EINVAL);
}

static void test_size_overflow(void)
{
	/* 2^34 GiB is 2^64 bytes: one past the top. */
	size_err("17179869184G", -ERANGE);
	size_ok("17179869183G", 17179869183ULL << 30);
	size_err("16777216T", -ERANGE);		 /* 2^24 TiB */
	size_err("18014398509481984K", -ERANGE); /* 2^54 KiB */
	/* The digits alone already overflow a uint64_t. */
	size_err("99999999999999999999", -ERANGE);
	size_err("18446744073709551616", -ERANGE);
}

static void u64_ok(const char *s, uint64_t min, uint64_t max, uint64_t want)
{
	uint64_t v = SENTINEL;

	CU_ASSERT_EQUAL(parse_u64(s, min, max, &v), 0);
	CU_ASSERT_EQUAL(v, want);
}

static void u64_err(const char *s, uint64_t min, uint64_t max, int err)
{
	uint64_t v = SENTINEL;

	CU_ASSERT_EQUAL(parse_u64(s, min, max, &v), err);
	CU_ASSERT_EQUAL(v, SENTINEL);
}

static void test_u64_bounds(void)
{
	u64_ok("1", 1, 10, 1); /* both bounds are inclusive */
	u64_ok("10", 1, 10, 10);
	u64_ok("5", 1, 10, 5);
	u64_err("0", 1, 10, -ERANGE);
	u64_err("11", 1, 10, -ERANGE);
	u64_ok("7", 7, 7, 7);
	u64_err("1000000", 0, 999999, -ERANGE);
}

static void test_u64_garbage(void)
{
	u64_err("", 0, UINT64_MAX, -EINVAL);
	u64_err("abc", 0, UINT64_MAX, -EINVAL);
	u64_err("12abc", 0, UINT64_MAX, -EINVAL);
	u64_err("-1", 0, UINT64_MAX, -EINVAL);
	u64_err("+1", 0, UINT64_MAX, -EINVAL);
	u64_err(" 1", 0, UINT64_MAX, -EINVAL);
	u64_err("1 ", 0, UINT64_MAX, -EINVAL);
	u64_err("0x10", 0, UINT64_MAX, -EINVAL);
	u64_err("4K", 0, UINT64_MAX, -EINVAL); /* sizes only in parse_size */
	u64_err("1.0", 0, UINT64_MAX, -EINVAL);
	u64_err(NULL, 0, UINT64_MAX, -EINVAL);
}

static void test_u64_full_range(void)
{
	u64_ok("0", 0, UINT64_MAX, 0);
	u64_ok("18446744073709551615", 0, UINT64_MAX, UINT64_MAX);
	u64_err("18446744073709551616", 0, UINT64_MAX, -ERANGE);
	u64_err("99999999999999999999", 0, UINT64_MAX, -ERANGE);
	/* Overflow in the digits 10x past the top, not just at the last digit. */
	u64_err("184467440737095516150", 0, UINT64_MAX, -ERANGE);
}

static const struct ds_case cases[] = {
    {"size: plain bytes", test_size_plain},   {"size: suffixes", test_size_suffixes},
    {"size: rejects", test_size_rejects},     {"size: overflow", test_size_overflow},
    {"u64: bounds", test_u64_bounds},	      {"u64: not numbers", test_u64_garbage},
    {"u64: full range", test_u64_full_range}, {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("parse", cases);
}
