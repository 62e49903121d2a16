/*
 * The migration stream's writer (logger/migrate/migstream.h): batches pages
 * into PAGES records, seals every record with its checksum and sequence
 * number, and refuses calls out of the order docs/migration-stream.md
 * allows before anything reaches the wire.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "logger/migrate/migstream_int.h"

int migstream_writer_init(struct migstream_writer *w, int fd)
{
	struct stat st;

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	w->desc = calloc(MIGSTREAM_BATCH_DESC, sizeof(*w->desc));
	w->data_sum = calloc(MIGSTREAM_BATCH_DATA, sizeof(*w->data_sum));
	w->pop_bits = calloc(POP_CHUNK / 64, sizeof(*w->pop_bits));
	w->iov = calloc(3 + MIGSTREAM_BATCH_DATA, sizeof(*w->iov));
	if (!w->desc || !w->data_sum || !w->pop_bits || !w->iov)
		goto err_free;
	if (posix_memalign((void **)&w->data, PAGE, (size_t)MIGSTREAM_BATCH_DATA * PAGE))
		goto err_free;
	return 0;

err_free:
	free(w->desc);
	free(w->data_sum);
	free(w->pop_bits);
	free(w->iov);
	memset(w, 0, sizeof(*w));
	return -ENOMEM;
}

void migstream_writer_destroy(struct migstream_writer *w)
{
	free(w->desc);
	free(w->data_sum);
	free(w->data);
	free(w->pop_bits);
	free(w->iov);
	w->iov = NULL;
	w->desc = NULL;
	w->data_sum = NULL;
	w->data = NULL;
	w->pop_bits = NULL;
}

/* Write every byte of iov[0..cnt) (consumed), retrying short writes and
 * EINTR.  Any failure sticks: part of a record may be on the wire.  Not
 * util/io's io_send_full: one record goes out in one vectored call (sendmsg
 * or writev on a pipe or file), and its bytes count in the stream's stats. */
