/*
 * logger/hostwb/journal*.c: the host writeback journal, without KVM.
 *
 *   - commits apply exactly: one fdatasync each, the image current in place;
 *     a checkpoint leaves the image at the last epoch and the journal clean,
 *     cut to its header; refused commits do no I/O; an empty transaction
 *     records its epoch; checkpoint_bytes = 0 checkpoints every commit and a
 *     smaller limit checkpoints once the journal passes it; a transaction of
 *     several table blocks and more pages than one pwritev takes
 *   - fault injection: a child process runs a script (create the journal,
 *     commit epochs 1..7 with extents overlapping earlier ones, single and
 *     multi-block, pages contiguous or scattered, epoch 7 empty; an explicit
 *     checkpoint after 3, an automatic one inside 5's commit, a final one)
 *     and dies as kill -9 would just before its k-th I/O call, for every k,
 *     with whole writes, with the dying write torn in half, and with the
 *     image's unsynced writes lost as well (rolled back to the last
 *     checkpoint's content).  It reports each epoch whose commit returned.
 *     After each death journal_recover must leave the image byte for byte
 *     equal to some epoch E, the last reported <= E <= the one in flight,
 *     with the journal CLEAN at E; and death at every I/O call of recovery
 *     itself (seven transactions to replay) must not change that
 *   - teeth: the comparison notices a mixed image; a corrupt byte anywhere
 *     in transaction 2 of 3 discards 2 and 3; so do a gap in the chain (seq)
 *     and an epoch not after the previous one, checksums intact; a valid
 *     transaction of an older generation after the chain is not replayed
 *   - a journal that is not ours, of another version or image size, a FIFO
 *     in its place, or one another process holds, is refused
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi/fs.h"
#include "logger/hostwb/journal.h"
#include "tests/lib/ds_test.h"

#define BLOCK	     JOURNAL_BLOCK
#define IMAGE_BLOCKS 64
#define IMAGE_BYTES  (IMAGE_BLOCKS * BLOCK)
#define NR_EPOCHS    7
#define MAX_EXTENTS  8

static char dir[] = "/tmp/dirtyscope-journal-XXXXXX";
static char image[sizeof(dir) + 16], jpath[sizeof(dir) + 32];

/* The script: each epoch's extents (block, blocks). */
static const struct {
	uint64_t block, nr;
} script[NR_EPOCHS + 1][MAX_EXTENTS] = {
    [1] = {{1, 3}, {8, 1}, {12, 2}, {20, 4}, {40, 1}},
    [2] = {{2, 2}, {9, 3}, {21, 1}, {41, 5}, {63, 1}},
    [3] = {{0, 1}, {3, 1}, {10, 10}, {30, 2}},
    [4] = {{1, 1}, {12, 1}, {22, 8}, {45, 2}, {50, 14}},
    [5] = {{5, 2}, {13, 20}, {60, 1}},
    [6] = {{0, 40}, {41, 2}, {43, 1}},
    [7] = {{0, 0}}, /* empty */
};

/* snap[e]: the image at epoch e.  Odd epochs' pages live in pool, in
 * reverse order (no two adjacent in memory); even epochs' point into snap. */
static uint8_t snap[NR_EPOCHS + 1][IMAGE_BYTES] __attribute__((aligned(BLOCK)));
static uint8_t pool[NR_EPOCHS + 1][IMAGE_BYTES] __attribute__((aligned(BLOCK)));
static const void *pagev[NR_EPOCHS + 1][IMAGE_BLOCKS];
static struct journal_extent ext[NR_EPOCHS + 1][MAX_EXTENTS];
static size_t nr_ext[NR_EPOCHS + 1];
static uint64_t nr_blocks[NR_EPOCHS + 1];

/* Content: every block a distinct pattern of (tag, block). */
static void fill(uint8_t *img, uint64_t block, uint64_t tag)
{
	uint64_t *w = (uint64_t *)(img + block * BLOCK);
	for (unsigned i = 0; i < BLOCK / 8; i++)
		w[i] = tag * 0x100000001b3ULL ^ block << 20 ^ i;
}

