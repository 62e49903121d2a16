/*
 * The host writeback journal: a write-ahead log beside the disk image
 * (IMAGE.journal) that makes every host writeback of an epoch atomic.
 * Whenever the host process dies, `journal_recover` brings the image to the
 * content of one committed epoch, never a mix, and never older than the
 * last epoch whose journal_commit returned 0.  docs/journal.md gives the
 * on-disk format, the crash analysis and the recovery rules.
 *
 * A commit appends one transaction (table, data, commit record) to the
 * journal with one pwritev and makes it durable with one fdatasync; only
 * then is the same data written into the image in place, without a sync, so
 * reads of the image see the epoch at once while the kernel flushes it when
 * it likes.  Until a checkpoint the image on disk may therefore hold any mix
 * of the epochs since the last checkpoint, which is why recovery replays,
 * in order, every transaction the journal holds.  A checkpoint fdatasyncs
 * the image, starts a new generation in the header and empties the journal.
 */
#ifndef LOGGER_JOURNAL_H
#define LOGGER_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "util/fail.h"

#define JOURNAL_BLOCK 4096

/* One run of contiguous image blocks and the bytes to put there. */
struct journal_extent {
	uint64_t block;		  /* first image block */
	uint64_t nr_blocks;	  /* >= 1 */
	const void *const *pages; /* nr_blocks pointers, each to JOURNAL_BLOCK bytes, 8-byte
				     aligned; they need not be contiguous */
};

enum journal_state {
	JOURNAL_NONE,	    /* no journal file: the host never wrote this image */
	JOURNAL_CLEAN,	    /* nothing to replay and no torn tail: the image holds `epoch` */
	JOURNAL_COMMITTED,  /* >= 1 valid transaction to replay (a torn tail may follow) */
	JOURNAL_INCOMPLETE, /* no valid transaction, but bytes after the header that are not
			       one (a torn or partial transaction) */
};

struct journal_status {
	enum journal_state state;
	uint64_t epoch;		  /* the image's epoch after recovery: the last valid
				     transaction's, else base_epoch (an epoch of the run
				     that committed it; every run counts from 1) */
	uint64_t base_epoch;	  /* the image's epoch at the last checkpoint */
	uint64_t txn;		  /* the image's transaction after recovery: commits this
				     image's journal ever made, over every run */
	uint64_t base_txn;	  /* the image's transaction at the last checkpoint */
	uint64_t transactions;	  /* valid transactions to replay */
	uint64_t extents, blocks; /* over those transactions */
	uint64_t torn_bytes;	  /* bytes after the last valid transaction, discarded */
};

struct journal_stats {
	uint64_t commits, checkpoints;
	uint64_t journal_bytes; /* bytes appended to the journal (tables, data, commit records) */
	uint64_t image_bytes;	/* bytes written into the image */
	uint64_t syncs;		/* fdatasync calls, journal and image */
	uint64_t commit_ns, checkpoint_ns; /* CLOCK_MONOTONIC time spent in each */
};

struct iovec;

struct journal {
	int image_fd, fd;
	uint64_t image_blocks;
	uint8_t uuid[16];	   /* the image's identity, in the journal's header */
	uint64_t epoch;		   /* the epoch the image holds: the last committed, by
				      this opener or the run before it */
	uint64_t run_epoch;	   /* last epoch committed since journal_open (0: none) */
	uint64_t base_epoch;	   /* epoch of the last checkpoint */
	uint64_t txn;		   /* transactions ever committed to this image */
	uint64_t base_txn;	   /* txn at the last checkpoint */
	uint64_t generation;	   /* the header's; every transaction carries it */
	uint64_t seq;		   /* transactions since the checkpoint */
	uint64_t end;		   /* journal append offset (its size) */
	uint64_t checkpoint_bytes; /* journal_commit checkpoints once the journal is larger;
				      default 64 MiB; 0 = after every commit */
	struct journal_stats stats;
	char path[4096];
	/* Private: a failed fdatasync or image write leaves the state on disk in
	 * doubt, so commits and checkpoints refuse until the journal is reopened
	 * (which recovers). */
	int broken;
	/* Private: buffers reused by every commit. */
	uint8_t *meta;	 /* table blocks, then the commit block */
	size_t meta_cap; /* bytes */
	struct iovec *iov;
	size_t iov_cap;	  /* entries */
	uint64_t *bcsum;  /* one checksum per data block */
	size_t bcsum_cap; /* entries */
};

/*
 * Open (creating it CLEAN at epoch 0 if absent) the journal of the image
 * open read-write at image_fd whose path is image_path, first recovering
 * whatever a previous run left, so that on return the journal is clean,
 * j->epoch and j->txn say what the image holds and j->stats are zero.  A
 * new journal records the image's identity (dsfs_identity: its UUID, or
 * none for a file that is not DSFS); an existing one must carry the same.
 * The journal is locked (flock) against other openers until journal_close.
 * Returns 0, or -errno with a one-line reason in why: -EPROTO for a journal
 * that is not ours or belongs to another image (another identity or size),
 * -EBUSY when another process has it open, -ENODEV for a journal path that
 * is not a regular file.
 */
