/* SPDX-License-Identifier: MIT */
/*
 * The file workloads' generators, shared by the guest user programs
 * (guest/user/) that make the stores and the host (logger/verify/expect.c) that
 * replays them to know, byte for byte, what each file must hold afterwards.
 *
 * Everything is a pure function of (seed, stream, indices): no state, no
 * libc, fixed-width types, so a store can be re-derived anywhere without
 * replaying what came before it.  The guest runs about 10^6 instructions a
 * second, so each generator costs a few dozen instructions (a store: five
 * multiply-xorshift rounds and two divisions).
 *
 *   store n of writer `tag` of `ntags`:  page h % npages; word
 *       (h2 % (512 / ntags)) * ntags + tag, so the writers of one file use
 *       disjoint 8-byte words and their interleaving never changes the final
 *       content; a non-zero value (a zero store would be invisible to a
 *       content check).  Byte offset page * 4096 + word * 8.
 *   log record n:  abi_wl_record_words() words (2..32); word 0 is a header
 *       ("LOG", length, record number) so a hex dump of a log shows where
 *       records start; the others are non-zero hashes.
 *   initial content (private, forkcow):  words 0..3 of every page, non-zero.
 */
#ifndef ABI_WLFILE_H
#define ABI_WLFILE_H

#include "boot.h"
#include "fs.h"
#include "layout.h"

#define ABI_WL_PAGE_WORDS      512 /* 8-byte words per 4 KiB page */
#define ABI_WL_INIT_WORDS      4   /* initial words per page (private, forkcow) */
#define ABI_WL_REC_MIN_WORDS   2   /* log record length bounds, in words */
#define ABI_WL_REC_MAX_WORDS   32
#define ABI_WL_REC_MAGIC       0x474f4cULL /* "LOG": bits 40..63 of a record's header word */
#define ABI_WL_SHARED2_WRITERS 2	   /* shared2: parent (tag 0) and child (tag 1) */

/*
 * forkcow: the parent pre-fills the first `writes` stores of stream `seed`,
 * then after fork parent and child each make epochs * writes stores of their
 * own stream, seed ^ SALT.  Each verifies its own view by replaying the
 * prefill and its stream into a table of at most MAX_STORES entries, so the
 * host must keep writes * (epochs + 1) <= ABI_WL_FORKCOW_MAX_STORES.
 */
#define ABI_WL_FORKCOW_SALT_PARENT 0x1111ULL
#define ABI_WL_FORKCOW_SALT_CHILD  0x2222ULL
#define ABI_WL_FORKCOW_MAX_STORES  8192

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* A file page is a page-cache page is a DSFS block, and words tile it. */
_Static_assert(ABI_WL_PAGE_WORDS * 8 == ABI_PAGE_SIZE, "words tile a page");
_Static_assert(ABI_FS_BLOCK == ABI_PAGE_SIZE, "a file page is one block");
_Static_assert(ABI_WL_REC_MAX_WORDS * 8 <= ABI_PAGE_SIZE, "a log record fits a page");
_Static_assert(ABI_WL_INIT_WORDS <= ABI_WL_PAGE_WORDS, "initial words fit a page");
_Static_assert(ABI_WL_PAGE_WORDS % ABI_WL_SHARED2_WRITERS == 0, "writers split a page evenly");

#define ABI_WL_GOLDEN 0x9e3779b97f4a7c15ULL /* 2^64 / phi, splitmix64's increment */

/* Generator streams: one per kind of draw, so no two kinds ever share a hash. */
#define ABI_WL_STREAM_STORE    1
#define ABI_WL_STREAM_REC_LEN  2
#define ABI_WL_STREAM_REC_WORD 3
#define ABI_WL_STREAM_INIT     4

/* splitmix64's finalizer: a bijection on 64 bits, so only 0 maps to 0. */
static inline uint64_t abi_wl_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The hash every generator draws from: (seed, stream, a, b) -> 64 bits. */
static inline uint64_t abi_wl_hash(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
	uint64_t h = abi_wl_mix(seed + ABI_WL_GOLDEN * (stream + 1));
	h = abi_wl_mix(h ^ (a + ABI_WL_GOLDEN));
	return abi_wl_mix(h + b * ABI_WL_GOLDEN);
}

/* A value a content check can see: a zero store into a zero file is invisible. */
static inline uint64_t abi_wl_nonzero(uint64_t v)
{
	return v ? v : ABI_WL_GOLDEN;
}

