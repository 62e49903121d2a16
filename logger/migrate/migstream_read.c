/*
 * The migration stream's reader (logger/migrate/migstream.h): treats every
 * byte as hostile.  Lengths are bounded before anything is read or
 * allocated, a batch of pages is validated whole before any byte of it
 * lands in guest RAM, records must come in the order the phase allows, and
 * every refusal sticks with a one-line reason.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger/migrate/migstream_int.h"
#include "util/io.h"

int migstream_reader_init(struct migstream_reader *r, int fd, struct guest_mem *mem)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->mem = mem;
	r->meta = malloc(MIGSTREAM_MAX_META);
	r->dest = calloc(MIGSTREAM_BATCH_DESC, sizeof(*r->dest));
	if (!r->meta || !r->dest)
		goto err_free;
	/* Page aligned, so that page hashes read aligned words. */
	if (posix_memalign((void **)&r->data, PAGE, (size_t)MIGSTREAM_BATCH_DATA * PAGE))
		goto err_free;
	return 0;

err_free:
	free(r->meta);
	free(r->dest);
	memset(r, 0, sizeof(*r));
	return -ENOMEM;
}

void migstream_reader_set_mem(struct migstream_reader *r, struct guest_mem *mem)
{
	r->mem = mem;
	free(r->hashes); /* other RAM: nothing is known of it */
	r->hashes = NULL;
}

int migstream_reader_fresh(struct migstream_reader *r)
{
	if (!r->mem)
		return -EINVAL;
	uint64_t *h = malloc(r->mem->nr_pages * sizeof(*h));
	if (!h)
		return -ENOMEM;
	r->zero_hash = migstream_zero_hash();
	for (uint64_t i = 0; i < r->mem->nr_pages; i++)
		h[i] = r->zero_hash;
	free(r->hashes);
	r->hashes = h;
	return 0;
}

void migstream_reader_destroy(struct migstream_reader *r)
{
	free(r->meta);
	free(r->dest);
	free(r->data);
	free(r->hashes);
	r->meta = NULL;
	r->dest = NULL;
	r->data = NULL;
	r->hashes = NULL;
}

/* Refuse the stream: remember err and the reason for every later call. */
static int __attribute__((format(printf, 5, 6)))
refuse(struct migstream_reader *r, int err, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(r->err_why, sizeof(r->err_why), "migration stream: ");

	va_start(ap, fmt);
	vsnprintf(r->err_why + n, sizeof(r->err_why) - (size_t)n, fmt, ap);
	va_end(ap);
	r->err = err;
	r->phase = PH_DONE;
	snprintf(why, whylen, "%s", r->err_why);
	return err;
}

static const char *phase_expects(int phase)
{
	switch (phase) {
	case PH_HELLO:
		return "before HELLO";
	case PH_IDLE:
		return "between rounds (expected ROUND_BEGIN, STATE or END)";
	case PH_ROUND:
		return "inside an open round (expected PAGES or ROUND_END)";
	case PH_STATES:
		return "after the STATE records began (expected STATE or END)";
	case PH_VERDICT:
		return "after END (expected VERDICT)";
	}
	return "after VERDICT";
}

/* May a record of this type come in this phase? */
static int allowed(uint32_t type, int phase)
{
	switch (type) {
	case MIGSTREAM_HELLO:
		return phase == PH_HELLO;
	case MIGSTREAM_ROUND_BEGIN:
		return phase == PH_IDLE;
	case MIGSTREAM_PAGES:
	case MIGSTREAM_ROUND_END:
		return phase == PH_ROUND;
	case MIGSTREAM_STATE:
	case MIGSTREAM_END:
		return phase == PH_IDLE || phase == PH_STATES;
	case MIGSTREAM_VERDICT:
		return phase == PH_VERDICT;
	case MIGSTREAM_ABORT:
		/* The writer sends none after END: the guest may run here. */
		return phase != PH_DONE && phase != PH_VERDICT;
	}
	return 0;
}

/* Metadata length a record of this type may declare, checked before it is
 * read; the exact layout is checked after.  HELLO only needs room for its
 * frozen magic and version, so another version is named, not mis-sized. */
