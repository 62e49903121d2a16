/*
 * logger/migrate/migstream_*.c: the live-migration stream, without KVM.
 *
 *   - round trip over a socketpair (writer thread): 64 MiB of RAM with data
 *     pages, single zero pages and zero runs, three rounds (all RAM, then
 *     two dirty sets whose content changed, some pages turning zero and
 *     some zero pages turning data), two state blobs, END: the destination
 *     is byte-identical, both RAM checksums agree, zero pages are counted
 *     and cost no data, the writer's and reader's counts agree
 *   - the format: re-encoding every record of a stream from
 *     docs/migration-stream.md's definitions reproduces it byte for byte
 *   - teeth, each refused with a reason that says what: a flipped byte in
 *     every header byte and in payloads (refused exactly at that record);
 *     truncation at every record boundary and inside headers, metadata and
 *     data; two records swapped; a record duplicated; another version; a
 *     page outside RAM, unaligned, in the hole, a zero run past the end,
 *     bad kinds and counts (RAM untouched by the batch); oversize lengths;
 *     an END whose RAM checksum is wrong (source lied, or destination RAM
 *     changed after the pages landed); records after END; records out of
 *     order (PAGES before HELLO, END in an open round, ROUND_BEGIN after
 *     STATE, wrong round numbers, ROUND_END counts that lie); ABORT; a RAM
 *     size other than the receiver's
 *   - RAM with the hole (3 GiB + 16 MiB): pages either side of it land at
 *     the right RAM index; the writer refuses misuse and writes nothing;
 *     a vanished receiver is -EPIPE, not SIGPIPE; a receiver that learns
 *     the RAM size from HELLO attaches its RAM afterwards
 *   - the RAM checksum's speed on 256 MiB (printed, not asserted)
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "abi/fnv.h"
#include "abi/fs.h"
#include "abi/layout.h"
#include "logger/dlog/frameset.h"
#include "logger/migrate/migstream.h"
#include "tests/lib/ds_test.h"
#include "util/time.h"

#define PAGE MIGSTREAM_PAGE

static double now_s(void)
{
	return (double)time_now_ns() / 1e9;
}

/* Page content for (page, version): never all zero. */
static void fill_page(uint8_t *p, uint64_t idx, uint64_t version)
{
	uint64_t *w = (uint64_t *)p;
	for (int i = 0; i < PAGE / 8; i++)
		w[i] = (idx * 0x9e3779b97f4a7c15ULL) ^ (version << 56) ^ (uint64_t)(i + 1);
}

static int all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* ---- Round trip over a socketpair ---- */

#define RT_RAM (64ULL << 20)

/* Round 0's pattern: a zero run, single zero pages, data elsewhere. */
static int rt_zero0(uint64_t i)
{
	return i % 5 == 0 || (i >= 1000 && i < 3000);
}

static const char rt_config[] = "workload=seq wss=4096 epochs=3";

struct rt_writer {
	int fd;
	struct guest_mem *m;
	struct migstream_stats stats;
	uint64_t zero_expected;
	int ret;
	uint8_t vcpu[300], dev[5000];
};

static void *rt_write(void *arg)
{
	struct rt_writer *a = arg;
	struct guest_mem *m = a->m;
	struct migstream_writer w;
	struct frameset fs;
	uint64_t *list = NULL, n = 0;
	int ret;

	if ((ret = migstream_writer_init(&w, a->fd)))
		goto out;
	ret = migstream_write_hello(&w, m, rt_config, sizeof(rt_config));
	if (!ret)
		ret = migstream_round_begin(&w, 0);
	if (!ret)
		ret = migstream_send_range(&w, m, 0, m->nr_pages);
	if (!ret)
		ret = migstream_round_end(&w);

	/* Round 1: a dirty set written before it is sent; half of it turns
	 * zero. */
	list = calloc(m->nr_pages, sizeof(*list));
	for (uint64_t i = 0; i < m->nr_pages; i++) {
		if (i % 7 != 3)
			continue;
		if (i % 2)
			fill_page(m->host + i * PAGE, i, 1);
		else
			memset(m->host + i * PAGE, 0, PAGE);
		list[n++] = i;
	}
	if (!ret)
		ret = migstream_round_begin(&w, 1);
	if (!ret)
		ret = migstream_send_pages(&w, m, list, n);
	if (!ret)
		ret = migstream_round_end(&w);

	/* Round 2: a frameset, as the dirty logger hands it over, in the order
	 * pages were added; every page turns data, zero ones included. */
	if (frameset_init(&fs, m->nr_pages))
		ret = -ENOMEM;
	for (uint64_t i = m->nr_pages; !ret && i-- > 0;) {
		if (i % 11 != 5)
			continue;
		fill_page(m->host + i * PAGE, i, 2);
		frameset_add(&fs, i);
	}
	if (!ret)
		ret = migstream_round_begin(&w, 2);
	if (!ret)
		ret = migstream_send_pages(&w, m, fs.list, fs.count);
	if (!ret)
		ret = migstream_round_end(&w);
	frameset_free(&fs);

	if (!ret)
		ret = migstream_write_state(&w, 1, a->vcpu, sizeof(a->vcpu));
	if (!ret)
		ret = migstream_write_state(&w, 2, a->dev, sizeof(a->dev));
	if (!ret)
		ret = migstream_write_end(&w);
	if (!ret)
		ret = migstream_write_verdict(&w, m);
	a->stats = w.stats;
	migstream_writer_destroy(&w);
out:
	free(list);
	shutdown(a->fd, SHUT_WR);
	a->ret = ret;
	return NULL;
}

