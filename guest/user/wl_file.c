/* SPDX-License-Identifier: MIT */
/*
 * The file workloads of one file: db (MAP_SHARED stores + msync, by one
 * writer process per CPU), log (write(2) appends + fsync), mixed (pwrite
 * and map stores on one file, checked coherent both ways) and private
 * (MAP_PRIVATE stores that must never reach the file).  Each store is
 * abi_wl_store(seed, tag, writers, n, pages) for n = 0 .. epochs * writes - 1
 * (tag 0 of 1 but for db's writers), so logger/verify/expect.c can replay
 * them.
 */
#include "ulib.h"

/* Open the workload's file read-write and map all of it; 0, or 1 once logged. */
static int open_map(const struct abi_wl_args *a, int oflags, int mflags, int *fd, uint8_t **map)
{
	const char *name = abi_wl_file_name(a->workload);
	long r = sys_open(name, oflags);

	if (r < 0)
		return fail("open", r);
	*fd = (int)r;
	r = sys_mmap(NULL, a->pages * ABI_PAGE_SIZE, ABI_PROT_READ | ABI_PROT_WRITE, mflags, *fd,
		     0);
	if (r < 0)
		return fail("mmap", r);
	*map = (uint8_t *)r;
	return 0;
}

/* Whether store or append n (0-based) is the last of a sync period. */
static int sync_due(const struct abi_wl_args *a, uint64_t n)
{
	return a->sync_every && (n + 1) % a->sync_every == 0;
}

/* Final msync + fsync, then munmap and close: what a careful program does. */
static int finish(int fd, uint8_t *map, uint64_t len)
{
	long r;

	if ((r = sys_msync(map, len, ABI_MS_SYNC)) < 0)
		return fail("final msync", r);
	if ((r = sys_fsync(fd)) < 0)
		return fail("final fsync", r);
	if ((r = sys_munmap(map, len)) < 0)
		return fail("munmap", r);
	if ((r = sys_close(fd)) < 0)
		return fail("close", r);
	return 0;
}

/*
 * One db writer: epochs * writes stores of writer `tag` of `ntags` into the
 * shared mapping, msyncing every sync_every.  Only writer 0 ends epochs, so
 * the host sees one EPOCH per epoch; the others' stores land in whichever
 * epoch is open, as another thread's would.
 */
static int db_stores(const struct abi_wl_args *a, uint8_t *map, uint32_t tag, uint32_t ntags)
{
	uint64_t len = a->pages * ABI_PAGE_SIZE;
	long r;

	for (uint32_t e = 0; e < a->epochs; e++) {
		for (uint64_t i = 0; i < a->writes; i++) {
			uint64_t n = e * a->writes + i;
			struct abi_wl_store s = abi_wl_store(a->seed, tag, ntags, n, a->pages);

			*map_word(map, &s) = s.value;
			if (sync_due(a, n) && (r = sys_msync(map, len, ABI_MS_SYNC)) < 0)
				return fail("msync", r);
		}
		/* Every writer stores `writes` an epoch. */
		if (tag == 0 && (r = sys_epoch(a->writes * ntags)) < 0)
			return fail("epoch", r);
	}
	return 0;
}

/*
 * db: a file mapped shared and stored into, by one writer per CPU (args
 * writers): writer 0 forks the others after the mmap, so all of them
 * store through their copy of the one shared mapping, on whichever CPUs
 * the scheduler gives them, and then waits for them.
 */
int wl_db(const struct abi_wl_args *a)
{
	uint64_t len = a->pages * ABI_PAGE_SIZE;
	uint32_t ntags = a->writers ? a->writers : 1;
	uint8_t *map;
	int fd;
	long r;

	if (open_map(a, ABI_O_RDWR, ABI_MAP_SHARED, &fd, &map))
		return 1;
	for (uint32_t tag = 1; tag < ntags; tag++) {
		long pid = sys_fork();
		if (pid < 0)
			return fail("fork", pid);
		if (pid == 0) {
			if (db_stores(a, map, tag, ntags))
				sys_exit(1);
			if ((r = sys_msync(map, len, ABI_MS_SYNC)) < 0)
				sys_exit(fail("writer's final msync", r));
			sys_exit(0);
		}
	}
	if (db_stores(a, map, 0, ntags))
		return 1;
	for (uint32_t k = 1; k < ntags; k++) {
		int status = -1;
		if ((r = sys_wait(&status)) < 0)
			return fail("wait", r);
		if (want(status, 0, "writer exit status"))
			return 1;
	}
	return finish(fd, map, len);
}

int wl_log(const struct abi_wl_args *a)
{
	/* Static: a 256-byte record buffer has no business on the small stack. */
	static uint64_t rec[ABI_WL_REC_MAX_WORDS];
	long r, fd = sys_open(abi_wl_file_name(a->workload), ABI_O_RDWR | ABI_O_APPEND);

	if (fd < 0)
		return fail("open", fd);
	for (uint32_t e = 0; e < a->epochs; e++) {
		for (uint64_t i = 0; i < a->writes; i++) {
			uint64_t n = e * a->writes + i;
			uint32_t words = abi_wl_record_words(a->seed, n);

			for (uint32_t k = 0; k < words; k++)
				rec[k] = abi_wl_record_word(a->seed, n, k);
			r = sys_write((int)fd, rec, words * 8);
			if (r != (long)words * 8) {
				ulog("append %lu: write returned %ld, expected %u", n, r,
				     words * 8);
				return 1;
			}
			if (sync_due(a, n) && (r = sys_fsync((int)fd)) < 0)
				return fail("fsync", r);
		}
		if ((r = sys_epoch(a->writes)) < 0)
			return fail("epoch", r);
	}
	if ((r = sys_fsync((int)fd)) < 0)
		return fail("final fsync", r);
	if ((r = sys_close((int)fd)) < 0)
		return fail("close", r);
	return 0;
}