static int meta_len_ok(uint32_t type, uint32_t len)
{
	switch (type) {
	case MIGSTREAM_HELLO:
		return len >= 12 && len <= MIGSTREAM_MAX_META;
	case MIGSTREAM_ROUND_BEGIN:
		return len == 8;
	case MIGSTREAM_PAGES:
		return len && len % sizeof(struct migstream_desc) == 0 &&
		       len <= MIGSTREAM_BATCH_DESC * sizeof(struct migstream_desc);
	case MIGSTREAM_ROUND_END:
		return len == sizeof(struct migstream_round_end);
	case MIGSTREAM_STATE:
		return len >= sizeof(struct migstream_state) && len <= MIGSTREAM_MAX_META;
	case MIGSTREAM_END:
		return len == sizeof(struct migstream_end);
	case MIGSTREAM_VERDICT:
		return len == sizeof(struct migstream_verdict);
	case MIGSTREAM_ABORT:
		return len <= MIGSTREAM_MAX_ABORT;
	}
	return 0;
}

static int read_hello(struct migstream_reader *r, const struct migstream_rec *h,
		      struct migstream_event *ev, char *why, size_t whylen)
{
	struct migstream_hello hello;

	memset(&hello, 0, sizeof(hello));
	memcpy(&hello, r->meta, h->meta_len < sizeof(hello) ? h->meta_len : sizeof(hello));
	if (h->meta_len < sizeof(hello) || hello.page_size != PAGE || hello.reserved ||
	    hello.config_len > MIGSTREAM_MAX_CONFIG ||
	    h->meta_len != sizeof(hello) + hello.config_len)
		return refuse(r, -EPROTO, why, whylen,
			      "malformed HELLO (%u bytes, page size %u, config %u bytes)",
			      h->meta_len, hello.page_size, hello.config_len);
	if (!hello.ram_size || hello.ram_size % PAGE)
		return refuse(r, -EPROTO, why, whylen, "HELLO announces %llu bytes of RAM",
			      (unsigned long long)hello.ram_size);
	if (r->mem && r->mem->ram_size != hello.ram_size)
		return refuse(r, -EPROTO, why, whylen,
			      "the source has %llu bytes of guest RAM, this receiver %llu",
			      (unsigned long long)hello.ram_size,
			      (unsigned long long)r->mem->ram_size);
	r->ram_size = hello.ram_size;
	r->phase = PH_IDLE;
	ev->type = MIGSTREAM_EV_HELLO;
	ev->ram_size = hello.ram_size;
	ev->blob = r->meta + sizeof(hello);
	ev->blob_len = hello.config_len;
	return 0;
}

/* Validate every descriptor of the batch, then apply them all: a batch
 * with one bad page writes nothing. */
static int read_pages(struct migstream_reader *r, const struct migstream_rec *h,
		      const uint64_t *sums, struct migstream_event *ev, char *why, size_t whylen)
{
	uint32_t n = h->meta_len / sizeof(struct migstream_desc), data = 0;
	uint64_t pages = 0, zero = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct migstream_desc d;
		memcpy(&d, r->meta + i * sizeof(d), sizeof(d));
		int ok_count = d.kind == MIGSTREAM_PAGE_DATA
				   ? d.count == 1
				   : d.kind == MIGSTREAM_PAGE_ZERO && d.count >= 1 &&
					 d.count <= MIGSTREAM_MAX_RUN;
		if (!ok_count)
			return refuse(
			    r, -EPROTO, why, whylen,
			    "record %llu (PAGES): descriptor %u has kind %u count %u; nothing "
			    "of the batch was written",
			    (unsigned long long)h->seq, i, d.kind, d.count);
		if (d.gpa % PAGE)
			return refuse(r, -EPROTO, why, whylen,
				      "record %llu (PAGES): descriptor %u has GPA %#llx, not page "
				      "aligned; nothing of the batch was written",
				      (unsigned long long)h->seq, i, (unsigned long long)d.gpa);
		r->dest[i] = mem_gpa_to_hva(r->mem, d.gpa, (uint64_t)d.count * PAGE);
		if (!r->dest[i])
			return refuse(
			    r, -EPROTO, why, whylen,
			    "record %llu (PAGES): descriptor %u covers GPA %#llx + %u pages, "
			    "outside guest RAM; nothing of the batch was written",
			    (unsigned long long)h->seq, i, (unsigned long long)d.gpa, d.count);
		if (d.kind == MIGSTREAM_PAGE_DATA)
			data++;
		else
			zero += d.count;
		pages += d.count;
	}
	if (data != h->nr_data)
		return refuse(r, -EPROTO, why, whylen,
			      "record %llu (PAGES): %u data descriptors but %u data pages; nothing "
			      "of the batch was written",
			      (unsigned long long)h->seq, data, h->nr_data);

	data = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct migstream_desc d;
		memcpy(&d, r->meta + i * sizeof(d), sizeof(d));
		uint64_t idx = (uint64_t)(r->dest[i] - r->mem->host) / PAGE;
		if (d.kind == MIGSTREAM_PAGE_DATA) {
			if (r->hashes)
				r->hashes[idx] = sums[data];
			memcpy(r->dest[i], r->data + (size_t)data++ * PAGE, PAGE);
			continue;
		}
		if (r->hashes) {
			for (uint32_t k = 0; k < d.count; k++) {
				if (r->hashes[idx + k] != r->zero_hash) {
					memset(r->dest[i] + (size_t)k * PAGE, 0, PAGE);
					r->hashes[idx + k] = r->zero_hash;
				}
			}
			continue;
		}
		/* Clear only pages that are not zero already: reading an untouched
		 * page of the NORESERVE mapping maps the shared zero page, writing
		 * it would cost a real page, and most of a fresh guest is zero. */
		for (uint32_t k = 0; k < d.count; k++) {
			uint8_t *p = r->dest[i] + (size_t)k * PAGE;
			if (!migstream_page_is_zero(p))
				memset(p, 0, PAGE);
		}
	}
	r->round_pages += pages;
	r->round_zero += zero;
	r->stats.pages += pages;
	r->stats.zero_pages += zero;
	ev->type = MIGSTREAM_EV_PAGES;
	ev->round = r->round;
	ev->pages = pages;
	ev->zero_pages = zero;
	return 0;
}

