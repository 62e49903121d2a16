/*
 * Writing the journal (logger/hostwb/journal.h, docs/journal.md): commit an
 * epoch's extents as one transaction, durable before the image is touched,
 * and checkpoint, which makes the image durable and empties the journal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "abi/fs.h"
#include "logger/hostwb/journal_int.h"
#include "util/time.h"

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
		return journal_why(why, n, -EBADF, "not open");
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
	/* Epochs are the run's own: they must rise within one opening, and a
	 * new run starts again at 1 (the transaction number, not the epoch,
	 * orders commits across runs). */
	if (!epoch || epoch <= j->run_epoch)
		return refuse(why, whylen,
			      "epoch %llu is not after epoch %llu, the last this run committed",
			      epoch, j->run_epoch, 0);
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
			j->bcsum[k++] = journal_block_csum(p);
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
		int ret = journal_pwritev_all(j->image_fd, j->iov, cnt, off);
		if (ret)
			return ret;
		j->stats.image_bytes += bytes;
	}
	return 0;
}

int journal_commit(struct journal *j, uint64_t epoch, const struct journal_extent *ext, size_t n,
		   char *why, size_t whylen)
{
	uint64_t t0 = time_now_ns(), data;
	int ret = usable(j, why, whylen);
	if (ret || (ret = check_extents(j, epoch, ext, n, &data, why, whylen)))
		return ret;
	uint64_t tb = journal_table_blocks(n);
	void *p;
	if (!(p = journal_grow(j->meta, &j->meta_cap, (tb + 1) * BLOCK, 1)))
		goto nomem;
	j->meta = p;
	if (!(p = journal_grow(j->iov, &j->iov_cap, data + 2, sizeof(*j->iov))))
		goto nomem;
	j->iov = p;
	if (!(p = journal_grow(j->bcsum, &j->bcsum_cap, data + 1, sizeof(*j->bcsum))))
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
	ret = journal_pwritev_all(j->fd, j->iov, (size_t)cnt, j->end);
	if (ret)
		return journal_why_at(why, whylen, ret, j->path, "cannot append the transaction");
	j->stats.syncs++;
	if ((ret = journal_fdatasync(j->fd))) {
		j->broken = 1;
		return journal_why_at(why, whylen, ret, j->path, "cannot fdatasync");
	}
	j->end += bytes;
	j->seq++;
	j->txn++;
	j->epoch = j->run_epoch = epoch;
	j->stats.commits++;
	j->stats.journal_bytes += bytes;

	/* Only now the image: an uncommitted transaction never touches it. */
	if ((ret = write_image(j, ext, n))) {
		j->broken = 1;
		char what[96];
		snprintf(what, sizeof(what), "epoch %llu is durable, but writing the image failed",
			 (unsigned long long)epoch);
		return journal_why_at(why, whylen, ret, j->path, what);
	}
	j->stats.commit_ns += time_now_ns() - t0;
	if (j->end > j->checkpoint_bytes)
		return journal_checkpoint(j, why, whylen);
	return 0;
nomem:
	return journal_why_at(why, whylen, -ENOMEM, j->path, "cannot build the transaction");
}

int journal_checkpoint(struct journal *j, char *why, size_t whylen)
{
	int ret = usable(j, why, whylen);
	if (ret)
		return ret;
	if (!j->seq && j->end == BLOCK)
		return 0;
	uint64_t t0 = time_now_ns();
	/* The image must hold j->epoch durably before the header stops the
	 * journal's transactions from being replayed. */
	j->stats.syncs++;
	if ((ret = journal_fdatasync(j->image_fd))) {
		journal_why_at(why, whylen, ret, j->path, "cannot fdatasync the image");
		goto broken;
	}
	/* The new generation is durable before the truncate, so every old
	 * transaction is dead even if the truncate never reaches the disk, and
	 * cannot be read as part of the new chain whatever its seq and epoch. */
	j->stats.syncs++;
	struct jhdr h = {.image_blocks = j->image_blocks,
			 .base_epoch = j->epoch,
			 .generation = j->generation + 1,
			 .base_txn = j->txn};
	memcpy(h.uuid, j->uuid, sizeof(h.uuid));
	if ((ret = journal_write_header(j->fd, &h)) || (ret = journal_fdatasync(j->fd))) {
		journal_why_at(why, whylen, ret, j->path, "cannot write the header");
		goto broken;
	}
	j->generation++;
	j->base_epoch = j->epoch;
	j->base_txn = j->txn;
	j->seq = 0;
	if ((ret = journal_truncate(j->fd, BLOCK))) {
		journal_why_at(why, whylen, ret, j->path, "cannot truncate");
		goto broken;
	}
	j->end = BLOCK;
	j->stats.checkpoints++;
	j->stats.checkpoint_ns += time_now_ns() - t0;
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
