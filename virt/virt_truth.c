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

uint64_t virt_truth_distinct(struct virt_truth *t, uint64_t from, uint64_t to)
{
	struct abi_wlpick p;
	uint64_t distinct = 0;

	if (to <= from)
		return 0;
	memset(t->seen, 0, (t->wl.wss + 63) / 64 * sizeof(uint64_t));
	abi_wlpick_init(&p, t->wl.workload, t->wl.wss, t->wl.hot_pages, t->wl.hot_pct,
			t->wl.seed);
	/* seq needs no replay to find where it stands. */
	uint64_t k = 0;
	if (t->wl.workload == ABI_WL_SEQ) {
		p.cursor = from % t->wl.wss;
		k = from;
	}
	for (; k < to; k++) {
		uint64_t page = abi_wlpick_next(&p);
		if (k < from)
			continue;
		uint64_t bit = 1ULL << (page & 63);
		if (!(t->seen[page >> 6] & bit)) {
			t->seen[page >> 6] |= bit;
			distinct++;
		}
	}
	return distinct;
}

void virt_truth_free(struct virt_truth *t)
{
	free(t->seen);
	t->seen = NULL;
}
