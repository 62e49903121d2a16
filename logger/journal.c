/*
 * The host writeback journal (logger/journal.h, docs/journal.md).
 *
 * Journal file layout, in 4 KiB blocks:
 *   block 0            header (struct jhdr): state CLEAN or OPEN
 *   blocks 1 .. T      extent table: struct jext per extent
 *   blocks T+1 ..      every extent's data, in table order
 *   last block         commit record (struct jcommit)
 * Everything carries a checksum (abi_fs_csum, DSFS's word-wise FNV-1a), so
 * recovery believes a transaction only when every byte of it is intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi/fs.h"
#include "logger/journal.h"

#define JHDR_MAGIC    0x314c4e524a534400ULL /* "\0DSJRNL1" */
#define JCOMMIT_MAGIC 0x54494d4d4f434400ULL /* "\0DCOMMIT" */
#define JVERSION      1
#define JSTATE_CLEAN  1
#define JSTATE_OPEN   2

struct jhdr {
	uint64_t magic;
	uint32_t version;
	uint32_t state;
	uint64_t epoch;	     /* CLEAN: the image's epoch; OPEN: the transaction's */
	uint64_t base_epoch; /* OPEN: the image's epoch before it */
	uint64_t image_blocks;
	uint64_t nr_extents;
	uint64_t data_blocks;
	uint64_t csum; /* of the words above */
};

struct jext {
	uint64_t block, nr_blocks;
	uint64_t data_block; /* where its data starts in the journal */
	uint64_t csum;	     /* of its data */
};

struct jcommit {
	uint64_t magic;
	uint64_t epoch;
	uint64_t nr_extents;
	uint64_t table_csum;
	uint64_t csum; /* of the words above */
};

_Static_assert(sizeof(struct jhdr) == 64, "journal header layout");
_Static_assert(sizeof(struct jext) == 32, "journal extent layout");
_Static_assert(sizeof(struct jcommit) == 40, "journal commit layout");

#define WORDS(x) (sizeof(x) / 8 - 1) /* every word but the trailing csum */

/* ---- I/O, with the tests' crash point ---- */

static uint64_t crash_after;
static int crash_torn;

void journal_test_crash_after(uint64_t n, int torn)
{
	crash_after = n;
	crash_torn = torn;
}

/* Count one I/O call; at the chosen one, die as kill -9 would. */
static void crash_point(int fd, const void *buf, size_t len, uint64_t off)
{
	if (!crash_after || --crash_after)
		return;
	/* Only whole-block writes tear: the header and commit record are
	 * smaller than a disk sector, which a device writes whole. */
	if (buf && crash_torn && len >= JOURNAL_BLOCK)
		(void)!pwrite(fd, buf, len / 2, (off_t)off);
	_exit(137);
}

