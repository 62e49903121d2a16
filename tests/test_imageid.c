/*
 * An image's identity and its host writeback journal across runs
 * (docs/journal.md, "Image identity"), with the real binary:
 *
 *   stale journal   a journal holding a committed epoch of an image that
 *                   mkimage then replaced: mkimage removes it and says so;
 *                   put back beside the new image, `run --image` and
 *                   `recover` refuse it (2), `verify-image` fails (1), and
 *                   the new image stays byte for byte what mkimage wrote.
 *                   Teeth: the same journal beside its own image is
 *                   replayed, so the refusal is the identity's doing.
 *   twice           `run --writeback host` twice on one image, with a
 *                   `recover` between: every run exits 0, the journal's
 *                   transaction count goes on across runs while each run's
 *                   epochs start again at 1, and verify-image passes.
 *   identity        mkimage --check prints the image's identity; two images
 *                   made alike have different ones.
 *   pinned disk     a session told to use the file receive checked refuses
 *                   another file at that path, and runs on the right one.
 *
 * The stale journal is made with the journal library on a real image; the
 * runs boot a guest and need /dev/kvm (without it the suite exits 77).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DS_PROC_TIMEOUT_S 300
#include "tests/lib/ds_proc.h"
#include "tests/lib/ds_test.h"

#include "fs/dsfs.h"
#include "logger/hostwb/journal.h"
#include "logger/session.h"
#include "tests/lib/ds_session.h"

#define CHECK DS_CHECK

static char dir[64]; /* this run's scratch directory */

