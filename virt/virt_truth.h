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

struct virt_truth {
	struct virt_wl wl;
	uint64_t *seen; /* one bit per working-set page */
};

/* Check `wl` (the same rules as the guest's command line) and allocate the
 * replay's bitmap.  0, -EINVAL for a geometry the guest refuses, -ENOMEM. */
int virt_truth_init(struct virt_truth *t, const struct virt_wl *wl);

/* Distinct pages among the run's stores number `from` (counting from 0) up
 * to, not including, `to`.  0 when to <= from.  Cost: O(to) picks, each a
 * handful of instructions. */
uint64_t virt_truth_distinct(struct virt_truth *t, uint64_t from, uint64_t to);

void virt_truth_free(struct virt_truth *t);

#endif
