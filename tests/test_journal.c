/*
 * logger/journal.c: the host writeback journal, without KVM.
 *
 *   - commits apply exactly and leave the journal CLEAN at the epoch
 *   - fault injection: a child process commits epoch 1 (content A), then
 *     epoch 2 (content B) and dies, as kill -9 would, just before its k-th
 *     journal I/O call, for every k across the whole commit (journal writes,
 *     the header, the journal's fdatasync, the image writes, the image's
 *     fdatasync, the clean header, the truncate, the last fdatasync), once
 *     with whole writes and once with the dying write torn in half.  After
 *     each death journal_recover must leave the image byte for byte equal to
 *     A or to B, never a mix, with the journal naming that epoch; and death
 *     during recovery itself must not change that
 *   - teeth: the image comparison notices a mixed image, and a corrupted
 *     journal transaction is discarded, not replayed
 *   - a journal that is not ours, or written for another image size, is
 *     refused
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logger/journal.h"
#include "tests/ds_test.h"

#define IMAGE_BLOCKS 64
#define NR_EXTENTS   12

static char dir[] = "/tmp/dirtyscope-journal-XXXXXX";
static char image[sizeof(dir) + 16], jpath[sizeof(dir) + 32];
static uint8_t base[IMAGE_BLOCKS * JOURNAL_BLOCK], a[sizeof(base)], b[sizeof(base)];
static struct journal_extent ext_a[NR_EXTENTS], ext_b[NR_EXTENTS];

/* Content: every block a distinct pattern of (epoch, block). */
static void fill(uint8_t *img, uint64_t block, uint64_t tag)
{
	uint64_t *w = (uint64_t *)(img + block * JOURNAL_BLOCK);
	for (unsigned i = 0; i < JOURNAL_BLOCK / 8; i++)
		w[i] = tag * 0x100000001b3ULL ^ block << 20 ^ i;
}

/* A: extents of 1..3 blocks spread over the image; B: other extents, some
 * overlapping A's, so a mix of A and B is tellable from both. */
static void make_contents(void)
{
	for (uint64_t k = 0; k < IMAGE_BLOCKS; k++)
		fill(base, k, 0);
	memcpy(a, base, sizeof(a));
	uint64_t blk = 1;
	for (int i = 0; i < NR_EXTENTS; i++) {
		uint64_t n = 1 + i % 3;
		for (uint64_t k = blk; k < blk + n; k++)
			fill(a, k, 1);
		ext_a[i] = (struct journal_extent){blk, n, a + blk * JOURNAL_BLOCK};
		blk += n + 2;
	}
	memcpy(b, a, sizeof(b));
	blk = 2;
	for (int i = 0; i < NR_EXTENTS; i++) {
		uint64_t n = 1 + (i + 1) % 3;
		for (uint64_t k = blk; k < blk + n; k++)
			fill(b, k, 2);
		ext_b[i] = (struct journal_extent){blk, n, b + blk * JOURNAL_BLOCK};
		blk += n + 1;
	}
}

static void write_image(const uint8_t *content)
{
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pwrite(fd, content, sizeof(base), 0) == (ssize_t)sizeof(base));
	close(fd);
	unlink(jpath);
}

/* 'A', 'B', 'b' (base) or 0 for anything else: the oracle. */
static int which(const uint8_t *img)
{
	if (!memcmp(img, a, sizeof(base)))
		return 'A';
	if (!memcmp(img, b, sizeof(base)))
		return 'B';
	if (!memcmp(img, base, sizeof(base)))
		return 'b';
	return 0;
}

static int image_is(void)
{
	static uint8_t now[sizeof(base)];
	int fd = open(image, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pread(fd, now, sizeof(now), 0) == (ssize_t)sizeof(now));
	close(fd);
	return which(now);
}

/* In a child: commit A as epoch 1, then B as epoch 2 dying at I/O k. */
static int child_commit(uint64_t k, int torn, int *exit_status)
{
	pid_t pid = fork();
	if (pid == 0) {
		char why[256];
		struct journal j;
		int fd = open(image, O_RDWR);
		if (fd < 0 || journal_open(&j, image, fd, why, sizeof(why)) ||
		    journal_commit(&j, 1, ext_a, NR_EXTENTS, why, sizeof(why)))
			_exit(3);
		journal_test_crash_after(k, torn);
		if (journal_commit(&j, 2, ext_b, NR_EXTENTS, why, sizeof(why)))
			_exit(4);
		_exit(0);
	}
	int st;
	CU_ASSERT_FATAL(pid > 0 && waitpid(pid, &st, 0) == pid);
	*exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return 0;
}