static int wr(int fd, const void *buf, size_t len, uint64_t off)
{
	crash_point(fd, buf, len, off);
	const char *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int rd(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -ENODATA;
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

static int fail(char *why, size_t n, int err, const char *what)
{
	snprintf(why, n, "journal: %s: %s", what, strerror(-err));
	return err;
}

int journal_path(const char *image_path, char *buf, size_t len)
{
	return snprintf(buf, len, "%s.journal", image_path) >= (int)len ? -ENAMETOOLONG : 0;
}

/* ---- the header ---- */

static int write_header(int fd, uint32_t state, uint64_t epoch, uint64_t base,
			uint64_t image_blocks, uint64_t nr_ext, uint64_t data_blocks)
{
	struct jhdr h = {.magic = JHDR_MAGIC,
			 .version = JVERSION,
			 .state = state,
			 .epoch = epoch,
			 .base_epoch = base,
			 .image_blocks = image_blocks,
			 .nr_extents = nr_ext,
			 .data_blocks = data_blocks};
	h.csum = abi_fs_csum((const uint64_t *)&h, WORDS(h));
	return wr(fd, &h, sizeof(h), 0);
}

static int read_header(int fd, struct jhdr *h, char *why, size_t n)
{
	int ret = rd(fd, h, sizeof(*h), 0);
	if (ret && ret != -ENODATA)
		return fail(why, n, ret, "cannot read the header");
	if (ret || h->magic != JHDR_MAGIC || h->version != JVERSION ||
	    h->csum != abi_fs_csum((const uint64_t *)h, WORDS(*h)) ||
	    (h->state != JSTATE_CLEAN && h->state != JSTATE_OPEN)) {
		snprintf(why, n, "journal: not a dirtyscope journal, or its header is corrupt");
		return -EPROTO;
	}
	return 0;
}

/* ---- checking an OPEN transaction ---- */

/* An extent's checksum is the XOR of this over its blocks, so it can be
 * computed a block at a time while reading the journal back. */
static uint64_t block_csum(const void *block, uint64_t b)
{
	return abi_fs_csum(block, JOURNAL_BLOCK / 8) + b * 0x9e3779b97f4a7c15ULL;
}

static uint64_t table_blocks(uint64_t n)
{
	return (n * sizeof(struct jext) + JOURNAL_BLOCK - 1) / JOURNAL_BLOCK;
}

/*
 * Read and check the whole transaction the header announces: the commit
 * record, the table and every extent's data.  Returns 1 when it is intact
 * (*table allocated), 0 when it is not (never committed), -errno on I/O or
 * memory failure.
 */
static int check_tx(int fd, const struct jhdr *h, uint64_t image_blocks, struct jext **table)
{
	*table = NULL;
	if (h->image_blocks != image_blocks || !h->nr_extents || h->nr_extents > (1ULL << 32))
		return 0;
	uint64_t tb = table_blocks(h->nr_extents);
	struct jcommit c;
	uint64_t commit_off = (1 + tb + h->data_blocks) * JOURNAL_BLOCK;
	int ret = rd(fd, &c, sizeof(c), commit_off);
	if (ret)
		return ret == -ENODATA ? 0 : ret;
	if (c.magic != JCOMMIT_MAGIC || c.epoch != h->epoch || c.nr_extents != h->nr_extents ||
	    c.csum != abi_fs_csum((const uint64_t *)&c, WORDS(c)))
		return 0;
	struct jext *t = malloc(tb * JOURNAL_BLOCK);
	void *buf = malloc(JOURNAL_BLOCK);
	if (!t || !buf) {
		free(t);
		free(buf);
		return -ENOMEM;
	}
	int ok = 0;
	ret = rd(fd, t, tb * JOURNAL_BLOCK, JOURNAL_BLOCK);
	if (ret)
		goto out;
	if (abi_fs_csum((const uint64_t *)t, h->nr_extents * 4) != c.table_csum)
		goto out;
	uint64_t next = 1 + tb;
	for (uint64_t i = 0; i < h->nr_extents; i++) {
		const struct jext *e = &t[i];
		if (!e->nr_blocks || e->block >= image_blocks ||
		    e->nr_blocks > image_blocks - e->block || e->data_block != next)
			goto out;
		next += e->nr_blocks;
		uint64_t hsh = 0;
		for (uint64_t b = 0; b < e->nr_blocks; b++) {
			ret = rd(fd, buf, JOURNAL_BLOCK, (e->data_block + b) * JOURNAL_BLOCK);
			if (ret)
				goto out;
			hsh ^= block_csum(buf, b);
		}
		if (hsh != e->csum)
			goto out;
	}
	ok = next == 1 + tb + h->data_blocks;
out:
	free(buf);
	if (ret && ret != -ENODATA) {
		free(t);
		return ret;
	}
	if (!ok) {
		free(t);
		return 0;
	}
	*table = t;
	return 1;
}

static uint64_t extent_csum(const struct journal_extent *e)
{
	uint64_t h = 0;
	for (uint64_t b = 0; b < e->nr_blocks; b++)
		h ^= block_csum((const char *)e->data + b * JOURNAL_BLOCK, b);
	return h;
}

/* Copy a checked transaction's data from the journal into the image. */
static int replay(int fd, int image_fd, const struct jhdr *h, const struct jext *t)
{
	char *buf = malloc(256 * JOURNAL_BLOCK);
	if (!buf)
		return -ENOMEM;
	int ret = 0;
	for (uint64_t i = 0; i < h->nr_extents && !ret; i++)
		for (uint64_t b = 0; b < t[i].nr_blocks && !ret; b += 256) {
			uint64_t n = t[i].nr_blocks - b < 256 ? t[i].nr_blocks - b : 256;
			ret = rd(fd, buf, n * JOURNAL_BLOCK, (t[i].data_block + b) * JOURNAL_BLOCK);
			if (!ret)
				ret = wr(image_fd, buf, n * JOURNAL_BLOCK,
					 (t[i].block + b) * JOURNAL_BLOCK);
		}
	free(buf);
	return ret;
}

/* Make the journal CLEAN at `epoch` and drop everything after its header. */
static int mark_clean(int fd, uint64_t epoch, uint64_t image_blocks)
{
	int ret = write_header(fd, JSTATE_CLEAN, epoch, 0, image_blocks, 0, 0);
	if (!ret)
		ret = trunc_fd(fd, JOURNAL_BLOCK);
	if (!ret)
		ret = sync_fd(fd);
	return ret;
}

static int image_blocks_of(int fd, uint64_t *blocks)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	*blocks = (uint64_t)st.st_size / JOURNAL_BLOCK;
	return 0;
}

/*
 * Find the journal's state and, with `fix`, recover: replay a committed
 * transaction (image fdatasync'ed before the journal is cleaned) or discard
 * an incomplete one.
 */
static int examine(int fd, int image_fd, struct journal_status *st, int fix, char *why, size_t n)
{
	uint64_t blocks = 0;
	int ret = image_blocks_of(image_fd, &blocks);
	if (ret)
		return fail(why, n, ret, "cannot stat the image");
	struct stat js;
	if (fstat(fd, &js))
		return fail(why, n, -errno, "cannot stat");
	memset(st, 0, sizeof(*st));
	if (js.st_size == 0) { /* created, header never written: nothing committed */
		st->state = JOURNAL_CLEAN;
		return fix ? mark_clean(fd, 0, blocks) : 0;
	}
	struct jhdr h;
	if ((ret = read_header(fd, &h, why, n)))
		return ret;
	if (h.image_blocks != blocks) {
		snprintf(why, n, "journal: written for an image of %llu blocks, this one has %llu",
			 (unsigned long long)h.image_blocks, (unsigned long long)blocks);
		return -EPROTO;
	}
	if (h.state == JSTATE_CLEAN) {
		st->state = JOURNAL_CLEAN;
		st->epoch = h.epoch;
		return 0;
	}
	struct jext *t;
	int ok = check_tx(fd, &h, blocks, &t);
	if (ok < 0)
		return fail(why, n, ok, "cannot read the transaction");
	st->state = ok ? JOURNAL_COMMITTED : JOURNAL_INCOMPLETE;
	st->epoch = h.epoch;
	st->base_epoch = h.base_epoch;
	st->extents = h.nr_extents;
	st->blocks = h.data_blocks;
	if (fix) {
		ret = ok ? replay(fd, image_fd, &h, t) : 0;
		if (!ret && ok)
			ret = sync_fd(image_fd);
		if (!ret)
			ret = mark_clean(fd, ok ? h.epoch : h.base_epoch, blocks);
		if (ret)
			fail(why, n, ret, ok ? "cannot replay" : "cannot discard");
	}
	free(t);
	return ret;
}

/* Open the image and its journal.  Returns 0, 1 when the image has no
 * journal (nothing opened), or -errno with why. */
static int open_pair(const char *image_path, int flags, int *image_fd, int *fd, char *why, size_t n)
{
	char path[4096];
	if (journal_path(image_path, path, sizeof(path)))
		return fail(why, n, -ENAMETOOLONG, image_path);
	*image_fd = open(image_path, flags | O_CLOEXEC);
	if (*image_fd < 0)
		return fail(why, n, -errno, image_path);
	*fd = open(path, flags | O_CLOEXEC);
	if (*fd < 0) {
		int err = errno;
		close(*image_fd);
		return err == ENOENT ? 1 : fail(why, n, -err, path);
	}
	return 0;
}

/* Open the image and its journal read-only or read-write and examine it,
 * recovering with `fix`. */
static int examine_path(const char *image_path, int fix, struct journal_status *st, char *why,
			size_t whylen)
{
	int image_fd, fd;
	int ret = open_pair(image_path, fix ? O_RDWR : O_RDONLY, &image_fd, &fd, why, whylen);
	if (ret == 1) {
		memset(st, 0, sizeof(*st));
		st->state = JOURNAL_NONE;
		return 0;
	}
	if (ret)
		return ret;
	ret = examine(fd, image_fd, st, fix, why, whylen);
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
	if (journal_path(image_path, j->path, sizeof(j->path)))
		return fail(why, whylen, -ENAMETOOLONG, image_path);
	j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (j->fd < 0)
		return fail(why, whylen, -errno, j->path);
	struct journal_status st;
	int ret = examine(j->fd, image_fd, &st, 1, why, whylen);
	if (!ret)
		ret = image_blocks_of(image_fd, &j->image_blocks);
	if (ret) {
		close(j->fd);
		j->fd = -1;
		return ret;
	}
	j->epoch = st.state == JOURNAL_COMMITTED    ? st.epoch
		   : st.state == JOURNAL_INCOMPLETE ? st.base_epoch
						    : st.epoch;
	return 0;
}

int journal_commit(struct journal *j, uint64_t epoch, const struct journal_extent *ext, size_t n,
		   char *why, size_t whylen)
{
	if (!n || epoch <= j->epoch)
		return fail(why, whylen, -EINVAL, "nothing to commit, or an old epoch");
	uint64_t tb = table_blocks(n), data = 0;
	struct jext *t = calloc(tb, JOURNAL_BLOCK);
	if (!t)
		return -ENOMEM;
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ext[i].nr_blocks || ext[i].block >= j->image_blocks ||
		    ext[i].nr_blocks > j->image_blocks - ext[i].block) {
			ret = fail(why, whylen, -ERANGE, "extent outside the image");
			goto out;
		}
		t[i] = (struct jext){ext[i].block, ext[i].nr_blocks, 1 + tb + data,
				     extent_csum(&ext[i])};
		data += ext[i].nr_blocks;
	}
	struct jcommit c = {.magic = JCOMMIT_MAGIC,
			    .epoch = epoch,
			    .nr_extents = n,
			    .table_csum = abi_fs_csum((const uint64_t *)t, n * 4)};
	c.csum = abi_fs_csum((const uint64_t *)&c, WORDS(c));

	/* 1. The transaction, then the header naming it; one fdatasync. */
	ret = wr(j->fd, t, tb * JOURNAL_BLOCK, JOURNAL_BLOCK);
	for (size_t i = 0; i < n && !ret; i++)
		ret = wr(j->fd, ext[i].data, ext[i].nr_blocks * JOURNAL_BLOCK,
			 t[i].data_block * JOURNAL_BLOCK);
	if (!ret)
		ret = wr(j->fd, &c, sizeof(c), (1 + tb + data) * JOURNAL_BLOCK);
	if (!ret)
		ret = write_header(j->fd, JSTATE_OPEN, epoch, j->epoch, j->image_blocks, n, data);
	if (!ret)
		ret = sync_fd(j->fd);
	if (ret) {
		fail(why, whylen, ret, "cannot write the transaction");
		goto out;
	}
	/* 2. Committed: now the image, in place. */
	for (size_t i = 0; i < n && !ret; i++)
		ret = wr(j->image_fd, ext[i].data, ext[i].nr_blocks * JOURNAL_BLOCK,
			 ext[i].block * JOURNAL_BLOCK);
	if (!ret)
		ret = sync_fd(j->image_fd);
	if (ret) {
		fail(why, whylen, ret, "cannot write the image");
		goto out;
	}
	/* 3. Clean at the new epoch. */
	ret = mark_clean(j->fd, epoch, j->image_blocks);
	if (ret) {
		fail(why, whylen, ret, "cannot clean");
		goto out;
	}
	j->epoch = epoch;
out:
	free(t);
	return ret;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}