/* db's writer processes on a guest of nr_cpus CPUs: one per CPU, so each
 * CPU has a writer to run (struct abi_wl_args.writers); the other file
 * workloads have their fixed processes. */
static inline uint32_t abi_wl_writers(uint32_t workload, uint32_t nr_cpus)
{
	return workload == ABI_WL_DB && nr_cpus > 1 ? nr_cpus : 1;
}

struct abi_wl_store {
	uint64_t page;	/* page of the file, < npages */
	uint32_t word;	/* 8-byte word in the page, < ABI_WL_PAGE_WORDS */
	uint64_t value; /* never 0 */
};

/*
 * The n-th store of writer `tag` (0 <= tag < ntags <= 512) into a file of
 * npages (> 0) pages.  Writers with different tags never share a word:
 * word % ntags == tag.
 */
static inline struct abi_wl_store abi_wl_store(uint64_t seed, uint32_t tag, uint32_t ntags,
					       uint64_t n, uint64_t npages)
{
	struct abi_wl_store s;
	uint64_t h = abi_wl_hash(seed, ABI_WL_STREAM_STORE, tag, n);
	uint64_t h2 = abi_wl_mix(h + ABI_WL_GOLDEN);

	s.page = h % npages;
	s.word = (uint32_t)(h2 % (ABI_WL_PAGE_WORDS / ntags)) * ntags + tag;
	s.value = abi_wl_nonzero(abi_wl_mix(h2 + ABI_WL_GOLDEN));
	return s;
}

/* Byte offset of a store in its file. */
static inline uint64_t abi_wl_store_offset(const struct abi_wl_store *s)
{
	return s->page * ABI_PAGE_SIZE + (uint64_t)s->word * 8;
}

/* Length in words (ABI_WL_REC_MIN_WORDS..ABI_WL_REC_MAX_WORDS) of log record n. */
static inline uint32_t abi_wl_record_words(uint64_t seed, uint64_t n)
{
	uint64_t span = ABI_WL_REC_MAX_WORDS - ABI_WL_REC_MIN_WORDS + 1;
	return ABI_WL_REC_MIN_WORDS +
	       (uint32_t)(abi_wl_hash(seed, ABI_WL_STREAM_REC_LEN, n, 0) % span);
}

/*
 * Word k (< abi_wl_record_words(seed, n)) of log record n.  Word 0 is the
 * header: "LOG" in bits 40..63, the length in words in bits 32..39, the low
 * 32 bits of n below; the rest are non-zero hashes.
 */
static inline uint64_t abi_wl_record_word(uint64_t seed, uint64_t n, uint32_t k)
{
	if (k == 0)
		return ABI_WL_REC_MAGIC << 40 | (uint64_t)abi_wl_record_words(seed, n) << 32 |
		       (n & 0xffffffffULL);
	return abi_wl_nonzero(abi_wl_hash(seed, ABI_WL_STREAM_REC_WORD, n, k));
}

/* Initial word k (< ABI_WL_INIT_WORDS) of `page` (private, forkcow): non-zero. */
static inline uint64_t abi_wl_init_word(uint64_t seed, uint64_t page, uint32_t k)
{
	return abi_wl_nonzero(abi_wl_hash(seed, ABI_WL_STREAM_INIT, page, k));
}

/*
 * The file a workload works on, as named in the image's DSFS inode table, or
 * NULL when the workload has none.  The host pre-creates it with capacity
 * args->pages pages and size pages * 4096 zero bytes (log: size 0).
 * badsys uses its file only to make bad calls on a real descriptor.
 */
static inline const char *abi_wl_file_name(uint32_t workload)
{
	switch (workload) {
	case ABI_WL_DB:
		return "db";
	case ABI_WL_LOG:
		return "log";
	case ABI_WL_SHARED2:
		return "shared";
	case ABI_WL_PRIVATE:
		return "private";
	case ABI_WL_FORKCOW:
		return "cow";
	case ABI_WL_MIXED:
		return "mixed";
	case ABI_WL_BADSYS:
		return "badsys";
	default:
		return NULL;
	}
}

/* Whether the workload needs its file (abi_wl_file_name()) on the image. */
static inline int abi_wl_is_file(uint32_t workload)
{
	return abi_wl_file_name(workload) != NULL;
}
#endif

#endif
