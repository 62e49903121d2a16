/*
 * The reaper (logger/dlog/reaper.h) against a model of KVM's dirty rings,
 * with vCPU threads storing while the reaper thread and the epoch closes
 * run, no KVM needed:
 *
 *   - the model acts as KVM does: a store to a protected page unprotects it
 *     and pushes an entry to its vCPU's ring; a store to an unprotected page
 *     pushes nothing; a full ring stops the vCPU, which empties the rings
 *     itself (reaper_reap) and retries, as a ring-full exit is handled; the
 *     reset recycles the entries marked RESET, in order, and re-protects
 *     their pages;
 *   - the race, on purpose: every store remembers how many epochs had been
 *     closed before it, and its page must be in an epoch closed after that
 *     (a page written after a close returns is in the next epoch or later),
 *     for 1, 2 and 4 vCPUs with rings small enough to fill all the time;
 *   - no entry invented or lost: what the reaper collected equals what the
 *     vCPUs pushed, and every page of every epoch was stored to;
 *   - the check's teeth: a reset that does not re-protect pages (stores go
 *     unlogged, as they would on a CPU that keeps a stale writable mapping)
 *     must be caught losing stores;
 *   - failures: a reset whose count differs from the pass's, and an entry
 *     naming a slot that does not exist, stop the reaper with an error
 *     that every later call returns.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>

#include "tests/lib/ds_test.h"
#include "logger/dlog/frameset.h"
#include "logger/dlog/reaper.h"

#define M_PAGES	     512 /* few pages, so that stores come back to them */
#define M_LOW	     300 /* slot 0: pages 0..299, slot 1: 300..511 */
#define M_MAX_VCPUS  4
#define M_MAX_EPOCHS 4000

struct model {
	uint32_t nr_vcpus, entries;
	struct kvm_dirty_gfn *gfns[M_MAX_VCPUS];
	uint32_t dirty_index[M_MAX_VCPUS];	   /* the vCPU's own */
	_Atomic uint32_t reset_index[M_MAX_VCPUS]; /* the reset's, read by the vCPU */
	_Atomic uint8_t protect[M_PAGES];	   /* 1: a store pushes an entry */
	_Atomic uint64_t gen;			   /* epochs closed so far */
	bool lossy;				   /* the reset leaves pages writable */
	int64_t reset_skew;			   /* added to the reset's count */
	struct reaper *r;
	uint64_t full_exits[M_MAX_VCPUS];
	int reap_err;
};

static const struct harvest_slot m_slots[2] = {{0, M_LOW}, {M_LOW, M_PAGES - M_LOW}};

/* KVM_RESET_DIRTY_RINGS in the model. */
static int64_t model_reset(void *arg)
{
	struct model *m = arg;
	int64_t n = 0;
	for (uint32_t v = 0; v < m->nr_vcpus; v++) {
		uint32_t idx = atomic_load_explicit(&m->reset_index[v], memory_order_relaxed);
		for (;;) {
			struct kvm_dirty_gfn *e = &m->gfns[v][idx & (m->entries - 1)];
			uint32_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
			if (!(flags & KVM_DIRTY_GFN_F_RESET))
				break;
			uint64_t page = m_slots[e->slot].first_page + e->offset;
			if (!m->lossy)
				atomic_store(&m->protect[page], 1);
			__atomic_store_n(&e->flags, 0, __ATOMIC_RELAXED);
			idx++;
			n++;
		}
		atomic_store_explicit(&m->reset_index[v], idx, memory_order_release);
	}
	return n + m->reset_skew;
}

