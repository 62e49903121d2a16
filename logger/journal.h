/*
 * The host writeback journal: a redo log beside the disk image
 * (IMAGE.journal) that makes every host writeback of an epoch atomic.  The
 * image on disk always equals the guest's file content as of some committed
 * epoch, whenever the host process dies: after `journal_recover` the image
 * holds either the previous epoch or the whole new one, never a mix.
 * docs/journal.md gives the on-disk format and the recovery rules.
 *
 * One transaction per epoch:
 *   1. write the extent table, every extent's data and the commit block to
 *      the journal, then the header saying OPEN; fdatasync the journal.
 *      The transaction is committed once all of it is durable: recovery
 *      checks every checksum, so a torn or partial journal is discarded.
 *   2. write the extents into the image in place; fdatasync the image.
 *   3. mark the header CLEAN at the new epoch, truncate the journal to its
 *      header; fdatasync the journal.
 * Recovery replays an OPEN, fully valid transaction (step 2 is idempotent)
 * and otherwise discards it: the image then still holds the epoch before.
 */
#ifndef LOGGER_JOURNAL_H
#define LOGGER_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_BLOCK 4096

/* One run of contiguous image blocks and the bytes to put there. */
struct journal_extent {
	uint64_t block;	    /* first image block */
	uint64_t nr_blocks; /* >= 1 */
	const void *data;   /* nr_blocks * JOURNAL_BLOCK bytes */
};

enum journal_state {
	JOURNAL_NONE,	    /* no journal file: the host never wrote this image */
	JOURNAL_CLEAN,	    /* the image holds `epoch` */
	JOURNAL_COMMITTED,  /* a valid transaction for `epoch` awaits replay */
	JOURNAL_INCOMPLETE, /* a transaction that never committed; the image holds base_epoch */
};

struct journal_status {
	enum journal_state state;
	uint64_t epoch;	     /* CLEAN: the image's epoch; COMMITTED/INCOMPLETE: the transaction's */
	uint64_t base_epoch; /* the epoch the image held before the transaction */
	uint64_t extents, blocks;
};

struct journal {
	int image_fd, fd;
	uint64_t image_blocks;
	uint64_t epoch; /* last committed epoch */
	char path[4096];
};

/*
 * Open (creating it CLEAN at epoch 0 if absent) the journal of the image
 * open at image_fd whose path is image_path, recovering first whatever a
 * previous run left.  Returns 0, or -errno with a one-line reason in why
 * (-EPROTO: a journal that is not ours or is corrupt beyond recovery).
 */
int journal_open(struct journal *j, const char *image_path, int image_fd, char *why, size_t whylen);

/*
 * Commit `n` extents as epoch `epoch` (> the last one) and apply them to
 * the image, in the three steps above.  Extents must lie inside the image.
 * Returns 0 or -errno (why says which step failed); after a failure the
 * image still holds a committed epoch and the next journal_open recovers.
 */
int journal_commit(struct journal *j, uint64_t epoch, const struct journal_extent *ext, size_t n,
		   char *why, size_t whylen);

void journal_close(struct journal *j);

/*
 * Inspect the journal of image_path without changing anything.  Returns 0
 * with *st filled, or -errno with why (-EPROTO: corrupt header).
 */
int journal_inspect(const char *image_path, struct journal_status *st, char *why, size_t whylen);

/*
 * Recover the image at image_path: replay a committed transaction or
 * discard an incomplete one, leaving the journal CLEAN.  *st (optional)
 * receives what was found before recovery.  Returns 0 or -errno with why.
 */
int journal_recover(const char *image_path, struct journal_status *st, char *why, size_t whylen);

/* "IMAGE.journal" into buf; -ENAMETOOLONG if it does not fit. */
int journal_path(const char *image_path, char *buf, size_t len);

/*
 * Tests only: die (_exit(137), as kill -9 would end the process) just
 * before the journal's n-th I/O call from now (pwrite, fdatasync,
 * ftruncate; 1 = the next one); with `torn`, a pwrite that is to die first
 * writes half its bytes.  0 disables.
 */
void journal_test_crash_after(uint64_t n, int torn);

#endif
