/*
 * The ground truth of a standalone guest's dirty rate, replayed on the host.
 *
 * The standalone workloads are deterministic: the k-th page store of a run
 * goes to a page that depends only on the workload, its geometry and the
 * seed (include/abi/wlpick.h, the one generator the guest also runs).  So
 * the distinct pages a guest wrote between its k1-th and k2-th store are
 * known exactly on the host, without asking the guest: the store counts
 * come from its serial lines, and the replay does the rest.
 */
#ifndef VIRT_VIRT_TRUTH_H
#define VIRT_VIRT_TRUTH_H

#include <stdint.h>

struct virt_wl {
	uint32_t workload; /* ABI_WL_SEQ, ABI_WL_RANDOM or ABI_WL_HOTCOLD */
	uint64_t wss;	   /* pages, at least 1 */
	uint64_t hot_pages, hot_pct; /* hotcold only: 1..wss pages, 0..100 percent */
	uint64_t seed;
};

/*
 * The most stores a replay walks: 2^34, some 17 billion picks, about half
 * a minute of host time.  The store counts come from the guest, which is
 * untrusted: a guest that claims more is refused rather than replayed for
 * hours.  This platform's guest makes fewer than 10^4 page stores a second
 * under QEMU, so a real run stays far below it.
 */
#define VIRT_TRUTH_MAX_STORES (1ULL << 34)

/* A range of a run's stores, [from, to), and the distinct pages in it. */
struct virt_range {
	uint64_t from, to;
	uint64_t distinct; /* out */
};

struct virt_truth {
	struct virt_wl wl;
	uint64_t *seen; /* one bit per working-set page */
};

/* Check `wl` (the same rules as the guest's command line) and allocate the
 * replay's bitmap.  0, -EINVAL for a geometry the guest refuses, -ENOMEM. */
int virt_truth_init(struct virt_truth *t, const struct virt_wl *wl);

/*
 * The distinct pages of each of `nr` ranges of the run's stores (numbered
 * from 0), in one replay: the ranges must come in order and not overlap
 * (r[i].from <= r[i].to <= r[i+1].from), and end at most at
 * VIRT_TRUTH_MAX_STORES.  0; -EINVAL for ranges out of order, -E2BIG past
 * the limit (nothing filled).  Cost: one pick per store up to the last
 * range's end, each a handful of instructions, plus a clear of the
 * working set's bitmap per range; seq needs no replay at all.
 */
int virt_truth_ranges(struct virt_truth *t, struct virt_range *r, size_t nr);

/* virt_truth_ranges for one range: its distinct pages, 0 when to <= from
 * or when it ends past VIRT_TRUTH_MAX_STORES. */
uint64_t virt_truth_distinct(struct virt_truth *t, uint64_t from, uint64_t to);

void virt_truth_free(struct virt_truth *t);

#endif
