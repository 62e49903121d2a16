/*
 * Reading the journal back (logger/hostwb/journal.h, docs/journal.md):
 * inspect it, recover the image from it, and open it for commits, which
 * recovers first.  Recovery believes a transaction only when every byte of
 * its table and data is intact, it carries the header's generation and it
 * continues the chain (seq + 1, a later epoch).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi/fs.h"
#include "fs/dsfs.h"
#include "logger/hostwb/journal_int.h"
#include "util/filelock.h"
#include "util/io.h"

#define CHUNK_BLOCKS 64 /* blocks per read when checking or replaying */

/* Refuse anything but a regular file: a FIFO or device named like the
 * image or its journal must never be read as one, written or truncated. */
static int regular(int fd, const char *path, char *why, size_t n)
{
	struct stat st;
	if (fstat(fd, &st))
		return journal_why(why, n, -errno, path);
	if (S_ISDIR(st.st_mode))
		return journal_why(why, n, -EISDIR, path);
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, n, "journal: %s: not a regular file (a device, FIFO or socket)",
			 path);
		return -ENODEV;
	}
	return 0;
}

/* Take the journal's lock: one writer, or any number of inspectors. */
static int lock(int fd, int how, const char *path, char *why, size_t n)
{
	if (!flock(fd, how | LOCK_NB))
		return 0;
	if (errno != EWOULDBLOCK)
		return journal_why(why, n, -errno, path);
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

static int read_header(int fd, struct jhdr *h, char *why, size_t n)
{
	int ret = io_pread_full(fd, h, sizeof(*h), 0);
	if (ret && ret != -ENODATA)
		return journal_why(why, n, ret, "cannot read the header");
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

/* A new journal for the image of identity uuid: CLEAN at epoch and
 * transaction 0, generation 1, its name durable. */
static int create(int fd, const char *path, uint64_t image_blocks, const uint8_t uuid[16])
{
	struct jhdr h = {.image_blocks = image_blocks, .generation = 1};
	memcpy(h.uuid, uuid, sizeof(h.uuid));
	int ret = journal_write_header(fd, &h);
	if (!ret)
		ret = journal_truncate(fd, BLOCK);
	if (!ret)
		ret = journal_fdatasync(fd);
	if (!ret)
		ret = journal_sync_dir_of(path);
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
	void *p = journal_grow(r->table, &r->table_cap, BLOCK, 1);
	if (!p)
		return -ENOMEM;
	r->table = p;
	int ret = io_pread_full(r->fd, r->table, BLOCK, off);
	if (ret)
		return ret == -ENODATA ? 0 : ret;
	const struct jtable *t = (const void *)r->table;
	if (t->magic != JTABLE_MAGIC || t->generation != r->h.generation || t->seq != seq ||
	    t->epoch <= after || t->nr_extents > room / sizeof(struct jext) ||
	    t->data_blocks > room / BLOCK)
		return 0;
	*tx = (struct tx){.epoch = t->epoch,
			  .nr_extents = t->nr_extents,
			  .table_blocks = journal_table_blocks(t->nr_extents),
			  .data_blocks = t->data_blocks};
	if (tx->table_blocks + tx->data_blocks + 1 > room / BLOCK)
		return 0;
	tx->bytes = (tx->table_blocks + tx->data_blocks + 1) * BLOCK;

	struct jcommit c;
	ret =
	    io_pread_full(r->fd, &c, sizeof(c), off + (tx->table_blocks + tx->data_blocks) * BLOCK);
	if (ret)
		return ret == -ENODATA ? 0 : ret;
	if (c.magic != JCOMMIT_MAGIC || c.generation != r->h.generation || c.seq != seq ||
	    c.epoch != tx->epoch || c.csum != abi_fs_csum((const uint64_t *)&c, WORDS(c)))
		return 0;
	if (!(p = journal_grow(r->table, &r->table_cap, tx->table_blocks * BLOCK, 1)))
		return -ENOMEM;
	r->table = p;
	if (tx->table_blocks > 1 &&
	    (ret = io_pread_full(r->fd, r->table + BLOCK, (tx->table_blocks - 1) * BLOCK,
				 off + BLOCK)))
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

	if (!(p = journal_grow(r->bcsum, &r->bcsum_cap, tx->data_blocks + 1, sizeof(uint64_t))))
		return -ENOMEM;
	r->bcsum = p;
	uint64_t src = off + tx->table_blocks * BLOCK;
	for (uint64_t b = 0; b < tx->data_blocks; b += CHUNK_BLOCKS) {
		uint64_t n =
		    tx->data_blocks - b < CHUNK_BLOCKS ? tx->data_blocks - b : CHUNK_BLOCKS;
		if ((ret = io_pread_full(r->fd, r->buf, n * BLOCK, src + b * BLOCK)))
			return ret == -ENODATA ? 0 : ret;
		for (uint64_t k = 0; k < n; k++)
			r->bcsum[b + k] = journal_block_csum(r->buf + k * BLOCK);
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
			int ret = io_pread_full(r->fd, r->buf, n * BLOCK, src);
			if (!ret)
				ret = journal_pwrite_all(r->image_fd, r->buf, n * BLOCK,
							 (x[i].block + b) * BLOCK);
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
	st->base_txn = st->txn = r->h.base_txn;
	while (off < r->size) {
		struct tx tx = {0};
		/* The chain's first epoch may be any: a run counts from 1 again. */
		int ok =
		    read_tx(r, off, st->transactions + 1, st->transactions ? st->epoch : 0, &tx);
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
		st->txn++;
		off += tx.bytes;
	}
	st->torn_bytes = r->size > off ? r->size - off : 0;
	st->state = st->transactions ? JOURNAL_COMMITTED
		    : st->torn_bytes ? JOURNAL_INCOMPLETE
				     : JOURNAL_CLEAN;
	return 0;
}

/*
 * A journal replays only onto the image it was written for: one re-created
 * by mkimage since (a new identity) or another image put in its place must
 * never receive its epochs.  The size is checked too, for images without an
 * identity.
 */
static int same_image(const struct reader *r, const uint8_t uuid[16], const char *path, char *why,
		      size_t n)
{
	char mine[DSFS_UUID_STR], theirs[DSFS_UUID_STR];
	if (memcmp(r->h.uuid, uuid, sizeof(r->h.uuid))) {
		snprintf(why, n,
			 "journal: written for another image (identity %s, this one is %s): "
			 "if this image was re-created on purpose, remove %s",
			 dsfs_uuid_str(r->h.uuid, theirs), dsfs_uuid_str(uuid, mine),
			 strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
		return -EPROTO;
	}
	if (r->h.image_blocks != r->image_blocks) {
		snprintf(why, n, "journal: written for an image of %llu blocks, this one has %llu",
			 (unsigned long long)r->h.image_blocks,
			 (unsigned long long)r->image_blocks);
		return -EPROTO;
	}
	return 0;
}

/*
 * Find the journal's state and, with `fix`, recover: replay every valid
 * transaction, fdatasync the image, then start a new generation at the last
 * transaction and cut the journal back to its header.  *hdr receives the
 * header as it is afterwards (identity, base transaction, generation).
 */
static int examine(int fd, int image_fd, const char *path, struct journal_status *st, int fix,
		   struct jhdr *hdr, char *why, size_t n)
{
	struct reader r = {.fd = fd, .image_fd = image_fd};
	uint8_t uuid[16];
	memset(st, 0, sizeof(*st));
	int ret = image_blocks_of(image_fd, &r.image_blocks);
	if (!ret)
		ret = dsfs_identity(image_fd, uuid);
	if (ret)
		return journal_why_at(why, n, ret, path, "cannot read the image");
	struct stat js;
	if (fstat(fd, &js))
		return journal_why(why, n, -errno, path);
	r.size = (uint64_t)js.st_size;
	if (r.size == 0) { /* created, header never written: nothing committed */
		st->state = JOURNAL_CLEAN;
		*hdr = (struct jhdr){.image_blocks = r.image_blocks, .generation = 1};
		memcpy(hdr->uuid, uuid, sizeof(uuid));
		ret = fix ? create(fd, path, r.image_blocks, uuid) : 0;
		return ret ? journal_why_at(why, n, ret, path, "cannot create") : 0;
	}
	if ((ret = read_header(fd, &r.h, why, n)) || (ret = same_image(&r, uuid, path, why, n)))
		return ret;
	*hdr = r.h;
	r.buf = malloc(CHUNK_BLOCKS * BLOCK);
	if (!r.buf)
		return journal_why_at(why, n, -ENOMEM, path, "cannot read the transactions");
	ret = scan(&r, st, fix);
	if (ret) {
		journal_why_at(why, n, ret, path,
			       fix ? "cannot replay" : "cannot read the transactions");
		goto out;
	}
	if (!fix || st->state == JOURNAL_CLEAN)
		goto out;
	/* The image first: once the header names a new generation, nothing in
	 * the journal can be replayed again. */
	if (st->transactions && (ret = journal_fdatasync(image_fd))) {
		journal_why_at(why, n, ret, path, "cannot fdatasync the image");
		goto out;
	}
	struct jhdr h = r.h;
	h.base_epoch = st->epoch;
	h.base_txn = st->txn;
	h.generation = r.h.generation + 1;
	ret = journal_write_header(fd, &h);
	if (!ret)
		ret = journal_fdatasync(fd);
	if (!ret) {
		*hdr = h;
		ret = journal_truncate(fd, BLOCK);
	}
	if (ret)
		journal_why_at(why, n, ret, path, "cannot rewrite the header");
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
		return journal_why(why, n, -ENAMETOOLONG, image_path);
	*image_fd = open(image_path, flags);
	if (*image_fd < 0)
		return journal_why(why, n, -errno, image_path);
	int ret = regular(*image_fd, image_path, why, n);
	if (ret)
		goto close_image;
	/* Recovery writes the image: it takes the image's own lock, as every
	 * writer does (util/filelock.h), so it never rewrites an image a run
	 * with guest writeback has open.  Inspecting reads, and locks nothing. */
	if (fix && (ret = filelock_take(*image_fd, true, why, n)))
		goto close_image;
	*fd = open(path, flags);
	if (*fd < 0) {
		ret = errno == ENOENT ? 1 : journal_why(why, n, -errno, path);
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
	struct jhdr hdr;
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
	ret = examine(fd, image_fd, path, st, fix, &hdr, why, whylen);
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
		return journal_why(why, whylen, -ENAMETOOLONG, image_path);
	int ret = regular(image_fd, image_path, why, whylen);
	if (ret)
		return ret;
	j->fd = open(j->path, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
	if (j->fd < 0)
		return journal_why(why, whylen, -errno, j->path);
	struct journal_status st;
	struct jhdr h;
	if (!(ret = regular(j->fd, j->path, why, whylen)) &&
	    !(ret = lock(j->fd, LOCK_EX, j->path, why, whylen)) &&
	    !(ret = examine(j->fd, image_fd, j->path, &st, 1, &h, why, whylen)) &&
	    (ret = image_blocks_of(image_fd, &j->image_blocks)))
		journal_why_at(why, whylen, ret, j->path, "cannot stat the image");
	if (ret) {
		journal_close(j);
		return ret;
	}
	j->generation = h.generation;
	memcpy(j->uuid, h.uuid, sizeof(j->uuid));
	j->epoch = j->base_epoch = st.epoch;
	j->txn = j->base_txn = st.txn;
	j->end = BLOCK;
	j->checkpoint_bytes = JOURNAL_DEFAULT_CHECKPOINT_BYTES;
	return 0;
}