static int put(struct migstream_writer *w, struct iovec *iov, int cnt)
{
	for (;;) {
		while (cnt && iov->iov_len == 0) {
			iov++;
			cnt--;
		}
		if (!cnt)
			return 0;
		ssize_t n;
		if (w->sock) {
			struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
			n = sendmsg(w->fd, &mh, MSG_NOSIGNAL);
		} else {
			n = writev(w->fd, iov, cnt);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return w->err = -errno;
		if (n == 0)
			return w->err = -EIO;
		w->stats.bytes += (uint64_t)n;
		while (n > 0) {
			size_t take = (size_t)n < iov->iov_len ? (size_t)n : iov->iov_len;
			/* An empty part (a NULL tail) stays untouched: NULL + 0
			 * is undefined behaviour in C (UBSan: pointer-overflow). */
			if (take) {
				iov->iov_base = (uint8_t *)iov->iov_base + take;
				iov->iov_len -= take;
			}
			n -= (ssize_t)take;
			if (!iov->iov_len) {
				iov++;
				cnt--;
			}
		}
	}
}

/* Write one record: meta = head || tail (head_len a multiple of 8), then
 * nr_data pages from the batch buffer. */
static int emit(struct migstream_writer *w, uint32_t type, const void *head, uint32_t head_len,
		const void *tail, uint32_t tail_len, uint32_t nr_data)
{
	struct migstream_rec h = {
	    .type = type,
	    .meta_len = head_len + tail_len,
	    .nr_data = nr_data,
	    .seq = w->stats.records,
	};
	h.hdr_csum = migstream_fold32(migstream_hdr_chain(&h));
	h.csum = migstream_rec_csum(&h, head, head_len, tail, tail_len, w->data_sum);

	/* In place, add_page has pointed iov[3..] at the batch's pages in
	 * guest RAM; otherwise the pages are one run in the batch buffer. */
	struct iovec *iov = w->iov;
	iov[0] = (struct iovec){&h, sizeof(h)};
	iov[1] = (struct iovec){(void *)head, head_len};
	iov[2] = (struct iovec){(void *)tail, tail_len};
	int cnt = 3;
	if (!w->in_place && nr_data)
		iov[cnt++] = (struct iovec){w->data, (size_t)nr_data * PAGE};
	else
		cnt += (int)nr_data;
	int ret = put(w, iov, cnt);
	if (ret)
		return ret;
	w->stats.records++;
	w->last_csum = h.csum;
	return 0;
}

/* Send the batch being filled, if any, as one PAGES record. */
static int flush(struct migstream_writer *w)
{
	if (!w->nr_desc)
		return 0;
	int ret =
	    emit(w, MIGSTREAM_PAGES, w->desc, w->nr_desc * sizeof(*w->desc), NULL, 0, w->nr_data);
	if (ret)
		return ret;
	w->stats.pages += w->batch_pages;
	w->stats.zero_pages += w->batch_zero;
	w->round_pages += w->batch_pages;
	w->round_zero += w->batch_zero;
	w->nr_desc = w->nr_data = 0;
	w->batch_pages = w->batch_zero = 0;
	return 0;
}

int migstream_writer_in_place(struct migstream_writer *w)
{
	if (w->phase == PH_ROUND)
		return -EINVAL;
	w->in_place = 1;
	return 0;
}

int migstream_write_hello(struct migstream_writer *w, const struct guest_mem *m, const void *config,
			  uint32_t config_len)
{
	if (w->err)
		return w->err;
	if (w->phase != PH_HELLO || config_len > MIGSTREAM_MAX_CONFIG || (config_len && !config))
		return -EINVAL;
	struct migstream_hello hello = {
	    .magic = MIGSTREAM_MAGIC,
	    .version = MIGSTREAM_VERSION,
	    .page_size = PAGE,
	    .ram_size = m->ram_size,
	    .config_len = config_len,
	};
	int ret = emit(w, MIGSTREAM_HELLO, &hello, sizeof(hello), config, config_len, 0);
	if (ret)
		return ret;
	w->ram_size = m->ram_size;
	w->phase = PH_IDLE;
	return 0;
}

int migstream_round_begin(struct migstream_writer *w, uint64_t round)
{
	if (w->err)
		return w->err;
	if (w->phase != PH_IDLE || round != w->round)
		return -EINVAL;
	int ret = emit(w, MIGSTREAM_ROUND_BEGIN, &round, sizeof(round), NULL, 0, 0);
	if (ret)
		return ret;
	w->round_pages = w->round_zero = 0;
	w->phase = PH_ROUND;
	return 0;
}

/* Add RAM page idx to the batch, sending the batch when it is full;
 * `untouched`: the host mapping never populated it, so it is zero without
 * reading it (mem_populated). */
static int add_page(struct migstream_writer *w, const struct guest_mem *m, uint64_t idx,
		    bool untouched)
{
	const uint8_t *src = m->host + idx * PAGE;
	uint64_t gpa = mem_index_to_gpa(m, idx);

	if (untouched || migstream_page_is_zero(src)) {
		struct migstream_desc *last = w->nr_desc ? &w->desc[w->nr_desc - 1] : NULL;
		/* Extend the previous zero run when this page follows it in GPA
		 * space; a run never crosses the hole, since the GPAs there are
		 * not consecutive. */
		if (last && last->kind == MIGSTREAM_PAGE_ZERO && last->count < MIGSTREAM_MAX_RUN &&
		    last->gpa + (uint64_t)last->count * PAGE == gpa) {
			last->count++;
		} else {
			w->desc[w->nr_desc++] = (struct migstream_desc){
			    .gpa = gpa, .kind = MIGSTREAM_PAGE_ZERO, .count = 1};
		}
		w->batch_zero++;
	} else {
		if (w->in_place) {
			/* The guest is stopped: the page stays as hashed. */
			w->iov[3 + w->nr_data] = (struct iovec){(void *)src, PAGE};
			w->data_sum[w->nr_data++] = migstream_page_hash(src);
		} else {
			/* Hash and send a private copy: the guest may write the
			 * page while we work, and the bytes sent must be the
			 * bytes hashed. */
			uint8_t *copy = w->data + (size_t)w->nr_data * PAGE;
			memcpy(copy, src, PAGE);
			w->data_sum[w->nr_data++] = migstream_page_hash(copy);
		}
		w->desc[w->nr_desc++] =
		    (struct migstream_desc){.gpa = gpa, .kind = MIGSTREAM_PAGE_DATA, .count = 1};
	}
	w->batch_pages++;
	if (w->nr_desc == MIGSTREAM_BATCH_DESC || w->nr_data == MIGSTREAM_BATCH_DATA)
		return flush(w);
	return 0;
}

static int send_checks(struct migstream_writer *w, const struct guest_mem *m)
{
	if (w->err)
		return w->err;
	if (w->phase != PH_ROUND || m->ram_size != w->ram_size)
		return -EINVAL;
	return 0;
}

int migstream_send_pages(struct migstream_writer *w, const struct guest_mem *m,
			 const uint64_t *ram_indexes, uint64_t n)
{
	int ret = send_checks(w, m);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < n; i++)
		if (ram_indexes[i] >= m->nr_pages)
			return -EINVAL;
	for (uint64_t i = 0; i < n; i++)
		if ((ret = add_page(w, m, ram_indexes[i], false)))
			return ret;
	return 0;
}

