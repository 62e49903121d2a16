/*
 * The host writeback journal (logger/hostwb/journal.h, docs/journal.md).
 *
 * Journal file layout, in 4 KiB blocks:
 *   block 0      header (struct jhdr): image size, base epoch, generation
 *   then         transactions back to back, each
 *                  table blocks  struct jtable, then struct jext per extent
 *                  data blocks   every extent's pages, in table order
 *                  commit block  struct jcommit
 * Everything is checksummed with abi_fs_csum (DSFS's word-wise FNV-1a), so
 * recovery believes a transaction only when every byte of its table and
 * data is intact, it carries the header's generation and it continues the
 * chain (seq + 1, a later epoch).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/io.h"
#include "abi/fs.h"
#include "fs/dsfs.h"
#include "logger/hostwb/journal.h"

#define JHDR_MAGIC		 0x314c4e524a534400ULL /* "\0DSJRNL1" */
#define JTABLE_MAGIC		 0x454c424154534400ULL /* "\0DSTABLE" */
#define JCOMMIT_MAGIC		 0x54494d4d4f434400ULL /* "\0DCOMMIT" */
#define JVERSION		 2
#define BLOCK			 JOURNAL_BLOCK
#define BLOCK_WORDS		 (BLOCK / 8)
#define CHUNK_BLOCKS		 64 /* blocks per read when checking or replaying */
#define DEFAULT_CHECKPOINT_BYTES (64ULL << 20)

struct jhdr {
	uint64_t magic;
	uint32_t version;
	uint32_t block_size;
	uint64_t image_blocks;
	uint64_t base_epoch; /* the epoch the image holds durably */
	uint64_t generation; /* every transaction of this journal carries it */
	uint64_t csum;	     /* of the words above */
};

struct jtable {
	uint64_t magic;
	uint64_t generation;
	uint64_t seq; /* 1, 2, 3 ... since the checkpoint */
	uint64_t epoch;
	uint64_t nr_extents;
	uint64_t data_blocks;
};

struct jext {
	uint64_t block, nr_blocks;
	uint64_t csum; /* abi_fs_csum of its blocks' checksums */
};

struct jcommit {
	uint64_t magic;
	uint64_t generation;
	uint64_t seq;
	uint64_t epoch;
	uint64_t table_csum; /* of every byte of the table blocks */
	uint64_t data_csum;  /* abi_fs_csum of every data block's checksum, in order */
	uint64_t csum;	     /* of the words above */
};

_Static_assert(sizeof(struct jhdr) == 48, "journal header layout");
_Static_assert(sizeof(struct jtable) == 48, "journal table layout");
_Static_assert(sizeof(struct jext) == 24, "journal extent layout");
_Static_assert(sizeof(struct jcommit) == 56, "journal commit layout");

#define WORDS(x) (sizeof(x) / 8 - 1) /* every word but the trailing csum */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t block_csum(const void *block)
{
	return abi_fs_csum(block, BLOCK_WORDS);
}

static uint64_t table_blocks(uint64_t nr_extents)
{
	return (sizeof(struct jtable) + nr_extents * sizeof(struct jext) + BLOCK - 1) / BLOCK;
}

/* ---- I/O, with the tests' crash point ---- */

static uint64_t crash_after;
static int crash_torn;

void journal_test_crash_after(uint64_t n, int torn)
{
	crash_after = n;
	crash_torn = torn;
}

/* Count one I/O call; at the chosen one, die as kill -9 would.  Only
 * writes of at least a block tear: the header is smaller than a disk
 * sector, which a device writes whole. */
static void crash_point(int fd, const struct iovec *iov, size_t cnt, uint64_t off)
{
	if (!crash_after || --crash_after)
		return;
	size_t total = 0;
	for (size_t i = 0; iov && i < cnt; i++)
		total += iov[i].iov_len;
	if (crash_torn && total >= BLOCK) {
		size_t left = total / 2;
		for (size_t i = 0; i < cnt && left; i++) {
			size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
			(void)!pwrite(fd, iov[i].iov_base, n, (off_t)off);
			off += n;
			left -= n;
		}
	}
	_exit(137);
}