static void test_round_trip(void)
{
	struct guest_mem src, dst;
	struct rt_writer a = {0};
	struct migstream_reader r;
	struct migstream_event ev;
	char why[256] = "";
	int sv[2], ret;
	pthread_t t;

	CU_ASSERT_FATAL(mem_create(&src, RT_RAM) == 0);
	CU_ASSERT_FATAL(mem_create(&dst, RT_RAM) == 0);
	for (uint64_t i = 0; i < src.nr_pages; i++) {
		if (rt_zero0(i))
			a.zero_expected++;
		else
			fill_page(src.host + i * PAGE, i, 0);
	}
	/* Round 1 zeroes the even pages of its set; round 2 sends only data. */
	for (uint64_t i = 0; i < src.nr_pages; i++)
		if (i % 7 == 3 && i % 2 == 0)
			a.zero_expected++;
	uint64_t pages_expected = src.nr_pages, dirty1 = 0, dirty2 = 0;
	for (uint64_t i = 0; i < src.nr_pages; i++) {
		dirty1 += i % 7 == 3;
		dirty2 += i % 11 == 5;
	}
	pages_expected += dirty1 + dirty2;
	for (size_t i = 0; i < sizeof(a.vcpu); i++)
		a.vcpu[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(a.dev); i++)
		a.dev[i] = (uint8_t)(i * 13 + 5);
	/* The destination starts dirty, so zero markers must really clear. */
	memset(dst.host, 0x5a, 1 << 20);

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	a.fd = sv[0];
	a.m = &src;
	CU_ASSERT_FATAL(migstream_reader_init(&r, sv[1], &dst) == 0);
	double t0 = now_s();
	CU_ASSERT_FATAL(pthread_create(&t, NULL, rt_write, &a) == 0);

	uint64_t rounds = 0, batches = 0, states = 0, seen_end = 0, seen_verdict = 0;
	uint64_t expect_round = 0;
	for (;;) {
		ret = migstream_read(&r, &ev, why, sizeof(why));
		if (ret) {
			printf("\n  unexpected: %s\n", why);
			CU_FAIL("reader refused a good stream");
			break;
		}
		if (ev.type == MIGSTREAM_EV_EOF)
			break;
		switch (ev.type) {
		case MIGSTREAM_EV_HELLO:
			CU_ASSERT(ev.ram_size == RT_RAM);
			CU_ASSERT(ev.blob_len == sizeof(rt_config));
			CU_ASSERT(ev.blob_len == sizeof(rt_config) &&
				  !memcmp(ev.blob, rt_config, sizeof(rt_config)));
			break;
		case MIGSTREAM_EV_ROUND_BEGIN:
			CU_ASSERT(ev.round == expect_round);
			break;
		case MIGSTREAM_EV_PAGES:
			batches++;
			CU_ASSERT(ev.round == expect_round);
			break;
		case MIGSTREAM_EV_ROUND_END:
			CU_ASSERT(ev.round == expect_round);
			if (ev.round == 1) {
				CU_ASSERT(ev.pages == dirty1);
			} else if (ev.round == 2) {
				CU_ASSERT(ev.pages == dirty2 && ev.zero_pages == 0);
			}
			expect_round++;
			rounds++;
			break;
		case MIGSTREAM_EV_STATE:
			states++;
			if (ev.state_kind == 1) {
				CU_ASSERT(ev.blob_len == sizeof(a.vcpu) &&
					  !memcmp(ev.blob, a.vcpu, sizeof(a.vcpu)));
			} else {
				CU_ASSERT(ev.state_kind == 2 && ev.blob_len == sizeof(a.dev) &&
					  !memcmp(ev.blob, a.dev, sizeof(a.dev)));
			}
			break;
		case MIGSTREAM_EV_END:
			seen_end++;
			break;
		case MIGSTREAM_EV_VERDICT:
			seen_verdict++;
			CU_ASSERT(ev.ram_checksum == migstream_ram_checksum(&src));
			break;
		default:
			CU_FAIL("unexpected event");
		}
	}
	double secs = now_s() - t0;
	pthread_join(t, NULL);

	CU_ASSERT(a.ret == 0);
	CU_ASSERT(seen_end == 1 && seen_verdict == 1 && rounds == 3 && states == 2);
	CU_ASSERT(memcmp(src.host, dst.host, RT_RAM) == 0);
	CU_ASSERT(migstream_ram_checksum(&src) == migstream_ram_checksum(&dst));
	CU_ASSERT(a.stats.pages == pages_expected && r.stats.pages == pages_expected);
	CU_ASSERT(a.stats.zero_pages == a.zero_expected && r.stats.zero_pages == a.zero_expected);
	CU_ASSERT(a.stats.bytes == r.stats.bytes && a.stats.records == r.stats.records);
	CU_ASSERT(a.stats.rounds == 3 && r.stats.rounds == 3);
	/* Zero pages cost no data: the stream holds the data pages and a few
	 * percent of overhead, well under RAM. */
	uint64_t data = pages_expected - a.zero_expected;
	CU_ASSERT(a.stats.bytes >= data * PAGE);
	CU_ASSERT(a.stats.bytes < data * PAGE + data * PAGE / 50);
	CU_ASSERT(a.stats.bytes < RT_RAM);
	printf("\n  64 MiB, 3 rounds: %llu pages sent (%llu zero, %llu data), %llu records "
	       "(%llu PAGES), stream %.1f MiB = %.1f%% of the data pages' bytes over them; "
	       "%.0f MiB/s end to end (hashing both ends, END checksums included)\n",
	       (unsigned long long)pages_expected, (unsigned long long)a.zero_expected,
	       (unsigned long long)data, (unsigned long long)a.stats.records,
	       (unsigned long long)batches, (double)a.stats.bytes / (1 << 20),
	       100.0 * (double)(a.stats.bytes - data * PAGE) / (double)(data * PAGE),
	       (double)a.stats.bytes / (1 << 20) / secs);

	migstream_reader_destroy(&r);
	close(sv[0]);
	close(sv[1]);
	mem_destroy(&src);
	mem_destroy(&dst);
}

/* ---- A small stream to break ---- */

#define SM_RAM (16ULL << 20)

static struct guest_mem sm_src, sm_dst;
static uint8_t *base;	   /* the stream */
static size_t base_len;	   /* bytes */
static size_t rec_off[64]; /* record k starts at rec_off[k]; rec_off[nrec] = base_len */
static int nrec;
static const uint8_t sm_state1[] = "vcpu: rip=0x200000 rsp=0x7000";
static uint8_t sm_state2[777];