/* A guest store by vCPU v to `page`, as KVM logs it. */
static void model_store(struct model *m, uint32_t v, uint32_t page)
{
	if (!atomic_exchange(&m->protect[page], 0))
		return; /* writable: no fault, no entry */
	/* A full ring: the vCPU exits and empties the rings itself. */
	while (m->dirty_index[v] - atomic_load_explicit(&m->reset_index[v], memory_order_acquire) >=
	       m->entries) {
		m->full_exits[v]++;
		int64_t n = reaper_reap(m->r);
		if (n < 0) {
			m->reap_err = (int)n;
			return;
		}
	}
	struct kvm_dirty_gfn *e = &m->gfns[v][m->dirty_index[v] & (m->entries - 1)];
	uint32_t slot = page >= M_LOW;
	e->slot = slot;
	e->offset = page - m_slots[slot].first_page;
	__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
	m->dirty_index[v]++;
}

struct vcpu_arg {
	struct model *m;
	uint32_t v, stores;
	uint32_t *page; /* per store */
	uint64_t *gen;	/* epochs closed before it */
	_Atomic int *running;
};

static void *vcpu_main(void *p)
{
	struct vcpu_arg *a = p;
	uint64_t x = 0x9e3779b97f4a7c15ULL * (a->v + 1);
	for (uint32_t i = 0; i < a->stores && !a->m->reap_err; i++) {
		/* Halfway, wait for two closes: however fast the machine, the
		 * second half stores into epochs that the first half's
		 * entries are not in, which is what the check needs to bite. */
		while (i == a->stores / 2 && atomic_load(&a->m->gen) < 2)
			sched_yield();
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a->gen[i] = atomic_load(&a->m->gen);
		a->page[i] = (uint32_t)(x % M_PAGES);
		model_store(a->m, a->v, a->page[i]);
	}
	atomic_fetch_sub(a->running, 1);
	return NULL;
}

struct run_result {
	uint64_t stores, lost, invented, epochs, pushed, collected, full_exits, thread_passes;
	int err;
};

/* vCPUs store while the reaper runs and epochs close every ~20 us; then
 * every store is checked against the epochs. */
static void run_model(uint32_t nr_vcpus, uint32_t entries, bool lossy, struct run_result *res)
{
	static struct frameset sets[M_MAX_EPOCHS];
	struct model m = {.nr_vcpus = nr_vcpus, .entries = entries, .lossy = lossy};
	struct reaper_ring rings[M_MAX_VCPUS];
	struct reaper r;
	struct vcpu_arg args[M_MAX_VCPUS];
	pthread_t th[M_MAX_VCPUS];
	_Atomic int running = (int)nr_vcpus;
	const uint32_t stores = 100000;
	uint32_t nsets = 0;

	memset(res, 0, sizeof(*res));
	for (uint32_t p = 0; p < M_PAGES; p++)
		atomic_init(&m.protect[p], 1);
	for (uint32_t v = 0; v < nr_vcpus; v++) {
		m.gfns[v] = calloc(entries, sizeof(struct kvm_dirty_gfn));
		rings[v] = (struct reaper_ring){.gfns = m.gfns[v], .entries = entries};
		args[v] = (struct vcpu_arg){.m = &m,
					    .v = v,
					    .stores = stores,
					    .page = calloc(stores, sizeof(uint32_t)),
					    .gen = calloc(stores, sizeof(uint64_t)),
					    .running = &running};
		CU_ASSERT_FATAL(m.gfns[v] && args[v].page && args[v].gen);
	}
	CU_ASSERT_EQUAL_FATAL(frameset_init(&sets[nsets++], M_PAGES), 0);
	CU_ASSERT_EQUAL_FATAL(
	    reaper_init(&r, rings, nr_vcpus, m_slots, 2, &sets[0], model_reset, &m, 100000), 0);
	m.r = &r;
	CU_ASSERT_EQUAL_FATAL(reaper_start(&r), 0);
	for (uint32_t v = 0; v < nr_vcpus; v++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[v], NULL, vcpu_main, &args[v]), 0);
	/* Close epochs while the vCPUs store, then once more after them. */
	for (bool last = false; !last;) {
		last = atomic_load(&running) == 0 || nsets == M_MAX_EPOCHS;
		if (last)
			for (uint32_t v = 0; v < nr_vcpus; v++)
				pthread_join(th[v], NULL);
		else
			nanosleep(&(struct timespec){.tv_nsec = 20000}, NULL);
		struct frameset *closed = NULL;
		CU_ASSERT_EQUAL_FATAL(frameset_init(&sets[nsets], M_PAGES), 0);
		res->err = reaper_close_epoch(&r, &sets[nsets], &closed);
		if (res->err)
			break;
		CU_ASSERT_PTR_EQUAL(closed, &sets[nsets - 1]);
		nsets++;
		atomic_store(&m.gen, nsets - 1);
	}
	int stop_err = reaper_stop(&r);
	if (!res->err)
		res->err = stop_err ? stop_err : m.reap_err;
	res->thread_passes = r.thread_passes;
	res->collected = r.collected;

	/* The last epoch each page is in, and what was stored. */
	int64_t last_epoch[M_PAGES];
	bool stored[M_PAGES] = {false};
	for (uint32_t p = 0; p < M_PAGES; p++)
		last_epoch[p] = -1;
	for (uint32_t k = 0; k + 1 < nsets; k++)
		for (uint64_t i = 0; i < sets[k].count; i++)
			last_epoch[sets[k].list[i]] = k;
	res->epochs = nsets - 1;
	for (uint32_t v = 0; v < nr_vcpus; v++) {
		for (uint32_t i = 0; i < stores; i++) {
			stored[args[v].page[i]] = true;
			/* Stored after `gen` closes: in epoch gen or later. */
			if (last_epoch[args[v].page[i]] < (int64_t)args[v].gen[i])
				res->lost++;
		}
		res->stores += stores;
		res->pushed += m.dirty_index[v];
		res->full_exits += m.full_exits[v];
	}
	for (uint32_t p = 0; p < M_PAGES; p++)
		res->invented += last_epoch[p] >= 0 && !stored[p];
	reaper_destroy(&r);
	for (uint32_t k = 0; k < nsets; k++)
		frameset_free(&sets[k]);
	for (uint32_t v = 0; v < nr_vcpus; v++)
		free(m.gfns[v]), free(args[v].page), free(args[v].gen);
}

