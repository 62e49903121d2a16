/*
 * Harvesting KVM's dirty logs, as pure functions over arrays: they take the
 * bitmap or ring contents and a slot table, and fill a frameset of RAM
 * indexes.  No ioctls here, so they are unit-tested without KVM.
 */
#ifndef LOGGER_HARVEST_H
#define LOGGER_HARVEST_H

#include <stdint.h>
#include <linux/kvm.h>

#include "logger/dlog/frameset.h"

/* The slots a ring entry may name: KVM slot id i is slots[i] (dense ids). */
struct harvest_slot {
	uint64_t first_page; /* RAM index of the slot's page 0 */
	uint64_t pages;
};

/*
 * Add page first_page + b to `out` for every set bit b < nbits of `bitmap`.
 * `out` may be NULL (count only).  Returns the number of set bits, or -ERANGE
 * if an index falls outside `out`.
 */
int64_t harvest_bitmap(const uint64_t *bitmap, uint64_t nbits, uint64_t first_page,
		       struct frameset *out);

/*
 * Collect the dirty entries of one vCPU's ring, starting at *fetch, in order,
 * stopping at the first entry KVM has not published (no DIRTY flag) or after
 * `entries` entries (a completely full ring).  Each entry's flags are read
 * with acquire ordering before its slot/offset, and after recording it the
 * entry is marked RESET with release ordering, so KVM (which reads the flag in
 * KVM_RESET_DIRTY_RINGS) never recycles an entry we have not finished with.
 * *fetch advances past every collected entry.  `entries` must be a power of
 * two.  `out` may be NULL (collect and reset without recording).
 *
 * Returns the number of entries collected, or -EIO when an entry names a slot
 * or offset outside `slots` (the entry is left unconsumed).
 */
int64_t harvest_ring(struct kvm_dirty_gfn *ring, uint32_t entries, uint32_t *fetch,
		     const struct harvest_slot *slots, uint32_t nr_slots, struct frameset *out);

#endif