int journal_open(struct journal *j, const char *image_path, int image_fd, char *why, size_t whylen);

/*
 * Open a new journal for the image open read-write at image_fd that has no
 * name (a temporary image, util/tmpfile.h): a file without a name either,
 * in the directory dir, so that a kill -9 leaves neither behind.  It starts
 * CLEAN at epoch and transaction 0 and records the image's identity
 * (dsfs_identity), as a new IMAGE.journal does; nothing is recovered, since
 * no earlier journal can exist, and nothing is locked or synced, since no
 * other process can find it and nothing can read it after a crash.  Then
 * it is used and closed like any other.  Returns 0 or -errno with a
 * one-line reason in why.
 */
int journal_open_unnamed(struct journal *j, const char *dir, int image_fd, char *why,
			 size_t whylen);

/*
 * Commit the n extents (n may be 0: the transaction then only records the
 * epoch) as transaction j->txn + 1, labelled with the run's epoch `epoch`:
 * after the epoch of the last commit since journal_open (any epoch >= 1
 * for the first, so every run may count its epochs from 1).  Extents must lie inside the image,
 * sorted by block, not overlapping; anything else is refused with -EINVAL
 * before any I/O.  The pages must not change until this returns: their
 * checksums are taken before they are written.  When it returns 0 the epoch
 * is durable and the image file holds it (not yet synced); then, if the
 * journal is larger than j->checkpoint_bytes, it checkpoints.
 *
 * Returns 0 or -errno with why.  After a failure at or past the journal's
 * fdatasync (the transaction may or may not be durable, the image may be
 * part-written) every later commit and checkpoint returns -EIO until the
 * journal is closed and reopened, which recovers a committed epoch; a
 * failed auto checkpoint after a durable commit is reported the same way,
 * with j->epoch already the new epoch.
 */
int journal_commit(struct journal *j, uint64_t epoch, const struct journal_extent *ext, size_t n,
		   char *why, size_t whylen);

/*
 * Make the image alone hold j->epoch durably and empty the journal:
 * fdatasync the image, write the header at base_epoch = j->epoch with the
 * next generation, fdatasync the journal, truncate it to its header.  Does
 * nothing when nothing was committed since the last checkpoint.  Returns 0
 * or -errno with why (the journal is then broken as for journal_commit).
 */
int journal_checkpoint(struct journal *j, char *why, size_t whylen);

/* Close the journal's fd and free its buffers; the image fd stays open and
 * nothing is checkpointed (callers checkpoint explicitly). */
void journal_close(struct journal *j);

/*
 * Inspect the journal of image_path without changing anything.  Returns 0
 * with *st filled (JOURNAL_NONE when there is no journal file), or -errno
 * with why: -EPROTO for a journal that is not ours or belongs to another
 * image (another identity or size, and why says what to do), -EBUSY when a writer has it open,
 * -ENODEV for a non-regular image or journal.
 */
int journal_inspect(const char *image_path, struct journal_status *st, char *why, size_t whylen);

/*
 * Recover the image at image_path: replay every valid transaction in order
 * into the image, fdatasync it, then write the header clean at the last
 * epoch with a new generation, fdatasync the journal and truncate it.
 * Discards a torn tail.  Idempotent, and safe to kill at any point and run
 * again.  *st (optional) receives what was found before recovery.  Returns
 * 0 or -errno with why, as journal_inspect; -EBUSY also when another
 * writer holds the image's own lock (util/filelock.h), which recovery takes.
 */
int journal_recover(const char *image_path, struct journal_status *st, char *why, size_t whylen);

/* "IMAGE.journal" into buf; -ENAMETOOLONG if it does not fit. */
int journal_path(const char *image_path, char *buf, size_t len);

/*
 * What a failure of the functions above means (util/fail.h), by the
 * refusals they document: a journal that is not ours or belongs to an image
 * of another identity or size means `invalid` (for `recover` an input error, for
 * `verify-image` a failed check); an image or journal that is not a regular
 * file, one in use by another process, or a path that cannot be opened, is
 * an input error in every command; anything else failed in the host's I/O (journal_fail.c).
 */
enum ds_fail journal_fail(int err, enum ds_fail invalid);

/*
 * Tests only: die (_exit(137), as kill -9 would end the process) just
 * before the journal's n-th I/O call from now (pwrite, pwritev, fdatasync,
 * ftruncate, the directory fsync at creation; 1 = the next one); with
 * `torn`, a dying write of >= JOURNAL_BLOCK bytes first writes half its
 * bytes.  0 disables.
 */
void journal_test_crash_after(uint64_t n, int torn);

#endif