/* Write the whole iovec array at off, IOV_MAX entries per pwritev, retrying
 * short writes.  Consumes (modifies) iov. */
static int wrv(int fd, struct iovec *iov, size_t cnt, uint64_t off)
{
	while (cnt) {
		size_t c = cnt < IOV_MAX ? cnt : IOV_MAX;
		crash_point(fd, iov, c, off);
		ssize_t n = pwritev(fd, iov, (int)c, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (uint64_t)n;
		size_t left = (size_t)n;
		while (cnt && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (left) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

static int wr(int fd, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = {(void *)buf, len};
	return wrv(fd, &v, 1, off);
}

/* Read exactly len bytes; -ENODATA at end of file. */
static int rd(int fd, void *buf, size_t len, uint64_t off)
{
	return io_pread_full(fd, buf, len, off);
}

static int sync_fd(int fd)
{
	crash_point(fd, NULL, 0, 0);
	return fdatasync(fd) ? -errno : 0;
}

static int trunc_fd(int fd, uint64_t len)
{
	crash_point(fd, NULL, 0, 0);
	return ftruncate(fd, (off_t)len) ? -errno : 0;
}

/* fsync the directory holding path, so a new journal's name is durable
 * before anything relies on the journal. */
static int sync_dir_of(const char *path)
{
	char dir[4096];
	io_parent_dir(path, dir, sizeof(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	crash_point(fd, NULL, 0, 0);
	int ret = fsync(fd) ? -errno : 0;
	close(fd);
	return ret;
}

static int fail(char *why, size_t n, int err, const char *what)
{
	snprintf(why, n, "journal: %s: %s", what, strerror(-err));
	return err;
}

/* The same, naming the journal file. */
static int failat(char *why, size_t n, int err, const char *path, const char *what)
{
	snprintf(why, n, "journal: %s: %s: %s", path, what, strerror(-err));
	return err;
}

/* Make room for need entries of size bytes at p (realloc'd, capacity in
 * *cap).  Returns the buffer, or NULL (p still valid) when out of memory. */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = n > SIZE_MAX / size ? NULL : realloc(p, n * size);
	if (q)
		*cap = n;
	return q;
}

int journal_path(const char *image_path, char *buf, size_t len)
{
	return snprintf(buf, len, "%s.journal", image_path) >= (int)len ? -ENAMETOOLONG : 0;
}

/* Refuse anything but a regular file: a FIFO or device named like the
 * image or its journal must never be read as one, written or truncated. */
static int regular(int fd, const char *path, char *why, size_t n)
{
	struct stat st;
	if (fstat(fd, &st))
		return fail(why, n, -errno, path);
	if (S_ISDIR(st.st_mode))
		return fail(why, n, -EISDIR, path);
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, n, "journal: %s: not a regular file (a device, FIFO or socket)",
			 path);
		return -EINVAL;
	}
	return 0;
}

/* Take the journal's lock: one writer, or any number of inspectors. */
static int lock(int fd, int how, const char *path, char *why, size_t n)
{
	if (!flock(fd, how | LOCK_NB))
		return 0;
	if (errno != EWOULDBLOCK)
		return fail(why, n, -errno, path);
	snprintf(why, n, "journal: %s: in use by another process", path);
	return -EBUSY;
}

static int image_blocks_of(int fd, uint64_t *blocks)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	*blocks = (uint64_t)st.st_size / BLOCK;
	return 0;
}

/* ---- the header ---- */

static int write_header(int fd, uint64_t image_blocks, uint64_t base_epoch, uint64_t generation)
{
	struct jhdr h = {.magic = JHDR_MAGIC,
			 .version = JVERSION,
			 .block_size = BLOCK,
			 .image_blocks = image_blocks,
			 .base_epoch = base_epoch,
			 .generation = generation};
	h.csum = abi_fs_csum((const uint64_t *)&h, WORDS(h));
	return wr(fd, &h, sizeof(h), 0);
}

static int read_header(int fd, struct jhdr *h, char *why, size_t n)
{
	int ret = rd(fd, h, sizeof(*h), 0);
	if (ret && ret != -ENODATA)
		return fail(why, n, ret, "cannot read the header");
	if (!ret && h->magic == JHDR_MAGIC && h->version != JVERSION) {
		snprintf(why, n, "journal: format version %u; this dirtyscope reads version %u",
			 h->version, JVERSION);
		return -EPROTO;
	}
	if (ret || h->magic != JHDR_MAGIC || h->block_size != BLOCK ||
	    h->csum != abi_fs_csum((const uint64_t *)h, WORDS(*h))) {
		snprintf(why, n, "journal: not a dirtyscope journal, or its header is corrupt");
		return -EPROTO;
	}
	return 0;
}

/* A new journal: CLEAN at epoch 0, generation 1, its name durable. */
static int create(int fd, const char *path, uint64_t image_blocks)
{
	int ret = write_header(fd, image_blocks, 0, 1);
	if (!ret)
		ret = trunc_fd(fd, BLOCK);
	if (!ret)
		ret = sync_fd(fd);
	if (!ret)
		ret = sync_dir_of(path);
	return ret;
}

/* ---- reading transactions back ---- */

struct reader {
	int fd, image_fd;
	uint64_t size, image_blocks;
	struct jhdr h;
	uint8_t *table; /* the current transaction's table blocks */
	size_t table_cap;
	uint8_t *buf; /* CHUNK_BLOCKS blocks */
	uint64_t *bcsum;
	size_t bcsum_cap;
};

struct tx {
	uint64_t epoch, nr_extents, table_blocks, data_blocks, bytes;
};

static void reader_free(struct reader *r)
{
	free(r->table);
	free(r->buf);
	free(r->bcsum);
}

/*
 * Read and check the transaction at off, which must be number seq of the
 * header's generation with an epoch after `after`.  Returns 1 when it is
 * valid (*tx filled, its table in r->table), 0 when it is not, -errno on
 * an I/O or memory failure.
 */
static int read_tx(struct reader *r, uint64_t off, uint64_t seq, uint64_t after, struct tx *tx)
{
	uint64_t room = r->size - off;
	if (room < 2 * BLOCK)
		return 0;
	void *p = grow(r->table, &r->table_cap, BLOCK, 1);
	if (!p)
		return -ENOMEM;
	r->table = p;
	int ret = rd(r->fd, r->table, BLOCK, off);
	if (ret)
		return ret == -ENODATA ? 0 : ret;
	const struct jtable *t = (const void *)r->table;
	if (t->magic != JTABLE_MAGIC || t->generation != r->h.generation || t->seq != seq ||
	    t->epoch <= after || t->nr_extents > room / sizeof(struct jext) ||
	    t->data_blocks > room / BLOCK)
		return 0;
	*tx = (struct tx){.epoch = t->epoch,
			  .nr_extents = t->nr_extents,
			  .table_blocks = table_blocks(t->nr_extents),
			  .data_blocks = t->data_blocks};
	if (tx->table_blocks + tx->data_blocks + 1 > room / BLOCK)
		return 0;
	tx->bytes = (tx->table_blocks + tx->data_blocks + 1) * BLOCK;

	struct jcommit c;
	ret = rd(r->fd, &c, sizeof(c), off + (tx->table_blocks + tx->data_blocks) * BLOCK);
	if (ret)
		return ret == -ENODATA ? 0 : ret;
	if (c.magic != JCOMMIT_MAGIC || c.generation != r->h.generation || c.seq != seq ||
	    c.epoch != tx->epoch || c.csum != abi_fs_csum((const uint64_t *)&c, WORDS(c)))
		return 0;
	if (!(p = grow(r->table, &r->table_cap, tx->table_blocks * BLOCK, 1)))
		return -ENOMEM;
	r->table = p;
	if (tx->table_blocks > 1 &&
	    (ret = rd(r->fd, r->table + BLOCK, (tx->table_blocks - 1) * BLOCK, off + BLOCK)))
		return ret == -ENODATA ? 0 : ret;
	if (abi_fs_csum((const uint64_t *)r->table, tx->table_blocks * BLOCK_WORDS) != c.table_csum)
		return 0;

	/* Extents inside the image, sorted, not overlapping, as commit made
	 * them; their blocks add up to the data. */
	const struct jext *x = (const void *)(r->table + sizeof(struct jtable));
	uint64_t next = 0, total = 0;
	for (uint64_t i = 0; i < tx->nr_extents; i++) {
		if (!x[i].nr_blocks || x[i].block < next || x[i].block >= r->image_blocks ||
		    x[i].nr_blocks > r->image_blocks - x[i].block)
			return 0;
		next = x[i].block + x[i].nr_blocks;
		total += x[i].nr_blocks;
	}
	if (total != tx->data_blocks)
		return 0;

	if (!(p = grow(r->bcsum, &r->bcsum_cap, tx->data_blocks + 1, sizeof(uint64_t))))
		return -ENOMEM;
	r->bcsum = p;
	uint64_t src = off + tx->table_blocks * BLOCK;
	for (uint64_t b = 0; b < tx->data_blocks; b += CHUNK_BLOCKS) {
		uint64_t n =
		    tx->data_blocks - b < CHUNK_BLOCKS ? tx->data_blocks - b : CHUNK_BLOCKS;
		if ((ret = rd(r->fd, r->buf, n * BLOCK, src + b * BLOCK)))
			return ret == -ENODATA ? 0 : ret;
		for (uint64_t k = 0; k < n; k++)
			r->bcsum[b + k] = block_csum(r->buf + k * BLOCK);
	}
	for (uint64_t i = 0, first = 0; i < tx->nr_extents; first += x[i].nr_blocks, i++)
		if (abi_fs_csum(r->bcsum + first, x[i].nr_blocks) != x[i].csum)
			return 0;
	return abi_fs_csum(r->bcsum, tx->data_blocks) == c.data_csum;
}

/* Copy a checked transaction's data (table in r->table) into the image. */
static int replay_tx(struct reader *r, uint64_t off, const struct tx *tx)
{
	const struct jext *x = (const void *)(r->table + sizeof(struct jtable));
	uint64_t src = off + tx->table_blocks * BLOCK;
	for (uint64_t i = 0; i < tx->nr_extents; i++)
		for (uint64_t b = 0; b < x[i].nr_blocks; b += CHUNK_BLOCKS) {
			uint64_t n =
			    x[i].nr_blocks - b < CHUNK_BLOCKS ? x[i].nr_blocks - b : CHUNK_BLOCKS;
			int ret = rd(r->fd, r->buf, n * BLOCK, src);
			if (!ret)
				ret = wr(r->image_fd, r->buf, n * BLOCK, (x[i].block + b) * BLOCK);
			if (ret)
				return ret;
			src += n * BLOCK;
		}
	return 0;
}

/*
 * Walk the chain of valid transactions after the header, replaying each
 * into the image with `replay` as soon as it has checked (a valid
 * transaction stays valid whatever follows it, and replaying in order is
 * idempotent), and fill *st.
 */
static int scan(struct reader *r, struct journal_status *st, int replay)
{
	uint64_t off = BLOCK;
	st->base_epoch = st->epoch = r->h.base_epoch;
	while (off < r->size) {
		struct tx tx = {0};
		int ok = read_tx(r, off, st->transactions + 1, st->epoch, &tx);
		if (ok < 0)
			return ok;
		if (!ok)
			break;
		if (replay && (ok = replay_tx(r, off, &tx)))
			return ok;
		st->transactions++;
		st->extents += tx.nr_extents;
		st->blocks += tx.data_blocks;
		st->epoch = tx.epoch;
		off += tx.bytes;
	}
	st->torn_bytes = r->size > off ? r->size - off : 0;
	st->state = st->transactions ? JOURNAL_COMMITTED
		    : st->torn_bytes ? JOURNAL_INCOMPLETE
				     : JOURNAL_CLEAN;
	return 0;
}

/*
 * Find the journal's state and, with `fix`, recover: replay every valid
 * transaction, fdatasync the image, then start a new generation at the last
 * epoch and cut the journal back to its header.  *generation receives the
 * header's generation afterwards.
 */
static int examine(int fd, int image_fd, const char *path, struct journal_status *st, int fix,
		   uint64_t *generation, char *why, size_t n)
{
	struct reader r = {.fd = fd, .image_fd = image_fd};
	memset(st, 0, sizeof(*st));
	int ret = image_blocks_of(image_fd, &r.image_blocks);
	if (ret)
		return failat(why, n, ret, path, "cannot stat the image");
	struct stat js;
	if (fstat(fd, &js))
		return fail(why, n, -errno, path);
	r.size = (uint64_t)js.st_size;
	if (r.size == 0) { /* created, header never written: nothing committed */
		st->state = JOURNAL_CLEAN;
		*generation = 1;
		ret = fix ? create(fd, path, r.image_blocks) : 0;
		return ret ? failat(why, n, ret, path, "cannot create") : 0;
	}
	if ((ret = read_header(fd, &r.h, why, n)))
		return ret;
	if (r.h.image_blocks != r.image_blocks) {
		snprintf(why, n, "journal: written for an image of %llu blocks, this one has %llu",
			 (unsigned long long)r.h.image_blocks, (unsigned long long)r.image_blocks);
		return -EPROTO;
	}
	*generation = r.h.generation;
	r.buf = malloc(CHUNK_BLOCKS * BLOCK);
	if (!r.buf)
		return failat(why, n, -ENOMEM, path, "cannot read the transactions");
	ret = scan(&r, st, fix);
	if (ret) {
		failat(why, n, ret, path, fix ? "cannot replay" : "cannot read the transactions");
		goto out;
	}
	if (!fix || st->state == JOURNAL_CLEAN)
		goto out;
	/* The image first: once the header names a new generation, nothing in
	 * the journal can be replayed again. */
	if (st->transactions && (ret = sync_fd(image_fd))) {
		failat(why, n, ret, path, "cannot fdatasync the image");
		goto out;
	}
	ret = write_header(fd, r.image_blocks, st->epoch, r.h.generation + 1);
	if (!ret)
		ret = sync_fd(fd);
	if (!ret) {
		*generation = r.h.generation + 1;
		ret = trunc_fd(fd, BLOCK);
	}
	if (ret)
		failat(why, n, ret, path, "cannot rewrite the header");
out:
	reader_free(&r);
	return ret;
}

/* Open the image and its journal, refusing non-regular files, and lock the
 * journal.  Returns 0, 1 when the image has no journal (nothing opened), or
 * -errno with why. */
static int open_pair(const char *image_path, int fix, int *image_fd, int *fd, char *why, size_t n)
{
	char path[4096];
	int flags = (fix ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_CLOEXEC;
	if (journal_path(image_path, path, sizeof(path)))
		return fail(why, n, -ENAMETOOLONG, image_path);
	*image_fd = open(image_path, flags);
	if (*image_fd < 0)
		return fail(why, n, -errno, image_path);
	int ret = regular(*image_fd, image_path, why, n);
	if (ret)
		goto close_image;
	*fd = open(path, flags);
	if (*fd < 0) {
		ret = errno == ENOENT ? 1 : fail(why, n, -errno, path);
		goto close_image;
	}
	ret = regular(*fd, path, why, n);
	if (!ret)
		ret = lock(*fd, fix ? LOCK_EX : LOCK_SH, path, why, n);
	if (!ret)
		return 0;
	close(*fd);
close_image:
	close(*image_fd);
	return ret;
}

static int examine_path(const char *image_path, int fix, struct journal_status *st, char *why,
			size_t whylen)
{
	int image_fd = -1, fd = -1;
	uint64_t gen;
	memset(st, 0, sizeof(*st));
	int ret = open_pair(image_path, fix, &image_fd, &fd, why, whylen);
	if (ret == 1) {
		st->state = JOURNAL_NONE;
		return 0;
	}
	if (ret)
		return ret;
	char path[4096];
	journal_path(image_path, path, sizeof(path));
	ret = examine(fd, image_fd, path, st, fix, &gen, why, whylen);
	close(fd);
	close(image_fd);
	return ret;
}

int journal_inspect(const char *image_path, struct journal_status *st, char *why, size_t whylen)
{
	return examine_path(image_path, 0, st, why, whylen);
}

int journal_recover(const char *image_path, struct journal_status *st, char *why, size_t whylen)
{
	struct journal_status tmp;
	return examine_path(image_path, 1, st ? st : &tmp, why, whylen);
}

int journal_open(struct journal *j, const char *image_path, int image_fd, char *why, size_t whylen)
{
	memset(j, 0, sizeof(*j));
	j->image_fd = image_fd;
	j->fd = -1;
	if (journal_path(image_path, j->path, sizeof(j->path)))
		return fail(why, whylen, -ENAMETOOLONG, image_path);
	int ret = regular(image_fd, image_path, why, whylen);
	if (ret)
		return ret;
	j->fd = open(j->path, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
	if (j->fd < 0)
		return fail(why, whylen, -errno, j->path);
	struct journal_status st;
	if (!(ret = regular(j->fd, j->path, why, whylen)) &&
	    !(ret = lock(j->fd, LOCK_EX, j->path, why, whylen)) &&
	    !(ret = examine(j->fd, image_fd, j->path, &st, 1, &j->generation, why, whylen)) &&
	    (ret = image_blocks_of(image_fd, &j->image_blocks)))
		failat(why, whylen, ret, j->path, "cannot stat the image");
	if (ret) {
		journal_close(j);
		return ret;
	}
	j->epoch = j->base_epoch = st.epoch;
	j->end = BLOCK;
	j->checkpoint_bytes = DEFAULT_CHECKPOINT_BYTES;
	return 0;
}

/* ---- writing ---- */

/* Append one page to an iovec array, merging it into the previous entry
 * (from index `first` on) when it follows it in memory. */
static void add_page(struct iovec *v, size_t *cnt, size_t first, const void *p)
{
	if (*cnt > first && (const char *)v[*cnt - 1].iov_base + v[*cnt - 1].iov_len == p)
		v[*cnt - 1].iov_len += BLOCK;
	else
		v[(*cnt)++] = (struct iovec){(void *)p, BLOCK};
}

static int refuse(char *why, size_t n, const char *fmt, unsigned long long a, unsigned long long b,
		  unsigned long long c)
{
	char msg[192];
	snprintf(msg, sizeof(msg), fmt, a, b, c);
	snprintf(why, n, "journal: %s", msg);
	return -EINVAL;
}

static int usable(struct journal *j, char *why, size_t n)
{
	if (j->fd < 0)
		return fail(why, n, -EBADF, "not open");
	if (j->broken) {
		snprintf(why, n,
			 "journal: an earlier failure left %s in doubt: close and reopen it to "
			 "recover",
			 j->path);
		return -EIO;
	}
	return 0;
}

/* Check the extents before any I/O; *data receives their blocks. */
static int check_extents(const struct journal *j, uint64_t epoch, const struct journal_extent *ext,
			 size_t n, uint64_t *data, char *why, size_t whylen)
{
	if (epoch <= j->epoch)
		return refuse(why, whylen, "epoch %llu is not after the last committed epoch %llu",
			      epoch, j->epoch, 0);
	uint64_t next = 0;
	*data = 0;
	for (size_t i = 0; i < n; i++) {
		const struct journal_extent *e = &ext[i];
		if (!e->nr_blocks || !e->pages)
			return refuse(why, whylen, "extent %llu has no blocks", i, 0, 0);
		if (e->block >= j->image_blocks || e->nr_blocks > j->image_blocks - e->block)
			return refuse(why, whylen,
				      "extent %llu (block %llu) is outside the image (%llu blocks)",
				      i, e->block, j->image_blocks);
		if (e->block < next)
			return refuse(
			    why, whylen,
			    "extent %llu (block %llu) overlaps or precedes the one before it", i,
			    e->block, 0);
		next = e->block + e->nr_blocks;
		*data += e->nr_blocks;
	}
	return 0;
}

/*
 * Build the transaction in j->meta (table blocks, then the commit block)
 * and j->iov (table, pages, commit block), checksumming every page once.
 * Returns the iovec count, or -EINVAL for a NULL page.
 */
static long build_tx(struct journal *j, uint64_t epoch, const struct journal_extent *ext, size_t n,
		     uint64_t data, uint64_t tb)
{
	memset(j->meta, 0, (tb + 1) * BLOCK);
	struct jtable *t = (void *)j->meta;
	*t = (struct jtable){JTABLE_MAGIC, j->generation, j->seq + 1, epoch, n, data};
	struct jext *x = (void *)(j->meta + sizeof(*t));
	size_t cnt = 0;
	uint64_t k = 0;
	j->iov[cnt++] = (struct iovec){j->meta, tb * BLOCK};
	for (size_t i = 0; i < n; i++) {
		uint64_t first = k;
		for (uint64_t b = 0; b < ext[i].nr_blocks; b++) {
			const void *p = ext[i].pages[b];
			if (!p)
				return -EINVAL;
			j->bcsum[k++] = block_csum(p);
			add_page(j->iov, &cnt, 1, p);
		}
		x[i] = (struct jext){ext[i].block, ext[i].nr_blocks,
				     abi_fs_csum(j->bcsum + first, ext[i].nr_blocks)};
	}
	struct jcommit *c = (void *)(j->meta + tb * BLOCK);
	*c =
	    (struct jcommit){.magic = JCOMMIT_MAGIC,
			     .generation = j->generation,
			     .seq = j->seq + 1,
			     .epoch = epoch,
			     .table_csum = abi_fs_csum((const uint64_t *)j->meta, tb * BLOCK_WORDS),
			     .data_csum = abi_fs_csum(j->bcsum, data)};
	c->csum = abi_fs_csum((const uint64_t *)c, WORDS(*c));
	j->iov[cnt++] = (struct iovec){c, BLOCK};
	return (long)cnt;
}

/* Write the committed extents into the image in place: one pwritev per run
 * of extents adjacent in the image.  No sync: the checkpoint does that. */
static int write_image(struct journal *j, const struct journal_extent *ext, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint64_t off = ext[i].block * BLOCK, bytes = 0;
		size_t cnt = 0;
		do {
			for (uint64_t b = 0; b < ext[i].nr_blocks; b++)
				add_page(j->iov, &cnt, 0, ext[i].pages[b]);
			bytes += ext[i].nr_blocks * BLOCK;
			i++;
		} while (i < n && ext[i].block == ext[i - 1].block + ext[i - 1].nr_blocks);
		int ret = wrv(j->image_fd, j->iov, cnt, off);
		if (ret)
			return ret;
		j->stats.image_bytes += bytes;
	}
	return 0;
}

int journal_commit(struct journal *j, uint64_t epoch, const struct journal_extent *ext, size_t n,
		   char *why, size_t whylen)
{
	uint64_t t0 = now_ns(), data;
	int ret = usable(j, why, whylen);
	if (ret || (ret = check_extents(j, epoch, ext, n, &data, why, whylen)))
		return ret;
	uint64_t tb = table_blocks(n);
	void *p;
	if (!(p = grow(j->meta, &j->meta_cap, (tb + 1) * BLOCK, 1)))
		goto nomem;
	j->meta = p;
	if (!(p = grow(j->iov, &j->iov_cap, data + 2, sizeof(*j->iov))))
		goto nomem;
	j->iov = p;
	if (!(p = grow(j->bcsum, &j->bcsum_cap, data + 1, sizeof(*j->bcsum))))
		goto nomem;
	j->bcsum = p;
	long cnt = build_tx(j, epoch, ext, n, data, tb);
	if (cnt < 0)
		return refuse(why, whylen, "epoch %llu: a NULL page", epoch, 0, 0);

	/* One append, one fdatasync: the transaction is durable.  A failed
	 * append is harmless (nothing refers to the bytes past the chain, and
	 * the next commit writes over them); a failed fdatasync is not, since
	 * the kernel may have dropped the dirty pages it could not write. */
	uint64_t bytes = (tb + data + 1) * BLOCK;
	ret = wrv(j->fd, j->iov, (size_t)cnt, j->end);
	if (ret)
		return failat(why, whylen, ret, j->path, "cannot append the transaction");
	j->stats.syncs++;
	if ((ret = sync_fd(j->fd))) {
		j->broken = 1;
		return failat(why, whylen, ret, j->path, "cannot fdatasync");
	}
	j->end += bytes;
	j->seq++;
	j->epoch = epoch;
	j->stats.commits++;
	j->stats.journal_bytes += bytes;

	/* Only now the image: an uncommitted transaction never touches it. */
	if ((ret = write_image(j, ext, n))) {
		j->broken = 1;
		char what[96];
		snprintf(what, sizeof(what), "epoch %llu is durable, but writing the image failed",
			 (unsigned long long)epoch);
		return failat(why, whylen, ret, j->path, what);
	}
	j->stats.commit_ns += now_ns() - t0;
	if (j->end > j->checkpoint_bytes)
		return journal_checkpoint(j, why, whylen);
	return 0;
nomem:
	return failat(why, whylen, -ENOMEM, j->path, "cannot build the transaction");
}

int journal_checkpoint(struct journal *j, char *why, size_t whylen)
{
	int ret = usable(j, why, whylen);
	if (ret)
		return ret;
	if (!j->seq && j->end == BLOCK)
		return 0;
	uint64_t t0 = now_ns();
	/* The image must hold j->epoch durably before the header stops the
	 * journal's transactions from being replayed. */
	j->stats.syncs++;
	if ((ret = sync_fd(j->image_fd))) {
		failat(why, whylen, ret, j->path, "cannot fdatasync the image");
		goto broken;
	}
	/* The new generation is durable before the truncate, so every old
	 * transaction is dead even if the truncate never reaches the disk, and
	 * cannot be read as part of the new chain whatever its seq and epoch. */
	j->stats.syncs++;
	if ((ret = write_header(j->fd, j->image_blocks, j->epoch, j->generation + 1)) ||
	    (ret = sync_fd(j->fd))) {
		failat(why, whylen, ret, j->path, "cannot write the header");
		goto broken;
	}
	j->generation++;
	j->base_epoch = j->epoch;
	j->seq = 0;
	if ((ret = trunc_fd(j->fd, BLOCK))) {
		failat(why, whylen, ret, j->path, "cannot truncate");
		goto broken;
	}
	j->end = BLOCK;
	j->stats.checkpoints++;
	j->stats.checkpoint_ns += now_ns() - t0;
	return 0;
broken:
	j->broken = 1;
	return ret;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	free(j->meta);
	free(j->iov);
	free(j->bcsum);
	j->meta = NULL;
	j->iov = NULL;
	j->bcsum = NULL;
	j->meta_cap = j->iov_cap = j->bcsum_cap = 0;
}