static int mfd_with(const void *buf, size_t len)
{
	int fd = memfd_create("migstream", 0);
	if (fd < 0)
		return -1;
	if (len && write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* The header at p (stream bytes are not aligned). */
static struct migstream_rec hdr_at(const uint8_t *p)
{
	struct migstream_rec h;
	memcpy(&h, p, sizeof(h));
	return h;
}

static void *fd_contents(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);

	*len = 0;
	uint8_t *p = malloc(end ? (size_t)end : 1);
	if (pread(fd, p, (size_t)end, 0) != end) {
		free(p);
		return NULL;
	}
	*len = (size_t)end;
	return p;
}

/* Build the small stream: HELLO, round 0 (all RAM: 3 PAGES records),
 * round 1 (40 pages), two STATEs, END, VERDICT.  Every case that uses it calls this
 * first and gets it afresh, with fresh RAM on both sides: no case depends
 * on another having run, or on what one left behind. */
static void make_base(void)
{
	struct migstream_writer w;
	uint64_t list[40];
	int fd, ret;

	free(base);
	base = NULL;
	base_len = 0;
	mem_destroy(&sm_src);
	mem_destroy(&sm_dst);
	fd = mfd_with(NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(mem_create(&sm_src, SM_RAM) == 0);
	CU_ASSERT_FATAL(mem_create(&sm_dst, SM_RAM) == 0);
	for (uint64_t i = 0; i < sm_src.nr_pages; i++)
		if (i % 16 == 1 || (i >= 100 && i < 400))
			fill_page(sm_src.host + i * PAGE, i, 0);
	for (size_t i = 0; i < sizeof(sm_state2); i++)
		sm_state2[i] = (uint8_t)(i ^ 0x33);
	CU_ASSERT_FATAL(migstream_writer_init(&w, fd) == 0);
	ret = migstream_write_hello(&w, &sm_src, "cfg", 3);
	if (!ret)
		ret = migstream_round_begin(&w, 0);
	if (!ret)
		ret = migstream_send_range(&w, &sm_src, 0, sm_src.nr_pages);
	if (!ret)
		ret = migstream_round_end(&w);
	for (int i = 0; i < 40; i++) {
		list[i] = (uint64_t)i * 97 % sm_src.nr_pages;
		fill_page(sm_src.host + list[i] * PAGE, list[i], 1);
	}
	if (!ret)
		ret = migstream_round_begin(&w, 1);
	if (!ret)
		ret = migstream_send_pages(&w, &sm_src, list, 40);
	if (!ret)
		ret = migstream_round_end(&w);
	if (!ret)
		ret = migstream_write_state(&w, 1, sm_state1, sizeof(sm_state1));
	if (!ret)
		ret = migstream_write_state(&w, 2, sm_state2, sizeof(sm_state2));
	if (!ret)
		ret = migstream_write_end(&w);
	if (!ret)
		ret = migstream_write_verdict(&w, &sm_src);
	CU_ASSERT_FATAL(ret == 0);
	migstream_writer_destroy(&w);
	base = fd_contents(fd, &base_len);
	close(fd);
	CU_ASSERT_FATAL(base != NULL);

	nrec = 0;
	for (size_t off = 0; off < base_len;) {
		struct migstream_rec h = hdr_at(base + off);
		rec_off[nrec++] = off;
		off += sizeof(h) + h.meta_len + (size_t)h.nr_data * PAGE;
	}
	rec_off[nrec] = base_len;
}

/* Record k's header, and its metadata (data follows the metadata). */
static struct migstream_rec rec(int k)
{
	return hdr_at(base + rec_off[k]);
}

static const uint8_t *meta_of(int k)
{
	return base + rec_off[k] + sizeof(struct migstream_rec);
}

struct outcome {
	int ret;     /* of the last read: 0 when the stream ended cleanly */
	int events;  /* accepted records before it */
	int end;     /* VERDICT was accepted: the stream is whole and verified */
	int got_end; /* END was accepted */
	char why[256];
};

/* Read a stream from fd into dst (declared fresh: migstream_reader_fresh)
 * until it ends or is refused. */
static struct outcome run_fd(int fd, struct guest_mem *dst, bool fresh)
{
	struct outcome o = {0};
	struct migstream_reader r;
	struct migstream_event ev;

	if (migstream_reader_init(&r, fd, dst) || (fresh && migstream_reader_fresh(&r))) {
		o.ret = -ENOMEM;
		return o;
	}
	for (;;) {
		o.ret = migstream_read(&r, &ev, o.why, sizeof(o.why));
		if (o.ret || ev.type == MIGSTREAM_EV_EOF)
			break;
		o.events++;
		o.end |= ev.type == MIGSTREAM_EV_VERDICT;
		o.got_end |= ev.type == MIGSTREAM_EV_END;
	}
	migstream_reader_destroy(&r);
	return o;
}

static struct outcome run_buf(const void *buf, size_t len)
{
	struct outcome o = {.ret = -EIO};
	int fd = mfd_with(buf, len);

	if (fd < 0)
		return o;
	memset(sm_dst.host, 0, SM_RAM);
	o = run_fd(fd, &sm_dst, false);
	close(fd);
	return o;
}

/* Refused with err, and the reason mentions what. */
static int refused(const struct outcome *o, int err, const char *what)
{
	if (o->ret == err && strstr(o->why, what))
		return 1;
	printf("\n  expected %d \"%s\", got %d \"%s\"\n", err, what, o->ret, o->why);
	return 0;
}

/* ---- The test's own encoder, from docs/migration-stream.md ---- */

/* Append one record (seq, meta, nr_data pages) to out; returns its size. */
static size_t enc(uint8_t *out, uint32_t type, uint64_t seq, const void *meta, uint32_t meta_len,
		  const void *data, uint32_t nr_data)
{
	struct migstream_rec h = {
	    .type = type, .meta_len = meta_len, .nr_data = nr_data, .seq = seq};
	uint64_t x = ABI_FNV_BASIS;

	x = abi_fnv_step(x, type | (uint64_t)meta_len << 32);
	x = abi_fnv_step(x, nr_data);
	x = abi_fnv_step(x, seq);
	h.hdr_csum = (uint32_t)(x ^ (x >> 32));
	for (uint32_t i = 0; i < meta_len; i += 8) {
		uint64_t w = 0;
		memcpy(&w, (const uint8_t *)meta + i, meta_len - i < 8 ? meta_len - i : 8);
		x = abi_fnv_step(x, w);
	}
	for (uint32_t i = 0; i < nr_data; i++) {
		uint64_t page[PAGE / 8];
		memcpy(page, (const uint8_t *)data + (size_t)i * PAGE, PAGE);
		x = abi_fnv_step(x, migstream_page_hash(page));
	}
	h.csum = x;
	memcpy(out, &h, sizeof(h));
	if (meta_len)
		memcpy(out + sizeof(h), meta, meta_len);
	if (nr_data)
		memcpy(out + sizeof(h) + meta_len, data, (size_t)nr_data * PAGE);
	return sizeof(h) + meta_len + (size_t)nr_data * PAGE;
}

/* Re-encode base record k with sequence number seq. */
static size_t reenc(uint8_t *out, int k, uint64_t seq)
{
	struct migstream_rec h = rec(k);
	const uint8_t *meta = meta_of(k);
	return enc(out, h.type, seq, meta, h.meta_len, meta + h.meta_len, h.nr_data);
}

/* A stream of base records (-1 ends the list), renumbered and resealed. */
static size_t build(uint8_t *out, const int *ks)
{
	size_t len = 0;
	for (uint64_t seq = 0; ks[seq] >= 0; seq++)
		len += reenc(out + len, ks[seq], seq);
	return len;
}

static int find(uint32_t type, int nth)
{
	for (int k = 0; k < nrec; k++)
		if (rec(k).type == type && nth-- == 0)
			return k;
	return -1;
}

static void test_base_is_good(void)
{
	make_base();
	struct outcome o = run_buf(base, base_len);

	CU_ASSERT(o.ret == 0 && o.end && o.events == nrec);
	CU_ASSERT(memcmp(sm_src.host, sm_dst.host, SM_RAM) == 0);
	/* HELLO, RB, 3 PAGES, RE, RB, PAGES, RE, STATE, STATE, END, VERDICT */
	CU_ASSERT(nrec == 13);
	CU_ASSERT(find(MIGSTREAM_PAGES, 2) == 4 && find(MIGSTREAM_END, 0) == 11 &&
		  find(MIGSTREAM_VERDICT, 0) == 12);
	printf("\n  small stream: %d records, %zu bytes\n", nrec, base_len);
}

/* The documented checksum definitions are the writer's. */
static void test_format_matches_doc(void)
{
	make_base();
	uint8_t *buf = malloc(base_len);
	int same = 1;

	for (int k = 0; k < nrec; k++) {
		size_t n = reenc(buf, k, rec(k).seq);
		same &= n == rec_off[k + 1] - rec_off[k] && !memcmp(buf, base + rec_off[k], n);
	}
	CU_ASSERT(same);
	CU_ASSERT(!memcmp(base, "HELO", 4));
	free(buf);
}

static void test_flipped_bytes(void)
{
	make_base();
	int fd = mfd_with(base, base_len), bad = 0, runs = 0;

	CU_ASSERT_FATAL(fd >= 0);
	for (int k = 0; k < nrec; k++) {
		struct migstream_rec hk = rec(k), *h = &hk;
		size_t offs[32 + 6], n = 0;
		for (size_t i = 0; i < 32; i++)
			offs[n++] = rec_off[k] + i;
		size_t meta = rec_off[k] + 32, data = meta + h->meta_len;
		if (h->meta_len) {
			offs[n++] = meta;
			offs[n++] = meta + h->meta_len / 2;
			offs[n++] = meta + h->meta_len - 1;
		}
		if (h->nr_data) {
			offs[n++] = data;
			offs[n++] = data + (size_t)h->nr_data * PAGE / 2 + 3;
			offs[n++] = rec_off[k + 1] - 1;
		}
		for (size_t i = 0; i < n; i++) {
			uint8_t b = base[offs[i]] ^ 0x10;
			CU_ASSERT_FATAL(pwrite(fd, &b, 1, (off_t)offs[i]) == 1);
			lseek(fd, 0, SEEK_SET);
			struct outcome o = run_fd(fd, &sm_dst, false);
			/* Refused exactly at the damaged record.  HELLO's first
			 * bytes name a foreign stream or another version instead. */
			int ok = o.ret == -EPROTO && o.events == k &&
				 (strstr(o.why, "corrupt") ||
				  (k == 0 && (strstr(o.why, "not a dirtyscope migration stream") ||
					      strstr(o.why, "stream version"))));
			if (!ok && bad++ < 3)
				printf("\n  flip at %zu (record %d): %d after %d records: %s\n",
				       offs[i], k, o.ret, o.events, o.why);
			runs++;
			CU_ASSERT_FATAL(pwrite(fd, &base[offs[i]], 1, (off_t)offs[i]) == 1);
		}
	}
	CU_ASSERT(bad == 0);
	printf("\n  %d single-byte flips, all refused at their record\n", runs);
	close(fd);
}

static void test_truncated(void)
{
	make_base();
	int bad = 0, runs = 0;
	struct outcome o;

	for (int k = 0; k <= nrec; k++) {
		size_t cuts[5], n = 0;
		cuts[n++] = rec_off[k];
		if (k < nrec) {
			struct migstream_rec hk = rec(k), *h = &hk;
			cuts[n++] = rec_off[k] + 1;
			cuts[n++] = rec_off[k] + 31;
			if (h->meta_len > 1)
				cuts[n++] = rec_off[k] + 32 + h->meta_len / 2;
			if (h->nr_data)
				cuts[n++] = rec_off[k + 1] - PAGE - 100;
		}
		for (size_t i = 0; i < n; i++) {
			o = run_buf(base, cuts[i]);
			runs++;
			if (k == nrec) {
				/* The whole stream: not a truncation. */
				bad += !(o.ret == 0 && o.end);
				continue;
			}
			const char *what = k == 0 && i == 0 ? "empty stream" : "truncated";
			int ok = refused(&o, -ECONNRESET, what) && o.events == k;
			bad += !ok;
		}
	}
	o = run_buf(base, rec_off[5]);
	CU_ASSERT(refused(&o, -ECONNRESET, "stream truncated after record 4 (no END record)"));
	/* A source that died after GO: END but no VERDICT is no verified
	 * stream. */
	o = run_buf(base, rec_off[12]);
	CU_ASSERT(refused(&o, -ECONNRESET, "stream truncated after record 11 (no VERDICT record)"));
	CU_ASSERT(o.got_end && !o.end);
	o = run_buf(base, rec_off[5] + 40);
	CU_ASSERT(refused(&o, -ECONNRESET, "stream truncated inside record 5 (ROUND_END)"));
	CU_ASSERT(bad == 0);
	printf("\n  %d cuts\n", runs);
}

static void test_reordered_duplicated(void)
{
	make_base();
	uint8_t *buf = malloc(base_len + (2 << 20));
	struct outcome o;
	size_t len;

	/* Swap PAGES records 2 and 3 (both of round 0), bytes untouched. */
	len = 0;
	for (int k = 0; k < nrec; k++) {
		int src = k == 2 ? 3 : k == 3 ? 2 : k;
		size_t n = rec_off[src + 1] - rec_off[src];
		memcpy(buf + len, base + rec_off[src], n);
		len += n;
	}
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "record 3 arrived where record 2 was expected"));
	CU_ASSERT(o.events == 2);

	/* Swap the two STATE records. */
	len = 0;
	for (int k = 0; k < nrec; k++) {
		int src = k == 9 ? 10 : k == 10 ? 9 : k;
		size_t n = rec_off[src + 1] - rec_off[src];
		memcpy(buf + len, base + rec_off[src], n);
		len += n;
	}
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "record 10 arrived where record 9 was expected"));

	/* Duplicate PAGES record 3. */
	memcpy(buf, base, rec_off[4]);
	len = rec_off[4];
	memcpy(buf + len, base + rec_off[3], rec_off[4] - rec_off[3]);
	len += rec_off[4] - rec_off[3];
	memcpy(buf + len, base + rec_off[4], base_len - rec_off[4]);
	len += base_len - rec_off[4];
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "record 3 arrived where record 4 was expected"));

	/* A record lost: PAGES 3 dropped. */
	memcpy(buf, base, rec_off[3]);
	memcpy(buf + rec_off[3], base + rec_off[4], base_len - rec_off[4]);
	o = run_buf(buf, base_len - (rec_off[4] - rec_off[3]));
	CU_ASSERT(refused(&o, -EPROTO, "record 4 arrived where record 3 was expected"));

	/* Lost and renumbered (a writer bug, or a clever attacker): the round's
	 * counts no longer add up. */
	len = build(buf, (const int[]){0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "round 0 ended claiming"));
	free(buf);
}

