/*
 * The workload generators (include/abi/wlfile.h) and the content oracle
 * (logger/verify/expect.h):
 *
 *   - the mixer is splitmix64's (a known output), generators are
 *     deterministic and stay in range: page < npages, word < 512, disjoint
 *     words per writer tag, non-zero values, records of 2..32 words;
 *   - expect_content for db equals a naive replay written here, later
 *     stores win, mixed equals db;
 *   - shared2's writers never touch the same word, and both land;
 *   - log: size is the sum of the record lengths, records back to back;
 *   - private and forkcow: the initial words only;
 *   - teeth: expect_diff names exactly the page of one missing store (with
 *     its line), catches a byte changed elsewhere, a truncated or longer
 *     file, and reports nothing for equal buffers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/ds_test.h"
#include "abi/wlfile.h"
#include "logger/verify/expect.h"

#define PG ABI_PAGE_SIZE

static struct abi_wl_args args(uint32_t workload, uint64_t pages, uint32_t epochs, uint64_t writes)
{
	struct abi_wl_args a = {.workload = workload,
				.epochs = epochs,
				.seed = 42,
				.pages = pages,
				.writes = writes,
				.sync_every = 7};
	return a;
}

static uint64_t word_of(const uint8_t *buf, uint64_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, 8);
	return v;
}

/* Capture expect_diff's output in memory. */
struct capture {
	FILE *f;
	char *text;
	size_t len;
};

static void cap_open(struct capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->f = open_memstream(&c->text, &c->len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c->f);
}

