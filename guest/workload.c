/*
 * Built-in anonymous-memory workloads.  Each epoch makes `writes_per_epoch`
 * page writes into a working set of `wss` pages, counts the distinct pages it
 * touched, and ends with a sync hypercall carrying that count.
 *
 *   seq      the next writes_per_epoch pages in order, wrapping at wss
 *   random   pages uniform over the working set (xorshift64*, from --seed)
 *   hotcold  hot_pct% of writes go to the first hot_pages pages, the rest
 *            uniformly to the cold remainder
 *
 * A write stamps two words in the page rather than filling it (filling costs
 * milliseconds per page here): word 0 and a word whose offset moves with the
 * epoch.  Both values include the epoch number, so every page written in an
 * epoch differs from its content at the previous harvest; that is what lets
 * the host's lost-page oracle see every write.
 *
 * The workload checks its own data at the end.  It keeps one running sum,
 * over its pages, of a hash of what each page holds (word 0 and the epoch
 * word it names): every write adds the new content's hash and subtracts the
 * hash of what it read in the page just before.  At the end the sum of the
 * pages' hashes as they are must equal it, or some page no longer holds what
 * the guest last wrote (a store the host lost, a page a migration left
 * stale).  The check stores nothing per write beyond the page itself: a
 * record page written with every store would double the dirty log's entries.
 */
#include <stdbool.h>

#include "defs.h"
#include "x86.h"
#include "../include/abi/hcall.h"
#include "../include/abi/wlpick.h"

struct wl {
	uint64_t base, wss, writes;
	uint64_t hot, hot_pct;
	uint64_t seed;
	struct abi_wlpick pick; /* the page sequence (include/abi/wlpick.h) */
	uint64_t *seen; /* one bit per page: written this epoch */
	uint64_t seen_words;
};

/* A page's content as the check sees it: word 0 and the epoch word it names. */
static uint64_t content_hash(uint64_t page, const volatile uint64_t *p)
{
	uint64_t w0 = p[0];
	uint64_t x = page * 0x9e3779b97f4a7c15ULL ^ w0 ^ p[1 + ((w0 >> 32) * 7 + page) % 511] << 1;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void stamp(struct wl *w, uint64_t page, uint64_t epoch, uint64_t i, uint64_t *sum)
{
	volatile uint64_t *p = (uint64_t *)(w->base + page * ABI_PAGE_SIZE);
	*sum -= content_hash(page, p);
	p[0] = epoch << 32 | (i & 0xffffffff);
	p[1 + (epoch * 7 + page) % 511] = w->seed ^ page ^ epoch << 40;
	*sum += content_hash(page, p);
}

/* The sum of every page's content hash, as the pages are now. */
static uint64_t content_sum(const struct wl *w)
{
	uint64_t sum = 0;
	for (uint64_t page = 0; page < w->wss; page++)
		sum += content_hash(page, (uint64_t *)(w->base + page * ABI_PAGE_SIZE));
	return sum;
}

/* Run the workload over the pages mapped at base: bp->nr_epochs epochs, or,
 * with nr_epochs 0, rounds until the host's reply to a round's SYNC says
 * stop (include/abi/hcall.h).  *rounds receives the epochs or rounds run.
 * Returns nonzero when its final data check fails. */
uint64_t workload_run(const struct abi_boot_params *bp, uint64_t base, uint64_t *rounds)
{
	volatile struct abi_progress *prog = hcall_progress();
	struct wl w = {
	    .base = base,
	    .wss = bp->wss_pages,
	    .writes = bp->writes_per_epoch,
	    .hot = bp->hot_pages,
	    .hot_pct = bp->hot_pct,
	    .seed = bp->seed,
	};
	if (w.wss == 0 || (bp->workload == ABI_WL_HOTCOLD && (w.hot == 0 || w.hot > w.wss)))
		panic("bad workload geometry wss=%lu hot=%lu", w.wss, w.hot);

	if (bp->workload != ABI_WL_SEQ && bp->workload != ABI_WL_RANDOM &&
	    bp->workload != ABI_WL_HOTCOLD)
		panic("unknown workload %u", bp->workload);
	abi_wlpick_init(&w.pick, bp->workload, w.wss, w.hot, w.hot_pct, w.seed);

	/* The seen bitmap: physically contiguous kernel pages, via the direct map. */
	w.seen_words = (w.wss + 63) / 64;
	uint64_t pages = (w.seen_words * 8 + ABI_PAGE_SIZE - 1) / ABI_PAGE_SIZE;
	uint64_t first = pmem_alloc_kernel();
	for (uint64_t i = 1; i < pages; i++)
		if (pmem_alloc_kernel() != first + i * ABI_PAGE_SIZE)
			panic("seen bitmap not contiguous");
	w.seen = P2V(first);

	uint64_t sum = content_sum(&w), stores = 0, epoch;
	bool by_time = bp->nr_epochs == 0, stop = false;
	for (epoch = 1; by_time || epoch <= bp->nr_epochs; epoch++) {
		uint64_t distinct = 0, epoch_stores = stores;
		memset(w.seen, 0, w.seen_words * 8);
		for (uint64_t i = 0; i < w.writes && !stop; i++) {
			uint64_t page = abi_wlpick_next(&w.pick);
			uint64_t bit = 1ULL << (page & 63);
			stamp(&w, page, epoch, i, &sum);
			if (!(w.seen[page >> 6] & bit)) {
				w.seen[page >> 6] |= bit;
				distinct++;
			}
			/* The host reads this while we run: every few stores,
			 * so that one store in ABI_PROGRESS_EVERY is its cost. */
			if ((++stores & (ABI_PROGRESS_EVERY - 1)) == 0) {
				prog->stores = stores;
				/* By time, ask as often whether to stop: the
				 * run ends soon after its last epoch even when
				 * a round is long.  The round then ends here. */
				if (by_time && hcall_reply() == ABI_HC_REPLY_STOP)
					stop = true;
			}
		}
		prog->stores = stores;
		prog->rounds = epoch;
		epoch_stores = stores - epoch_stores;
		if (!by_time)
			hcall_sync(epoch, distinct, epoch_stores);
		else if (hcall_sync_reply(epoch, distinct, epoch_stores) == ABI_HC_REPLY_STOP ||
			 stop)
			break;
	}
	*rounds = by_time ? epoch : bp->nr_epochs;
	if (bp->flags & ABI_BOOT_F_TEST_BAD_CHECK)
		((volatile uint64_t *)w.base)[0] ^= 1; /* a store the check never saw */
	uint64_t now = content_sum(&w);
	if (now == sum)
		return 0;
	klog("self-check: the working set's content hash is %lx, expected %lx", now, sum);
	return 1;
}
