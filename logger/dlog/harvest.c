#include <errno.h>
#include <stddef.h>

#include "logger/dlog/harvest.h"

int64_t harvest_bitmap(const uint64_t *bitmap, uint64_t nbits, uint64_t first_page,
		       struct frameset *out)
{
	int64_t n = 0;
	for (uint64_t w = 0; w < (nbits + 63) / 64; w++) {
		uint64_t word = bitmap[w];
		if (w == nbits / 64 && nbits % 64) /* ignore bits past the slot */
			word &= (1ULL << (nbits % 64)) - 1;
		while (word) {
			uint64_t b = (uint64_t)__builtin_ctzll(word);
			word &= word - 1;
			if (out && frameset_add(out, first_page + w * 64 + b) < 0)
				return -ERANGE;
			n++;
		}
	}
	return n;
}

int64_t harvest_ring(struct kvm_dirty_gfn *ring, uint32_t entries, uint32_t *fetch,
		     const struct harvest_slot *slots, uint32_t nr_slots, struct frameset *out)
{
	/* The cursor, and the set's fields, in locals: stores into the set
	 * and the ring could alias *fetch and out->count as far as the
	 * compiler knows (the set's words and its count are both uint64_t),
	 * which would put a store and a reload of each on every entry's
	 * critical path.  frameset_add's work, inlined on the locals. */
	uint32_t f = *fetch, mask = entries - 1;
	uint64_t *bits = out ? out->bits : NULL, *list = out ? out->list : NULL;
	uint64_t nbits = out ? out->nbits : 0, count = out ? out->count : 0;
	int64_t n = 0, ret;
	while (n < entries) {
		struct kvm_dirty_gfn *e = &ring[f & mask];
		/* Acquire: KVM writes slot/offset, then publishes DIRTY with release. */
		uint32_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		uint32_t as_id = e->slot >> 16, slot = e->slot & 0xffff;
		uint64_t offset = e->offset;
		if (as_id != 0 || slot >= nr_slots || offset >= slots[slot].pages)
			goto bad;
		if (out) {
			uint64_t idx = slots[slot].first_page + offset;
			if (idx >= nbits)
				goto bad;
			uint64_t bit = 1ULL << (idx % 64), *w = &bits[idx / 64];
			if (!(*w & bit)) {
				*w |= bit;
				list[count++] = idx;
			}
		}
		/* Release: our reads of the entry complete before KVM may reuse it. */
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		f++;
		n++;
	}
	ret = n;
	goto out;
bad:
	ret = -EIO; /* the entry is left unconsumed */
out:
	if (out)
		out->count = count;
	*fetch = f;
	return ret;
}