static void make_contents(void)
{
	for (uint64_t b = 0; b < IMAGE_BLOCKS; b++)
		fill(snap[0], b, 0);
	for (int e = 1; e <= NR_EPOCHS; e++) {
		memcpy(snap[e], snap[e - 1], IMAGE_BYTES);
		uint64_t k = 0;
		for (int i = 0; i < MAX_EXTENTS && script[e][i].nr; i++) {
			uint64_t first = k;
			for (uint64_t b = script[e][i].block;
			     b < script[e][i].block + script[e][i].nr; b++) {
				fill(snap[e], b, (uint64_t)e);
				uint8_t *p = snap[e] + b * BLOCK;
				if (e % 2) {
					p = pool[e] + (IMAGE_BLOCKS - 1 - k) * BLOCK;
					memcpy(p, snap[e] + b * BLOCK, BLOCK);
				}
				pagev[e][k++] = p;
			}
			ext[e][i] = (struct journal_extent){script[e][i].block, script[e][i].nr,
							    &pagev[e][first]};
			nr_ext[e]++;
		}
		nr_blocks[e] = k;
	}
}

/* Bytes epoch e's transaction takes in the journal (one table block). */
static uint64_t tx_bytes(int e)
{
	return (1 + nr_blocks[e] + 1) * BLOCK;
}

static int commit(struct journal *j, int e)
{
	char why[256];
	int ret = journal_commit(j, (uint64_t)e, ext[e], nr_ext[e], why, sizeof(why));
	if (ret)
		printf("\n    commit %d: %s", e, why);
	return ret;
}

/* Overwrite the image's content, leaving the journal alone. */
static void put_image(const void *content, uint64_t bytes)
{
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pwrite(fd, content, bytes, 0) == (ssize_t)bytes);
	close(fd);
}

/* A fresh image holding content, and no journal. */
static void write_image(const void *content, uint64_t bytes)
{
	put_image(content, bytes);
	unlink(jpath);
}

static void read_image(void *buf, uint64_t bytes)
{
	int fd = open(image, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pread(fd, buf, bytes, 0) == (ssize_t)bytes);
	close(fd);
}

/* The oracle: the first epoch whose snapshot img equals, or -1 (a mix). */
static int which(const uint8_t *img)
{
	for (int e = 0; e <= NR_EPOCHS; e++)
		if (!memcmp(img, snap[e], IMAGE_BYTES))
			return e;
	return -1;
}

static int image_is(int e)
{
	static uint8_t now[IMAGE_BYTES];
	read_image(now, sizeof(now));
	return !memcmp(now, snap[e], IMAGE_BYTES);
}

static uint64_t file_size(const char *path)
{
	struct stat sb;
	CU_ASSERT_FATAL(stat(path, &sb) == 0);
	return (uint64_t)sb.st_size;
}

static uint8_t *slurp_journal(uint64_t *size)
{
	*size = file_size(jpath);
	uint8_t *buf = malloc(*size);
	int fd = open(jpath, O_RDONLY);
	CU_ASSERT_FATAL(buf && fd >= 0);
	CU_ASSERT_FATAL(pread(fd, buf, *size, 0) == (ssize_t)*size);
	close(fd);
	return buf;
}

static void put_journal(const uint8_t *buf, uint64_t size)
{
	int fd = open(jpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pwrite(fd, buf, size, 0) == (ssize_t)size);
	close(fd);
}

static int open_journal(struct journal *j, int *fd)
{
	char why[256];
	*fd = open(image, O_RDWR);
	CU_ASSERT_FATAL(*fd >= 0);
	int ret = journal_open(j, image, *fd, why, sizeof(why));
	if (ret)
		printf("\n    journal_open: %s", why);
	return ret;
}

static void close_journal(struct journal *j, int fd)
{
	journal_close(j);
	close(fd);
}

static struct journal_status inspect(void)
{
	char why[256];
	struct journal_status st;
	int ret = journal_inspect(image, &st, why, sizeof(why));
	CU_ASSERT_EQUAL(ret, 0);
	if (ret)
		printf("\n    journal_inspect: %s", why);
	return st;
}