static void test_version(void)
{
	make_base();
	uint8_t *buf = malloc(base_len + PAGE);
	struct migstream_rec h = rec(0);
	uint8_t meta[64];
	struct outcome o;

	/* A well-formed HELLO of version 1: END carried the RAM checksum,
	 * taken while the guest was stopped; no VERDICT. */
	memcpy(meta, meta_of(0), h.meta_len);
	((struct migstream_hello *)meta)->version = 1;
	size_t len = enc(buf, MIGSTREAM_HELLO, 0, meta, h.meta_len, NULL, 0);
	memcpy(buf + len, base + rec_off[1], base_len - rec_off[1]);
	o = run_buf(buf, len + base_len - rec_off[1]);
	CU_ASSERT(refused(&o, -EPROTO, "stream version 1, this dirtyscope reads version 2"));
	CU_ASSERT(!strstr(o.why, "corrupt"));

	/* Version 2 with its version field damaged: named, with a doubt. */
	memcpy(buf, base, base_len);
	buf[32 + 8] = 7;
	o = run_buf(buf, base_len);
	CU_ASSERT(refused(&o, -EPROTO, "stream version 7, this dirtyscope reads version 2 (or"));

	/* Not a migration stream at all. */
	static const char http[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
	o = run_buf(http, sizeof(http) - 1);
	CU_ASSERT(refused(&o, -EPROTO, "not a dirtyscope migration stream"));

	/* HELLO's magic wrong, checksums right. */
	memcpy(meta, meta_of(0), h.meta_len);
	((struct migstream_hello *)meta)->magic ^= 1;
	len = enc(buf, MIGSTREAM_HELLO, 0, meta, h.meta_len, NULL, 0);
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "bad magic"));

	/* Another RAM size than the receiver's. */
	memcpy(meta, meta_of(0), h.meta_len);
	((struct migstream_hello *)meta)->ram_size = SM_RAM * 2;
	len = enc(buf, MIGSTREAM_HELLO, 0, meta, h.meta_len, NULL, 0);
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "the source has 33554432 bytes of guest RAM"));
	free(buf);
}

/* A stream HELLO, ROUND_BEGIN 0, then one crafted PAGES batch. */
static struct outcome run_batch(const struct migstream_desc *d, uint32_t n, const void *data,
				uint32_t nr_data)
{
	static uint8_t buf[2 << 20];
	size_t len = build(buf, (const int[]){0, 1, -1});

	len += enc(buf + len, MIGSTREAM_PAGES, 2, d, n * sizeof(*d), data, nr_data);
	return run_buf(buf, len);
}

