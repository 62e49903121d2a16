/*
 * Private to the migration stream's files (migstream_sum.c,
 * migstream_write.c, migstream_read.c): what the writer and the reader must
 * agree on beyond the wire format in migstream.h, namely the record order
 * both enforce and the record checksum both compute.
 */
#ifndef LOGGER_MIGSTREAM_INT_H
#define LOGGER_MIGSTREAM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "logger/migrate/migstream.h"

#define PAGE	   MIGSTREAM_PAGE
#define PAGE_WORDS (PAGE / 8)
#define POP_CHUNK  65536 /* pages per mem_populated call: 256 MiB */

/* What may come next, for the writer and the reader alike. */
enum migstream_phase {
	PH_HELLO,   /* nothing yet: HELLO first */
	PH_IDLE,    /* between rounds, no STATE yet: ROUND_BEGIN, STATE or END */
	PH_ROUND,   /* a round is open: PAGES or ROUND_END */
	PH_STATES,  /* STATE records began: more STATE, or END */
	PH_VERDICT, /* END written or read: VERDICT only */
	PH_DONE,    /* VERDICT (or ABORT) written or read */
};

/* migstream_page_hash of an all-zero page: the hash of every page a fresh
 * guest's RAM holds, and of every page the host never populated. */
uint64_t migstream_zero_hash(void);

/* Continue h over len bytes (any alignment); a trailing partial word counts
 * as if padded with zero bytes. */
uint64_t migstream_chain_bytes(uint64_t h, const void *p, size_t len);

/* The header's chain: its state after type, lengths and seq. */
uint64_t migstream_hdr_chain(const struct migstream_rec *h);

/* hdr_csum: the header chain's two halves folded. */
static inline uint32_t migstream_fold32(uint64_t x)
{
	return (uint32_t)(x ^ (x >> 32));
}

/* The record checksum (csum): the header chain continued over meta = head ||
 * tail and the page hashes page_sums[0..h->nr_data).  head_len must be a
 * multiple of 8 so that the words line up as if head and tail were one
 * buffer. */
uint64_t migstream_rec_csum(const struct migstream_rec *h, const void *head, size_t head_len,
			    const void *tail, size_t tail_len, const uint64_t *page_sums);

/* The RAM checksum from per-page hashes h[0..n), equal to
 * migstream_ram_checksum of RAM whose pages have those hashes. */
uint64_t migstream_sum_of_hashes(const uint64_t *h, uint64_t n);

/* Whether a 4096-byte, 8-byte aligned page is all zero. */
int migstream_page_is_zero(const void *page);

#endif