static void test_commit_applies(void)
{
	char why[256];
	struct journal j;
	int fd;
	write_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	CU_ASSERT_EQUAL(j.epoch, 0);
	CU_ASSERT_EQUAL(j.generation, 1);
	CU_ASSERT_EQUAL(j.end, BLOCK);
	CU_ASSERT_EQUAL(file_size(jpath), BLOCK);
	j.checkpoint_bytes = UINT64_MAX;

	/* Each commit: one append, one fdatasync, the image current. */
	uint64_t end = BLOCK, image_bytes = 0;
	for (int e = 1; e <= 3; e++) {
		CU_ASSERT_EQUAL_FATAL(commit(&j, e), 0);
		end += tx_bytes(e);
		image_bytes += nr_blocks[e] * BLOCK;
		CU_ASSERT(image_is(e));
		CU_ASSERT_EQUAL(j.epoch, (uint64_t)e);
		CU_ASSERT_EQUAL(j.seq, (uint64_t)e);
		CU_ASSERT_EQUAL(j.end, end);
		CU_ASSERT_EQUAL(file_size(jpath), end);
		CU_ASSERT_EQUAL(j.stats.commits, (uint64_t)e);
		CU_ASSERT_EQUAL(j.stats.syncs, (uint64_t)e);
		CU_ASSERT_EQUAL(j.stats.journal_bytes, end - BLOCK);
		CU_ASSERT_EQUAL(j.stats.image_bytes, image_bytes);
	}

	/* Refused before any I/O. */
	const void *pg[2] = {snap[4], snap[4] + BLOCK}, *nullpg[1] = {NULL};
	struct journal_extent past[] = {{IMAGE_BLOCKS - 1, 2, pg}};
	struct journal_extent unsorted[] = {{5, 1, pg}, {2, 1, pg}};
	struct journal_extent overlap[] = {{2, 2, pg}, {3, 1, pg}};
	struct journal_extent empty[] = {{2, 0, pg}};
	struct journal_extent null[] = {{2, 1, nullpg}};
	CU_ASSERT_EQUAL(journal_commit(&j, 3, ext[4], nr_ext[4], why, sizeof(why)), -EINVAL);
	CU_ASSERT(strstr(why, "not after") != NULL);
	CU_ASSERT_EQUAL(journal_commit(&j, 4, past, 1, why, sizeof(why)), -EINVAL);
	CU_ASSERT(strstr(why, "outside the image") != NULL);
	CU_ASSERT_EQUAL(journal_commit(&j, 4, unsorted, 2, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(journal_commit(&j, 4, overlap, 2, why, sizeof(why)), -EINVAL);
	CU_ASSERT(strstr(why, "overlaps") != NULL);
	CU_ASSERT_EQUAL(journal_commit(&j, 4, empty, 1, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(journal_commit(&j, 4, null, 1, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(j.end, end);
	CU_ASSERT_EQUAL(j.epoch, 3);
	CU_ASSERT_EQUAL(j.stats.syncs, 3);
	CU_ASSERT(image_is(3));

	/* Checkpoint: image synced, new generation, journal cut to its header;
	 * a second one has nothing to do. */
	CU_ASSERT_EQUAL(journal_checkpoint(&j, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(j.seq, 0);
	CU_ASSERT_EQUAL(j.end, BLOCK);
	CU_ASSERT_EQUAL(j.base_epoch, 3);
	CU_ASSERT_EQUAL(j.generation, 2);
	CU_ASSERT_EQUAL(j.stats.checkpoints, 1);
	CU_ASSERT_EQUAL(j.stats.syncs, 5);
	CU_ASSERT_EQUAL(file_size(jpath), BLOCK);
	CU_ASSERT(image_is(3));
	CU_ASSERT_EQUAL(journal_checkpoint(&j, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(j.stats.checkpoints, 1);

	/* An empty transaction records its epoch. */
	CU_ASSERT_EQUAL(journal_commit(&j, 4, NULL, 0, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(j.epoch, 4);
	CU_ASSERT_EQUAL(j.end, 3 * BLOCK);
	/* Another process cannot touch it meanwhile. */
	CU_ASSERT_EQUAL(journal_inspect(image, &(struct journal_status){0}, why, sizeof(why)),
			-EBUSY);
	CU_ASSERT(strstr(why, "in use") != NULL);
	close_journal(&j, fd);
	struct journal_status st = inspect();
	CU_ASSERT_EQUAL(st.state, JOURNAL_COMMITTED);
	CU_ASSERT_EQUAL(st.epoch, 4);
	CU_ASSERT_EQUAL(st.base_epoch, 3);
	CU_ASSERT_EQUAL(st.transactions, 1);
	CU_ASSERT_EQUAL(st.extents, 0);
	CU_ASSERT_EQUAL(st.blocks, 0);
	CU_ASSERT_EQUAL(st.torn_bytes, 0);

	/* Reopening recovers (new generation); a clean journal reopens as is. */
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	CU_ASSERT_EQUAL(j.epoch, 4);
	CU_ASSERT_EQUAL(j.base_epoch, 4);
	CU_ASSERT_EQUAL(j.generation, 3);
	close_journal(&j, fd);
	CU_ASSERT_EQUAL(file_size(jpath), BLOCK);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	CU_ASSERT_EQUAL(j.generation, 3);
	close_journal(&j, fd);
	st = inspect();
	CU_ASSERT_EQUAL(st.state, JOURNAL_CLEAN);
	CU_ASSERT_EQUAL(st.epoch, 4);
	CU_ASSERT(image_is(3));
}

static void test_checkpoint_policy(void)
{
	struct journal j;
	int fd;
	/* 0: every commit checkpoints. */
	write_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	j.checkpoint_bytes = 0;
	for (int e = 1; e <= 3; e++) {
		CU_ASSERT_EQUAL_FATAL(commit(&j, e), 0);
		CU_ASSERT_EQUAL(j.stats.checkpoints, (uint64_t)e);
		CU_ASSERT_EQUAL(j.end, BLOCK);
		CU_ASSERT_EQUAL(j.base_epoch, (uint64_t)e);
	}
	CU_ASSERT_EQUAL(j.stats.syncs, 9); /* journal, then image and header, per commit */
	close_journal(&j, fd);
	struct journal_status st = inspect();
	CU_ASSERT_EQUAL(st.state, JOURNAL_CLEAN);
	CU_ASSERT_EQUAL(st.epoch, 3);
	CU_ASSERT(image_is(3));

	/* A limit: the journal may reach it, and checkpoints once past it. */
	write_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	j.checkpoint_bytes = BLOCK + tx_bytes(1) + tx_bytes(2);
	CU_ASSERT_EQUAL_FATAL(commit(&j, 1), 0);
	CU_ASSERT_EQUAL_FATAL(commit(&j, 2), 0);
	CU_ASSERT_EQUAL(j.stats.checkpoints, 0);
	CU_ASSERT_EQUAL(j.end, j.checkpoint_bytes);
	CU_ASSERT_EQUAL_FATAL(commit(&j, 3), 0);
	CU_ASSERT_EQUAL(j.stats.checkpoints, 1);
	CU_ASSERT_EQUAL(j.end, BLOCK);
	CU_ASSERT_EQUAL(file_size(jpath), BLOCK);
	CU_ASSERT_EQUAL(j.base_epoch, 3);
	char why[256];
	CU_ASSERT_EQUAL(journal_commit(&j, 4, NULL, 0, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(j.stats.checkpoints, 1);
	CU_ASSERT_EQUAL(j.end, 3 * BLOCK);
	close_journal(&j, fd);
	CU_ASSERT(image_is(3));
}

/* Several table blocks and more pages than IOV_MAX (1024), scattered. */
static void test_big_transaction(void)
{
	enum { BIG = 4096, EXTENTS = 500 };
	char why[256];
	uint8_t *want = calloc(BIG, BLOCK), *pages = aligned_alloc(BLOCK, (size_t)BIG * BLOCK);
	uint8_t *now = malloc((size_t)BIG * BLOCK);
	const void **pv = calloc(BIG, sizeof(*pv));
	struct journal_extent *x = calloc(EXTENTS, sizeof(*x));
	CU_ASSERT_FATAL(want && pages && now && pv && x);
	uint64_t k = 0;
	for (uint64_t i = 0; i < EXTENTS; i++) {
		x[i] = (struct journal_extent){i * 8, 1 + i % 6, &pv[k]};
		for (uint64_t b = x[i].block; b < x[i].block + x[i].nr_blocks; b++, k++) {
			fill(want, b, 9);
			pv[k] = pages + (BIG - 1 - k) * BLOCK;
			memcpy(pages + (BIG - 1 - k) * BLOCK, want + b * BLOCK, BLOCK);
		}
	}
	CU_ASSERT_FATAL(k > 1024);
	memset(now, 0, (size_t)BIG * BLOCK);
	write_image(now, (uint64_t)BIG * BLOCK);
	struct journal j;
	int fd;
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	j.checkpoint_bytes = UINT64_MAX;
	CU_ASSERT_EQUAL(journal_commit(&j, 1, x, EXTENTS, why, sizeof(why)), 0);
	uint64_t tb = (48 + EXTENTS * 24 + BLOCK - 1) / BLOCK;
	CU_ASSERT_EQUAL(tb, 3);
	CU_ASSERT_EQUAL(j.end, (1 + tb + k + 1) * BLOCK);
	read_image(now, (uint64_t)BIG * BLOCK);
	CU_ASSERT(!memcmp(now, want, (size_t)BIG * BLOCK));
	close_journal(&j, fd);
	/* Replayed from the journal alone. */
	memset(now, 0, (size_t)BIG * BLOCK);
	put_image(now, (uint64_t)BIG * BLOCK);
	struct journal_status st;
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(st.state, JOURNAL_COMMITTED);
	CU_ASSERT_EQUAL(st.transactions, 1);
	CU_ASSERT_EQUAL(st.extents, EXTENTS);
	CU_ASSERT_EQUAL(st.blocks, k);
	read_image(now, (uint64_t)BIG * BLOCK);
	CU_ASSERT(!memcmp(now, want, (size_t)BIG * BLOCK));
	free(want);
	free(pages);
	free(now);
	free(pv);
	free(x);
}

/* The script, in a child that dies before its k-th I/O call (k = 0: never)
 * and writes each epoch whose commit returned 0 to fd. */
static void run_script(uint64_t k, int torn, int fd)
{
	struct journal j;
	char why[256];
	int image_fd = open(image, O_RDWR);
	journal_test_crash_after(k, torn);
	if (image_fd < 0 || journal_open(&j, image, image_fd, why, sizeof(why)))
		_exit(3);
	j.checkpoint_bytes = UINT64_MAX;
	for (int e = 1; e <= NR_EPOCHS; e++) {
		if (e == 5)
			j.checkpoint_bytes = j.end; /* its commit passes it */
		if (journal_commit(&j, (uint64_t)e, ext[e], nr_ext[e], why, sizeof(why)))
			_exit(3);
		if (e == 5 && j.stats.checkpoints != 2)
			_exit(4);
		j.checkpoint_bytes = UINT64_MAX;
		uint8_t b = (uint8_t)e;
		if (write(fd, &b, 1) != 1)
			_exit(3);
		if (e == 3 && journal_checkpoint(&j, why, sizeof(why)))
			_exit(3);
	}
	if (journal_checkpoint(&j, why, sizeof(why)))
		_exit(3);
	_exit(0);
}

/* Fork the script; returns its exit status, *reported the last epoch it
 * reported committed (0 if none). */
static int child_script(uint64_t k, int torn, int *reported)
{
	int p[2];
	CU_ASSERT_FATAL(pipe(p) == 0);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		run_script(k, torn, p[1]);
	}
	close(p[1]);
	uint8_t b;
	*reported = 0;
	while (read(p[0], &b, 1) == 1)
		*reported = b;
	close(p[0]);
	int st;
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

enum kill_mode { WHOLE, TORN, LOST_IMAGE };

/* Kill the script at every I/O call.  Returns the kill points tried. */
static unsigned kill_points(enum kill_mode mode)
{
	static const char *const names[] = {"whole writes", "torn writes",
					    "torn writes, unsynced image lost"};
	unsigned points = 0, reached[NR_EPOCHS + 1] = {0}, found[4] = {0};
	for (uint64_t k = 1;; k++) {
		int reported;
		char why[256];
		write_image(snap[0], IMAGE_BYTES);
		int status = child_script(k, mode != WHOLE, &reported);
		CU_ASSERT_FATAL(status == 137 || status == 0);
		int flying = reported < NR_EPOCHS ? reported + 1 : NR_EPOCHS;
		struct journal_status st = inspect(), after;
		found[st.state]++;
		if (mode == LOST_IMAGE) /* only the checkpoint's image is durable */
			put_image(snap[st.base_epoch], IMAGE_BYTES);
		CU_ASSERT_EQUAL_FATAL(journal_recover(image, &st, why, sizeof(why)), 0);
		after = inspect();
		CU_ASSERT_EQUAL(after.state, JOURNAL_CLEAN);
		CU_ASSERT_EQUAL(after.epoch, st.epoch);
		CU_ASSERT(file_size(jpath) <= BLOCK);
		static uint8_t now[IMAGE_BYTES];
		read_image(now, IMAGE_BYTES);
		int e = (int)after.epoch;
		if (e < reported || e > flying || memcmp(now, snap[e], IMAGE_BYTES)) {
			CU_FAIL("recovered image is not the epoch the journal names, or not one "
				"between the last committed and the one in flight");
			printf("\n    kill point %llu (%s): reported %d, journal says %d, image is "
			       "epoch %d",
			       (unsigned long long)k, names[mode], reported, e, which(now));
		} else {
			reached[e]++;
		}
		points++;
		if (status == 0)
			break; /* k passed the last I/O call: the script completed */
	}
	printf("\n    %s: %u kill points; recovered to epoch", names[mode], points - 1);
	for (int e = 0; e <= NR_EPOCHS; e++)
		printf(" %d: %u%s", e, reached[e], e < NR_EPOCHS ? "," : "");
	printf("\n      (found %u clean, %u committed, %u incomplete)", found[JOURNAL_CLEAN],
	       found[JOURNAL_COMMITTED], found[JOURNAL_INCOMPLETE]);
	for (int e = 0; e <= NR_EPOCHS; e++)
		CU_ASSERT(reached[e] > 0);
	CU_ASSERT(found[JOURNAL_COMMITTED] > 0);
	if (mode != WHOLE)
		CU_ASSERT(found[JOURNAL_INCOMPLETE] > 0);
	return points - 1;
}

static void test_kill_anywhere(void)
{
	unsigned n = kill_points(WHOLE) + kill_points(TORN) + kill_points(LOST_IMAGE);
	CU_ASSERT(n >= 150);
}

/* Seven transactions to replay, the image back at the checkpoint's; kill
 * recovery at each of its I/O calls, whole and torn: recovering again
 * still gives epoch 7. */
static void test_kill_during_recovery(void)
{
	struct journal j;
	int fd;
	write_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	j.checkpoint_bytes = UINT64_MAX;
	for (int e = 1; e <= NR_EPOCHS; e++)
		CU_ASSERT_EQUAL_FATAL(commit(&j, e), 0);
	close_journal(&j, fd);
	uint64_t size;
	uint8_t *saved = slurp_journal(&size);
	unsigned tried = 0;
	for (int torn = 0; torn <= 1; torn++) {
		for (uint64_t m = 1; m < 1000; m++) {
			char why[256];
			struct journal_status st;
			put_image(snap[0], IMAGE_BYTES);
			put_journal(saved, size);
			pid_t pid = fork();
			if (pid == 0) {
				journal_test_crash_after(m, torn);
				_exit(journal_recover(image, NULL, why, sizeof(why)) ? 5 : 0);
			}
			int ws;
			CU_ASSERT_FATAL(waitpid(pid, &ws, 0) == pid);
			CU_ASSERT(WIFEXITED(ws) &&
				  (WEXITSTATUS(ws) == 137 || WEXITSTATUS(ws) == 0));
			CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), 0);
			CU_ASSERT(image_is(NR_EPOCHS));
			st = inspect();
			CU_ASSERT_EQUAL(st.state, JOURNAL_CLEAN);
			CU_ASSERT_EQUAL(st.epoch, NR_EPOCHS);
			if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
				break;
			tried++;
		}
	}
	/* The first, undisturbed recovery saw all seven. */
	char why[256];
	struct journal_status st;
	put_image(snap[0], IMAGE_BYTES);
	put_journal(saved, size);
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(st.state, JOURNAL_COMMITTED);
	CU_ASSERT_EQUAL(st.transactions, NR_EPOCHS);
	CU_ASSERT_EQUAL(st.epoch, NR_EPOCHS);
	CU_ASSERT_EQUAL(st.torn_bytes, 0);
	free(saved);
	printf("\n    %u kill points during recovery (7 transactions, whole and torn)", tried);
	CU_ASSERT(tried >= 40);
}

static void flip(uint64_t off)
{
	int fd = open(jpath, O_RDWR);
	uint8_t byte = 0; /* clang cannot see that CU_ASSERT_FATAL does not return */
	CU_ASSERT_FATAL(fd >= 0 && pread(fd, &byte, 1, (off_t)off) == 1);
	byte ^= 0x40;
	CU_ASSERT_FATAL(pwrite(fd, &byte, 1, (off_t)off) == 1);
	close(fd);
}

static void append_journal(const void *buf, uint64_t len, uint64_t off)
{
	int fd = open(jpath, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0 && pwrite(fd, buf, len, (off_t)off) == (ssize_t)len);
	close(fd);
}

/* Teeth: the oracle tells a mix; a corrupt transaction and everything
 * after it are dropped; a stale generation is never replayed. */
static void test_teeth(void)
{
	static uint8_t mix[IMAGE_BYTES];
	memcpy(mix, snap[2], IMAGE_BYTES);
	uint64_t b = script[3][0].block;
	memcpy(mix + b * BLOCK, snap[3] + b * BLOCK, BLOCK);
	CU_ASSERT_EQUAL(which(mix), -1);
	CU_ASSERT_EQUAL(which(snap[2]), 2);

	/* Transactions 1..3, then one byte of transaction 2 flipped: in its
	 * table head, an extent entry, the table's padding, each data block,
	 * the commit record.  The image back at the checkpoint's (epoch 0)
	 * shows what recovery replays: epoch 1 only. */
	char why[256];
	struct journal j;
	int fd;
	write_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	j.checkpoint_bytes = UINT64_MAX;
	for (int e = 1; e <= 3; e++)
		CU_ASSERT_EQUAL_FATAL(commit(&j, e), 0);
	close_journal(&j, fd);
	uint64_t size, tx2 = BLOCK + tx_bytes(1);
	uint8_t *saved = slurp_journal(&size);
	uint64_t where[16 + IMAGE_BLOCKS], nw = 0;
	where[nw++] = tx2 + 16;	       /* seq */
	where[nw++] = tx2 + 48 + 8;    /* the first extent's nr_blocks */
	where[nw++] = tx2 + 48 + 16;   /* the first extent's checksum */
	where[nw++] = tx2 + BLOCK - 8; /* table padding */
	for (uint64_t d = 0; d < nr_blocks[2]; d++)
		where[nw++] = tx2 + (1 + d) * BLOCK + 8 * d + 5;
	where[nw++] = tx2 + (1 + nr_blocks[2]) * BLOCK + 24; /* commit epoch */
	where[nw++] = tx2 + (1 + nr_blocks[2]) * BLOCK + 40; /* commit data_csum */
	unsigned caught = 0;
	for (uint64_t i = 0; i < nw; i++) {
		put_journal(saved, size);
		put_image(snap[0], IMAGE_BYTES);
		flip(where[i]);
		struct journal_status st = inspect();
		CU_ASSERT_EQUAL(st.state, JOURNAL_COMMITTED);
		CU_ASSERT_EQUAL(st.transactions, 1);
		CU_ASSERT_EQUAL(st.epoch, 1);
		CU_ASSERT_EQUAL(st.torn_bytes, size - tx2);
		CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), 0);
		caught += image_is(1);
		st = inspect();
		CU_ASSERT_EQUAL(st.state, JOURNAL_CLEAN);
		CU_ASSERT_EQUAL(st.epoch, 1);
	}
	CU_ASSERT_EQUAL(caught, nw);
	/* Unflipped, all three replay. */
	put_journal(saved, size);
	put_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL(journal_recover(image, NULL, why, sizeof(why)), 0);
	CU_ASSERT(image_is(3));
	/* Transaction 2 cut out, 3 moved up behind 1: intact, later epoch, but
	 * not the next in the chain, so not replayed. */
	uint64_t tx3 = tx2 + tx_bytes(2);
	put_journal(saved, tx2);
	append_journal(saved + tx3, size - tx3, tx2);
	put_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL(inspect().transactions, 1);
	CU_ASSERT_EQUAL(journal_recover(image, NULL, why, sizeof(why)), 0);
	CU_ASSERT(image_is(1));
	/* Transaction 2 re-labelled epoch 1, checksums recomputed: in the chain
	 * by generation and seq, but not a later epoch, so not replayed. */
	uint64_t *t2 = (uint64_t *)(saved + tx2),
		 *c2 = (uint64_t *)(saved + tx2 + (1 + nr_blocks[2]) * BLOCK);
	t2[3] = c2[3] = 1;
	c2[4] = abi_fs_csum(t2, BLOCK / 8);
	c2[6] = abi_fs_csum(c2, 6);
	put_journal(saved, size);
	put_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL(inspect().transactions, 1);
	CU_ASSERT_EQUAL(journal_recover(image, NULL, why, sizeof(why)), 0);
	CU_ASSERT(image_is(1));
	t2[3] = c2[3] = 2; /* the same, labelled 2 again: all three replay */
	c2[4] = abi_fs_csum(t2, BLOCK / 8);
	c2[6] = abi_fs_csum(c2, 6);
	put_journal(saved, size);
	put_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL(inspect().transactions, 3);
	free(saved);
	printf("\n    %u single-byte corruptions of transaction 2 of 3 discarded it", caught);

	/* A stale transaction: number 2 (epoch 2) of generation 1, valid in its
	 * own chain, placed after transaction 1 (epoch 1) of generation 2.  By
	 * seq, epoch and checksums it continues the chain; only the
	 * generation tells it is dead. */
	write_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	j.checkpoint_bytes = UINT64_MAX;
	CU_ASSERT_EQUAL_FATAL(commit(&j, 1), 0);
	uint64_t stale_off = j.end;
	CU_ASSERT_EQUAL_FATAL(commit(&j, 2), 0);
	close_journal(&j, fd);
	CU_ASSERT_EQUAL(inspect().transactions, 2);
	saved = slurp_journal(&size);
	write_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	close_journal(&j, fd);
	static uint8_t junk[BLOCK];
	memset(junk, 0xaa, sizeof(junk));
	append_journal(junk, BLOCK, BLOCK);
	CU_ASSERT_EQUAL(inspect().state, JOURNAL_INCOMPLETE);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0); /* discards: generation 2 */
	CU_ASSERT_EQUAL(j.generation, 2);
	CU_ASSERT_EQUAL(j.epoch, 0);
	j.checkpoint_bytes = UINT64_MAX;
	CU_ASSERT_EQUAL_FATAL(commit(&j, 1), 0);
	CU_ASSERT_EQUAL(j.end, stale_off);
	close_journal(&j, fd);
	append_journal(saved + stale_off, size - stale_off, stale_off);
	put_image(snap[0], IMAGE_BYTES);
	struct journal_status st = inspect();
	CU_ASSERT_EQUAL(st.state, JOURNAL_COMMITTED);
	CU_ASSERT_EQUAL(st.transactions, 1);
	CU_ASSERT_EQUAL(st.epoch, 1);
	CU_ASSERT_EQUAL(st.torn_bytes, size - stale_off);
	CU_ASSERT_EQUAL(journal_recover(image, NULL, why, sizeof(why)), 0);
	CU_ASSERT(image_is(1));
	CU_ASSERT(!image_is(2));
	free(saved);
}

static void test_foreign_journal(void)
{
	char why[256];
	struct journal_status st;
	write_image(snap[0], IMAGE_BYTES);
	int fd = open(jpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pwrite(fd, "not a journal at all, sorry", 27, 0) == 27);
	close(fd);
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), -EPROTO);
	CU_ASSERT(strstr(why, "not a dirtyscope journal") != NULL);
	CU_ASSERT(image_is(0));
	struct journal j;
	int image_fd = open(image, O_RDWR);
	CU_ASSERT_EQUAL(journal_open(&j, image, image_fd, why, sizeof(why)), -EPROTO);
	close(image_fd);

	/* A journal written for an image of another size. */
	write_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	journal_close(&j);
	CU_ASSERT_EQUAL(ftruncate(fd, (IMAGE_BLOCKS + 1) * BLOCK), 0);
	close(fd);
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), -EPROTO);
	CU_ASSERT(strstr(why, "blocks") != NULL);

	/* Version 1 (the old one-transaction format). */
	write_image(snap[0], IMAGE_BYTES);
	CU_ASSERT_EQUAL_FATAL(open_journal(&j, &fd), 0);
	close_journal(&j, fd);
	uint32_t v1 = 1;
	append_journal(&v1, sizeof(v1), 8);
	CU_ASSERT_EQUAL(journal_inspect(image, &st, why, sizeof(why)), -EPROTO);
	CU_ASSERT(strstr(why, "version 1") != NULL);

	/* A FIFO in the journal's place is refused, not opened and waited on. */
	unlink(jpath);
	CU_ASSERT_FATAL(mkfifo(jpath, 0644) == 0);
	CU_ASSERT_EQUAL(journal_inspect(image, &st, why, sizeof(why)), -ENODEV);
	CU_ASSERT(strstr(why, "not a regular file") != NULL);
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), -ENODEV);
	image_fd = open(image, O_RDWR);
	CU_ASSERT_EQUAL(journal_open(&j, image, image_fd, why, sizeof(why)), -ENODEV);
	close(image_fd);
	unlink(jpath);

	/* No journal at all: nothing to do. */
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(st.state, JOURNAL_NONE);
}

static const struct ds_case cases[] = {
    {"commits apply exactly; a checkpoint leaves the journal clean", test_commit_applies},
    {"checkpoint_bytes: 0 checkpoints every commit, a limit once passed", test_checkpoint_policy},
    {"a transaction of 3 table blocks and 1746 scattered pages", test_big_transaction},
    {"kill at every I/O call (whole, torn, image lost): a committed epoch", test_kill_anywhere},
    {"kill during recovery: recovering again gives the last epoch", test_kill_during_recovery},
    {"teeth: a mix is noticed, corruption and stale generations dropped", test_teeth},
    {"foreign, old, mismatched or non-regular journals are refused", test_foreign_journal},
    {NULL, NULL},
};

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(image, sizeof(image), "%s/img", dir);
	snprintf(jpath, sizeof(jpath), "%s/img.journal", dir);
	make_contents();
	int ret = ds_run_suite("journal", cases);
	unlink(jpath);
	unlink(image);
	rmdir(dir);
	return ret;
}
