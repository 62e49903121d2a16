/*
 * DSFS on the host (fs/dsfs.h) and the shared validator abi_fs_check()
 * (include/abi/fs.h).  The suite covers:
 *
 *   - file specs: every accepted form of NAME:SIZE[:CAPACITY] and every
 *     refusal (names, sizes, capacities, overflow), *out untouched on error;
 *   - layout: files contiguous from block 1 in order, the superblock's
 *     fields, -EINVAL for duplicates, too many files and bad sizes, -ENOSPC
 *     with the bytes needed against the bytes given, an exact fit accepted;
 *   - abi_fs_check(): a flipped byte anywhere in block 0 is caught (by the
 *     checksum, or by the header check that runs before it), and each rule
 *     on its own, the block re-checksummed so only that rule can catch it,
 *     with the exact reason string;
 *   - images on disk: the round trip mkimage -> open -> find -> read, sparse
 *     writing, replacing a regular file (mode kept) or a symlink's target,
 *     refusing a FIFO or a directory, no temporary left after any failure
 *     (layout refused, the file size limit hit mid-write, a missing
 *     directory), the old image intact after a failed replacement;
 *   - dsfs_open() on missing, non-regular, empty, foreign, truncated,
 *     corrupted and appended-to files;
 *   - the hash of everything outside the extents: blind to writes inside
 *     extents and to zeros, sensitive to any nonzero byte elsewhere and to
 *     where it lies.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/dsfs.h"
#include "tests/lib/ds_test.h"

#define K 1024ULL
#define M (1024ULL * 1024)

/* ---- helpers ---- */

/* A spec built directly, as a library caller would. */
static struct dsfs_file_spec spec(const char *name, uint64_t size, uint64_t capacity)
{
	struct dsfs_file_spec s = {0};

	snprintf(s.name, sizeof(s.name), "%s", name);
	s.size = size;
	s.capacity = capacity;
	return s;
}

static char *make_dir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/test_dsfs.XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	return dir;
}

/* Number of entries in dir besides "." and ".."; the first one's name. */
static int count_entries(const char *dir, char *first, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	CU_ASSERT_FATAL(d != NULL);
	if (first)
		first[0] = '\0';
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!n && first) {
			size_t l = strnlen(e->d_name, len - 1);

			memcpy(first, e->d_name, l);
			first[l] = '\0';
		}
		n++;
	}
	closedir(d);
	return n;
}

/* Remove dir, its files and (empty) subdirectories. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	CU_ASSERT_FATAL(d != NULL);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    unlinkat(dirfd(d), e->d_name, 0))
			unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	closedir(d);
	CU_ASSERT_EQUAL(rmdir(dir), 0);
}

static void join(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void pwrite_byte(const char *path, uint64_t off, uint8_t v)
{
	int fd = open(path, O_WRONLY);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pwrite(fd, &v, 1, (off_t)off) == 1);
	close(fd);
}

/* A metadata block with three files, valid for a 64-block device. */
static void base_meta(struct abi_fs_meta *m)
{
	struct dsfs_file_spec f[3] = {spec("alpha", 5000, 8 * K), spec("beta", 0, 4 * K),
				      spec("gamma", 12 * K, 16 * K)};

	CU_ASSERT_FATAL(dsfs_build_meta(m, 64 * 4096, f, 3, NULL, 0) == 0);
}

/* The reason abi_fs_check() gives for m on a dev_blocks device, or "ok". */
static const char *check_reason(const struct abi_fs_meta *m, uint64_t dev_blocks)
{
	const char *why = NULL;

	if (abi_fs_check(m, dev_blocks, &why) == 0)
		return "ok";
	return why ? why : "(no reason)";
}

#define ASSERT_REASON(m, dev, want)                                                                \
	do {                                                                                       \
		const char *got_ = check_reason((m), (dev));                                       \
		if (strcmp(got_, (want)))                                                          \
			fprintf(stderr, "\n    line %d: reason \"%s\", expected \"%s\"", __LINE__, \
				got_, (want));                                                     \
		CU_ASSERT_STRING_EQUAL(got_, (want));                                              \
	} while (0)

/* ---- file specs ---- */

static void spec_ok(const char *arg, const char *name, uint64_t size, uint64_t cap)
{
	struct dsfs_file_spec s;
	char why[256] = "";
	int ret = dsfs_parse_file_spec(arg, &s, why, sizeof(why));

	if (ret)
		fprintf(stderr, "\n    \"%s\": %d %s", arg, ret, why);
	CU_ASSERT_EQUAL_FATAL(ret, 0);
	CU_ASSERT_STRING_EQUAL(s.name, name);
	CU_ASSERT_EQUAL(s.size, size);
	CU_ASSERT_EQUAL(s.capacity, cap);
}

