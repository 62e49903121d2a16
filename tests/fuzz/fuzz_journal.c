/*
 * libFuzzer target: the host writeback journal's inspect and recover
 * (logger/hostwb/journal_recover.c) on a fuzzed journal file next to a
 * small image.  Checksums (header, extents, table, data, commit) are
 * recomputed as journal_commit.c writes them, so the fuzzer reaches the
 * checks behind them.  Checked: inspect and recover see the same journal
 * (same result, same status), recovery never changes the image's size, and
 * after a recovery the journal inspects clean at the recovered epoch and
 * transaction.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logger/hostwb/journal.h"
#include "logger/hostwb/journal_int.h"

#define IMAGE_BLOCKS 8 /* gen_seeds.c writes its journals for this image */
#define MAX_JOURNAL  (64 * BLOCK)

static char image[64], jpath[80];

static uint64_t csum_at(const uint8_t *p, uint64_t words)
{
	uint64_t *w = malloc(words * 8 + 8);
	memcpy(w, p, words * 8);
	uint64_t h = abi_fs_csum(w, words);
	free(w);
	return h;
}

/* Reseal whatever whole header and transactions buf[0..len) holds. */
static void fix_checksums(uint8_t *buf, size_t len)
{
	struct jhdr h;
	if (len < BLOCK)
		return;
	memcpy(&h, buf, sizeof(h));
	h.csum = abi_fs_csum((const uint64_t *)&h, WORDS(h));
	memcpy(buf, &h, sizeof(h));

	uint64_t nblk = len / BLOCK, b = 1;
	uint64_t *bcsum = malloc(nblk * sizeof(*bcsum) + 8);
	while (b < nblk) {
		struct jtable t;
		memcpy(&t, buf + b * BLOCK, sizeof(t));
		if (t.nr_extents > nblk * BLOCK / sizeof(struct jext) || t.data_blocks > nblk)
			break;
		uint64_t tb = journal_table_blocks(t.nr_extents);
		if (b + tb + t.data_blocks + 1 > nblk)
			break;
		uint8_t *data = buf + (b + tb) * BLOCK;
		for (uint64_t k = 0; k < t.data_blocks; k++)
			bcsum[k] = csum_at(data + k * BLOCK, BLOCK_WORDS);
		uint64_t k = 0;
		for (uint64_t i = 0; i < t.nr_extents; i++) {
			struct jext x;
			uint8_t *xp = buf + b * BLOCK + sizeof(t) + i * sizeof(x);
			memcpy(&x, xp, sizeof(x));
			if (x.nr_blocks > t.data_blocks - k)
				break;
			x.csum = abi_fs_csum(bcsum + k, x.nr_blocks);
			k += x.nr_blocks;
			memcpy(xp, &x, sizeof(x));
		}
		struct jcommit c;
		uint8_t *cp = buf + (b + tb + t.data_blocks) * BLOCK;
		memcpy(&c, cp, sizeof(c));
		c.table_csum = csum_at(buf + b * BLOCK, tb * BLOCK_WORDS);
		c.data_csum = abi_fs_csum(bcsum, t.data_blocks);
		c.csum = abi_fs_csum((const uint64_t *)&c, WORDS(c));
		memcpy(cp, &c, sizeof(c));
		b += tb + t.data_blocks + 1;
	}
	free(bcsum);
}

static void put_file(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, p, len) != (ssize_t)len)
		abort();
	close(fd);
}

static int same(const struct journal_status *a, const struct journal_status *b)
{
	return a->state == b->state && a->epoch == b->epoch && a->base_epoch == b->base_epoch &&
	       a->txn == b->txn && a->base_txn == b->base_txn &&
	       a->transactions == b->transactions && a->extents == b->extents &&
	       a->blocks == b->blocks && a->torn_bytes == b->torn_bytes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t img[IMAGE_BLOCKS * BLOCK];
	if (!image[0]) {
		/* tmpfs: recovery's fdatasync calls cost nothing there. */
		snprintf(image, sizeof(image), "/dev/shm/fuzz-journal-%d.img", (int)getpid());
		if (journal_path(image, jpath, sizeof(jpath)))
			abort();
		memset(img, 0xa5, sizeof(img));
	}
	if (size > MAX_JOURNAL)
		size = MAX_JOURNAL;
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	fix_checksums(buf, size);
	/* The seed replay (CTest) sets this: what the project's own writer
	 * wrote must come out of the fix-up unchanged, or the fix-up no
	 * longer computes the format's checksums. */
	if (getenv("DS_FUZZ_SEEDS_INTACT") && memcmp(buf, data, size))
		abort();
	put_file(image, img, sizeof(img));
	put_file(jpath, buf, size);
	free(buf);

	struct journal_status ins, rec, after;
	char why[512];
	memset(&ins, 0, sizeof(ins));
	memset(&rec, 0, sizeof(rec));
	int r1 = journal_inspect(image, &ins, why, sizeof(why));
	int r2 = journal_recover(image, &rec, why, sizeof(why));
	if (r1 != r2 || (r1 == 0 && !same(&ins, &rec)))
		abort(); /* inspect and recover read the journal differently */
	struct stat st;
	if (stat(image, &st) || st.st_size != (off_t)sizeof(img))
		abort(); /* recovery changed the image's size */
	if (r2 == 0) {
		if (journal_inspect(image, &after, why, sizeof(why)) ||
		    (after.state != JOURNAL_CLEAN && after.state != JOURNAL_NONE) ||
		    (after.state == JOURNAL_CLEAN &&
		     (after.epoch != rec.epoch || after.txn != rec.txn)))
			abort(); /* recovery left something to recover */
	}
	unlink(jpath);
	unlink(image);
	return 0;
}