static void path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* The whole of a file, malloc'd; *len its size (NULL, 0 if it is missing). */
static uint8_t *slurp_file(const char *path, size_t *len)
{
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	uint8_t *b = malloc((size_t)n + 1);
	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_FATAL(fread(b, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void put_file(const char *path, const uint8_t *b, size_t len)
{
	FILE *f = fopen(path, "wb");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(b, 1, len, f) == len);
	CU_ASSERT_FATAL(fclose(f) == 0);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void mkimage(const char *path)
{
	struct ds_proc p;
	ds_expect_ok(&p, ARGS("mkimage", path, "--size", "2M", "--file", "db:1M"));
	ds_proc_free(&p);
}

/* The journal's status, as the library reads it. */
static struct journal_status inspect(const char *image)
{
	struct journal_status st;
	char why[512];
	int ret = journal_inspect(image, &st, why, sizeof(why));
	CHECK(ret == 0, "inspect %s: %s", image, why);
	return st;
}

/*
 * Commit one epoch to image's journal without checkpointing, as a host
 * writeback killed right after a commit leaves it: the db file's first
 * block filled with 0xee.  The image itself is then put back as it was,
 * so only a replay of the journal can bring the 0xee block into it.
 */
static void leave_committed_journal(const char *image)
{
	size_t len;
	uint8_t *before = slurp_file(image, &len);
	CU_ASSERT_FATAL(before != NULL);
	struct dsfs_image img;
	char why[512];
	CU_ASSERT_EQUAL_FATAL(dsfs_open(image, O_RDWR, &img, why, sizeof(why)), 0);
	int ino = dsfs_find(&img, "db");
	CU_ASSERT_FATAL(ino >= 0);
	static uint8_t page[JOURNAL_BLOCK] __attribute__((aligned(8)));
	memset(page, 0xee, sizeof(page));
	const void *pages[1] = {page};
	struct journal_extent e = {img.meta.inodes[ino].start_block, 1, pages};
	struct journal j;
	CU_ASSERT_EQUAL_FATAL(journal_open(&j, image, img.fd, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL_FATAL(journal_commit(&j, 7, &e, 1, why, sizeof(why)), 0);
	journal_close(&j);
	dsfs_close(&img);
	put_file(image, before, len);
	free(before);
	CU_ASSERT_EQUAL(inspect(image).state, JOURNAL_COMMITTED);
}

/* Whether the image's db file starts with the journal's 0xee block. */
static bool holds_ee(const char *image)
{
	struct dsfs_image img;
	char why[512];
	CU_ASSERT_EQUAL_FATAL(dsfs_open(image, O_RDONLY, &img, why, sizeof(why)), 0);
	int ino = dsfs_find(&img, "db");
	uint8_t b[JOURNAL_BLOCK];
	CU_ASSERT_FATAL(pread(img.fd, b, sizeof(b),
			      (off_t)(img.meta.inodes[ino].start_block * JOURNAL_BLOCK)) ==
			(ssize_t)sizeof(b));
	dsfs_close(&img);
	for (size_t i = 0; i < sizeof(b); i++)
		if (b[i] != 0xee)
			return false;
	return true;
}

static void test_stale_journal(void)
{
	char image[160], jpath[180];
	path_in(image, sizeof(image), "z.img");
	snprintf(jpath, sizeof(jpath), "%s.journal", image);
	mkimage(image);
	leave_committed_journal(image);
	size_t jlen;
	uint8_t *stale = slurp_file(jpath, &jlen);
	CU_ASSERT_FATAL(stale != NULL);

	/* mkimage over the image removes its journal, and says so. */
	struct ds_proc p;
	ds_expect_ok(&p, ARGS("mkimage", image, "--size", "2M", "--file", "db:1M"));
	CHECK(strstr(p.err, "removed the replaced image's host writeback journal") != NULL,
	      "%s: stderr: %s", p.cmd, p.err);
	ds_proc_free(&p);
	CHECK(!exists(jpath), "%s survived mkimage", jpath);

	/* Put back (a crash between mkimage's rename and its unlink, or a
	 * copy): every command refuses it, and nothing reaches the image. */
	put_file(jpath, stale, jlen);
	size_t ilen;
	uint8_t *fresh = slurp_file(image, &ilen);
	ds_expect_fail(
	    2, NULL, ARGS("written for another image", "remove z.img.journal"),
	    ARGS("run", "--workload", "db", "--image", image, "--epochs", "2", "--verify"));
	ds_expect_fail(2, NULL, ARGS("written for another image"), ARGS("recover", image));
	ds_expect_fail(1, NULL, ARGS("written for another image"), ARGS("verify-image", image));
	size_t nlen;
	uint8_t *now = slurp_file(image, &nlen);
	CHECK(nlen == ilen && !memcmp(now, fresh, ilen), "%s changed", image);
	CHECK(!holds_ee(image), "the stale epoch reached %s", image);
	size_t klen;
	uint8_t *kept = slurp_file(jpath, &klen);
	CHECK(klen == jlen && !memcmp(kept, stale, jlen), "%s changed", jpath);
	free(kept);
	free(now);

	/* Teeth: beside the image it belongs to, the same kind of journal is
	 * replayed, so what refused it above is the identity. */
	unlink(jpath);
	leave_committed_journal(image);
	CU_ASSERT(!holds_ee(image));
	ds_expect_ok(&p, ARGS("recover", image));
	ds_proc_free(&p);
	CHECK(holds_ee(image), "recover did not replay the image's own journal");
	free(fresh);
	free(stale);
	unlink(jpath);
	unlink(image);
}

static void run_hostwb(const char *image)
{
	struct ds_proc p;
	ds_expect_ok(&p, ARGS("run", "--workload", "db", "--image", image, "--writeback", "host",
			      "--epochs", "5"));
	ds_proc_free(&p);
}

static void test_twice(void)
{
	char image[160], jpath[180];
	path_in(image, sizeof(image), "hw.img");
	snprintf(jpath, sizeof(jpath), "%s.journal", image);
	mkimage(image);
	run_hostwb(image);
	struct journal_status a = inspect(image);
	CHECK(a.state == JOURNAL_CLEAN && a.txn >= 5 && a.epoch >= 5,
	      "after run 1: state %d, transaction %llu, epoch %llu", a.state,
	      (unsigned long long)a.txn, (unsigned long long)a.epoch);
	run_hostwb(image);
	struct journal_status b = inspect(image);
	CHECK(b.state == JOURNAL_CLEAN && b.txn == 2 * a.txn && b.epoch == a.epoch,
	      "after run 2: state %d, transaction %llu (want %llu), epoch %llu (want %llu)",
	      b.state, (unsigned long long)b.txn, (unsigned long long)(2 * a.txn),
	      (unsigned long long)b.epoch, (unsigned long long)a.epoch);
	struct ds_proc p;
	ds_expect_ok(&p, ARGS("recover", image));
	ds_proc_free(&p);
	run_hostwb(image);
	ds_expect_ok(&p, ARGS("verify-image", image));
	char want[64];
	snprintf(want, sizeof(want), "holds transaction %llu\n", (unsigned long long)(3 * a.txn));
	CHECK(strstr(p.out, want) != NULL, "%s: %s (want %s)", p.cmd, p.out, want);
	ds_proc_free(&p);
	unlink(jpath);
	unlink(image);
}

/* The identity line of `mkimage --check`. */
static void identity_of(const char *image, char *out, size_t len)
{
	struct ds_proc p;
	ds_expect_ok(&p, ARGS("mkimage", "--check", image));
	const char *id = strstr(p.out, "identity ");
	CU_ASSERT_FATAL(id != NULL);
	snprintf(out, len, "%.36s", id + 9);
	ds_proc_free(&p);
}

static void test_identity(void)
{
	char a[160], b[160], ida[40], idb[40];
	path_in(a, sizeof(a), "a.img");
	path_in(b, sizeof(b), "b.img");
	mkimage(a);
	mkimage(b);
	identity_of(a, ida, sizeof(ida));
	identity_of(b, idb, sizeof(idb));
	CHECK(strlen(ida) == 36 && ida[8] == '-' && ida[14] == '4', "identity '%s'", ida);
	CHECK(strcmp(ida, idb) != 0, "two images share the identity %s", ida);
	/* A copy is the same image. */
	size_t len;
	uint8_t *bytes = slurp_file(a, &len);
	put_file(b, bytes, len);
	identity_of(b, idb, sizeof(idb));
	CHECK(!strcmp(ida, idb), "a copy has identity %s, not %s", idb, ida);
	free(bytes);
	unlink(a);
	unlink(b);
}

/*
 * receive pins the disk it checked (dev, ino): a file put at that path
 * between its checks and the device's open is refused.  The swap is made
 * by pinning a file other than the one at the path; the same file passes.
 */
static void test_pinned_disk(void)
{
	char image[160], other[160];
	path_in(image, sizeof(image), "pin.img");
	path_in(other, sizeof(other), "pin-other.img");
	CU_ASSERT_EQUAL_FATAL(ds_file_image(image, ABI_WL_DB, 16), 0);
	CU_ASSERT_EQUAL_FATAL(ds_file_image(other, ABI_WL_DB, 16), 0);
	struct stat st_img, st_other;
	CU_ASSERT_FATAL(stat(image, &st_img) == 0 && stat(other, &st_other) == 0);
	for (int swapped = 0; swapped < 2; swapped++) {
		const struct stat *pin = swapped ? &st_other : &st_img;
		struct session_config cfg;
		enum ds_fail fail = DS_FAIL_NONE;
		ds_file_config(&cfg, image, ABI_WL_DB, ABI_POLICY_WP, 16, 2, 4, NULL);
		cfg.image_pinned = true;
		cfg.image_dev = (uint64_t)pin->st_dev;
		cfg.image_ino = (uint64_t)pin->st_ino;
		cfg.fail = &fail;
		struct run_summary sum;
		int ret = session_run(&cfg, &sum);
		if (swapped)
			CHECK(ret != 0 && fail == DS_FAIL_USAGE,
			      "a swapped disk: session_run %d, category %d", ret, fail);
		else
			CHECK(ret == 0 && fail == DS_FAIL_NONE,
			      "the checked disk: session_run %d, category %d", ret, fail);
	}
	unlink(image);
	unlink(other);
}

static const struct ds_case plain_cases[] = {
    {"every image gets its own identity; a copy keeps it", test_identity},
    {NULL, NULL},
};

static const struct ds_case kvm_cases[] = {
    {"a replaced image's journal: removed by mkimage, refused by every command",
     test_stale_journal},
    {"host writeback runs again on one image; transactions count on", test_twice},
    {"a disk swapped after receive checked it is refused", test_pinned_disk},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
	snprintf(dir, sizeof(dir), "/tmp/test_imageid.XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	(void)argc;
	(void)argv;
	int ret = ds_run_partly_kvm("imageid", plain_cases, kvm_cases);
	rmdir(dir);
	return ret;
}