static void spec_bad(const char *arg, int err, const char *needle)
{
	struct dsfs_file_spec s, before;
	char why[256] = "";

	memset(&s, 0x5a, sizeof(s));
	before = s;
	int ret = dsfs_parse_file_spec(arg, &s, why, sizeof(why));
	if (ret != err || !strstr(why, needle))
		fprintf(stderr, "\n    \"%s\": %d \"%s\", expected %d \"%s\"", arg, ret, why, err,
			needle);
	CU_ASSERT_EQUAL(ret, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, needle));
	CU_ASSERT_PTR_NULL(strchr(why, '\n'));
	CU_ASSERT_EQUAL(memcmp(&s, &before, sizeof(s)), 0);
}

static void test_spec_accepted(void)
{
	spec_ok("a:4096", "a", 4096, 4096);
	spec_ok("data.bin:5000", "data.bin", 5000, 8192);
	spec_ok("empty:0", "empty", 0, 0);
	spec_ok("grow:0:64K", "grow", 0, 64 * K);
	spec_ok("log:1K:1M", "log", 1 * K, 1 * M);
	spec_ok("exact:1M:1M", "exact", 1 * M, 1 * M);
	spec_ok("big:1GiB", "big", 1024 * M, 1024 * M);
	spec_ok("with space-and_punct.~!:1", "with space-and_punct.~!", 1, 4096);
	spec_ok("abcdefghijklmnopqrstuvwxyz01234:1", "abcdefghijklmnopqrstuvwxyz01234", 1, 4096);
}

static void test_spec_refused(void)
{
	spec_bad("nocolon", -EINVAL, "expected NAME:SIZE");
	spec_bad("", -EINVAL, "expected NAME:SIZE");
	spec_bad(":4K", -EINVAL, "file name is empty");
	spec_bad("abcdefghijklmnopqrstuvwxyz012345:4K", -EINVAL, "longer than 31 bytes");
	spec_bad("a/b:4K", -EINVAL, "contains '/'");
	spec_bad("a\tb:4K", -EINVAL, "non-printable byte 0x09");
	spec_bad("caf\xc3\xa9:4K", -EINVAL, "non-printable byte 0xc3");
	spec_bad(".:4K", -EINVAL, "reserved");
	spec_bad("..:4K", -EINVAL, "reserved");
	spec_bad("a:", -EINVAL, "SIZE is empty");
	spec_bad("a:4Q", -EINVAL, "SIZE '4Q' is not a size");
	spec_bad("a:-1", -EINVAL, "SIZE '-1' is not a size");
	spec_bad("a: 4K", -EINVAL, "SIZE ' 4K' is not a size");
	spec_bad("a:4K:", -EINVAL, "CAPACITY is empty");
	spec_bad("a::4K", -EINVAL, "SIZE is empty");
	spec_bad("a:4K:zz", -EINVAL, "CAPACITY 'zz' is not a size");
	spec_bad("a:8K:4K", -EINVAL, "CAPACITY 4096 is smaller than SIZE 8192");
	spec_bad("a:4K:5000", -EINVAL, "CAPACITY 5000 is not a multiple of 4K");
	spec_bad("a:1:4K:4K", -EINVAL, "too many ':'");
	spec_bad("a:99999999999999999999", -ERANGE, "too large");
	spec_bad("a:16777216T", -ERANGE, "too large");
	/* rounding UINT64_MAX up to 4 KiB would overflow */
	spec_bad("a:18446744073709551615", -ERANGE, "SIZE 18446744073709551615 is too large");
}

