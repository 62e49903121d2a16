/*
 * Private to the journal's files (journal.c, journal_commit.c,
 * journal_recover.c): the on-disk format both commit and recovery speak,
 * and the I/O both do through the tests' crash point.
 *
 * Journal file layout, in 4 KiB blocks:
 *   block 0      header (struct jhdr): the image's identity and size, what
 *                the image holds durably (transaction and epoch), generation
 *   then         transactions back to back, each
 *                  table blocks  struct jtable, then struct jext per extent
 *                  data blocks   every extent's pages, in table order
 *                  commit block  struct jcommit
 * Everything is checksummed with abi_fs_csum (DSFS's word-wise FNV-1a), so
 * recovery believes a transaction only when every byte of its table and
 * data is intact, it carries the header's generation and it continues the
 * chain (seq + 1, and a later epoch than the transaction before it).
 *
 * Two counters, never confused: a transaction number counts every commit
 * this image's journal ever made (base_txn + seq), across runs and
 * checkpoints; an epoch is the run's own, a label that starts again at 1
 * with every run and orders transactions only within one chain.
 */
#ifndef LOGGER_JOURNAL_INT_H
#define LOGGER_JOURNAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "abi/fs.h"
#include "logger/hostwb/journal.h"

#define JHDR_MAGIC    0x314c4e524a534400ULL /* "\0DSJRNL1" */
#define JTABLE_MAGIC  0x454c424154534400ULL /* "\0DSTABLE" */
#define JCOMMIT_MAGIC 0x54494d4d4f434400ULL /* "\0DCOMMIT" */
#define JVERSION      3
#define BLOCK	      JOURNAL_BLOCK
#define BLOCK_WORDS   (BLOCK / 8)

/* journal_commit checkpoints once the journal is larger (journal.h). */
#define JOURNAL_DEFAULT_CHECKPOINT_BYTES (64ULL << 20)

struct jhdr {
	uint64_t magic;
	uint32_t version;
	uint32_t block_size;
	uint64_t image_blocks;
	uint64_t base_epoch; /* the epoch (run's label) of the transaction base_txn */
	uint64_t generation; /* every transaction of this journal carries it */
	uint64_t base_txn;   /* transactions the image holds durably: seq counts on from it */
	uint8_t uuid[16];    /* the identity of the image (abi_fs_super.uuid) */
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

_Static_assert(sizeof(struct jhdr) == 72, "journal header layout");
_Static_assert(__builtin_offsetof(struct jhdr, csum) == 64, "journal header layout");
_Static_assert(sizeof(struct jtable) == 48, "journal table layout");
_Static_assert(sizeof(struct jext) == 24, "journal extent layout");
_Static_assert(sizeof(struct jcommit) == 56, "journal commit layout");

#define WORDS(x) (sizeof(x) / 8 - 1) /* every word but the trailing csum */

static inline uint64_t journal_block_csum(const void *block)
{
	return abi_fs_csum(block, BLOCK_WORDS);
}

/* Table blocks of a transaction with nr_extents extents. */
static inline uint64_t journal_table_blocks(uint64_t nr_extents)
{
	return (sizeof(struct jtable) + nr_extents * sizeof(struct jext) + BLOCK - 1) / BLOCK;
}

/* ---- I/O through the crash point (journal_test_crash_after) ---- */

/* Write all of iov[0..cnt) at off; consumes (modifies) iov.  0 or -errno. */
int journal_pwritev_all(int fd, struct iovec *iov, size_t cnt, uint64_t off);

/* Write all of buf at off.  0 or -errno. */
int journal_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* fdatasync(fd), ftruncate(fd, len), and fsync of the directory holding
 * path (a new file's name made durable).  0 or -errno. */
int journal_fdatasync(int fd);
int journal_truncate(int fd, uint64_t len);
int journal_sync_dir_of(const char *path);

/* Write the header h (magic, version, block size and checksum filled in
 * here) at offset 0; no sync. */
int journal_write_header(int fd, const struct jhdr *h);

/* ---- shared by commit and recovery ---- */

/* "journal: WHAT: strerror(-err)" into why; returns err. */
int journal_why(char *why, size_t n, int err, const char *what);

/* "journal: PATH: WHAT: strerror(-err)" into why; returns err. */
int journal_why_at(char *why, size_t n, int err, const char *path, const char *what);

/* Make room for need entries of size bytes at p (realloc'd, capacity in
 * *cap).  Returns the buffer, or NULL (p still valid) when out of memory. */
void *journal_grow(void *p, size_t *cap, size_t need, size_t size);

#endif