/*
 * Even stores go through pwrite and must then show in the mapping; odd ones
 * go through the mapping and must then come back from pread.  One page-cache
 * page serves both paths, as in Linux, so a stale copy on either side is a
 * kernel bug.  Syncs alternate fsync and msync.
 */
int wl_mixed(const struct abi_wl_args *a)
{
	uint64_t len = a->pages * ABI_PAGE_SIZE;
	uint8_t *map;
	int fd;
	long r;

	if (open_map(a, ABI_O_RDWR, ABI_MAP_SHARED, &fd, &map))
		return 1;
	for (uint32_t e = 0; e < a->epochs; e++) {
		for (uint64_t i = 0; i < a->writes; i++) {
			uint64_t n = e * a->writes + i;
			struct abi_wl_store s = abi_wl_store(a->seed, 0, 1, n, a->pages);
			uint64_t off = abi_wl_store_offset(&s), got;

			if (n % 2 == 0) {
				r = sys_pwrite(fd, &s.value, 8, (int64_t)off);
				if (want(r, 8, "pwrite"))
					return 1;
				got = *map_word(map, &s);
			} else {
				*map_word(map, &s) = s.value;
				got = 0;
				r = sys_pread(fd, &got, 8, (int64_t)off);
				if (want(r, 8, "pread"))
					return 1;
			}
			if (got != s.value) {
				ulog("store %lu (%s) page %lu word %u: %s reads 0x%lx, expected "
				     "0x%lx",
				     n, n % 2 ? "map" : "pwrite", s.page, s.word,
				     n % 2 ? "pread" : "map", got, s.value);
				return 1;
			}
			if (sync_due(a, n)) {
				int use_fsync = (n + 1) / a->sync_every % 2;
				r = use_fsync ? sys_fsync(fd) : sys_msync(map, len, ABI_MS_SYNC);
				if (r < 0)
					return fail(use_fsync ? "fsync" : "msync", r);
			}
		}
		if ((r = sys_epoch(a->writes)) < 0)
			return fail("epoch", r);
	}
	return finish(fd, map, len);
}

int init_content_write(int fd, const struct abi_wl_args *a)
{
	uint64_t w[ABI_WL_INIT_WORDS];
	long r;

	for (uint64_t p = 0; p < a->pages; p++) {
		for (uint32_t k = 0; k < ABI_WL_INIT_WORDS; k++)
			w[k] = abi_wl_init_word(a->seed, p, k);
		r = sys_pwrite(fd, w, sizeof(w), (int64_t)(p * ABI_PAGE_SIZE));
		if (r != (long)sizeof(w)) {
			ulog("initial content of page %lu: pwrite returned %ld", p, r);
			return 1;
		}
	}
	if ((r = sys_fsync(fd)) < 0)
		return fail("fsync of the initial content", r);
	return 0;
}

int init_content_check(int fd, const struct abi_wl_args *a)
{
	uint64_t w[ABI_WL_INIT_WORDS];
	long r;

	for (uint64_t p = 0; p < a->pages; p++) {
		r = sys_pread(fd, w, sizeof(w), (int64_t)(p * ABI_PAGE_SIZE));
		if (r != (long)sizeof(w)) {
			ulog("check of page %lu: pread returned %ld", p, r);
			return 1;
		}
		for (uint32_t k = 0; k < ABI_WL_INIT_WORDS; k++) {
			uint64_t x = abi_wl_init_word(a->seed, p, k);
			if (w[k] != x) {
				ulog("file page %lu word %u is 0x%lx, expected the initial 0x%lx",
				     p, k, w[k], x);
				return 1;
			}
		}
	}
	return 0;
}

int wl_private(const struct abi_wl_args *a)
{
	uint64_t len = a->pages * ABI_PAGE_SIZE;
	uint8_t *map;
	int fd;
	long r;

	r = sys_open(abi_wl_file_name(a->workload), ABI_O_RDWR);
	if (r < 0)
		return fail("open", r);
	fd = (int)r;
	if (init_content_write(fd, a))
		return 1;
	r = sys_mmap(NULL, len, ABI_PROT_READ | ABI_PROT_WRITE, ABI_MAP_PRIVATE, fd, 0);
	if (r < 0)
		return fail("mmap", r);
	map = (uint8_t *)r;
	for (uint32_t e = 0; e < a->epochs; e++) {
		for (uint64_t i = 0; i < a->writes; i++) {
			uint64_t n = e * a->writes + i;
			struct abi_wl_store s = abi_wl_store(a->seed, 0, 1, n, a->pages);

			*map_word(map, &s) = s.value;
			/* The copy made by the write fault must be the one mapped. */
			uint64_t got = *map_word(map, &s);
			if (got != s.value) {
				ulog("store %lu page %lu word %u reads back 0x%lx, expected 0x%lx",
				     n, s.page, s.word, got, s.value);
				return 1;
			}
		}
		if ((r = sys_epoch(a->writes)) < 0)
			return fail("epoch", r);
	}
	if (init_content_check(fd, a))
		return 1;
	if ((r = sys_munmap(map, len)) < 0)
		return fail("munmap", r);
	if ((r = sys_fsync(fd)) < 0)
		return fail("fsync", r);
	if ((r = sys_close(fd)) < 0)
		return fail("close", r);
	return 0;
}