static void test_commit_applies(void)
{
	char why[256];
	struct journal j;
	struct journal_status st;
	write_image(base);
	int fd = open(image, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(journal_open(&j, image, fd, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(j.epoch, 0);
	CU_ASSERT_EQUAL(journal_commit(&j, 1, ext_a, NR_EXTENTS, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(image_is(), 'A');
	CU_ASSERT_EQUAL(journal_commit(&j, 2, ext_b, NR_EXTENTS, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(image_is(), 'B');
	/* An old epoch and an extent past the image are refused. */
	CU_ASSERT_EQUAL(journal_commit(&j, 2, ext_b, NR_EXTENTS, why, sizeof(why)), -EINVAL);
	struct journal_extent past = {IMAGE_BLOCKS - 1, 2, a};
	CU_ASSERT_EQUAL(journal_commit(&j, 3, &past, 1, why, sizeof(why)), -ERANGE);
	journal_close(&j);
	close(fd);
	CU_ASSERT_EQUAL(journal_inspect(image, &st, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(st.state, JOURNAL_CLEAN);
	CU_ASSERT_EQUAL(st.epoch, 2);
	struct stat sb;
	CU_ASSERT_EQUAL(stat(jpath, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, JOURNAL_BLOCK); /* truncated to its header */
}

/*
 * Kill at every I/O call of the second commit, whole and torn.  Returns
 * how many points were tried.
 */
static unsigned kill_points(int torn)
{
	unsigned points = 0, saw_a = 0, saw_b = 0, committed = 0, incomplete = 0;
	for (uint64_t k = 1;; k++) {
		int status;
		write_image(base);
		child_commit(k, torn, &status);
		CU_ASSERT_FATAL(status == 137 || status == 0);
		char why[256];
		struct journal_status st;
		CU_ASSERT_EQUAL_FATAL(journal_inspect(image, &st, why, sizeof(why)), 0);
		committed += st.state == JOURNAL_COMMITTED;
		incomplete += st.state == JOURNAL_INCOMPLETE;
		CU_ASSERT_EQUAL_FATAL(journal_recover(image, &st, why, sizeof(why)), 0);
		int got = image_is();
		CU_ASSERT_EQUAL(journal_inspect(image, &st, why, sizeof(why)), 0);
		CU_ASSERT_EQUAL(st.state, JOURNAL_CLEAN);
		if (got == 'A') {
			saw_a++;
			CU_ASSERT_EQUAL(st.epoch, 1);
		} else if (got == 'B') {
			saw_b++;
			CU_ASSERT_EQUAL(st.epoch, 2);
		} else {
			CU_FAIL("recovered image is neither epoch 1 nor epoch 2");
			printf("\n    kill point %llu%s: image is a mix", (unsigned long long)k,
			       torn ? " (torn)" : "");
		}
		points++;
		if (status == 0)
			break; /* k passed the last I/O call: the commit completed */
	}
	printf("\n    %s: %u kill points: recovered to epoch 1 %u times, epoch 2 %u times "
	       "(%u committed transactions replayed, %u incomplete discarded)",
	       torn ? "torn writes" : "whole writes", points - 1, saw_a, saw_b, committed,
	       incomplete);
	/* A kill can leave a committed transaction, but never an incomplete
	 * one: the header names a transaction only once it is all written
	 * (power loss can; test_teeth covers that). */
	CU_ASSERT(saw_a > 0 && saw_b > 0 && committed > 0);
	CU_ASSERT_EQUAL(incomplete, 0);
	return points - 1;
}

static void test_kill_anywhere(void)
{
	unsigned n = kill_points(0) + kill_points(1);
	CU_ASSERT(n >= 50);
}

/* Death during recovery's replay: recovering again still gives epoch 2. */
static void test_kill_during_recovery(void)
{
	unsigned tried = 0;
	/* Find a kill point that leaves a committed transaction. */
	for (uint64_t k = 1; k < 200; k++) {
		int status;
		char why[256];
		struct journal_status st;
		write_image(base);
		child_commit(k, 0, &status);
		CU_ASSERT_EQUAL_FATAL(journal_inspect(image, &st, why, sizeof(why)), 0);
		if (st.state != JOURNAL_COMMITTED)
			continue;
		for (uint64_t m = 1; m < 40; m++) {
			pid_t pid = fork();
			if (pid == 0) {
				journal_test_crash_after(m, 1);
				_exit(journal_recover(image, NULL, why, sizeof(why)) ? 5 : 0);
			}
			int ws;
			waitpid(pid, &ws, 0);
			tried++;
			CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), 0);
			CU_ASSERT_EQUAL(image_is(), 'B');
			if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
				break;
			/* Back to the committed state for the next point. */
			write_image(base);
			child_commit(k, 0, &status);
		}
		break;
	}
	printf("\n    %u kill points during recovery", tried);
	CU_ASSERT(tried >= 5);
}

/* Teeth: the oracle tells a mix, and a corrupted transaction is dropped. */
static void test_teeth(void)
{
	static uint8_t mix[sizeof(base)];
	memcpy(mix, a, sizeof(mix));
	memcpy(mix + ext_b[0].block * JOURNAL_BLOCK, b + ext_b[0].block * JOURNAL_BLOCK,
	       JOURNAL_BLOCK);
	CU_ASSERT_EQUAL(which(mix), 0);

	/* Die right after the journal's fdatasync (committed), then flip a
	 * data byte in the journal: recovery must discard, keeping A. */
	char why[256];
	struct journal_status st;
	int status;
	uint64_t k;
	for (k = 1; k < 200; k++) {
		write_image(base);
		child_commit(k, 0, &status);
		CU_ASSERT_EQUAL_FATAL(journal_inspect(image, &st, why, sizeof(why)), 0);
		if (st.state == JOURNAL_COMMITTED)
			break;
	}
	CU_ASSERT_FATAL(st.state == JOURNAL_COMMITTED);
	int fd = open(jpath, O_RDWR);
	uint8_t byte;
	CU_ASSERT_FATAL(pread(fd, &byte, 1, 5 * JOURNAL_BLOCK + 100) == 1);
	byte ^= 0x40;
	CU_ASSERT_FATAL(pwrite(fd, &byte, 1, 5 * JOURNAL_BLOCK + 100) == 1);
	close(fd);
	CU_ASSERT_EQUAL(journal_inspect(image, &st, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(st.state, JOURNAL_INCOMPLETE);
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), 0);
	int got = image_is();
	CU_ASSERT(got == 'A' || got == 'b');
	CU_ASSERT_NOT_EQUAL(got, 'B');
}

static void test_foreign_journal(void)
{
	char why[256];
	struct journal_status st;
	write_image(base);
	int fd = open(jpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pwrite(fd, "not a journal at all, sorry", 27, 0) == 27);
	close(fd);
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), -EPROTO);
	CU_ASSERT(strstr(why, "not a dirtyscope journal") != NULL);
	CU_ASSERT_EQUAL(image_is(), 'b');

	/* A journal written for an image of another size. */
	write_image(base);
	struct journal j;
	fd = open(image, O_RDWR);
	CU_ASSERT_EQUAL_FATAL(journal_open(&j, image, fd, why, sizeof(why)), 0);
	journal_close(&j);
	CU_ASSERT_EQUAL(ftruncate(fd, (IMAGE_BLOCKS + 1) * JOURNAL_BLOCK), 0);
	close(fd);
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), -EPROTO);
	CU_ASSERT(strstr(why, "blocks") != NULL);
	/* No journal at all: nothing to do. */
	unlink(jpath);
	CU_ASSERT_EQUAL(journal_recover(image, &st, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(st.state, JOURNAL_NONE);
}

static const struct ds_case cases[] = {
    {"commits apply exactly; the journal ends clean", test_commit_applies},
    {"kill at every I/O call (whole and torn): epoch 1 or 2, never a mix", test_kill_anywhere},
    {"kill during recovery: recovering again gives the committed epoch", test_kill_during_recovery},
    {"teeth: a mixed image is noticed, a corrupt transaction discarded", test_teeth},
    {"foreign or mismatched journals are refused", test_foreign_journal},
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