static void test_no_store_lost(void)
{
	static const struct {
		uint32_t vcpus, entries;
	} cases[] = {{1, 64}, {2, 64}, {4, 64}, {4, 16}, {2, 4096}};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct run_result res;
		run_model(cases[c].vcpus, cases[c].entries, false, &res);
		DS_CHECK(res.err == 0 && res.lost == 0 && res.invented == 0 &&
			     res.collected == res.pushed && res.epochs >= 2,
			 "%u vCPUs, %u entries: err %d, %llu of %llu stores lost, %llu pages "
			 "invented, %llu entries collected of %llu pushed, %llu epochs, "
			 "%llu ring-full exits, %llu thread passes",
			 cases[c].vcpus, cases[c].entries, res.err, (unsigned long long)res.lost,
			 (unsigned long long)res.stores, (unsigned long long)res.invented,
			 (unsigned long long)res.collected, (unsigned long long)res.pushed,
			 (unsigned long long)res.epochs, (unsigned long long)res.full_exits,
			 (unsigned long long)res.thread_passes);
	}
}

/* The check's teeth: a reset that leaves pages writable loses their later
 * stores (each of 512 pages is stored to some 150 times by 4 vCPUs: once
 * unprotected for good, its stores after the first close go unlogged). */
static void test_lossy_reset_caught(void)
{
	struct run_result res;
	run_model(4, 64, true, &res);
	DS_CHECK(res.err == 0 && res.lost > 0, "err %d, %llu of %llu stores lost over %llu epochs",
		 res.err, (unsigned long long)res.lost, (unsigned long long)res.stores,
		 (unsigned long long)res.epochs);
}