static void test_bad_pages(void)
{
	make_base();
	static uint8_t data[2 * PAGE];
	struct outcome o;
	const char *nothing = "nothing of the batch was written";

	memset(data, 0xaa, sizeof(data));
	/* Control: the same batch with good GPAs lands. */
	struct migstream_desc good[3] = {
	    {0x5000, MIGSTREAM_PAGE_DATA, 1},
	    {0x6000, MIGSTREAM_PAGE_ZERO, 4},
	    {0x9000, MIGSTREAM_PAGE_DATA, 1},
	};
	o = run_batch(good, 3, data, 2);
	CU_ASSERT(o.ret == -ECONNRESET && o.events == 3);
	CU_ASSERT(sm_dst.host[0x5000] == 0xaa && sm_dst.host[0x9fff] == 0xaa);

	struct {
		struct migstream_desc bad;
		uint32_t nr_data;
		const char *what;
	} cases[] = {
	    {{SM_RAM, MIGSTREAM_PAGE_DATA, 1}, 2, "outside guest RAM"},
	    {{SM_RAM - PAGE, MIGSTREAM_PAGE_ZERO, 2}, 1, "outside guest RAM"},
	    {{0xfffffffffffff000ULL, MIGSTREAM_PAGE_ZERO, MIGSTREAM_MAX_RUN},
	     1,
	     "outside guest RAM"},
	    {{ABI_HOLE_START, MIGSTREAM_PAGE_DATA, 1}, 2, "outside guest RAM"},
	    {{0x7001, MIGSTREAM_PAGE_DATA, 1}, 2, "not page aligned"},
	    {{0x7000, 3, 1}, 1, "kind 3"},
	    {{0x7000, MIGSTREAM_PAGE_ZERO, 0}, 1, "count 0"},
	    {{0x7000, MIGSTREAM_PAGE_DATA, 2}, 2, "count 2"},
	    {{0x7000, MIGSTREAM_PAGE_ZERO, MIGSTREAM_MAX_RUN + 1}, 1, "count 262145"},
	    {{0x7000, MIGSTREAM_PAGE_DATA, 1}, 1, "2 data descriptors but 1 data pages"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The bad descriptor comes last, after pages that would land. */
		struct migstream_desc d[3] = {good[0], good[1], cases[i].bad};
		o = run_batch(d, 3, data, cases[i].nr_data);
		CU_ASSERT(refused(&o, -EPROTO, cases[i].what));
		CU_ASSERT(strstr(o.why, nothing) != NULL);
		CU_ASSERT(o.events == 2);
		CU_ASSERT(all_zero(sm_dst.host, SM_RAM));
	}
}

static void test_oversize(void)
{
	make_base();
	struct migstream_rec h;
	static uint8_t buf[4096];
	size_t len = build(buf, (const int[]){0, 1, -1});
	struct outcome o;

	/* A header whose own checksum is right, so only the limits stop it;
	 * nothing follows it, so reading on would report truncation. */
	struct {
		uint32_t type, meta_len, nr_data;
	} cases[] = {
	    {MIGSTREAM_PAGES, 0x10000000, 100000},
	    {MIGSTREAM_PAGES, 16, MIGSTREAM_BATCH_DATA + 1},
	    {MIGSTREAM_PAGES, (MIGSTREAM_BATCH_DESC + 1) * 16, 0},
	    {MIGSTREAM_PAGES, 17, 1},
	    {MIGSTREAM_ROUND_END, 24, 1},
	    {MIGSTREAM_ROUND_END, 0xffffffff, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t one[64];
		enc(one, cases[i].type, 2, NULL, 0, NULL, 0);
		memcpy(&h, one, sizeof(h));
		h.meta_len = cases[i].meta_len;
		h.nr_data = cases[i].nr_data;
		/* Reseal the header checksum for the new lengths. */
		uint64_t x = abi_fnv_step(ABI_FNV_BASIS, h.type | (uint64_t)h.meta_len << 32);
		x = abi_fnv_step(abi_fnv_step(x, h.nr_data), h.seq);
		h.hdr_csum = (uint32_t)(x ^ (x >> 32));
		memcpy(buf + len, &h, sizeof(h));
		o = run_buf(buf, len + sizeof(h));
		CU_ASSERT(refused(&o, -EPROTO, "declares"));
	}
	/* STATE past its limit. */
	{
		uint8_t one[64];
		build(buf, (const int[]){0, -1});
		enc(one, MIGSTREAM_STATE, 1, NULL, 0, NULL, 0);
		memcpy(&h, one, sizeof(h));
		h.meta_len = MIGSTREAM_MAX_META + 1;
		uint64_t x = abi_fnv_step(ABI_FNV_BASIS, h.type | (uint64_t)h.meta_len << 32);
		x = abi_fnv_step(abi_fnv_step(x, h.nr_data), h.seq);
		h.hdr_csum = (uint32_t)(x ^ (x >> 32));
		size_t l = rec_off[1];
		memcpy(buf + l, &h, sizeof(h));
		o = run_buf(buf, l + sizeof(h));
		CU_ASSERT(refused(&o, -EPROTO, "record 1 (STATE) declares 65545 metadata bytes"));
	}
	/* An unknown type with a good header checksum. */
	{
		uint8_t one[64];
		size_t l = rec_off[1];
		memcpy(buf, base, l);
		enc(one, 0x21505a5a, 1, NULL, 0, NULL, 0);
		memcpy(buf + l, one, 32);
		o = run_buf(buf, l + 32);
		CU_ASSERT(refused(&o, -EPROTO, "record 1 has unknown type 0x21505a5a"));
	}
}

static void test_bad_end(void)
{
	make_base();
	uint8_t *buf = malloc(base_len);
	int end = find(MIGSTREAM_END, 0), ver = find(MIGSTREAM_VERDICT, 0);
	struct migstream_rec h = rec(end), hv = rec(ver);
	struct migstream_end e;
	struct migstream_verdict v;
	struct outcome o;

	/* The source lied (or its RAM changed after the last round, as a
	 * store the dirty log lost would have changed it). */
	memcpy(buf, base, rec_off[ver]);
	memcpy(&v, meta_of(ver), sizeof(v));
	v.ram_checksum ^= 1;
	size_t len = rec_off[ver] +
		     enc(buf + rec_off[ver], MIGSTREAM_VERDICT, hv.seq, &v, sizeof(v), NULL, 0);
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "guest RAM checksum"));
	CU_ASSERT(o.events == ver && o.got_end && !o.end);

	/* END's counts lie. */
	memcpy(buf, base, rec_off[end]);
	memcpy(&e, meta_of(end), sizeof(e));
	e.pages++;
	len = rec_off[end] + enc(buf + rec_off[end], MIGSTREAM_END, h.seq, &e, sizeof(e), NULL, 0);
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "END claims"));

	/* The destination's RAM changed after the pages landed. */
	{
		int fd = mfd_with(base, base_len);
		struct migstream_reader r;
		struct migstream_event ev;
		char why[256] = "";
		int ret;
		memset(sm_dst.host, 0, SM_RAM);
		CU_ASSERT_FATAL(migstream_reader_init(&r, fd, &sm_dst) == 0);
		while (!(ret = migstream_read(&r, &ev, why, sizeof(why))) &&
		       ev.type != MIGSTREAM_EV_EOF)
			if (ev.type == MIGSTREAM_EV_STATE)
				sm_dst.host[SM_RAM - 1] = 0xee; /* a zero page in the source */
		CU_ASSERT(ret == -EPROTO && strstr(why, "the RAM received is not the source's"));
		/* Sticky. */
		CU_ASSERT(migstream_read(&r, &ev, why, sizeof(why)) == -EPROTO);
		CU_ASSERT(strstr(why, "guest RAM checksum") != NULL);
		migstream_reader_destroy(&r);
		close(fd);
	}
	free(buf);
}

