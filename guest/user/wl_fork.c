/* SPDX-License-Identifier: MIT */
/*
 * The two-process workloads.
 *
 * shared2: parent and child store into the same file pages through two
 * separate MAP_SHARED mappings (the parent's, and one the child makes
 * itself after fork), each with its own tag, so their words are disjoint
 * and the final file content does not depend on how they interleave.
 *
 * forkcow: after fork, parent and child store colliding streams into the
 * same private file mapping and anonymous region; copy-on-write must give
 * each its own pages, and none of it may reach the file.
 */
#include "ulib.h"

#define YIELD_EVERY 8 /* stores between yields, so the two processes interleave */

static int yield_due(uint64_t n)
{
	return (n + 1) % YIELD_EVERY == 0;
}

static int sync_due(const struct abi_wl_args *a, uint64_t n)
{
	return a->sync_every && (n + 1) % a->sync_every == 0;
}

/*
 * One shared2 writer: epochs * writes stores of `tag` into `map`, yielding
 * every YIELD_EVERY stores and msyncing every sync_every.  Only the parent
 * (is_parent) ends epochs, so the host sees one EPOCH per epoch.
 */
static int shared2_stores(const struct abi_wl_args *a, uint8_t *map, uint32_t tag, int is_parent)
{
	uint64_t len = a->pages * ABI_PAGE_SIZE;
	long r;

	for (uint32_t e = 0; e < a->epochs; e++) {
		for (uint64_t i = 0; i < a->writes; i++) {
			uint64_t n = e * a->writes + i;
			struct abi_wl_store s =
			    abi_wl_store(a->seed, tag, ABI_WL_SHARED2_WRITERS, n, a->pages);

			*map_word(map, &s) = s.value;
			if (yield_due(n) && (r = sys_yield()) < 0)
				return fail("yield", r);
			if (sync_due(a, n) && (r = sys_msync(map, len, ABI_MS_SYNC)) < 0)
				return fail("msync", r);
		}
		if (is_parent && (r = sys_epoch(a->writes)) < 0)
			return fail("epoch", r);
	}
	return 0;
}

/* The child: its own open and its own mapping of the same file. */
static int shared2_child(const struct abi_wl_args *a)
{
	long r = sys_open(abi_wl_file_name(a->workload), ABI_O_RDWR);

	if (r < 0)
		return fail("child open", r);
	r = sys_mmap(NULL, a->pages * ABI_PAGE_SIZE, ABI_PROT_READ | ABI_PROT_WRITE, ABI_MAP_SHARED,
		     (int)r, 0);
	if (r < 0)
		return fail("child mmap", r);
	uint8_t *map = (uint8_t *)r;
	if (shared2_stores(a, map, 1, 0))
		return 1;
	if ((r = sys_msync(map, a->pages * ABI_PAGE_SIZE, ABI_MS_SYNC)) < 0)
		return fail("child final msync", r);
	return 0;
}

int wl_shared2(const struct abi_wl_args *a)
{
	long r, fd, pid;
	int status = -1;

	fd = sys_open(abi_wl_file_name(a->workload), ABI_O_RDWR);
	if (fd < 0)
		return fail("open", fd);
	r = sys_mmap(NULL, a->pages * ABI_PAGE_SIZE, ABI_PROT_READ | ABI_PROT_WRITE, ABI_MAP_SHARED,
		     (int)fd, 0);
	if (r < 0)
		return fail("mmap", r);
	uint8_t *map = (uint8_t *)r;
	pid = sys_fork();
	if (pid < 0)
		return fail("fork", pid);
	if (pid == 0)
		sys_exit(shared2_child(a));
	if (shared2_stores(a, map, 0, 1))
		return 1;
	if (want(sys_wait(&status), pid, "wait"))
		return 1;
	if (want(status, 0, "child exit status"))
		return 1;
	if ((r = sys_msync(map, a->pages * ABI_PAGE_SIZE, ABI_MS_SYNC)) < 0)
		return fail("final msync", r);
	if ((r = sys_fsync((int)fd)) < 0)
		return fail("final fsync", r);
	return 0;
}