/* A ring of `n` entries with the first `pub` published for pages 0.. */
static void publish(struct kvm_dirty_gfn *g, uint32_t pub, uint32_t slot)
{
	for (uint32_t i = 0; i < pub; i++) {
		g[i].slot = slot;
		g[i].offset = i;
		__atomic_store_n(&g[i].flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
	}
}

static int64_t count_reset(void *arg)
{
	struct model *m = arg;
	int64_t n = 0;
	for (uint32_t i = 0; i < m->entries; i++)
		if (m->gfns[0][i].flags & KVM_DIRTY_GFN_F_RESET) {
			m->gfns[0][i].flags = 0;
			n++;
		}
	return n + m->reset_skew;
}

static void test_failures_stick(void)
{
	struct kvm_dirty_gfn g[16] = {{0}};
	struct model m = {.nr_vcpus = 1, .entries = 16, .gfns = {g}};
	struct reaper_ring ring = {.gfns = g, .entries = 16};
	struct frameset s, s2, *closed = NULL;
	struct reaper r;

	CU_ASSERT_EQUAL_FATAL(frameset_init(&s, M_PAGES), 0);
	CU_ASSERT_EQUAL_FATAL(frameset_init(&s2, M_PAGES), 0);
	/* Bad arguments. */
	struct reaper_ring odd = {.gfns = g, .entries = 12};
	CU_ASSERT_EQUAL(reaper_init(&r, &odd, 1, m_slots, 2, &s, count_reset, &m, 1000), -EINVAL);
	CU_ASSERT_EQUAL(reaper_init(&r, &ring, 0, m_slots, 2, &s, count_reset, &m, 1000), -EINVAL);

	/* A reset that recycles one entry more than the pass collected. */
	CU_ASSERT_EQUAL_FATAL(reaper_init(&r, &ring, 1, m_slots, 2, &s, count_reset, &m, 1000), 0);
	publish(g, 3, 0);
	CU_ASSERT_EQUAL(reaper_reap(&r), 3);
	CU_ASSERT_EQUAL(s.count, 3);
	publish(g + 3, 2, 1);
	m.reset_skew = 1;
	CU_ASSERT_EQUAL(reaper_reap(&r), -EPROTO);
	m.reset_skew = 0;
	CU_ASSERT_EQUAL(reaper_reap(&r), -EPROTO);
	CU_ASSERT_EQUAL(reaper_close_epoch(&r, &s2, &closed), -EPROTO);
	CU_ASSERT_PTR_NULL(closed);
	CU_ASSERT_EQUAL(reaper_stop(&r), -EPROTO);
	reaper_destroy(&r);

	/* An entry naming slot 7 of 2. */
	memset(g, 0, sizeof(g));
	ring.fetch = 0;
	frameset_clear(&s);
	CU_ASSERT_EQUAL_FATAL(reaper_init(&r, &ring, 1, m_slots, 2, &s, count_reset, &m, 1000), 0);
	publish(g, 2, 7);
	CU_ASSERT_EQUAL(reaper_reap(&r), -EIO);
	CU_ASSERT_EQUAL(reaper_close_epoch(&r, &s2, &closed), -EIO);
	reaper_destroy(&r);

	/* Nothing published: a pass collects nothing and calls no reset. */
	memset(g, 0, sizeof(g));
	ring.fetch = 0;
	m.reset_skew = 5; /* would fail the pass if the reset were called */
	CU_ASSERT_EQUAL_FATAL(reaper_init(&r, &ring, 1, m_slots, 2, &s, count_reset, &m, 1000), 0);
	CU_ASSERT_EQUAL(reaper_reap(&r), 0);
	CU_ASSERT_EQUAL(reaper_close_epoch(&r, &s2, &closed), 0);
	CU_ASSERT_PTR_EQUAL(closed, &s);
	reaper_destroy(&r);
	frameset_free(&s);
	frameset_free(&s2);
}

static const struct ds_case cases[] = {
    {"no store lost across epochs: 1, 2, 4 vCPUs, rings that fill", test_no_store_lost},
    {"teeth: a reset that leaves pages writable is caught", test_lossy_reset_caught},
    {"failures stick: a reset count off by one, a bad slot", test_failures_stick},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("reaper", cases);
}