/*
 * A receiver with fresh RAM (migstream_reader_fresh): the same stream gives
 * the same verdicts, END checked from the page hashes; a page that was data
 * and then came as a zero marker is really zeroed; a lying END is refused.
 */
static struct outcome run_fresh(const void *buf, size_t len)
{
	struct outcome o = {.ret = -EIO};
	int fd = mfd_with(buf, len);

	if (fd < 0)
		return o;
	memset(sm_dst.host, 0, SM_RAM);
	o = run_fd(fd, &sm_dst, true);
	close(fd);
	return o;
}

static void test_fresh(void)
{
	make_base();
	struct outcome o = run_fresh(base, base_len);
	CU_ASSERT(o.ret == 0 && o.end);
	CU_ASSERT(memcmp(sm_src.host, sm_dst.host, SM_RAM) == 0);

	/* Page 5 is data in round 0, zero in round 1. */
	struct migstream_writer w;
	int fd = memfd_create("fresh", 0);
	uint64_t five = 5;
	CU_ASSERT_FATAL(fd >= 0);
	uint8_t *p5 = sm_src.host + 5 * PAGE, saved[PAGE];
	memcpy(saved, p5, PAGE);
	memset(p5, 0xab, PAGE);
	CU_ASSERT_FATAL(migstream_writer_init(&w, fd) == 0);
	CU_ASSERT(migstream_write_hello(&w, &sm_src, NULL, 0) == 0);
	CU_ASSERT(migstream_round_begin(&w, 0) == 0);
	CU_ASSERT(migstream_send_range(&w, &sm_src, 0, sm_src.nr_pages) == 0);
	CU_ASSERT(migstream_round_end(&w) == 0);
	memset(p5, 0, PAGE);
	CU_ASSERT(migstream_round_begin(&w, 1) == 0);
	CU_ASSERT(migstream_send_pages(&w, &sm_src, &five, 1) == 0);
	CU_ASSERT(migstream_round_end(&w) == 0);
	CU_ASSERT(migstream_write_end(&w) == 0);
	CU_ASSERT(migstream_write_verdict(&w, &sm_src) == 0);
	migstream_writer_destroy(&w);
	size_t len;
	uint8_t *buf = fd_contents(fd, &len);
	close(fd);
	o = run_fresh(buf, len);
	CU_ASSERT(o.ret == 0 && o.end);
	CU_ASSERT(memcmp(sm_src.host, sm_dst.host, SM_RAM) == 0);
	free(buf);
	memcpy(p5, saved, PAGE);

	/* The source lied: refused from the hashes too. */
	int ver = find(MIGSTREAM_VERDICT, 0);
	struct migstream_rec h = rec(ver);
	struct migstream_verdict v;
	buf = malloc(base_len);
	memcpy(buf, base, rec_off[ver]);
	memcpy(&v, meta_of(ver), sizeof(v));
	v.ram_checksum ^= 1;
	len = rec_off[ver] +
	      enc(buf + rec_off[ver], MIGSTREAM_VERDICT, h.seq, &v, sizeof(v), NULL, 0);
	o = run_fresh(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "guest RAM checksum"));
	free(buf);

	/* The guest runs between END and VERDICT (a migration's destination
	 * after GO): the fresh reader checks what it received, not what RAM
	 * holds by then.  A reader that is not fresh took RAM's checksum at
	 * END, so the same holds for it. */
	for (int fresh = 0; fresh < 2; fresh++) {
		struct migstream_reader r;
		struct migstream_event ev;
		char why[256] = "";
		int ret;
		fd = mfd_with(base, base_len);
		memset(sm_dst.host, 0, SM_RAM);
		CU_ASSERT_FATAL(migstream_reader_init(&r, fd, &sm_dst) == 0);
		CU_ASSERT_FATAL(!fresh || migstream_reader_fresh(&r) == 0);
		while (!(ret = migstream_read(&r, &ev, why, sizeof(why))) &&
		       ev.type != MIGSTREAM_EV_EOF)
			if (ev.type == MIGSTREAM_EV_END)
				memset(sm_dst.host, 0xee, 8 * PAGE);
		CU_ASSERT(ret == 0);
		migstream_reader_destroy(&r);
		close(fd);
	}
}

static void test_after_end(void)
{
	make_base();
	uint8_t *buf = malloc(base_len + 4096);
	struct outcome o;

	/* A well-formed record after END. */
	memcpy(buf, base, base_len);
	size_t len = base_len + reenc(buf + base_len, 1, (uint64_t)nrec);
	o = run_buf(buf, len);
	CU_ASSERT(o.end && refused(&o, -EPROTO, "data follows the VERDICT record"));
	/* One stray byte. */
	buf[base_len] = 0;
	o = run_buf(buf, base_len + 1);
	CU_ASSERT(o.end && refused(&o, -EPROTO, "data follows the VERDICT record"));
	free(buf);
}

static void test_out_of_order(void)
{
	make_base();
	uint8_t *buf = malloc(base_len + 3 * 4096);
	struct outcome o;
	size_t len;

	/* PAGES before HELLO. */
	len = build(buf, (const int[]){2, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "not a dirtyscope migration stream"));
	/* A second HELLO. */
	len = build(buf, (const int[]){0, 1, 0, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "record 2 (HELLO) is out of order: inside an open round"));
	/* PAGES outside a round. */
	len = build(buf, (const int[]){0, 2, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "record 1 (PAGES) is out of order: between rounds"));
	/* END with round 0 still open. */
	len = build(buf, (const int[]){0, 1, 2, 3, 4, 11, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "record 5 (END) is out of order: inside an open round"));
	/* STATE inside a round. */
	len = build(buf, (const int[]){0, 1, 9, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "record 2 (STATE) is out of order: inside an open round"));
	/* A round after STATE. */
	len = build(buf, (const int[]){0, 1, 2, 3, 4, 5, 9, 6, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "record 7 (ROUND_BEGIN) is out of order: after the STATE"));
	/* Round 1 twice... */
	len = build(buf, (const int[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 6, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "round 1 began where round 2 was expected"));
	/* ...or round 1 first. */
	len = build(buf, (const int[]){0, 6, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "round 1 began where round 0 was expected"));
	/* ROUND_END of round 1 closing round 0. */
	len = build(buf, (const int[]){0, 1, 2, 3, 4, 8, -1});
	o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "ROUND_END of round 1 inside round 0"));
	/* ROUND_END counts that lie. */
	{
		struct migstream_round_end e;
		memcpy(&e, meta_of(5), sizeof(e));
		e.zero_pages--;
		len = build(buf, (const int[]){0, 1, 2, 3, 4, -1});
		len += enc(buf + len, MIGSTREAM_ROUND_END, 5, &e, sizeof(e), NULL, 0);
		o = run_buf(buf, len);
		CU_ASSERT(refused(&o, -EPROTO, "round 0 ended claiming"));
	}
	/* A STATE whose blob length disagrees with its record. */
	{
		struct migstream_state s = {.kind = 1, .len = 9};
		uint8_t meta[16] = {0};
		memcpy(meta, &s, sizeof(s));
		len = build(buf, (const int[]){0, -1});
		len += enc(buf + len, MIGSTREAM_STATE, 1, meta, 16, NULL, 0);
		o = run_buf(buf, len);
		CU_ASSERT(refused(&o, -EPROTO, "malformed STATE"));
	}
	free(buf);
}

