/*
 * The reaper: one host thread that empties every vCPU's dirty ring while the
 * vCPUs run.  With several vCPUs each ring fills on its own, and a vCPU whose
 * ring is full stops until somebody empties it; waiting for the session's
 * next harvest would stall it for up to an epoch.
 *
 * A pass harvests every ring into the open epoch's set (harvest_ring:
 * collect the published entries, mark them RESET), then calls the reset hook
 * (KVM_RESET_DIRTY_RINGS on the VM fd), which re-protects the collected
 * pages and recycles their entries; the count it returns must equal what the
 * pass collected.  Passes run under the reaper's lock, whoever runs them: the
 * thread every period, a vCPU whose ring filled (reaper_reap), or the session
 * closing an epoch (reaper_close_epoch).
 *
 * Why no store is lost across an epoch boundary: a page is in the set of the
 * pass that collected its entry, and stays writable without a new entry only
 * until that pass's reset re-protects it.  reaper_close_epoch ends with a
 * pass of its own, reset included, before it hands the set over: every store
 * before that reset is on a page of the closed set (a copy of the page made
 * after the close sees it), and every store after it pushes a new entry,
 * which a later pass puts in the next set.
 *
 * No ioctl here: the reset is a hook, so the reaper is tested against a ring
 * model that acts as KVM does (tests/test_reaper.c).
 */
#ifndef LOGGER_DLOG_REAPER_H
#define LOGGER_DLOG_REAPER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "logger/dlog/frameset.h"
#include "logger/dlog/harvest.h"

/* One vCPU's ring, as mapped from its fd. */
struct reaper_ring {
	struct kvm_dirty_gfn *gfns;
	uint32_t entries;   /* a power of two */
	uint32_t fetch;	    /* the next entry to collect */
	uint64_t collected; /* entries collected from this ring, in all */
	/* Optional, set after reaper_init: this ring's pages go here too (a
	 * vCPU's own figures; the reaper's scratch set must then be set). */
	struct frameset *own;
	/* Passes that found the ring completely full: KVM did not stop at the
	 * soft limit, and may have overwritten entries (an overflow). */
	uint64_t full_passes;
};

/* The reset: recycle every entry marked RESET in every ring and re-protect
 * their pages.  Returns how many entries it recycled, or -errno. */
typedef int64_t (*reaper_reset_fn)(void *arg);

struct reaper {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* wakes the thread early: a stop */
	pthread_t thread;
	bool started, stop;
	struct reaper_ring *rings;
	uint32_t nr_rings;
	const struct harvest_slot *slots;
	uint32_t nr_slots;
	struct frameset *set; /* the open epoch's */
	reaper_reset_fn reset;
	void *reset_arg;
	uint64_t period_ns;
	/* The first failure, -errno: every later call returns it, since a
	 * ring that could not be emptied may have lost entries. */
	int err;
	/* Under lock. */
	uint64_t passes;	/* that collected at least one entry */
	uint64_t collected;	/* entries, all rings */
	uint64_t max_pass;	/* the most entries one pass collected */
	uint64_t thread_passes; /* of `passes`, run by the thread */
	/* Optional, set after reaper_init: where a ring with an own set is
	 * collected first, then added to both (empty between passes). */
	struct frameset *scratch;
};

/*
 * Set up a reaper over `rings` (nr_rings, each entries a power of two),
 * harvesting into `set` until the first close.  The thread is not started.
 * 0, or -EINVAL for bad arguments.
 */
int reaper_init(struct reaper *r, struct reaper_ring *rings, uint32_t nr_rings,
		const struct harvest_slot *slots, uint32_t nr_slots, struct frameset *set,
		reaper_reset_fn reset, void *reset_arg, uint64_t period_ns);

/* Start the thread, which runs a pass every period_ns.  0 or -errno. */
int reaper_start(struct reaper *r);

/*
 * One pass now, on the caller's thread: what a vCPU does when its ring is
 * full.  Returns the entries collected, or the reaper's -errno.
 */
int64_t reaper_reap(struct reaper *r);

/*
 * Close the open epoch: a last pass, its reset included, then `next` becomes
 * the open set and *closed the one just closed.  0, or the reaper's -errno
 * (nothing swapped).
 */
int reaper_close_epoch(struct reaper *r, struct frameset *next, struct frameset **closed);

/*
 * For a caller that must look at the rings or the set between passes (an
 * overflow check, taking the set's pages): the reaper's lock, and a pass
 * under it.  reaper_pass_locked returns the entries collected, or the
 * reaper's -errno.
 */
void reaper_lock(struct reaper *r);
void reaper_unlock(struct reaper *r);
int64_t reaper_pass_locked(struct reaper *r);

/* Stop and join the thread (no pass of its own: close the epoch for that).
 * Returns the reaper's -errno, 0 when it never failed. */
int reaper_stop(struct reaper *r);

void reaper_destroy(struct reaper *r);

#endif