static void cap_close(struct capture *c)
{
	fclose(c->f);
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

/* splitmix64 seeded with 0 first returns mix(golden) = 0xe220a8397b1dcdaf. */
static void test_mix_known(void)
{
	CU_ASSERT_EQUAL(abi_wl_mix(ABI_WL_GOLDEN), 0xe220a8397b1dcdafULL);
	CU_ASSERT_EQUAL(abi_wl_mix(0), 0);
}

static void test_store_ranges(void)
{
	const uint64_t npages[] = {1, 7, 16, 1000};
	const uint32_t ntags[] = {1, 2, 3};

	for (unsigned pi = 0; pi < 4; pi++) {
		for (unsigned ti = 0; ti < 3; ti++) {
			for (uint32_t tag = 0; tag < ntags[ti]; tag++) {
				for (uint64_t n = 0; n < 5000; n++) {
					struct abi_wl_store s =
					    abi_wl_store(9, tag, ntags[ti], n, npages[pi]);
					struct abi_wl_store t =
					    abi_wl_store(9, tag, ntags[ti], n, npages[pi]);
					if (s.page >= npages[pi] || s.word >= 512 ||
					    s.word % ntags[ti] != tag || !s.value ||
					    s.page != t.page || s.word != t.word ||
					    s.value != t.value) {
						CU_FAIL("store out of range or not deterministic");
						return;
					}
				}
			}
		}
	}
}

/* The stream is spread: every page and both ends of the word range get hit,
 * and a different seed gives a different stream. */
static void test_store_spread(void)
{
	uint8_t page_hit[16] = {0};
	int low = 0, high = 0, same = 0;

	for (uint64_t n = 0; n < 4096; n++) {
		struct abi_wl_store s = abi_wl_store(1, 0, 1, n, 16);
		struct abi_wl_store t = abi_wl_store(2, 0, 1, n, 16);
		page_hit[s.page] = 1;
		low |= s.word < 8;
		high |= s.word >= 504;
		same += s.value == t.value;
	}
	for (unsigned p = 0; p < 16; p++)
		CU_ASSERT(page_hit[p]);
	CU_ASSERT(low && high);
	CU_ASSERT_EQUAL(same, 0);
}

static void test_record_and_init(void)
{
	int seen_min = 0, seen_max = 0;

	for (uint64_t n = 0; n < 3000; n++) {
		uint32_t w = abi_wl_record_words(5, n);
		CU_ASSERT_FATAL(w >= ABI_WL_REC_MIN_WORDS && w <= ABI_WL_REC_MAX_WORDS);
		CU_ASSERT_EQUAL(w, abi_wl_record_words(5, n));
		seen_min |= w == ABI_WL_REC_MIN_WORDS;
		seen_max |= w == ABI_WL_REC_MAX_WORDS;
		uint64_t h = abi_wl_record_word(5, n, 0);
		CU_ASSERT_EQUAL(h >> 40, ABI_WL_REC_MAGIC);
		CU_ASSERT_EQUAL((h >> 32) & 0xff, w);
		CU_ASSERT_EQUAL(h & 0xffffffff, n);
		for (uint32_t k = 1; k < w; k++)
			CU_ASSERT_FATAL(abi_wl_record_word(5, n, k) != 0);
	}
	CU_ASSERT(seen_min && seen_max);
	for (uint64_t p = 0; p < 100; p++)
		for (uint32_t k = 0; k < ABI_WL_INIT_WORDS; k++)
			CU_ASSERT_FATAL(abi_wl_init_word(5, p, k) != 0 &&
					abi_wl_init_word(5, p, k) == abi_wl_init_word(5, p, k));
}

static void test_file_names(void)
{
	CU_ASSERT_STRING_EQUAL(abi_wl_file_name(ABI_WL_DB), "db");
	CU_ASSERT_STRING_EQUAL(abi_wl_file_name(ABI_WL_LOG), "log");
	CU_ASSERT_STRING_EQUAL(abi_wl_file_name(ABI_WL_SHARED2), "shared");
	CU_ASSERT_STRING_EQUAL(abi_wl_file_name(ABI_WL_PRIVATE), "private");
	CU_ASSERT_STRING_EQUAL(abi_wl_file_name(ABI_WL_FORKCOW), "cow");
	CU_ASSERT_STRING_EQUAL(abi_wl_file_name(ABI_WL_MIXED), "mixed");
	CU_ASSERT_STRING_EQUAL(abi_wl_file_name(ABI_WL_BADSYS), "badsys");
	CU_ASSERT_PTR_NULL(abi_wl_file_name(ABI_WL_SEQ));
	CU_ASSERT_PTR_NULL(abi_wl_file_name(ABI_WL_BADBLK));
	CU_ASSERT(abi_wl_is_file(ABI_WL_DB) && !abi_wl_is_file(ABI_WL_HOTCOLD));
	for (uint32_t w = ABI_WL_FIRST_FILE; w <= ABI_WL_LAST; w++)
		CU_ASSERT(!abi_wl_file_name(w) || strlen(abi_wl_file_name(w)) <= ABI_FS_NAME_MAX);
}

/* A replay that shares no code with expect.c: a word array, stores in order. */
static uint64_t *naive_db(const struct abi_wl_args *a)
{
	uint64_t *w = calloc(a->pages * 512, 8);

	for (uint32_t e = 0; e < a->epochs; e++)
		for (uint64_t i = 0; i < a->writes; i++) {
			struct abi_wl_store s =
			    abi_wl_store(a->seed, 0, 1, e * a->writes + i, a->pages);
			w[s.page * 512 + s.word] = s.value;
		}
	return w;
}

static void test_db_naive(void)
{
	struct abi_wl_args a = args(ABI_WL_DB, 16, 3, 64);
	uint8_t *buf;
	uint64_t size;

	CU_ASSERT_FATAL(expect_content(&a, &buf, &size) == 0);
	CU_ASSERT_EQUAL(size, 16 * PG);
	uint64_t *w = naive_db(&a);
	CU_ASSERT(memcmp(buf, w, size) == 0);
	free(w);
	free(buf);

	/* mixed makes the same stores, half through pwrite. */
	struct abi_wl_args m = args(ABI_WL_MIXED, 16, 3, 64);
	uint8_t *mbuf;
	CU_ASSERT_FATAL(expect_content(&a, &buf, &size) == 0);
	CU_ASSERT_FATAL(expect_content(&m, &mbuf, &size) == 0);
	CU_ASSERT(memcmp(buf, mbuf, size) == 0);
	free(buf);
	free(mbuf);
}

/* One page, many stores: words collide, and the later store must win. */
static void test_db_later_wins(void)
{
	struct abi_wl_args a = args(ABI_WL_DB, 1, 1, 2000);
	uint8_t *buf;
	uint64_t size, collisions = 0;

	CU_ASSERT_FATAL(expect_content(&a, &buf, &size) == 0);
	for (uint64_t n = 0; n < a.writes; n++) {
		struct abi_wl_store s = abi_wl_store(a.seed, 0, 1, n, 1);
		uint64_t last = n;
		for (uint64_t m = n + 1; m < a.writes; m++) {
			struct abi_wl_store t = abi_wl_store(a.seed, 0, 1, m, 1);
			if (t.word == s.word)
				last = m;
		}
		collisions += last != n;
		CU_ASSERT_EQUAL(word_of(buf, s.word * 8),
				abi_wl_store(a.seed, 0, 1, last, 1).value);
	}
	CU_ASSERT(collisions > 100);
	free(buf);
}

static void test_shared2(void)
{
	struct abi_wl_args a = args(ABI_WL_SHARED2, 4, 4, 256);
	uint64_t total = 4 * 256;
	uint8_t *owner = calloc(4 * 512, 1), *buf;
	uint64_t size;

	for (uint32_t tag = 0; tag < 2; tag++)
		for (uint64_t n = 0; n < total; n++) {
			struct abi_wl_store s = abi_wl_store(a.seed, tag, 2, n, 4);
			uint8_t *o = &owner[s.page * 512 + s.word];
			CU_ASSERT_FATAL(*o == 0 || *o == tag + 1);
			*o = tag + 1;
		}
	CU_ASSERT_FATAL(expect_content(&a, &buf, &size) == 0);
	CU_ASSERT_EQUAL(size, 4 * PG);
	/* Each writer's last store to each of its words is in the file. */
	for (uint32_t tag = 0; tag < 2; tag++) {
		uint64_t *w = calloc(4 * 512, 8);
		for (uint64_t n = 0; n < total; n++) {
			struct abi_wl_store s = abi_wl_store(a.seed, tag, 2, n, 4);
			w[s.page * 512 + s.word] = s.value;
		}
		for (uint64_t i = 0; i < 4 * 512; i++)
			if (w[i])
				CU_ASSERT_EQUAL(word_of(buf, i * 8), w[i]);
		free(w);
	}
	/* Words nobody stored stay zero. */
	for (uint64_t i = 0; i < 4 * 512; i++)
		if (!owner[i])
			CU_ASSERT_EQUAL(word_of(buf, i * 8), 0);
	free(owner);
	free(buf);
}

static void test_log(void)
{
	struct abi_wl_args a = args(ABI_WL_LOG, 64, 3, 50);
	uint64_t sum = 0, off = 0, size;
	uint8_t *buf;

	for (uint64_t n = 0; n < 150; n++)
		sum += abi_wl_record_words(a.seed, n) * 8;
	CU_ASSERT_FATAL(expect_content(&a, &buf, &size) == 0);
	CU_ASSERT_EQUAL(size, sum);
	for (uint64_t n = 0; n < 150; n++) {
		uint32_t words = abi_wl_record_words(a.seed, n);
		for (uint32_t k = 0; k < words; k++, off += 8)
			CU_ASSERT_EQUAL(word_of(buf, off), abi_wl_record_word(a.seed, n, k));
	}
	free(buf);

	/* An empty run is an empty log; a log past its capacity cannot happen. */
	a.epochs = 0;
	CU_ASSERT_FATAL(expect_content(&a, &buf, &size) == 0);
	CU_ASSERT_EQUAL(size, 0);
	free(buf);
	a = args(ABI_WL_LOG, 1, 1, 200);
	CU_ASSERT_EQUAL(expect_content(&a, &buf, &size), -EFBIG);
}

static void test_private_forkcow(void)
{
	const uint32_t wl[] = {ABI_WL_PRIVATE, ABI_WL_FORKCOW};

	for (unsigned i = 0; i < 2; i++) {
		struct abi_wl_args a = args(wl[i], 16, 4, 64);
		uint8_t *buf;
		uint64_t size;

		CU_ASSERT_FATAL(expect_content(&a, &buf, &size) == 0);
		CU_ASSERT_EQUAL(size, 16 * PG);
		for (uint64_t p = 0; p < 16; p++)
			for (uint32_t k = 0; k < 512; k++)
				CU_ASSERT_EQUAL(
				    word_of(buf, p * PG + k * 8),
				    k < ABI_WL_INIT_WORDS ? abi_wl_init_word(a.seed, p, k) : 0);
		free(buf);
	}
}

static void test_no_content(void)
{
	const uint32_t wl[] = {ABI_WL_BADSYS, ABI_WL_BADBLK, ABI_WL_SEQ, 0, 99};
	uint8_t *buf = NULL;
	uint64_t size;

	for (unsigned i = 0; i < 5; i++) {
		struct abi_wl_args a = args(wl[i], 16, 1, 8);
		CU_ASSERT_EQUAL(expect_content(&a, &buf, &size), -ENOENT);
	}
	struct abi_wl_args a = args(ABI_WL_DB, 0, 1, 8);
	CU_ASSERT_EQUAL(expect_content(&a, &buf, &size), -EINVAL);
	a = args(ABI_WL_DB, UINT64_MAX / 1024, 1, 8);
	CU_ASSERT_EQUAL(expect_content(&a, &buf, &size), -EINVAL);
	a = args(ABI_WL_DB, 1, 1000, UINT64_MAX / 10);
	CU_ASSERT_EQUAL(expect_content(&a, &buf, &size), -EINVAL);
	CU_ASSERT_PTR_NULL(buf);
}

static void test_diff_equal(void)
{
	struct abi_wl_args a = args(ABI_WL_DB, 16, 2, 64);
	struct capture c;
	uint8_t *want;
	uint64_t size;

	CU_ASSERT_FATAL(expect_content(&a, &want, &size) == 0);
	uint8_t *got = malloc(size);
	memcpy(got, want, size);
	cap_open(&c);
	CU_ASSERT_EQUAL(expect_diff("db", got, size, want, size, c.f, 10), 0);
	cap_close(&c);
	CU_ASSERT_EQUAL(c.len, 0);
	CU_ASSERT_EQUAL(expect_diff("db", NULL, 0, NULL, 0, NULL, 10), 0);
	free(c.text);
	free(got);
	free(want);
}

/*
 * Teeth: replay every store but one into `got`, as a guest that lost it
 * would leave the file; expect_diff must name that page and only it, with
 * the exact line.  Then change one byte of another page: two pages.
 */
static void test_diff_missing_store(void)
{
	struct abi_wl_args a = args(ABI_WL_DB, 16, 2, 64);
	uint64_t total = 128, size, skip = total;
	struct abi_wl_store lost = {0};
	struct capture c;
	uint8_t *want;
	char line[256];

	CU_ASSERT_FATAL(expect_content(&a, &want, &size) == 0);
	/* A store no later store overwrites, so losing it shows. */
	for (uint64_t n = 40; n < total && skip == total; n++) {
		lost = abi_wl_store(a.seed, 0, 1, n, 16);
		skip = n;
		for (uint64_t m = n + 1; m < total; m++) {
			struct abi_wl_store t = abi_wl_store(a.seed, 0, 1, m, 16);
			if (t.page == lost.page && t.word == lost.word)
				skip = total;
		}
	}
	CU_ASSERT_FATAL(skip < total);
	uint8_t *got = calloc(1, size);
	for (uint64_t n = 0; n < total; n++) {
		struct abi_wl_store s = abi_wl_store(a.seed, 0, 1, n, 16);
		if (n != skip)
			memcpy(got + abi_wl_store_offset(&s), &s.value, 8);
	}
	uint64_t off = abi_wl_store_offset(&lost);
	uint64_t old = word_of(got, off); /* an earlier store's value, or 0 */

	cap_open(&c);
	CU_ASSERT_EQUAL(expect_diff("db", got, size, want, size, c.f, 10), 1);
	cap_close(&c);
	snprintf(line, sizeof(line),
		 "dirtyscope: verify: file db page %llu: word %u (offset 0x%llx) is 0x%llx, "
		 "expected 0x%llx\n",
		 (unsigned long long)lost.page, lost.word, (unsigned long long)off,
		 (unsigned long long)old, (unsigned long long)lost.value);
	CU_ASSERT_STRING_EQUAL(c.text, line);
	free(c.text);

	/* A byte changed in another page is a second differing page. */
	uint64_t other = (lost.page + 5) % 16;
	got[other * PG + 4095] ^= 0x80;
	cap_open(&c);
	CU_ASSERT_EQUAL(expect_diff("db", got, size, want, size, c.f, 10), 2);
	cap_close(&c);
	CU_ASSERT_EQUAL(count_lines(c.text), 2);
	snprintf(line, sizeof(line), "file db page %llu: word 511 (offset 0x%llx)",
		 (unsigned long long)other, (unsigned long long)(other * PG + 4088));
	CU_ASSERT_PTR_NOT_NULL(strstr(c.text, line));
	free(c.text);

	/* max_print bounds the lines, not the count. */
	cap_open(&c);
	CU_ASSERT_EQUAL(expect_diff("db", got, size, want, size, c.f, 1), 2);
	cap_close(&c);
	CU_ASSERT_EQUAL(count_lines(c.text), 2); /* one page line + "1 more" */
	CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "1 more differing pages"));
	free(c.text);
	CU_ASSERT_EQUAL(expect_diff("db", got, size, want, size, NULL, 10), 2);
	free(got);
	free(want);
}

