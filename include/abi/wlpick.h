/* SPDX-License-Identifier: MIT */
/*
 * The anonymous workloads' page sequence, shared by the guest kernel
 * (guest/workload.c), which stores to the pages, and the host
 * (virt/virt_truth.c), which replays the sequence to know which pages a
 * standalone guest wrote between any two of its store counts.
 *
 *   seq      pages 0, 1, ..., wss-1, 0, 1, ...: a cursor that wraps
 *   random   uniform over the working set (xorshift64*)
 *   hotcold  hot_pct% of picks go to the first hot pages, uniformly, the
 *            rest uniformly to the others (all hot when hot == wss)
 *
 * The state carries over from epoch to epoch, so store k of a run is a
 * function of (workload, geometry, seed, k) alone.  No libc, fixed-width
 * types; a pick costs a handful of instructions, which the guest, running
 * at about 10^6 instructions a second, can afford once per store.
 */
#ifndef ABI_WLPICK_H
#define ABI_WLPICK_H

#include "boot.h"

struct abi_wlpick {
	uint32_t workload; /* ABI_WL_SEQ, ABI_WL_RANDOM or ABI_WL_HOTCOLD */
	uint64_t wss;	   /* pages, at least 1 */
	uint64_t hot, hot_pct; /* hotcold: 1..wss pages, 0..100 */
	uint64_t rng, cursor;
};

/* Start the sequence: splitmix64 of the seed, so that any seed, 0 too,
 * gives a non-zero xorshift state. */
static inline void abi_wlpick_init(struct abi_wlpick *p, uint32_t workload, uint64_t wss,
				   uint64_t hot, uint64_t hot_pct, uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	p->workload = workload;
	p->wss = wss;
	p->hot = hot;
	p->hot_pct = hot_pct;
	p->rng = (z ^ (z >> 31)) | 1;
	p->cursor = 0;
}

/* xorshift64*: cheap and good enough. */
static inline uint64_t abi_wlpick_rng(struct abi_wlpick *p)
{
	uint64_t x = p->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	p->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n) by multiply-high, avoiding a divide. */
static inline uint64_t abi_wlpick_below(uint64_t r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)r * n) >> 64);
}

/* The next page (0..wss-1); wss for an unknown workload, which callers
 * refuse before they start. */
static inline uint64_t abi_wlpick_next(struct abi_wlpick *p)
{
	switch (p->workload) {
	case ABI_WL_SEQ: {
		uint64_t page = p->cursor;
		if (++p->cursor == p->wss)
			p->cursor = 0;
		return page;
	}
	case ABI_WL_RANDOM:
		return abi_wlpick_below(abi_wlpick_rng(p), p->wss);
	case ABI_WL_HOTCOLD: {
		int hot = p->hot == p->wss || abi_wlpick_below(abi_wlpick_rng(p), 100) < p->hot_pct;
		if (hot)
			return abi_wlpick_below(abi_wlpick_rng(p), p->hot);
		return p->hot + abi_wlpick_below(abi_wlpick_rng(p), p->wss - p->hot);
	}
	}
	return p->wss;
}

#endif
