/*
 * The migration stream's checksums (logger/migrate/migstream.h,
 * docs/migration-stream.md): page and RAM hashes, and the record checksum
 * the writer seals and the reader checks, computed here once for both.
 *
 * They chain abi_fnv_step (include/abi/fnv.h), the step of DSFS's and the
 * journal's checksums: they detect corruption, not malice.  Against malice
 * the reader relies on validation instead (migstream_read.c): bounded
 * lengths, whole-batch GPA checks, a strict record order.
 */
#include <stdbool.h>
#include <string.h>

#include "abi/fnv.h"
#include "abi/fs.h"
#include "logger/migrate/migstream_int.h"

uint64_t migstream_page_hash(const void *page)
{
	const uint64_t *w = page;
	uint64_t a = ABI_FNV_BASIS, b = ABI_FNV_BASIS ^ 1, c = ABI_FNV_BASIS ^ 2,
		 d = ABI_FNV_BASIS ^ 3;

	/* Four independent multiply chains keep the multiplier busy; one
	 * chain waits on its own latency for every word. */
	for (int i = 0; i < PAGE_WORDS; i += 4) {
		a = abi_fnv_step(a, w[i]);
		b = abi_fnv_step(b, w[i + 1]);
		c = abi_fnv_step(c, w[i + 2]);
		d = abi_fnv_step(d, w[i + 3]);
	}
	uint64_t lanes[4] = {a, b, c, d};
	return abi_fs_csum(lanes, 4);
}

uint64_t migstream_zero_hash(void)
{
	static const uint64_t zero[PAGE / 8] __attribute__((aligned(PAGE)));

	return migstream_page_hash(zero);
}

uint64_t migstream_ram_checksum(const struct guest_mem *m)
{
	uint64_t h = abi_fnv_step(ABI_FNV_BASIS, m->nr_pages), zero_hash = migstream_zero_hash();
	uint64_t bits[POP_CHUNK / 64];

	/* Pages the host never populated are zero: their hash is known. */
	for (uint64_t i = 0; i < m->nr_pages; i += POP_CHUNK) {
		uint64_t n = m->nr_pages - i < POP_CHUNK ? m->nr_pages - i : POP_CHUNK;
		bool known = mem_populated(m, i, n, bits) == 0;
		for (uint64_t k = 0; k < n; k++) {
			bool untouched = known && !(bits[k / 64] >> (k % 64) & 1);
			h = abi_fnv_step(h, untouched
						? zero_hash
						: migstream_page_hash(m->host + (i + k) * PAGE));
		}
	}
	return h;
}

/* Continue h over len bytes; a trailing partial word counts as if padded
 * with zero bytes (the header carries the exact length).  memcpy because
 * blobs and the stream buffer need not be 8-byte aligned. */
uint64_t migstream_chain_bytes(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t w;

	for (; len >= 8; b += 8, len -= 8) {
		memcpy(&w, b, 8);
		h = abi_fnv_step(h, w);
	}
	if (len) {
		w = 0;
		memcpy(&w, b, len);
		h = abi_fnv_step(h, w);
	}
	return h;
}

uint64_t migstream_bytes_hash(uint64_t h, const void *p, size_t len)
{
	return migstream_chain_bytes(h ? h : ABI_FNV_BASIS, p, len);
}

/* The header's chain: its state after type, lengths and seq.  hdr_csum is
 * its two halves folded; csum continues it over metadata and pages. */
uint64_t migstream_hdr_chain(const struct migstream_rec *h)
{
	uint64_t x = abi_fnv_step(ABI_FNV_BASIS, h->type | (uint64_t)h->meta_len << 32);
	x = abi_fnv_step(x, h->nr_data);
	return abi_fnv_step(x, h->seq);
}

/* Record checksum over the header chain, meta = head || tail, and the page
 * hashes of the data part.  head_len must be a multiple of 8 so that the
 * words line up as if head and tail were one buffer. */
uint64_t migstream_rec_csum(const struct migstream_rec *h, const void *head, size_t head_len,
			    const void *tail, size_t tail_len, const uint64_t *page_sums)
{
	uint64_t x = migstream_chain_bytes(migstream_hdr_chain(h), head, head_len);

	x = migstream_chain_bytes(x, tail, tail_len);
	for (uint32_t i = 0; i < h->nr_data; i++)
		x = abi_fnv_step(x, page_sums[i]);
	return x;
}

int migstream_page_is_zero(const void *page)
{
	const uint64_t *w = page;

	for (int i = 0; i < PAGE_WORDS; i++)
		if (w[i])
			return 0;
	return 1;
}

const char *migstream_type_name(uint32_t type)
{
	switch (type) {
	case MIGSTREAM_HELLO:
		return "HELLO";
	case MIGSTREAM_ROUND_BEGIN:
		return "ROUND_BEGIN";
	case MIGSTREAM_PAGES:
		return "PAGES";
	case MIGSTREAM_ROUND_END:
		return "ROUND_END";
	case MIGSTREAM_STATE:
		return "STATE";
	case MIGSTREAM_END:
		return "END";
	case MIGSTREAM_ABORT:
		return "ABORT";
	case MIGSTREAM_VERDICT:
		return "VERDICT";
	}
	return "unknown";
}

/* The RAM checksum from per-page hashes, as migstream_ram_checksum. */
uint64_t migstream_sum_of_hashes(const uint64_t *h, uint64_t n)
{
	uint64_t x = abi_fnv_step(ABI_FNV_BASIS, n);
	for (uint64_t i = 0; i < n; i++)
		x = abi_fnv_step(x, h[i]);
	return x;
}
