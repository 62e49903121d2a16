/*
 * The replayed truth of a standalone workload (virt_truth.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "abi/wlpick.h"
#include "virt/virt_truth.h"

int virt_truth_init(struct virt_truth *t, const struct virt_wl *wl)
{
	memset(t, 0, sizeof(*t));
	if (wl->wss == 0 || wl->wss > (1ULL << 32))
		return -EINVAL;
	switch (wl->workload) {
	case ABI_WL_SEQ:
	case ABI_WL_RANDOM:
		break;
	case ABI_WL_HOTCOLD:
		if (wl->hot_pages == 0 || wl->hot_pages > wl->wss || wl->hot_pct > 100)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	t->seen = calloc((wl->wss + 63) / 64, sizeof(uint64_t));
	if (!t->seen)
		return -ENOMEM;
	t->wl = *wl;
	return 0;
}

int virt_truth_ranges(struct virt_truth *t, struct virt_range *r, size_t nr)
{
	struct abi_wlpick p;
	size_t words = (t->wl.wss + 63) / 64;

	for (size_t i = 0; i < nr; i++) {
		if (r[i].from > r[i].to || (i && r[i].from < r[i - 1].to))
			return -EINVAL;
		if (r[i].to > VIRT_TRUTH_MAX_STORES)
			return -E2BIG;
	}
	/* seq stores to page k mod wss: a range holds min(its length, wss). */
	if (t->wl.workload == ABI_WL_SEQ) {
		for (size_t i = 0; i < nr; i++) {
			uint64_t len = r[i].to - r[i].from;
			r[i].distinct = len < t->wl.wss ? len : t->wl.wss;
		}
		return 0;
	}
	/* The others draw from a generator that only runs forward: one walk
	 * from the run's first store, a fresh bitmap at each range's start. */
	abi_wlpick_init(&p, t->wl.workload, t->wl.wss, t->wl.hot_pages, t->wl.hot_pct,
			t->wl.seed);
	uint64_t k = 0;
	for (size_t i = 0; i < nr; i++) {
		uint64_t distinct = 0;
		for (; k < r[i].from; k++)
			abi_wlpick_next(&p);
		memset(t->seen, 0, words * sizeof(uint64_t));
		for (; k < r[i].to; k++) {
			uint64_t page = abi_wlpick_next(&p);
			uint64_t bit = 1ULL << (page & 63);
			if (!(t->seen[page >> 6] & bit)) {
				t->seen[page >> 6] |= bit;
				distinct++;
			}
		}
		r[i].distinct = distinct;
	}
	return 0;
}

uint64_t virt_truth_distinct(struct virt_truth *t, uint64_t from, uint64_t to)
{
	struct virt_range r = {.from = from, .to = to};
	if (to <= from || virt_truth_ranges(t, &r, 1))
		return 0;
	return r.distinct;
}

void virt_truth_free(struct virt_truth *t)
{
	free(t->seen);
	t->seen = NULL;
}