static void test_check_name(void)
{
	char why[128];
	char unterminated[ABI_FS_NAME_MAX + 1];

	CU_ASSERT_EQUAL(dsfs_check_name("ok", why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(dsfs_check_name("...", why, sizeof(why)), 0);
	/* a name filling the field without a NUL is measured, not overrun */
	memset(unterminated, 'x', sizeof(unterminated));
	CU_ASSERT_EQUAL(dsfs_check_name(unterminated, why, sizeof(why)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "longer than 31 bytes"));
	/* why may be NULL */
	CU_ASSERT_EQUAL(dsfs_check_name("", NULL, 0), -EINVAL);
}

/* ---- layout ---- */

static void test_layout(void)
{
	struct abi_fs_meta m;

	base_meta(&m);
	CU_ASSERT_EQUAL(m.sb.magic, ABI_FS_MAGIC);
	CU_ASSERT_EQUAL(m.sb.version, ABI_FS_VERSION);
	CU_ASSERT_EQUAL(m.sb.block_size, ABI_FS_BLOCK);
	CU_ASSERT_EQUAL(m.sb.nr_blocks, 64);
	CU_ASSERT_EQUAL(m.sb.nr_inodes, ABI_FS_MAX_INODES);
	CU_ASSERT_EQUAL(m.sb.generation, 1);
	CU_ASSERT_EQUAL(m.sb.csum, abi_fs_meta_csum(&m));
	/* contiguous from block 1, in the order given */
	CU_ASSERT_STRING_EQUAL(m.inodes[0].name, "alpha");
	CU_ASSERT_EQUAL(m.inodes[0].start_block, 1);
	CU_ASSERT_EQUAL(m.inodes[0].nr_blocks, 2);
	CU_ASSERT_EQUAL(m.inodes[0].size, 5000);
	CU_ASSERT_STRING_EQUAL(m.inodes[1].name, "beta");
	CU_ASSERT_EQUAL(m.inodes[1].start_block, 3);
	CU_ASSERT_EQUAL(m.inodes[1].nr_blocks, 1);
	CU_ASSERT_EQUAL(m.inodes[1].size, 0);
	CU_ASSERT_STRING_EQUAL(m.inodes[2].name, "gamma");
	CU_ASSERT_EQUAL(m.inodes[2].start_block, 4);
	CU_ASSERT_EQUAL(m.inodes[2].nr_blocks, 4);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(m.inodes[i].flags, ABI_FS_INODE_USED);
	/* unused inodes all zero */
	static const struct abi_fs_inode zero;
	for (int i = 3; i < ABI_FS_MAX_INODES; i++)
		CU_ASSERT_EQUAL(memcmp(&m.inodes[i], &zero, sizeof(zero)), 0);
	ASSERT_REASON(&m, 64, "ok");

	/* no files: a one-block image is valid */
	CU_ASSERT_EQUAL(dsfs_build_meta(&m, 4096, NULL, 0, NULL, 0), 0);
	ASSERT_REASON(&m, 1, "ok");

	/* 63 files, zero-length extents allowed (even at the very end) */
	struct dsfs_file_spec many[ABI_FS_MAX_INODES];
	for (int i = 0; i < ABI_FS_MAX_INODES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		many[i] = spec(name, 0, i % 2 ? 4096 : 0);
	}
	CU_ASSERT_EQUAL(dsfs_build_meta(&m, 32 * 4096, many, ABI_FS_MAX_INODES, NULL, 0), 0);
	ASSERT_REASON(&m, 32, "ok");
	CU_ASSERT_EQUAL(m.inodes[62].start_block, 32);
	CU_ASSERT_EQUAL(m.inodes[62].nr_blocks, 0);
}

static void build_bad(uint64_t size, const struct dsfs_file_spec *f, int n, int err,
		      const char *needle)
{
	struct abi_fs_meta m;
	char why[256] = "";
	int ret = dsfs_build_meta(&m, size, f, n, why, sizeof(why));

	if (ret != err || !strstr(why, needle))
		fprintf(stderr, "\n    %d \"%s\", expected %d \"%s\"", ret, why, err, needle);
	CU_ASSERT_EQUAL(ret, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, needle));
}

static void test_layout_refused(void)
{
	struct dsfs_file_spec f[ABI_FS_MAX_INODES + 1];
	struct abi_fs_meta m;

	for (int i = 0; i <= ABI_FS_MAX_INODES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		f[i] = spec(name, 1, 4096);
	}
	build_bad(0, NULL, 0, -EINVAL, "image size 0 is not a positive multiple of 4K");
	build_bad(5000, NULL, 0, -EINVAL, "image size 5000 is not a positive multiple");
	build_bad((1ULL << 40) * 4096 + 4096, NULL, 0, -EINVAL, "limit of 2^40 blocks");
	build_bad(1 * M, f, ABI_FS_MAX_INODES + 1, -EINVAL, "64 files: an image holds at most 63");
	build_bad(1 * M, f, -1, -EINVAL, "at most 63");

	struct dsfs_file_spec dup[3] = {spec("a", 1, 4096), spec("b", 1, 4096), spec("a", 1, 4096)};
	build_bad(1 * M, dup, 3, -EINVAL, "two files named 'a'");

	struct dsfs_file_spec badcap[1] = {spec("a", 5000, 4096)};
	build_bad(1 * M, badcap, 1, -EINVAL, "capacity 4096 is not a multiple of 4096 at least");
	badcap[0] = spec("a", 0, 100);
	build_bad(1 * M, badcap, 1, -EINVAL, "capacity 100");
	badcap[0] = spec("a/b", 0, 0);
	build_bad(1 * M, badcap, 1, -EINVAL, "contains '/'");

	/* 1 metadata block + 2 + 1 blocks: 16384 bytes fit exactly, 12288 do not */
	struct dsfs_file_spec fit[2] = {spec("x", 8 * K, 8 * K), spec("y", 1, 4 * K)};
	CU_ASSERT_EQUAL(dsfs_build_meta(&m, 16 * K, fit, 2, NULL, 0), 0);
	ASSERT_REASON(&m, 4, "ok");
	build_bad(12 * K, fit, 2, -ENOSPC,
		  "the files need 16384 bytes (4096 of metadata and 12288 of extents) but the "
		  "image is 12288 bytes");
	/* sizes so large their sum would overflow a naive byte count */
	struct dsfs_file_spec huge[2] = {spec("h1", 0, (1ULL << 40) * 4096),
					 spec("h2", 0, (1ULL << 40) * 4096)};
	build_bad(1 * M, huge, 2, -ENOSPC, "the files need");
}

/* ---- abi_fs_check ---- */

/* Which header rule a flipped byte at `off` trips before the checksum. */
static const char *flip_reason(unsigned int off)
{
	if (off < 8)
		return "not a dirtyscope image (bad magic)";
	if (off < 12)
		return "unsupported image version";
	if (off < 16 || (off >= 24 && off < 28))
		return "bad block size or inode count";
	return "metadata checksum mismatch (corrupt image)";
}

static void test_check_flipped_byte(void)
{
	struct abi_fs_meta base, m;
	unsigned int wrong = 0;

	base_meta(&base);
	for (unsigned int off = 0; off < sizeof(m); off++) {
		for (unsigned int bit = 0; bit < 8; bit += 7) {
			const char *got;

			m = base;
			((uint8_t *)&m)[off] ^= (uint8_t)(1u << bit);
			got = check_reason(&m, 64);
			if (strcmp(got, flip_reason(off)) && wrong++ < 5)
				fprintf(stderr, "\n    byte %u bit %u: \"%s\", expected \"%s\"",
					off, bit, got, flip_reason(off));
		}
	}
	CU_ASSERT_EQUAL(wrong, 0);
}

/* Apply one corruption, re-seal, and expect exactly `want`. */
#define CORRUPT(stmt, want)                                                                        \
	do {                                                                                       \
		struct abi_fs_meta m;                                                              \
		base_meta(&m);                                                                     \
		stmt;                                                                              \
		dsfs_meta_seal(&m);                                                                \
		ASSERT_REASON(&m, 64, want);                                                       \
	} while (0)

static void test_check_rules(void)
{
	struct abi_fs_meta ok;

	base_meta(&ok);
	ASSERT_REASON(&ok, 64, "ok");
	ASSERT_REASON(&ok, 1000, "ok"); /* a longer device is fine */

	CORRUPT(m.sb.magic ^= 1, "not a dirtyscope image (bad magic)");
	CORRUPT(m.sb.version = 2, "unsupported image version");
	CORRUPT(m.sb.version = 0, "unsupported image version");
	CORRUPT(m.sb.block_size = 512, "bad block size or inode count");
	CORRUPT(m.sb.nr_inodes = 64, "bad block size or inode count");
	CORRUPT(m.sb.nr_blocks = 0, "bad block count");
	CORRUPT(m.sb.nr_blocks = (1ULL << 40) + 1, "bad block count");
	/* truncated: the superblock claims more blocks than the device has */
	CORRUPT(m.sb.nr_blocks = 65, "image is shorter than its superblock says (truncated)");
	{
		struct abi_fs_meta m;
		base_meta(&m);
		ASSERT_REASON(&m, 63, "image is shorter than its superblock says (truncated)");
	}
	/* a checksum that is simply wrong */
	{
		struct abi_fs_meta m;
		base_meta(&m);
		m.sb.csum ^= 1;
		ASSERT_REASON(&m, 64, "metadata checksum mismatch (corrupt image)");
	}

	CORRUPT(m.inodes[1].start_block = 2, "file extents overlap");
	CORRUPT(m.inodes[2].start_block = 1, "file extents overlap");
	CORRUPT((m.inodes[0].start_block = 4, m.inodes[0].nr_blocks = 10), "file extents overlap");
	CORRUPT(m.inodes[2].start_block = 61, "file extent outside the image");
	CORRUPT(m.inodes[2].nr_blocks = 61, "file extent outside the image");
	CORRUPT(m.inodes[2].nr_blocks = UINT64_MAX, "file extent outside the image");
	CORRUPT(m.inodes[0].start_block = 0, "file extent outside the image");
	CORRUPT(m.inodes[0].size = 2 * 4096 + 1, "file size exceeds its extent");
	CORRUPT(m.inodes[1].size = UINT64_MAX, "file size exceeds its extent");
	CORRUPT(memcpy(m.inodes[2].name, "alpha", 6), "two files have the same name");
	CORRUPT(memset(m.inodes[1].name, 'x', sizeof(m.inodes[1].name)),
		"inode name empty or not terminated");
	CORRUPT(memset(m.inodes[1].name, 0, sizeof(m.inodes[1].name)),
		"inode name empty or not terminated");
	CORRUPT(m.inodes[62].size = 1, "unused inode is not zeroed");
	CORRUPT(m.inodes[3].name[5] = 'z', "unused inode is not zeroed");
	CORRUPT(m.inodes[10].reserved = 1, "unused inode is not zeroed");
	CORRUPT(m.inodes[0].flags = ABI_FS_INODE_USED | 2, "inode has unknown flags");
	CORRUPT(m.inodes[0].reserved = 7, "inode has unknown flags");
}

/* ---- images on disk ---- */

static void test_round_trip(void)
{
	char *dir = make_dir(), path[128], first[64], why[256] = "";
	struct dsfs_file_spec f[3];
	struct dsfs_image img;
	uint8_t *buf;
	uint64_t len;
	struct stat st;

	join(path, sizeof(path), dir, "disk.img");
	CU_ASSERT_EQUAL_FATAL(dsfs_parse_file_spec("a.dat:5000:8K", &f[0], why, sizeof(why)), 0);
	CU_ASSERT_EQUAL_FATAL(dsfs_parse_file_spec("empty:0", &f[1], why, sizeof(why)), 0);
	CU_ASSERT_EQUAL_FATAL(dsfs_parse_file_spec("c:1M:2M", &f[2], why, sizeof(why)), 0);
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(path, 4 * M, f, 3, why, sizeof(why)), 0);

	/* exactly one file, no temporary; sparse: the data was never written */
	CU_ASSERT_EQUAL(count_entries(dir, first, sizeof(first)), 1);
	CU_ASSERT_STRING_EQUAL(first, "disk.img");
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 4 * M);
	CU_ASSERT((uint64_t)st.st_blocks * 512 <= 64 * K);

	CU_ASSERT_EQUAL_FATAL(dsfs_open(path, O_RDONLY, &img, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(img.size, 4 * M);
	CU_ASSERT_EQUAL(img.meta.sb.nr_blocks, 1024);
	CU_ASSERT_EQUAL(dsfs_find(&img, "a.dat"), 0);
	CU_ASSERT_EQUAL(dsfs_find(&img, "empty"), 1);
	CU_ASSERT_EQUAL(dsfs_find(&img, "c"), 2);
	CU_ASSERT_EQUAL(dsfs_find(&img, "missing"), -ENOENT);
	CU_ASSERT_EQUAL(dsfs_find(&img, ""), -ENOENT);
	CU_ASSERT_EQUAL(img.meta.inodes[0].start_block, 1);
	CU_ASSERT_EQUAL(img.meta.inodes[0].nr_blocks, 2);
	CU_ASSERT_EQUAL(img.meta.inodes[1].start_block, 3);
	CU_ASSERT_EQUAL(img.meta.inodes[1].nr_blocks, 0);
	CU_ASSERT_EQUAL(img.meta.inodes[2].start_block, 3);
	CU_ASSERT_EQUAL(img.meta.inodes[2].nr_blocks, 512);
	CU_ASSERT_EQUAL(img.meta.inodes[2].size, 1 * M);

	CU_ASSERT_EQUAL_FATAL(dsfs_read_file(&img, 0, &buf, &len), 0);
	CU_ASSERT_EQUAL(len, 5000);
	bool zero = true;
	for (uint64_t i = 0; i < len; i++)
		zero &= buf[i] == 0;
	CU_ASSERT(zero);
	free(buf);
	CU_ASSERT_EQUAL_FATAL(dsfs_read_extent(&img, 0, &buf, &len), 0);
	CU_ASSERT_EQUAL(len, 8192);
	free(buf);
	CU_ASSERT_EQUAL_FATAL(dsfs_read_file(&img, 1, &buf, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_PTR_NOT_NULL(buf);
	free(buf);
	CU_ASSERT_EQUAL(dsfs_read_file(&img, 3, &buf, &len), -EINVAL);	/* unused */
	CU_ASSERT_EQUAL(dsfs_read_file(&img, -1, &buf, &len), -EINVAL); /* out of range */
	CU_ASSERT_EQUAL(dsfs_read_extent(&img, 63, &buf, &len), -EINVAL);
	dsfs_close(&img);
	dsfs_close(&img); /* twice is harmless */

	/* contents written through a file's extent read back */
	int fd = open(path, O_WRONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pwrite(fd, "hello", 5, 3 * 4096 + 100) == 5);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(dsfs_open(path, O_RDWR, &img, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL_FATAL(dsfs_read_file(&img, 2, &buf, &len), 0);
	CU_ASSERT_EQUAL(memcmp(buf + 100, "hello", 5), 0);
	free(buf);
	dsfs_close(&img);

	CU_ASSERT_EQUAL(dsfs_open(path, O_WRONLY, &img, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(img.fd, -1);
	unlink(path);
	remove_dir(dir);
}

static void test_replace_regular_and_symlink(void)
{
	char *dir = make_dir(), path[128], link[128], why[256] = "";
	struct dsfs_file_spec f = spec("x", 1, 4096);
	struct dsfs_image img;
	struct stat st;
	int fd;

	/* a junk regular file is replaced, its mode kept */
	join(path, sizeof(path), dir, "img");
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, "junk", 4) == 4);
	CU_ASSERT_EQUAL(fchmod(fd, 0640), 0);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(path, 64 * K, &f, 1, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
	CU_ASSERT_EQUAL_FATAL(dsfs_open(path, O_RDONLY, &img, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(img.size, 64 * K);
	dsfs_close(&img);

	/* through a symlink: the target is replaced, the link stays a link */
	join(link, sizeof(link), dir, "link");
	CU_ASSERT_EQUAL_FATAL(symlink("img", link), 0);
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(link, 128 * K, &f, 1, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL_FATAL(lstat(link, &st), 0);
	CU_ASSERT(S_ISLNK(st.st_mode));
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 128 * K);
	CU_ASSERT_EQUAL(count_entries(dir, NULL, 0), 2);

	/* a dangling symlink is refused */
	unlink(path);
	CU_ASSERT_EQUAL(dsfs_mkimage(link, 64 * K, &f, 1, why, sizeof(why)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "cannot follow symbolic link"));
	CU_ASSERT_EQUAL(count_entries(dir, NULL, 0), 1);
	unlink(link);
	remove_dir(dir);
}

static void test_refuse_non_regular(void)
{
	char *dir = make_dir(), fifo[128], sub[128], why[256] = "";
	struct dsfs_file_spec f = spec("x", 1, 4096);
	struct dsfs_image img;
	struct stat st;

	/* A FIFO of our own stands for /dev/null: never replace a special file. */
	join(fifo, sizeof(fifo), dir, "fifo");
	CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
	CU_ASSERT_EQUAL(dsfs_mkimage(fifo, 64 * K, &f, 1, why, sizeof(why)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(why, "is not a regular file (a device, FIFO or socket); refusing to "
				    "replace it");
	CU_ASSERT_EQUAL_FATAL(lstat(fifo, &st), 0);
	CU_ASSERT(S_ISFIFO(st.st_mode));
	/* opening it as an image neither hangs nor succeeds */
	CU_ASSERT_EQUAL(dsfs_open(fifo, O_RDONLY, &img, why, sizeof(why)), -ENODEV);
	CU_ASSERT_STRING_EQUAL(why, "not a regular file");

	join(sub, sizeof(sub), dir, "sub");
	CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0700), 0);
	CU_ASSERT_EQUAL(dsfs_mkimage(sub, 64 * K, &f, 1, why, sizeof(why)), -EINVAL);
	CU_ASSERT_STRING_EQUAL(why, "is a directory; refusing to replace it");
	CU_ASSERT_EQUAL(dsfs_open(sub, O_RDONLY, &img, why, sizeof(why)), -EISDIR);
	CU_ASSERT_EQUAL(count_entries(sub, NULL, 0), 0);

	/* nothing besides the FIFO and the directory appeared */
	CU_ASSERT_EQUAL(count_entries(dir, NULL, 0), 2);
	remove_dir(dir);
}

static void test_failures_leave_nothing(void)
{
	char *dir = make_dir(), path[128], missing[160], why[256] = "", first[64];
	struct dsfs_file_spec f[2] = {spec("x", 8 * K, 8 * K), spec("y", 1, 4 * K)};
	struct dsfs_image img;
	int status;
	pid_t pid;

	join(path, sizeof(path), dir, "img");
	/* the layout is refused before any file is created */
	CU_ASSERT_EQUAL(dsfs_mkimage(path, 12 * K, f, 2, why, sizeof(why)), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "need 16384 bytes"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "12288 bytes"));
	CU_ASSERT_EQUAL(count_entries(dir, NULL, 0), 0);

	/* a failed replacement leaves the old image as it was */
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(path, 16 * K, f, 2, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(dsfs_mkimage(path, 12 * K, f, 2, why, sizeof(why)), -ENOSPC);
	CU_ASSERT_EQUAL_FATAL(dsfs_open(path, O_RDONLY, &img, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(img.size, 16 * K);
	dsfs_close(&img);

	/* The file size limit makes ftruncate fail after the temporary exists:
	 * it must be removed, and the old image kept.  In a child, so the
	 * limit does not outlive the test. */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {64 * K, 64 * K};

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl))
			_exit(2);
		int ret = dsfs_mkimage(path, 1 * M, f, 2, why, sizeof(why));
		_exit(ret == -EFBIG && strstr(why, "cannot extend") ? 0 : 1);
	}
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(count_entries(dir, first, sizeof(first)), 1);
	CU_ASSERT_STRING_EQUAL(first, "img");
	CU_ASSERT_EQUAL_FATAL(dsfs_open(path, O_RDONLY, &img, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(img.size, 16 * K);
	dsfs_close(&img);

	/* a directory that does not exist */
	snprintf(missing, sizeof(missing), "%s/nope/img", dir);
	CU_ASSERT_EQUAL(dsfs_mkimage(missing, 16 * K, f, 2, why, sizeof(why)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "cannot create"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "No such file or directory"));

	unlink(path);
	remove_dir(dir);
}

static void open_bad(const char *path, int err, const char *want)
{
	struct dsfs_image img;
	char why[256] = "";
	int ret = dsfs_open(path, O_RDONLY, &img, why, sizeof(why));

	if (ret != err || strcmp(why, want))
		fprintf(stderr, "\n    %s: %d \"%s\", expected %d \"%s\"", path, ret, why, err,
			want);
	CU_ASSERT_EQUAL(ret, err);
	CU_ASSERT_STRING_EQUAL(why, want);
	CU_ASSERT_EQUAL(img.fd, -1);
}

static void test_open_refused(void)
{
	char *dir = make_dir(), path[128], other[128];
	struct dsfs_file_spec f[2] = {spec("x", 8 * K, 32 * K), spec("y", 0, 0)};
	char junk[8192];
	int fd;

	join(path, sizeof(path), dir, "img");
	open_bad(path, -ENOENT, "cannot open: No such file or directory");

	/* empty, short and foreign files */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	open_bad(path, -EINVAL,
		 "not a dirtyscope image (0 bytes, shorter than the 4096-byte metadata block)");
	memset(junk, 'j', sizeof(junk));
	fd = open(path, O_WRONLY | O_TRUNC);
	CU_ASSERT_FATAL(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	close(fd);
	open_bad(path, -EINVAL, "not a dirtyscope image (bad magic)");

	/* truncated: cut at a block boundary, then mid-block */
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(path, 64 * K, f, 2, NULL, 0), 0);
	CU_ASSERT_EQUAL(truncate(path, 32 * K), 0);
	open_bad(path, -EINVAL, "image is shorter than its superblock says (truncated)");
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(path, 64 * K, f, 2, NULL, 0), 0);
	CU_ASSERT_EQUAL(truncate(path, 64 * K - 100), 0);
	open_bad(path, -EINVAL, "image is shorter than its superblock says (truncated)");
	CU_ASSERT_EQUAL(truncate(path, 4000), 0);
	open_bad(path, -EINVAL,
		 "not a dirtyscope image (4000 bytes, shorter than the 4096-byte metadata block)");

	/* appended to: longer by a partial block */
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(path, 64 * K, f, 2, NULL, 0), 0);
	CU_ASSERT_EQUAL(truncate(path, 64 * K + 100), 0);
	open_bad(path, -EINVAL,
		 "image size 65636 is not a multiple of 4096 (truncated or appended to)");

	/* one byte of the metadata block changed on disk */
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(path, 64 * K, f, 2, NULL, 0), 0);
	pwrite_byte(path, 64 + 3, 'Q'); /* inside the first inode's name */
	open_bad(path, -EINVAL, "metadata checksum mismatch (corrupt image)");

	/* permission: only meaningful when not root */
	join(other, sizeof(other), dir, "noperm");
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(other, 64 * K, f, 2, NULL, 0), 0);
	if (geteuid() != 0) {
		CU_ASSERT_EQUAL(chmod(other, 0), 0);
		open_bad(other, -EACCES, "cannot open: Permission denied");
	}
	unlink(other);
	unlink(path);
	remove_dir(dir);
}

static uint64_t outside_hash(const char *path)
{
	struct dsfs_image img;
	char why[256] = "";
	uint64_t h = 0;

	CU_ASSERT_EQUAL_FATAL(dsfs_open(path, O_RDONLY, &img, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(dsfs_hash_outside_extents(&img, &h), 0);
	dsfs_close(&img);
	return h;
}

static void test_hash_outside(void)
{
	char *dir = make_dir(), path[128];
	/* blocks: 0 metadata, 1-2 a, 3 b, 4-15 free */
	struct dsfs_file_spec f[2] = {spec("a", 4 * K, 8 * K), spec("b", 100, 4 * K)};
	uint64_t h0, h1, h2;

	join(path, sizeof(path), dir, "img");
	CU_ASSERT_EQUAL_FATAL(dsfs_mkimage(path, 64 * K, f, 2, NULL, 0), 0);
	h0 = outside_hash(path);

	/* inside extents, past a file's size included: invisible */
	pwrite_byte(path, 1 * 4096, 0xff);
	pwrite_byte(path, 2 * 4096 + 4095, 0xff); /* a's spare capacity */
	pwrite_byte(path, 3 * 4096 + 4000, 0xff); /* b, past its 100 bytes */
	CU_ASSERT_EQUAL(outside_hash(path), h0);

	/* explicit zeros in a free block: the same as the hole they replace */
	int fd = open(path, O_WRONLY);
	static const uint8_t zeros[4096];
	CU_ASSERT_FATAL(fd >= 0 && pwrite(fd, zeros, sizeof(zeros), 5 * 4096) == 4096);
	close(fd);
	CU_ASSERT_EQUAL(outside_hash(path), h0);

	/* one byte in a free block: seen, and where it lies matters */
	pwrite_byte(path, 5 * 4096 + 17, 1);
	h1 = outside_hash(path);
	CU_ASSERT_NOT_EQUAL(h1, h0);
	pwrite_byte(path, 5 * 4096 + 17, 0);
	pwrite_byte(path, 6 * 4096 + 17, 1);
	h2 = outside_hash(path);
	CU_ASSERT_NOT_EQUAL(h2, h0);
	CU_ASSERT_NOT_EQUAL(h2, h1);
	/* restoring the zero restores the hash */
	pwrite_byte(path, 6 * 4096 + 17, 0);
	CU_ASSERT_EQUAL(outside_hash(path), h0);

	/* the last byte of the image */
	pwrite_byte(path, 64 * K - 1, 0x80);
	CU_ASSERT_NOT_EQUAL(outside_hash(path), h0);
	pwrite_byte(path, 64 * K - 1, 0);

	/* blocks past the superblock's nr_blocks are outside every extent too */
	CU_ASSERT_EQUAL(truncate(path, 68 * K), 0);
	CU_ASSERT_EQUAL(outside_hash(path), h0);
	pwrite_byte(path, 66 * K, 9);
	CU_ASSERT_NOT_EQUAL(outside_hash(path), h0);

	unlink(path);
	remove_dir(dir);
}

/* The --verify freshness check reads an extent in bounded chunks: a 64 GiB
 * sparse file is zero without reading (or allocating) 64 GiB, and a single
 * byte anywhere in it, its last one included, is seen; a truncated image
 * is an I/O error, not "not zero". */
static void test_extent_zero(void)
{
	char *dir = make_dir(), path[128];
	const uint64_t G = 1024 * M;
	struct dsfs_file_spec f[2] = {spec("small", 4 * K, 8 * K), spec("big", 0, 64 * G)};
	struct dsfs_image img;
	char why[256];

	join(path, sizeof(path), dir, "img");
	int made = dsfs_mkimage(path, 65 * G, f, 2, why, sizeof(why));
	if (made == -EFBIG) { /* a file system that cannot hold the sparse file */
		printf("\n    (the temporary directory's file system refuses 65 GiB files: "
		       "checking a 64 MiB extent instead)");
		f[1] = spec("big", 0, 64 * M);
		made = dsfs_mkimage(path, 65 * M, f, 2, why, sizeof(why));
	}
	CU_ASSERT_EQUAL_FATAL(made, 0);
	CU_ASSERT_EQUAL_FATAL(dsfs_open(path, O_RDONLY, &img, why, sizeof(why)), 0);
	int big = dsfs_find(&img, "big"), small = dsfs_find(&img, "small");
	CU_ASSERT_FATAL(big >= 0 && small >= 0);
	CU_ASSERT_EQUAL(dsfs_extent_zero(&img, big), 1);
	CU_ASSERT_EQUAL(dsfs_extent_zero(&img, small), 1);
	CU_ASSERT_EQUAL(dsfs_extent_zero(&img, 63), -EINVAL);
	CU_ASSERT_EQUAL(dsfs_extent_zero(&img, -1), -EINVAL);

	uint64_t start = img.meta.inodes[big].start_block * 4096;
	uint64_t end = start + img.meta.inodes[big].nr_blocks * 4096;
	pwrite_byte(path, end - 1, 1); /* the extent's last byte */
	CU_ASSERT_EQUAL(dsfs_extent_zero(&img, big), 0);
	CU_ASSERT_EQUAL(dsfs_extent_zero(&img, small), 1);
	pwrite_byte(path, end - 1, 0);
	pwrite_byte(path, start + 12345678 % (end - start), 0x40); /* one in the middle */
	CU_ASSERT_EQUAL(dsfs_extent_zero(&img, big), 0);
	pwrite_byte(path, start + 12345678 % (end - start), 0);
	CU_ASSERT_EQUAL(dsfs_extent_zero(&img, big), 1);

	/* the image ends inside the extent: an I/O error */
	CU_ASSERT_EQUAL(truncate(path, (off_t)(start + 4096)), 0);
	pwrite_byte(path, start + 10, 3);
	CU_ASSERT_EQUAL(dsfs_extent_zero(&img, big), -EIO);
	dsfs_close(&img);
	unlink(path);
	remove_dir(dir);
}

static const struct ds_case cases[] = {
    {"file specs accepted", test_spec_accepted},
    {"file specs refused, one-line reasons", test_spec_refused},
    {"file names", test_check_name},
    {"layout: contiguous from block 1, superblock", test_layout},
    {"layout refused: sizes, duplicates, 64 files, ENOSPC", test_layout_refused},
    {"abi_fs_check: a flipped byte anywhere in block 0", test_check_flipped_byte},
    {"abi_fs_check: each rule alone, exact reasons", test_check_rules},
    {"mkimage -> open -> find -> read", test_round_trip},
    {"mkimage replaces a regular file or a symlink's target", test_replace_regular_and_symlink},
    {"mkimage refuses a FIFO and a directory", test_refuse_non_regular},
    {"failed mkimage leaves no temporary, old image kept", test_failures_leave_nothing},
    {"dsfs_open refuses bad files with the reason", test_open_refused},
    {"hash of the bytes outside the extents", test_hash_outside},
    {"an extent checked zero in bounded chunks, 64 GiB sparse", test_extent_zero},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("dsfs", cases);
}