static int read_round_end(struct migstream_reader *r, const struct migstream_rec *h,
			  struct migstream_event *ev, char *why, size_t whylen)
{
	struct migstream_round_end e;

	memcpy(&e, r->meta, sizeof(e));
	if (e.round != r->round)
		return refuse(r, -EPROTO, why, whylen,
			      "record %llu: ROUND_END of round %llu inside round %llu",
			      (unsigned long long)h->seq, (unsigned long long)e.round,
			      (unsigned long long)r->round);
	if (e.pages != r->round_pages || e.zero_pages != r->round_zero)
		return refuse(r, -EPROTO, why, whylen,
			      "round %llu ended claiming %llu pages (%llu zero), but %llu (%llu "
			      "zero) arrived",
			      (unsigned long long)e.round, (unsigned long long)e.pages,
			      (unsigned long long)e.zero_pages, (unsigned long long)r->round_pages,
			      (unsigned long long)r->round_zero);
	ev->type = MIGSTREAM_EV_ROUND_END;
	ev->round = r->round;
	ev->pages = r->round_pages;
	ev->zero_pages = r->round_zero;
	r->stats.rounds++;
	r->round++;
	r->phase = PH_IDLE;
	return 0;
}

static int read_end(struct migstream_reader *r, const struct migstream_rec *h,
		    struct migstream_event *ev, char *why, size_t whylen)
{
	struct migstream_end e;

	memcpy(&e, r->meta, sizeof(e));
	if (e.records != h->seq + 1 || e.pages != r->stats.pages ||
	    e.zero_pages != r->stats.zero_pages)
		return refuse(
		    r, -EPROTO, why, whylen,
		    "END claims %llu records and %llu pages (%llu zero), but %llu records "
		    "and %llu pages (%llu zero) arrived",
		    (unsigned long long)e.records, (unsigned long long)e.pages,
		    (unsigned long long)e.zero_pages, (unsigned long long)(h->seq + 1),
		    (unsigned long long)r->stats.pages, (unsigned long long)r->stats.zero_pages);
	/* Fresh RAM: the page hashes kept as pages arrived are what was
	 * received, whatever the guest does to its RAM after END.  Otherwise
	 * RAM itself, now, before anyone may run the guest. */
	if (!r->hashes)
		r->end_sum = migstream_ram_checksum(r->mem);
	ev->type = MIGSTREAM_EV_END;
	ev->end_csum = h->csum;
	r->phase = PH_VERDICT;
	return 0;
}

/* The source's late RAM checksum against the RAM received: what proves
 * that no page the dirty log missed was left behind. */
static int read_verdict(struct migstream_reader *r, struct migstream_event *ev, char *why,
			size_t whylen)
{
	struct migstream_verdict v;

	memcpy(&v, r->meta, sizeof(v));
	uint64_t mine =
	    r->hashes ? migstream_sum_of_hashes(r->hashes, r->mem->nr_pages) : r->end_sum;
	if (mine != v.ram_checksum)
		return refuse(r, -EPROTO, why, whylen,
			      "guest RAM checksum %#llx differs from the source's %#llx: the RAM "
			      "received is not the source's",
			      (unsigned long long)mine, (unsigned long long)v.ram_checksum);
	ev->type = MIGSTREAM_EV_VERDICT;
	ev->ram_checksum = mine;
	r->phase = PH_DONE;
	return 0;
}