static void test_abort(void)
{
	make_base();
	int fd = mfd_with(NULL, 0);
	struct migstream_writer w;

	CU_ASSERT_FATAL(migstream_writer_init(&w, fd) == 0);
	CU_ASSERT(migstream_write_hello(&w, &sm_src, NULL, 0) == 0);
	CU_ASSERT(migstream_round_begin(&w, 0) == 0);
	CU_ASSERT(migstream_send_range(&w, &sm_src, 0, 100) == 0);
	CU_ASSERT(migstream_write_abort(&w, "guest paused too long\n\033[2J") == 0);
	CU_ASSERT(migstream_write_end(&w) == -EINVAL);
	migstream_writer_destroy(&w);
	size_t len;
	uint8_t *buf = fd_contents(fd, &len);
	struct outcome o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -ECANCELED,
			  "the source aborted the migration: guest paused too long??[2J"));
	free(buf);
	close(fd);
}

/* ---- Writer behaviour ---- */

static void test_writer_misuse(void)
{
	make_base();
	int fd = mfd_with(NULL, 0);
	struct migstream_writer w;
	struct guest_mem other;
	uint64_t idx[2] = {1, sm_src.nr_pages};

	CU_ASSERT_FATAL(mem_create(&other, SM_RAM * 2) == 0);
	CU_ASSERT_FATAL(migstream_writer_init(&w, fd) == 0);
	CU_ASSERT(migstream_round_begin(&w, 0) == -EINVAL);
	CU_ASSERT(migstream_write_state(&w, 1, "x", 1) == -EINVAL);
	CU_ASSERT(migstream_write_end(&w) == -EINVAL);
	CU_ASSERT(migstream_write_verdict(&w, &sm_src) == -EINVAL);
	CU_ASSERT(migstream_write_hello(&w, &sm_src, "x", MIGSTREAM_MAX_CONFIG + 1) == -EINVAL);
	CU_ASSERT(lseek(fd, 0, SEEK_END) == 0);
	CU_ASSERT(migstream_write_hello(&w, &sm_src, NULL, 0) == 0);
	off_t after_hello = lseek(fd, 0, SEEK_END);
	CU_ASSERT(migstream_send_range(&w, &sm_src, 0, 1) == -EINVAL);
	CU_ASSERT(migstream_round_begin(&w, 1) == -EINVAL);
	CU_ASSERT(migstream_round_end(&w) == -EINVAL);
	CU_ASSERT(migstream_round_begin(&w, 0) == 0);
	after_hello = lseek(fd, 0, SEEK_END);
	CU_ASSERT(migstream_send_pages(&w, &sm_src, idx, 2) == -EINVAL);
	CU_ASSERT(migstream_send_range(&w, &sm_src, sm_src.nr_pages - 1, 2) == -EINVAL);
	CU_ASSERT(migstream_send_range(&w, &sm_src, 1, UINT64_MAX) == -EINVAL);
	CU_ASSERT(migstream_send_range(&w, &other, 0, 1) == -EINVAL);
	CU_ASSERT(migstream_write_state(&w, 1, "x", 1) == -EINVAL);
	CU_ASSERT(migstream_write_end(&w) == -EINVAL);
	CU_ASSERT(migstream_write_verdict(&w, &sm_src) == -EINVAL);
	CU_ASSERT(lseek(fd, 0, SEEK_END) == after_hello);
	CU_ASSERT(w.stats.pages == 0);
	CU_ASSERT(migstream_round_end(&w) == 0);
	CU_ASSERT(migstream_write_state(&w, 1, NULL, MIGSTREAM_MAX_STATE + 1) == -EINVAL);
	CU_ASSERT(migstream_write_state(&w, 1, "x", 1) == 0);
	CU_ASSERT(migstream_round_begin(&w, 1) == -EINVAL);
	CU_ASSERT(migstream_write_verdict(&w, &sm_src) == -EINVAL);
	CU_ASSERT(migstream_write_end(&w) == 0);
	CU_ASSERT(migstream_write_state(&w, 1, "x", 1) == -EINVAL);
	/* After END the receiver may run the guest: no ABORT. */
	CU_ASSERT(migstream_write_abort(&w, "late") == -EINVAL);
	CU_ASSERT(migstream_write_verdict(&w, &other) == -EINVAL);
	CU_ASSERT(migstream_write_verdict(&w, &sm_src) == 0);
	CU_ASSERT(migstream_write_verdict(&w, &sm_src) == -EINVAL);
	CU_ASSERT(migstream_write_abort(&w, "late") == -EINVAL);
	migstream_writer_destroy(&w);
	mem_destroy(&other);

	/* What it wrote is a good (empty-round) stream: RAM differs, though. */
	size_t len;
	uint8_t *buf = fd_contents(fd, &len);
	struct outcome o = run_buf(buf, len);
	CU_ASSERT(refused(&o, -EPROTO, "guest RAM checksum"));
	CU_ASSERT(o.events == 5 && o.got_end);
	free(buf);
	close(fd);
}

static void test_receiver_gone(void)
{
	make_base();
	struct migstream_writer w;
	int sv[2];

	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[1]);
	CU_ASSERT_FATAL(migstream_writer_init(&w, sv[0]) == 0);
	/* SIGPIPE is not ignored here: only MSG_NOSIGNAL keeps us alive. */
	CU_ASSERT(migstream_write_hello(&w, &sm_src, NULL, 0) == -EPIPE);
	CU_ASSERT(migstream_round_begin(&w, 0) == -EPIPE);
	CU_ASSERT(migstream_write_abort(&w, "x") == -EPIPE);
	migstream_writer_destroy(&w);
	close(sv[0]);
}

/* The receiver learns the RAM size from HELLO, then attaches its RAM. */
static void test_late_ram(void)
{
	make_base();
	int fd = mfd_with(base, base_len);
	struct migstream_reader r;
	struct migstream_event ev;
	struct guest_mem wrong;
	char why[256];
	int ret;

	CU_ASSERT_FATAL(mem_create(&wrong, SM_RAM * 2) == 0);
	CU_ASSERT_FATAL(migstream_reader_init(&r, fd, NULL) == 0);
	CU_ASSERT(migstream_read(&r, &ev, why, sizeof(why)) == 0);
	CU_ASSERT(ev.type == MIGSTREAM_EV_HELLO && ev.ram_size == SM_RAM && ev.blob_len == 3 &&
		  !memcmp(ev.blob, "cfg", 3));
	CU_ASSERT(migstream_read(&r, &ev, why, sizeof(why)) == -EINVAL);
	migstream_reader_set_mem(&r, &wrong);
	CU_ASSERT(migstream_read(&r, &ev, why, sizeof(why)) == -EINVAL);
	CU_ASSERT(strstr(why, "no guest RAM of 16777216 bytes") != NULL);
	memset(sm_dst.host, 0, SM_RAM);
	migstream_reader_set_mem(&r, &sm_dst);
	while (!(ret = migstream_read(&r, &ev, why, sizeof(why))) && ev.type != MIGSTREAM_EV_EOF)
		;
	CU_ASSERT(ret == 0 && r.stats.records == (uint64_t)nrec);
	CU_ASSERT(memcmp(sm_src.host, sm_dst.host, SM_RAM) == 0);
	migstream_reader_destroy(&r);
	mem_destroy(&wrong);
	close(fd);
}