/* Add RAM pages idx .. idx+count-1, all known zero without reading them
 * (never populated), as zero runs: no work per page, so that round 0 over
 * a mostly untouched 8 GiB guest costs what its populated pages cost. */
static int add_zero_run(struct migstream_writer *w, const struct guest_mem *m, uint64_t idx,
			uint64_t count)
{
	while (count) {
		uint64_t gpa = mem_index_to_gpa(m, idx);
		/* A run never crosses the hole: stop at the end of idx's slot. */
		uint64_t slot_end = m->nr_pages;
		for (int i = 0; i < m->nr_slots; i++)
			if (m->slots[i].first_page > idx && m->slots[i].first_page < slot_end)
				slot_end = m->slots[i].first_page;
		uint64_t k = count < slot_end - idx ? count : slot_end - idx;
		struct migstream_desc *last = w->nr_desc ? &w->desc[w->nr_desc - 1] : NULL;
		if (last && last->kind == MIGSTREAM_PAGE_ZERO && last->count < MIGSTREAM_MAX_RUN &&
		    last->gpa + (uint64_t)last->count * PAGE == gpa) {
			uint64_t room = MIGSTREAM_MAX_RUN - last->count;
			k = k < room ? k : room;
			last->count += (uint32_t)k;
		} else {
			k = k < MIGSTREAM_MAX_RUN ? k : MIGSTREAM_MAX_RUN;
			w->desc[w->nr_desc++] = (struct migstream_desc){
			    .gpa = gpa, .kind = MIGSTREAM_PAGE_ZERO, .count = (uint32_t)k};
		}
		w->batch_zero += k;
		w->batch_pages += k;
		idx += k;
		count -= k;
		if (w->nr_desc == MIGSTREAM_BATCH_DESC) {
			int ret = flush(w);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * Make the populated snapshot cover RAM index idx: one mem_populated call
 * per POP_CHUNK pages, however small the caller's ranges (the migration
 * thread sends round 0 in 1 MiB steps, and a call per step was 8192
 * pagemap walks for 8 GiB).  A snapshot taken earlier than the copy is
 * as good as one taken just before it: a page written after it is in the
 * dirty log, and is sent again.
 */
static void pop_cover(struct migstream_writer *w, const struct guest_mem *m, uint64_t idx)
{
	if (w->pop_count && idx >= w->pop_first && idx - w->pop_first < w->pop_count)
		return;
	w->pop_first = idx / POP_CHUNK * POP_CHUNK;
	w->pop_count =
	    m->nr_pages - w->pop_first < POP_CHUNK ? m->nr_pages - w->pop_first : POP_CHUNK;
	w->pop_known = mem_populated(m, w->pop_first, w->pop_count, w->pop_bits) == 0;
}

int migstream_send_range(struct migstream_writer *w, const struct guest_mem *m, uint64_t first,
			 uint64_t count)
{
	int ret = send_checks(w, m);
	if (ret)
		return ret;
	if (count > m->nr_pages || first > m->nr_pages - count)
		return -EINVAL;
	/* A fresh guest's RAM is mostly never touched: reading it to find
	 * its zeros would fault in the kernel's zero page for each page. */
	for (uint64_t idx = first, end = first + count; idx < end;) {
		pop_cover(w, m, idx);
		uint64_t k = idx - w->pop_first, word = w->pop_bits[k / 64] >> (k % 64);
		if (!w->pop_known || word & 1) {
			if ((ret = add_page(w, m, idx, false)))
				return ret;
			idx++;
			continue;
		}
		/* An untouched stretch goes out as zero runs, skipping whole
		 * words of the snapshot, with no work per page. */
		uint64_t z = word ? (uint64_t)__builtin_ctzll(word) : 64 - k % 64;
		while (!word && k + z < w->pop_count && !w->pop_bits[(k + z) / 64])
			z += 64;
		if (z > w->pop_count - k)
			z = w->pop_count - k;
		if (z > end - idx)
			z = end - idx;
		if ((ret = add_zero_run(w, m, idx, z)))
			return ret;
		idx += z;
	}
	return 0;
}

int migstream_round_end(struct migstream_writer *w)
{
	if (w->err)
		return w->err;
	if (w->phase != PH_ROUND)
		return -EINVAL;
	int ret = flush(w);
	if (ret)
		return ret;
	struct migstream_round_end e = {
	    .round = w->round, .pages = w->round_pages, .zero_pages = w->round_zero};
	if ((ret = emit(w, MIGSTREAM_ROUND_END, &e, sizeof(e), NULL, 0, 0)))
		return ret;
	w->stats.rounds++;
	w->round++;
	w->phase = PH_IDLE;
	return 0;
}

int migstream_write_state(struct migstream_writer *w, uint32_t kind, const void *blob, uint32_t len)
{
	if (w->err)
		return w->err;
	if ((w->phase != PH_IDLE && w->phase != PH_STATES) || len > MIGSTREAM_MAX_STATE ||
	    (len && !blob))
		return -EINVAL;
	struct migstream_state s = {.kind = kind, .len = len};
	int ret = emit(w, MIGSTREAM_STATE, &s, sizeof(s), blob, len, 0);
	if (ret)
		return ret;
	w->phase = PH_STATES;
	return 0;
}

int migstream_write_end(struct migstream_writer *w)
{
	if (w->err)
		return w->err;
	if (w->phase != PH_IDLE && w->phase != PH_STATES)
		return -EINVAL;
	struct migstream_end e = {
	    .records = w->stats.records + 1,
	    .pages = w->stats.pages,
	    .zero_pages = w->stats.zero_pages,
	};
	int ret = emit(w, MIGSTREAM_END, &e, sizeof(e), NULL, 0, 0);
	if (ret)
		return ret;
	w->end_csum = w->last_csum;
	w->phase = PH_VERDICT;
	return 0;
}

int migstream_write_verdict(struct migstream_writer *w, const struct guest_mem *m)
{
	if (w->err)
		return w->err;
	if (w->phase != PH_VERDICT || m->ram_size != w->ram_size)
		return -EINVAL;
	struct migstream_verdict v = {.ram_checksum = migstream_ram_checksum(m)};
	w->ram_checksum = v.ram_checksum;
	int ret = emit(w, MIGSTREAM_VERDICT, &v, sizeof(v), NULL, 0, 0);
	if (ret)
		return ret;
	w->phase = PH_DONE;
	return 0;
}

int migstream_write_abort(struct migstream_writer *w, const char *reason)
{
	if (w->err)
		return w->err;
	/* After END the receiver may already run the guest: too late. */
	if (w->phase == PH_DONE || w->phase == PH_VERDICT)
		return -EINVAL;
	size_t len = reason ? strnlen(reason, MIGSTREAM_MAX_ABORT) : 0;
	/* The batch is dropped: the receiver discards everything anyway. */
	w->nr_desc = w->nr_data = 0;
	w->batch_pages = w->batch_zero = 0;
	int ret = emit(w, MIGSTREAM_ABORT, NULL, 0, reason, (uint32_t)len, 0);
	if (ret)
		return ret;
	w->phase = PH_DONE;
	return 0;
}