/*
 * forkcow's replay table: (page, word) -> the value this process stored
 * last, open addressing over cow_mask + 1 slots.  Each process maps its own
 * after the fork, sized to its stores (at most half full), so no table pages
 * are shared or copied and a small run costs a page or two.
 */
struct cow_slot {
	uint64_t key; /* page * 512 + word + 1; 0: empty */
	uint64_t val;
};
static struct cow_slot *cow_tab;
static uint64_t cow_mask;

/* Map a zeroed table for `stores` stores; 0, or 1 once logged. */
static int cow_table(uint64_t stores)
{
	for (cow_mask = 255; cow_mask + 1 < 2 * stores; cow_mask = cow_mask * 2 + 1)
		;
	long r =
	    sys_mmap(NULL, (cow_mask + 1) * sizeof(struct cow_slot), ABI_PROT_READ | ABI_PROT_WRITE,
		     ABI_MAP_PRIVATE | ABI_MAP_ANONYMOUS, -1, 0);
	if (r < 0)
		return fail("mmap of the replay table", r);
	cow_tab = (struct cow_slot *)r;
	return 0;
}

static uint64_t cow_slot(uint64_t key)
{
	uint64_t i = abi_wl_mix(key) & cow_mask;

	while (cow_tab[i].key && cow_tab[i].key != key)
		i = (i + 1) & cow_mask;
	return i;
}

static void cow_put(const struct abi_wl_store *s)
{
	uint64_t key = s->page * ABI_WL_PAGE_WORDS + s->word + 1, i = cow_slot(key);

	cow_tab[i].key = key;
	cow_tab[i].val = s->value;
}

/* The value last stored at (page, word), or `dflt` if this process never did. */
static uint64_t cow_get(uint64_t page, uint32_t word, uint64_t dflt)
{
	uint64_t i = cow_slot(page * ABI_WL_PAGE_WORDS + word + 1);

	return cow_tab[i].key ? cow_tab[i].val : dflt;
}

static int cow_check(const char *region, uint64_t page, uint32_t word, uint64_t got,
		     uint64_t expect)
{
	if (got == expect)
		return 0;
	ulog("pid %ld: %s page %lu word %u is 0x%lx, expected 0x%lx", sys_getpid(), region, page,
	     word, got, expect);
	return 1;
}

/* The same store into the private file mapping F and the anonymous region A. */
static void cow_store(uint8_t *f, uint8_t *anon, const struct abi_wl_store *s)
{
	*map_word(f, s) = s->value;
	*map_word(anon, s) = s->value;
}

/*
 * One forkcow process after the fork: its own stream (seed ^ salt) into F
 * and A, then a check of everything it can see.  Expected: the prefill and
 * its own stream replayed in order (later stores win) for the words it
 * stored; the initial file words (F) or zero (A) for words 0..3 of every
 * page it did not store.  The other process's stores must be invisible.
 */
