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
 * With several CPUs (boot parameters' nr_cpus) each CPU runs a worker of
 * its own, with writes_per_epoch / nr_cpus of the epoch's writes.  Worker c
 * owns partition c of the working set (pages [c * wss / n, (c + 1) * wss /
 * n)), where the workload's sequence runs as it would over a working set
 * of that size; share_pct% of its writes go instead to pages picked over the
 * whole working set, which any CPU may be writing too.  Two CPUs writing one
 * page never write the same words: CPU c stamps only its slice of the page,
 * 512 / n words from word c * (512 / n), so each CPU's check below stays its
 * own.  (With one CPU the slice is the page and nothing changes.)
 *
 * The CPUs meet at the end of every epoch: CPU 0 waits for the others,
 * makes the SYNC for all of them (the distinct pages any CPU wrote, and
 * each CPU's own), and lets them go on once the host has harvested.  So no
 * CPU stores while the host harvests, and an epoch's pages are its own.
 *
 * The workload checks its own data at the end.  It keeps one running sum,
 * over its pages, of a hash of what each page holds (word 0 and the epoch
 * word it names): every write adds the new content's hash and subtracts the
 * hash of what it read in the page just before.  At the end the sum of the
 * pages' hashes as they are must equal it, or some page no longer holds what
 * the guest last wrote (a store the host lost, a page a migration left
 * stale).  The check stores nothing per write beyond the page itself: a
 * record page written with every store would double the dirty log's entries.
 * Each CPU keeps the sum over its own slices of the pages it may write.
 */
#include <stdbool.h>

#include "defs.h"
#include "smp.h"
#include "x86.h"
#include "../include/abi/hcall.h"
#include "../include/abi/wlpick.h"

/* One CPU's worker. */
struct wl {
	uint32_t cpu;
	uint64_t base, wss, writes;
	uint64_t lo, len;      /* its partition: pages [lo, lo + len) */
	uint64_t slice, words; /* its words in a page: [slice, slice + words) */
	uint64_t share_pct, seed;
	struct abi_wlpick pick; /* over the partition (include/abi/wlpick.h) */
	struct abi_wlpick any;	/* over the whole working set (share_pct) */
	uint64_t share_rng;
	uint64_t *seen; /* one bit per page of the working set: written this epoch */
	uint64_t sum;	/* the check's running sum */
	uint64_t stores, distinct, any_new;
};

/* What the workers share, set up by CPU 0 before the others start. */
static struct {
	const struct abi_boot_params *bp;
	uint32_t nr_cpus;
	uint64_t base, seen_words;
	uint64_t *seen[ABI_MAX_CPUS];
	uint64_t *any_seen; /* several CPUs: pages any CPU wrote this epoch */
	bool by_time;
	volatile uint32_t started; /* READY is made: epoch 1 is open */
	volatile uint32_t arrived; /* CPUs other than 0 at the epoch's end */
	volatile uint64_t release; /* epochs CPU 0 has let go */
	volatile uint32_t stop;	   /* by time: the host said stop */
	volatile uint32_t finish;  /* the last epoch ended: check and halt */
	struct {
		volatile uint64_t distinct, any_new, check_failed;
	} cpu[ABI_MAX_CPUS];
} sh;

/* A page's content as the check sees it: word 0 of the CPU's slice and the
 * epoch word it names. */
static uint64_t content_hash(const struct wl *w, uint64_t page, const volatile uint64_t *p)
{
	p += w->slice;
	uint64_t w0 = p[0];
	uint64_t x = page * 0x9e3779b97f4a7c15ULL ^ w0 ^
		     p[1 + ((w0 >> 32) * 7 + page) % (w->words - 1)] << 1;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void stamp(struct wl *w, uint64_t page, uint64_t epoch, uint64_t i)
{
	volatile uint64_t *p = (uint64_t *)(w->base + page * ABI_PAGE_SIZE);
	w->sum -= content_hash(w, page, p);
	p[w->slice] = epoch << 32 | (i & 0xffffffff);
	p[w->slice + 1 + (epoch * 7 + page) % (w->words - 1)] = w->seed ^ page ^ epoch << 40;
	w->sum += content_hash(w, page, p);
}

/* The sum of the content hashes of every page this CPU may write, as the
 * pages are now. */
static uint64_t content_sum(const struct wl *w)
{
	uint64_t sum = 0, lo = w->share_pct ? 0 : w->lo,
		 hi = w->share_pct ? w->wss : w->lo + w->len;
	for (uint64_t page = lo; page < hi; page++)
		sum += content_hash(w, page, (uint64_t *)(w->base + page * ABI_PAGE_SIZE));
	return sum;
}

/* Worker `cpu`'s geometry: its partition, its slice, its sequences. */
static void wl_init(struct wl *w, uint32_t cpu)
{
	const struct abi_boot_params *bp = sh.bp;
	uint32_t n = sh.nr_cpus;
	memset(w, 0, sizeof(*w));
	w->cpu = cpu;
	w->base = sh.base;
	w->wss = bp->wss_pages;
	w->writes = bp->writes_per_epoch / n + (cpu < bp->writes_per_epoch % n);
	w->lo = w->wss * cpu / n;
	w->len = w->wss * (cpu + 1) / n - w->lo;
	w->words = 512 / n;
	w->slice = cpu * w->words;
	w->share_pct = n > 1 ? bp->share_pct : 0;
	w->seed = bp->seed;
	/* CPU 0 of one runs the sequence the host replays (virt/virt_truth.c). */
	uint64_t seed = bp->seed ^ (uint64_t)cpu * 0xd1b54a32d192ed03ULL;
	uint64_t hot = bp->hot_pages;
	if (bp->workload == ABI_WL_HOTCOLD) {
		hot = hot * w->len / w->wss;
		hot = hot ? hot : 1;
	}
	abi_wlpick_init(&w->pick, bp->workload, w->len, hot, bp->hot_pct, seed);
	abi_wlpick_init(&w->any, bp->workload, w->wss, bp->hot_pages, bp->hot_pct, ~seed);
	w->share_rng = seed | 1;
	w->seen = sh.seen[cpu];
	w->sum = content_sum(w);
}

static uint64_t next_page(struct wl *w)
{
	if (w->share_pct) {
		uint64_t x = w->share_rng;
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		w->share_rng = x;
		if (abi_wlpick_below(x * 0x2545f4914f6cdd1dULL, 100) < w->share_pct)
			return abi_wlpick_next(&w->any);
	}
	return w->lo + abi_wlpick_next(&w->pick);
}

/* One epoch's (or round's) writes.  Returns with w->distinct and
 * w->any_new counting its pages. */
static void wl_epoch(struct wl *w, volatile struct abi_progress *prog, uint64_t epoch)
{
	w->distinct = w->any_new = 0;
	memset(w->seen, 0, sh.seen_words * 8);
	for (uint64_t i = 0; i < w->writes && !sh.stop; i++) {
		uint64_t page = next_page(w);
		uint64_t bit = 1ULL << (page & 63);
		stamp(w, page, epoch, i);
		if (!(w->seen[page >> 6] & bit)) {
			w->seen[page >> 6] |= bit;
			w->distinct++;
			if (sh.any_seen &&
			    !(__atomic_fetch_or(&sh.any_seen[page >> 6], bit, __ATOMIC_RELAXED) &
			      bit))
				w->any_new++;
		}
		/* The host reads this while we run: every few stores, so
		 * that one store in ABI_PROGRESS_EVERY is its cost. */
		if ((++w->stores & (ABI_PROGRESS_EVERY - 1)) == 0) {
			__atomic_add_fetch(&prog->stores, ABI_PROGRESS_EVERY, __ATOMIC_RELAXED);
			/* By time, ask as often whether to stop: the run ends
			 * soon after its last epoch even when a round is long.
			 * The round then ends here, on every CPU. */
			if (sh.by_time && hcall_reply() == ABI_HC_REPLY_STOP)
				sh.stop = 1;
		}
	}
	__atomic_add_fetch(&prog->stores, w->stores & (ABI_PROGRESS_EVERY - 1), __ATOMIC_RELAXED);
	w->stores &= ~(uint64_t)(ABI_PROGRESS_EVERY - 1);
	if (!sh.any_seen)
		w->any_new = w->distinct;
}

/* CPUs 1 and up at an epoch's end: report, and wait for CPU 0 to let the
 * epoch go (or end the run).  Returns false when the run is over. */
static bool ap_epoch_end(struct wl *w, uint64_t epoch)
{
	sh.cpu[w->cpu].distinct = w->distinct;
	sh.cpu[w->cpu].any_new = w->any_new;
	__atomic_add_fetch(&sh.arrived, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&sh.release, __ATOMIC_ACQUIRE) < epoch)
		cpu_relax();
	return !sh.finish;
}

/* CPU 0 at an epoch's end: wait for the others, SYNC for all, let them go.
 * Returns false when the run is over. */
static bool bsp_epoch_end(struct wl *w, volatile struct abi_progress *prog, uint64_t epoch,
			  uint64_t nr_epochs)
{
	static uint64_t stores_before; /* all CPUs' stores at the last epoch's end */
	uint64_t pages = w->any_new, cpu_pages[ABI_MAX_CPUS] = {w->distinct};
	while (__atomic_load_n(&sh.arrived, __ATOMIC_ACQUIRE) != sh.nr_cpus - 1)
		cpu_relax();
	sh.arrived = 0;
	/* Every CPU published its stores before it arrived. */
	uint64_t epoch_stores = prog->stores - stores_before;
	stores_before += epoch_stores;
	for (uint32_t c = 1; c < sh.nr_cpus; c++) {
		pages += sh.cpu[c].any_new;
		cpu_pages[c] = sh.cpu[c].distinct;
	}
	prog->rounds = epoch;
	bool more;
	if (!sh.by_time) {
		hcall_sync(epoch, pages, epoch_stores, cpu_pages, sh.nr_cpus);
		more = epoch < nr_epochs;
	} else {
		more = hcall_sync_reply(epoch, pages, epoch_stores, cpu_pages, sh.nr_cpus) !=
			   ABI_HC_REPLY_STOP &&
		       !sh.stop;
	}
	if (sh.any_seen)
		memset(sh.any_seen, 0, sh.seen_words * 8);
	sh.finish = !more;
	__atomic_store_n(&sh.release, epoch, __ATOMIC_RELEASE);
	return more;
}

/* The end of the run on every CPU: the data check.  CPU 0 returns the
 * CPUs' verdict; the others report theirs. */
static uint64_t wl_check(struct wl *w)
{
	if (w->cpu == 0 && (sh.bp->flags & ABI_BOOT_F_TEST_BAD_CHECK))
		((volatile uint64_t *)(w->base + w->lo * ABI_PAGE_SIZE))[w->slice] ^=
		    1; /* a store the check never saw */
	uint64_t now = content_sum(w);
	if (now != w->sum)
		klog("self-check, CPU %u: the working set's content hash is %lx, expected %lx",
		     w->cpu, now, w->sum);
	if (w->cpu != 0) {
		sh.cpu[w->cpu].check_failed = now != w->sum;
		__atomic_add_fetch(&sh.arrived, 1, __ATOMIC_RELEASE);
		return 0;
	}
	while (__atomic_load_n(&sh.arrived, __ATOMIC_ACQUIRE) != sh.nr_cpus - 1)
		cpu_relax();
	uint64_t bad = now != w->sum;
	for (uint32_t c = 1; c < sh.nr_cpus; c++)
		bad |= sh.cpu[c].check_failed;
	return bad;
}

void ap_run(uint32_t cpu)
{
	struct wl w;
	volatile struct abi_progress *prog = hcall_progress();
	if (sh.bp->flags & ABI_BOOT_F_TEST_IPI)
		ipi_ap_wait();
	wl_init(&w, cpu);
	/* Not a store before the host opens epoch 1: boot's pages are its own. */
	while (!__atomic_load_n(&sh.started, __ATOMIC_ACQUIRE))
		cpu_relax();
	for (uint64_t epoch = 1;; epoch++) {
		wl_epoch(&w, prog, epoch);
		if (!ap_epoch_end(&w, epoch))
			break;
	}
	wl_check(&w);
	halt_forever(); /* the VMM takes this CPU's halt as its end */
}

/* Run the workload over the pages mapped at base, as CPU 0 and, through
 * smp_start, on every CPU: bp->nr_epochs epochs, or, with nr_epochs 0,
 * rounds until the host's reply to a round's SYNC says stop
 * (include/abi/hcall.h).  *rounds receives the epochs or rounds run.
 * Returns nonzero when its final data check fails on any CPU. */
uint64_t workload_run(const struct abi_boot_params *bp, uint64_t base, uint64_t cr3,
		      uint64_t *rounds)
{
	volatile struct abi_progress *prog = hcall_progress();
	uint32_t n = bp->nr_cpus;
	if (bp->wss_pages < n || n == 0 || n > ABI_MAX_CPUS || bp->share_pct > 100 ||
	    (bp->workload == ABI_WL_HOTCOLD &&
	     (bp->hot_pages == 0 || bp->hot_pages > bp->wss_pages)))
		panic("bad workload geometry wss=%lu hot=%lu cpus=%u share=%u", bp->wss_pages,
		      bp->hot_pages, n, bp->share_pct);
	if (bp->workload != ABI_WL_SEQ && bp->workload != ABI_WL_RANDOM &&
	    bp->workload != ABI_WL_HOTCOLD)
		panic("unknown workload %u", bp->workload);

	sh.bp = bp;
	sh.nr_cpus = n;
	sh.base = base;
	sh.by_time = bp->nr_epochs == 0;
	/* The seen bitmaps: physically contiguous kernel pages, via the
	 * direct map (abi_workload_kernel_pages counts them). */
	sh.seen_words = (bp->wss_pages + 63) / 64;
	uint64_t pages = (sh.seen_words * 8 + ABI_PAGE_SIZE - 1) / ABI_PAGE_SIZE;
	for (uint32_t c = 0; c < n + (n > 1); c++) {
		uint64_t *seen = P2V(pmem_alloc_kernel_contig(pages));
		memset(seen, 0, pages * ABI_PAGE_SIZE);
		if (c < n)
			sh.seen[c] = seen;
		else
			sh.any_seen = seen;
	}

	smp_start(bp, cr3, ap_run);
	if ((bp->flags & ABI_BOOT_F_TEST_IPI) && n > 1)
		ipi_measure(n);
	struct wl w;
	wl_init(&w, 0);
	hcall_ready();
	__atomic_store_n(&sh.started, 1, __ATOMIC_RELEASE);

	uint64_t epoch;
	for (epoch = 1;; epoch++) {
		wl_epoch(&w, prog, epoch);
		if (!bsp_epoch_end(&w, prog, epoch, bp->nr_epochs))
			break;
	}
	*rounds = sh.by_time ? epoch : bp->nr_epochs;
	return wl_check(&w);
}
