/*
 * Replays of the file workloads' stores (include/abi/wlfile.h), run by the
 * host at native speed, and the page-by-page comparison with the image.
 *
 * The replay must follow the guest programs (guest/user/wl_*.c) exactly:
 * same streams, same tags, same order (later stores to a word win).  Where
 * two processes store, their words are disjoint (shared2) or their stores
 * are private (forkcow), so no ordering between processes is needed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "abi/wlfile.h"
#include "logger/verify/expect.h"

static void put_word(uint8_t *buf, uint64_t off, uint64_t v)
{
	memcpy(buf + off, &v, sizeof(v)); /* x86-64 host and guest: both little-endian */
}

/* epochs * writes stores of writer `tag` of `ntags`, in order. */
static void replay_stores(const struct abi_wl_args *a, uint32_t tag, uint32_t ntags, uint64_t total,
			  uint8_t *buf)
{
	for (uint64_t n = 0; n < total; n++) {
		struct abi_wl_store s = abi_wl_store(a->seed, tag, ntags, n, a->pages);
		put_word(buf, abi_wl_store_offset(&s), s.value);
	}
}

static void replay_init(const struct abi_wl_args *a, uint8_t *buf)
{
	for (uint64_t p = 0; p < a->pages; p++)
		for (uint32_t k = 0; k < ABI_WL_INIT_WORDS; k++)
			put_word(buf, p * ABI_PAGE_SIZE + k * 8ULL,
				 abi_wl_init_word(a->seed, p, k));
}

/* The log: records 0 .. total - 1 back to back; -EFBIG past the capacity. */
static int replay_log(const struct abi_wl_args *a, uint64_t total, uint64_t cap, uint8_t **buf,
		      uint64_t *size)
{
	uint64_t len = 0, off = 0;

	for (uint64_t n = 0; n < total; n++) {
		len += abi_wl_record_words(a->seed, n) * 8ULL;
		if (len > cap)
			return -EFBIG;
	}
	/* malloc(0) may return NULL; an empty log is still a valid answer. */
	*buf = malloc(len ? len : 1);
	if (!*buf)
		return -ENOMEM;
	for (uint64_t n = 0; n < total; n++) {
		uint32_t words = abi_wl_record_words(a->seed, n);
		for (uint32_t k = 0; k < words; k++, off += 8)
			put_word(*buf, off, abi_wl_record_word(a->seed, n, k));
	}
	*size = len;
	return 0;
}

int expect_content(const struct abi_wl_args *a, uint8_t **buf, uint64_t *size)
{
	uint64_t cap, total;

	if (!abi_wl_is_file(a->workload) || a->workload == ABI_WL_BADSYS)
		return -ENOENT;
	if (!a->pages || a->pages > UINT64_MAX / ABI_PAGE_SIZE)
		return -EINVAL;
	if (a->epochs && a->writes > UINT64_MAX / a->epochs)
		return -EINVAL;
	if (a->writers > ABI_MAX_CPUS)
		return -EINVAL;
	cap = a->pages * ABI_PAGE_SIZE;
	total = a->epochs * a->writes;
	if (a->workload == ABI_WL_LOG)
		return replay_log(a, total, cap, buf, size);

	*buf = calloc(1, cap);
	if (!*buf)
		return -ENOMEM;
	switch (a->workload) {
	case ABI_WL_DB:
		/* Writers never share a word: their order does not matter. */
		for (uint32_t tag = 0; tag < (a->writers ? a->writers : 1); tag++)
			replay_stores(a, tag, a->writers ? a->writers : 1, total, *buf);
		break;
	case ABI_WL_MIXED: /* pwrite and map stores land in the same pages */
		replay_stores(a, 0, 1, total, *buf);
		break;
	case ABI_WL_SHARED2:
		for (uint32_t tag = 0; tag < ABI_WL_SHARED2_WRITERS; tag++)
			replay_stores(a, tag, ABI_WL_SHARED2_WRITERS, total, *buf);
		break;
	case ABI_WL_PRIVATE:
	case ABI_WL_FORKCOW:
		replay_init(a, *buf);
		break;
	}
	*size = cap;
	return 0;
}

/* Byte i of a buffer of `size` bytes, or -1 past its end. */
static int byte_at(const uint8_t *b, uint64_t size, uint64_t i)
{
	return i < size ? b[i] : -1;
}

/* The 8-byte little-endian word at `off`, bytes past the end reading as 0. */
static uint64_t word_at(const uint8_t *b, uint64_t size, uint64_t off)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8 && off + i < size; i++)
		v |= (uint64_t)b[off + i] << (8 * i);
	return v;
}

/*
 * Print the line for differing page p: the first differing word, or where
 * the page stops matching in length.
 */
static void print_page(FILE *err, const char *file, uint64_t p, const uint8_t *got,
		       uint64_t got_size, const uint8_t *want, uint64_t want_size)
{
	uint64_t start = p * ABI_PAGE_SIZE, end = start + ABI_PAGE_SIZE, i;

	for (i = start; i < end; i++)
		if (byte_at(got, got_size, i) != byte_at(want, want_size, i))
			break;
	uint64_t off = i & ~7ULL;
	if (i < got_size && i < want_size) {
		fprintf(
		    err,
		    "dirtyscope: verify: file %s page %llu: word %llu (offset 0x%llx) is 0x%llx, "
		    "expected 0x%llx\n",
		    file, (unsigned long long)p, (unsigned long long)(off - start) / 8,
		    (unsigned long long)off, (unsigned long long)word_at(got, got_size, off),
		    (unsigned long long)word_at(want, want_size, off));
	} else {
		/* One buffer ends inside this page; the other goes on. */
		fprintf(err,
			"dirtyscope: verify: file %s page %llu: file ends at offset 0x%llx, "
			"expected 0x%llx\n",
			file, (unsigned long long)p, (unsigned long long)got_size,
			(unsigned long long)want_size);
	}
}

uint64_t expect_diff(const char *file, const uint8_t *got, uint64_t got_size, const uint8_t *want,
		     uint64_t want_size, FILE *err, int max_print)
{
	uint64_t common = got_size < want_size ? got_size : want_size;
	uint64_t longest = got_size > want_size ? got_size : want_size;
	uint64_t pages = (longest + ABI_PAGE_SIZE - 1) / ABI_PAGE_SIZE, nr_diff = 0;

	if (err && got_size != want_size)
		fprintf(err, "dirtyscope: verify: file %s: size %llu bytes, expected %llu\n", file,
			(unsigned long long)got_size, (unsigned long long)want_size);
	for (uint64_t p = 0; p < pages; p++) {
		uint64_t start = p * ABI_PAGE_SIZE;
		uint64_t end = start + ABI_PAGE_SIZE < longest ? start + ABI_PAGE_SIZE : longest;
		/* The part both hold must match, and the page must end in both alike. */
		uint64_t both = end < common ? end : common;
		int differs = end > common || memcmp(got + start, want + start, both - start);

		if (!differs)
			continue;
		if (err && max_print > 0 && nr_diff < (uint64_t)max_print)
			print_page(err, file, p, got, got_size, want, want_size);
		nr_diff++;
	}
	if (err && max_print > 0 && nr_diff > (uint64_t)max_print)
		fprintf(err, "dirtyscope: verify: file %s: %llu more differing pages not shown\n",
			file, (unsigned long long)(nr_diff - max_print));
	return nr_diff;
}