static int cow_run(const struct abi_wl_args *a, uint8_t *f, uint8_t *anon, uint64_t salt,
		   int is_parent)
{
	uint64_t seed = a->seed ^ salt, total = a->epochs * a->writes;
	long r;

	for (uint32_t e = 0; e < a->epochs; e++) {
		for (uint64_t i = 0; i < a->writes; i++) {
			uint64_t n = e * a->writes + i;
			struct abi_wl_store s = abi_wl_store(seed, 0, 1, n, a->pages);

			cow_store(f, anon, &s);
			if (yield_due(n) && (r = sys_yield()) < 0)
				return fail("yield", r);
		}
		if (is_parent && (r = sys_epoch(a->writes)) < 0)
			return fail("epoch", r);
	}

	if (cow_table(a->writes + total))
		return 1;
	for (uint64_t n = 0; n < a->writes; n++) {
		struct abi_wl_store s = abi_wl_store(a->seed, 0, 1, n, a->pages);
		cow_put(&s);
	}
	for (uint64_t n = 0; n < total; n++) {
		struct abi_wl_store s = abi_wl_store(seed, 0, 1, n, a->pages);
		cow_put(&s);
	}
	for (uint64_t i = 0; i <= cow_mask; i++) {
		uint64_t key = cow_tab[i].key;
		if (!key)
			continue;
		struct abi_wl_store s = {.page = (key - 1) / ABI_WL_PAGE_WORDS,
					 .word = (key - 1) % ABI_WL_PAGE_WORDS};
		if (cow_check("file map", s.page, s.word, *map_word(f, &s), cow_tab[i].val) ||
		    cow_check("anon", s.page, s.word, *map_word(anon, &s), cow_tab[i].val))
			return 1;
	}
	for (uint64_t p = 0; p < a->pages; p++) {
		for (uint32_t k = 0; k < ABI_WL_INIT_WORDS; k++) {
			struct abi_wl_store s = {.page = p, .word = k};
			uint64_t init = abi_wl_init_word(a->seed, p, k);
			if (cow_check("file map", p, k, *map_word(f, &s), cow_get(p, k, init)) ||
			    cow_check("anon", p, k, *map_word(anon, &s), cow_get(p, k, 0)))
				return 1;
		}
	}
	return 0;
}

int wl_forkcow(const struct abi_wl_args *a)
{
	uint64_t len = a->pages * ABI_PAGE_SIZE;
	int status = -1;
	long r, fd, pid;

	if (a->writes > ABI_WL_FORKCOW_MAX_STORES ||
	    a->writes * ((uint64_t)a->epochs + 1) > ABI_WL_FORKCOW_MAX_STORES) {
		ulog("writes * (epochs + 1) = %lu exceeds %u", a->writes * (a->epochs + 1UL),
		     ABI_WL_FORKCOW_MAX_STORES);
		return 1;
	}
	fd = sys_open(abi_wl_file_name(a->workload), ABI_O_RDWR);
	if (fd < 0)
		return fail("open", fd);
	if (init_content_write((int)fd, a))
		return 1;
	r = sys_mmap(NULL, len, ABI_PROT_READ | ABI_PROT_WRITE, ABI_MAP_PRIVATE, (int)fd, 0);
	if (r < 0)
		return fail("mmap of the file", r);
	uint8_t *f = (uint8_t *)r;
	r = sys_mmap(NULL, len, ABI_PROT_READ | ABI_PROT_WRITE, ABI_MAP_PRIVATE | ABI_MAP_ANONYMOUS,
		     -1, 0);
	if (r < 0)
		return fail("anonymous mmap", r);
	uint8_t *anon = (uint8_t *)r;

	/* The prefill: pages both processes share copy-on-write after the fork. */
	for (uint64_t n = 0; n < a->writes; n++) {
		struct abi_wl_store s = abi_wl_store(a->seed, 0, 1, n, a->pages);
		cow_store(f, anon, &s);
	}
	pid = sys_fork();
	if (pid < 0)
		return fail("fork", pid);
	if (pid == 0)
		sys_exit(cow_run(a, f, anon, ABI_WL_FORKCOW_SALT_CHILD, 0));
	if (cow_run(a, f, anon, ABI_WL_FORKCOW_SALT_PARENT, 1))
		return 1;
	if (want(sys_wait(&status), pid, "wait"))
		return 1;
	if (want(status, 0, "child exit status"))
		return 1;
	/* Private stores never reach the file. */
	if (init_content_check((int)fd, a))
		return 1;
	if ((r = sys_munmap(f, len)) < 0)
		return fail("munmap of the file", r);
	if ((r = sys_munmap(anon, len)) < 0)
		return fail("anonymous munmap", r);
	if ((r = sys_close(fd)) < 0)
		return fail("close", r);
	return 0;
}