/* Quote an untrusted reason: printable ASCII only. */
static void sanitize(char *dst, size_t cap, const uint8_t *src, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < cap; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[i] = 0;
}

/* The record header: EOF and header checks.  Returns 1 for a clean EOF
 * after END, 0 for a header worth reading on, or a refusal. */
static int read_header(struct migstream_reader *r, struct migstream_rec *h, char *why,
		       size_t whylen)
{
	unsigned long long want = (unsigned long long)r->next_seq;
	ssize_t n = io_read_full(r->fd, h, sizeof(*h));

	if (n < 0)
		return refuse(r, (int)n, why, whylen, "reading record %llu: %s", want,
			      strerror((int)-n));
	if (r->phase == PH_DONE) {
		if (n == 0)
			return 1;
		return refuse(r, -EPROTO, why, whylen,
			      "data follows the VERDICT record (record %llu)", want);
	}
	if (n == 0 && want == 0)
		return refuse(r, -ECONNRESET, why, whylen, "empty stream (no HELLO record)");
	if (n == 0)
		return refuse(r, -ECONNRESET, why, whylen,
			      "stream truncated after record %llu (no %s record)", want - 1,
			      r->phase == PH_VERDICT ? "VERDICT" : "END");
	if ((size_t)n < sizeof(*h))
		return refuse(r, -ECONNRESET, why, whylen,
			      "stream truncated inside record %llu (%zd of its 32 header bytes)",
			      want, n);
	/* Before any checksum, so that a stream that is not ours (a wrong port)
	 * is named as such rather than as a corrupt one. */
	if (r->phase == PH_HELLO && h->type != MIGSTREAM_HELLO && h->type != MIGSTREAM_ABORT)
		return refuse(r, -EPROTO, why, whylen,
			      "not a dirtyscope migration stream (it does not start with HELLO)");
	if (h->hdr_csum != migstream_fold32(migstream_hdr_chain(h)))
		return refuse(r, -EPROTO, why, whylen,
			      "record %llu: header is corrupt (checksum mismatch)", want);
	if (h->seq != r->next_seq)
		return refuse(r, -EPROTO, why, whylen,
			      "record %llu arrived where record %llu was expected (records lost, "
			      "duplicated or reordered)",
			      (unsigned long long)h->seq, want);
	if (!strcmp(migstream_type_name(h->type), "unknown"))
		return refuse(r, -EPROTO, why, whylen, "record %llu has unknown type %#010x", want,
			      h->type);
	if (!meta_len_ok(h->type, h->meta_len) ||
	    h->nr_data > (h->type == MIGSTREAM_PAGES ? MIGSTREAM_BATCH_DATA : 0))
		return refuse(r, -EPROTO, why, whylen,
			      "record %llu (%s) declares %u metadata bytes and %u data pages, "
			      "beyond what a %s record may hold",
			      want, migstream_type_name(h->type), h->meta_len, h->nr_data,
			      migstream_type_name(h->type));
	return 0;
}