/* RAM above the hole: RAM index != GPA / 4096 there. */
static void test_hole(void)
{
	const uint64_t ram = ABI_HOLE_START + (16ULL << 20), low = ABI_HOLE_START / PAGE;
	struct guest_mem src, dst;
	struct migstream_writer w;
	struct migstream_event ev;
	struct migstream_reader r;
	uint64_t idx[] = {low - 1, low, low + 1, low + 2, low + 100, 5};
	char why[256] = "";
	int fd = mfd_with(NULL, 0), ret;

	CU_ASSERT_FATAL(mem_create(&src, ram) == 0);
	CU_ASSERT_FATAL(mem_create(&dst, ram) == 0);
	CU_ASSERT(src.nr_slots == 2);
	fill_page(src.host + (low - 1) * PAGE, low - 1, 0);
	fill_page(src.host + low * PAGE, low, 0);
	fill_page(src.host + (low + 100) * PAGE, low + 100, 0);
	/* low+1, low+2, 5 are zero; the destination's are not. */
	memset(dst.host + (low + 1) * PAGE, 0x77, 2 * PAGE);
	memset(dst.host + 5 * PAGE, 0x77, PAGE);

	CU_ASSERT_FATAL(migstream_writer_init(&w, fd) == 0);
	ret = migstream_write_hello(&w, &src, NULL, 0);
	if (!ret)
		ret = migstream_round_begin(&w, 0);
	if (!ret)
		ret = migstream_send_pages(&w, &src, idx, 6);
	if (!ret)
		ret = migstream_round_end(&w);
	CU_ASSERT(ret == 0);
	CU_ASSERT(w.stats.pages == 6 && w.stats.zero_pages == 3);
	migstream_writer_destroy(&w);

	/* The batch: the zero pages low+1, low+2 share one marker at 4 GiB +
	 * 4 KiB; nothing crosses the hole. */
	size_t len;
	uint8_t *buf = fd_contents(fd, &len);
	size_t off = 0;
	for (int k = 0; k < 2; k++) {
		struct migstream_rec x = hdr_at(buf + off);
		off += 32 + x.meta_len + (size_t)x.nr_data * PAGE;
	}
	struct migstream_rec pages = hdr_at(buf + off);
	struct migstream_desc d[5];
	memcpy(d, buf + off + 32, sizeof(d));
	CU_ASSERT(pages.type == MIGSTREAM_PAGES && pages.meta_len == sizeof(d));
	CU_ASSERT(d[0].gpa == ABI_HOLE_START - PAGE && d[0].kind == MIGSTREAM_PAGE_DATA);
	CU_ASSERT(d[1].gpa == ABI_HOLE_END && d[1].kind == MIGSTREAM_PAGE_DATA);
	CU_ASSERT(d[2].gpa == ABI_HOLE_END + PAGE && d[2].kind == MIGSTREAM_PAGE_ZERO &&
		  d[2].count == 2);
	CU_ASSERT(d[3].gpa == ABI_HOLE_END + 100 * PAGE);
	CU_ASSERT(d[4].gpa == 5 * PAGE && d[4].kind == MIGSTREAM_PAGE_ZERO && d[4].count == 1);

	lseek(fd, 0, SEEK_SET);
	CU_ASSERT_FATAL(migstream_reader_init(&r, fd, &dst) == 0);
	while (!(ret = migstream_read(&r, &ev, why, sizeof(why))) &&
	       ev.type != MIGSTREAM_EV_ROUND_END)
		;
	CU_ASSERT(ret == 0);
	for (size_t i = 0; i < 6; i++)
		CU_ASSERT(!memcmp(src.host + idx[i] * PAGE, dst.host + idx[i] * PAGE, PAGE));
	migstream_reader_destroy(&r);

	/* A zero run from below the hole into it, and a page in it, after
	 * this stream's HELLO and ROUND_BEGIN. */
	struct migstream_desc bad[2] = {
	    {ABI_HOLE_START - PAGE, MIGSTREAM_PAGE_ZERO, 2},
	    {ABI_HOLE_START + 0x10000, MIGSTREAM_PAGE_ZERO, 1},
	};
	for (int k = 0; k < 2; k++) {
		uint8_t hostile[256];
		size_t l = off;
		memcpy(hostile, buf, l);
		l += enc(hostile + l, MIGSTREAM_PAGES, 2, &bad[k], sizeof(bad[k]), NULL, 0);
		int f = mfd_with(hostile, l);
		dst.host[ABI_HOLE_START - 1] = 9;
		struct outcome o = run_fd(f, &dst, false);
		CU_ASSERT(refused(&o, -EPROTO, "outside guest RAM"));
		CU_ASSERT(dst.host[ABI_HOLE_START - 1] == 9);
		close(f);
	}
	free(buf);
	close(fd);
	mem_destroy(&src);
	mem_destroy(&dst);
}

/* ---- Speed ---- */

static void test_checksum_speed(void)
{
	struct guest_mem m;
	const uint64_t size = 256ULL << 20;

	CU_ASSERT_FATAL(mem_create(&m, size) == 0);
	for (uint64_t i = 0; i < m.nr_pages; i++)
		fill_page(m.host + i * PAGE, i, 3);
	double t0 = now_s();
	uint64_t a = migstream_ram_checksum(&m);
	double t1 = now_s();
	uint64_t b = abi_fs_csum((const uint64_t *)m.host, size / 8);
	double t2 = now_s();
	CU_ASSERT(a == migstream_ram_checksum(&m));
	m.host[size / 2] ^= 1;
	CU_ASSERT(a != migstream_ram_checksum(&m));
	printf("\n  RAM checksum of 256 MiB: %.2f GiB/s (one abi_fs_csum chain over the same "
	       "bytes: %.2f GiB/s) [%llx %llx]\n",
	       0.25 / (t1 - t0), 0.25 / (t2 - t1), (unsigned long long)a, (unsigned long long)b);
	mem_destroy(&m);
}

int main(void)
{
	static const struct ds_case cases[] = {
	    {"round trip: 64 MiB, 3 rounds, states, end", test_round_trip},
	    {"small stream reads back", test_base_is_good},
	    {"format: re-encoded from the doc, byte for byte", test_format_matches_doc},
	    {"teeth: flipped bytes", test_flipped_bytes},
	    {"teeth: truncation", test_truncated},
	    {"teeth: reordered, duplicated, lost", test_reordered_duplicated},
	    {"teeth: version, magic, RAM size", test_version},
	    {"teeth: bad pages leave RAM untouched", test_bad_pages},
	    {"teeth: oversize lengths, unknown type", test_oversize},
	    {"teeth: END checksum and counts", test_bad_end},
	    {"fresh RAM: END from page hashes, zero markers, a lying END", test_fresh},
	    {"teeth: records after END", test_after_end},
	    {"teeth: records out of order", test_out_of_order},
	    {"abort", test_abort},
	    {"writer refuses misuse, writes nothing", test_writer_misuse},
	    {"receiver gone: -EPIPE, no SIGPIPE", test_receiver_gone},
	    {"receiver attaches RAM after HELLO", test_late_ram},
	    {"RAM above the hole", test_hole},
	    {"RAM checksum speed", test_checksum_speed},
	    {NULL, NULL},
	};
	int ret = ds_run_suite("migstream", cases);
	free(base);
	mem_destroy(&sm_src);
	mem_destroy(&sm_dst);
	return ret;
}