/* A truncated (or overlong) file differs even where the bytes it has match. */
static void test_diff_size(void)
{
	struct abi_wl_args a = args(ABI_WL_LOG, 16, 2, 64);
	struct capture c;
	uint8_t *want;
	uint64_t size;

	CU_ASSERT_FATAL(expect_content(&a, &want, &size) == 0);
	CU_ASSERT_FATAL(size > 2 * PG + 8);
	uint64_t last = (size - 1) / PG;

	/* One word short: the last page differs, and the size line says so. */
	cap_open(&c);
	CU_ASSERT_EQUAL(expect_diff("log", want, size - 8, want, size, c.f, 10), 1);
	cap_close(&c);
	CU_ASSERT_EQUAL(count_lines(c.text), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "file log: size "));
	char line[128];
	snprintf(line, sizeof(line), "file log page %llu: file ends at offset 0x%llx",
		 (unsigned long long)last, (unsigned long long)(size - 8));
	CU_ASSERT_PTR_NOT_NULL(strstr(c.text, line));
	free(c.text);

	/* Cut mid-page: that page and every later one. */
	uint64_t cut = (last - 1) * PG - PG / 2;
	CU_ASSERT_EQUAL(expect_diff("log", want, cut, want, size, NULL, 0), last + 1 - (cut / PG));

	/* Nothing at all. */
	CU_ASSERT_EQUAL(expect_diff("log", NULL, 0, want, size, NULL, 0), last + 1);

	/* Longer than expected: the extra bytes' page differs. */
	uint8_t *got = calloc(1, size + 8);
	memcpy(got, want, size);
	CU_ASSERT_EQUAL(expect_diff("log", got, size + 8, want, size, NULL, 0), 1);
	free(got);
	free(want);
}

static const struct ds_case cases[] = {
    {"mix is splitmix64's finalizer", test_mix_known},
    {"stores in range, disjoint tags, deterministic", test_store_ranges},
    {"stores spread over pages and words", test_store_spread},
    {"log records and initial words", test_record_and_init},
    {"file names", test_file_names},
    {"db equals a naive replay; mixed equals db", test_db_naive},
    {"later stores win", test_db_later_wins},
    {"shared2 writers are disjoint and both land", test_shared2},
    {"log is the records back to back", test_log},
    {"private and forkcow: initial words only", test_private_forkcow},
    {"no content for badsys, badblk, anonymous", test_no_content},
    {"diff: equal buffers", test_diff_equal},
    {"teeth: one missing store, one changed byte", test_diff_missing_store},
    {"teeth: truncated and overlong files", test_diff_size},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("expect", cases);
}