int migstream_read(struct migstream_reader *r, struct migstream_event *ev, char *why, size_t whylen)
{
	struct migstream_rec h;

	memset(ev, 0, sizeof(*ev));
	if (r->err) {
		snprintf(why, whylen, "%s", r->err_why);
		return r->err;
	}
	/* The caller's mistake, not the stream's: nothing is read, so it may
	 * attach its RAM and call again. */
	if (r->phase != PH_HELLO && r->phase != PH_DONE &&
	    (!r->mem || r->mem->ram_size != r->ram_size)) {
		snprintf(why, whylen, "migration stream: no guest RAM of %llu bytes attached",
			 (unsigned long long)r->ram_size);
		return -EINVAL;
	}

	int ret = read_header(r, &h, why, whylen);
	if (ret == 1) {
		ev->type = MIGSTREAM_EV_EOF;
		return 0;
	}
	if (ret)
		return ret;

	const char *name = migstream_type_name(h.type);
	uint64_t body = h.meta_len + (uint64_t)h.nr_data * PAGE;
	ssize_t n = io_read_full(r->fd, r->meta, h.meta_len);
	if (n == h.meta_len && h.nr_data)
		n += io_read_full(r->fd, r->data, (size_t)h.nr_data * PAGE);
	if (n < 0)
		return refuse(r, (int)n, why, whylen, "reading record %llu (%s): %s",
			      (unsigned long long)h.seq, name, strerror((int)-n));
	if ((uint64_t)n < body)
		return refuse(r, -ECONNRESET, why, whylen,
			      "stream truncated inside record %llu (%s): %zd of its %llu bytes "
			      "after the header",
			      (unsigned long long)h.seq, name, n, (unsigned long long)body);
	r->stats.bytes += sizeof(h) + body;

	uint64_t sums[MIGSTREAM_BATCH_DATA];
	for (uint32_t i = 0; i < h.nr_data; i++)
		sums[i] = migstream_page_hash(r->data + (size_t)i * PAGE);
	int intact = h.csum == migstream_rec_csum(&h, r->meta, h.meta_len, NULL, 0, sums);

	/* Magic and version before the checksum: another version may checksum
	 * differently, and deserves to be named. */
	if (h.type == MIGSTREAM_HELLO) {
		struct migstream_hello hello;
		memset(&hello, 0, sizeof(hello));
		memcpy(&hello, r->meta, 12);
		if (hello.magic != MIGSTREAM_MAGIC)
			return refuse(r, -EPROTO, why, whylen,
				      "not a dirtyscope migration stream (bad magic in HELLO)");
		if (hello.version != MIGSTREAM_VERSION)
			return refuse(r, -EPROTO, why, whylen,
				      "stream version %u, this dirtyscope reads version %u%s",
				      hello.version, MIGSTREAM_VERSION,
				      intact ? "" : " (or its HELLO record is corrupt)");
	}
	if (!intact)
		return refuse(r, -EPROTO, why, whylen,
			      "record %llu (%s) is corrupt (checksum mismatch)",
			      (unsigned long long)h.seq, name);
	if (!allowed(h.type, r->phase))
		return refuse(r, -EPROTO, why, whylen, "record %llu (%s) is out of order: %s",
			      (unsigned long long)h.seq, name, phase_expects(r->phase));

	ev->seq = h.seq;
	switch (h.type) {
	case MIGSTREAM_HELLO:
		ret = read_hello(r, &h, ev, why, whylen);
		break;
	case MIGSTREAM_ROUND_BEGIN: {
		uint64_t round;
		memcpy(&round, r->meta, sizeof(round));
		if (round != r->round)
			return refuse(r, -EPROTO, why, whylen,
				      "record %llu: round %llu began where round %llu was expected",
				      (unsigned long long)h.seq, (unsigned long long)round,
				      (unsigned long long)r->round);
		r->round_pages = r->round_zero = 0;
		r->phase = PH_ROUND;
		ev->type = MIGSTREAM_EV_ROUND_BEGIN;
		ev->round = round;
		break;
	}
	case MIGSTREAM_PAGES:
		ret = read_pages(r, &h, sums, ev, why, whylen);
		break;
	case MIGSTREAM_ROUND_END:
		ret = read_round_end(r, &h, ev, why, whylen);
		break;
	case MIGSTREAM_STATE: {
		struct migstream_state s;
		memcpy(&s, r->meta, sizeof(s));
		if (s.len > MIGSTREAM_MAX_STATE || h.meta_len != sizeof(s) + s.len)
			return refuse(r, -EPROTO, why, whylen,
				      "record %llu: malformed STATE (%u bytes for a %u-byte blob)",
				      (unsigned long long)h.seq, h.meta_len, s.len);
		r->phase = PH_STATES;
		ev->type = MIGSTREAM_EV_STATE;
		ev->state_kind = s.kind;
		ev->blob = r->meta + sizeof(s);
		ev->blob_len = s.len;
		break;
	}
	case MIGSTREAM_END:
		ret = read_end(r, &h, ev, why, whylen);
		break;
	case MIGSTREAM_VERDICT:
		ret = read_verdict(r, ev, why, whylen);
		break;
	case MIGSTREAM_ABORT: {
		char reason[MIGSTREAM_MAX_ABORT + 1];
		sanitize(reason, sizeof(reason), r->meta, h.meta_len);
		return refuse(r, -ECANCELED, why, whylen, "the source aborted the migration: %s",
			      reason[0] ? reason : "(no reason given)");
	}
	}
	if (ret)
		return ret;
	r->next_seq++;
	r->stats.records++;
	return 0;
}
