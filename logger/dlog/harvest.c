#include <errno.h>

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
	/* The cursor in a local: stores into the set and the ring could alias
	 * *fetch as far as the compiler knows, and would force it through
	 * memory on every entry. */
	uint32_t f = *fetch, mask = entries - 1;
	int64_t n = 0;
	while (n < entries) {
		struct kvm_dirty_gfn *e = &ring[f & mask];
		/* Acquire: KVM writes slot/offset, then publishes DIRTY with release. */
		uint32_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		uint32_t as_id = e->slot >> 16, slot = e->slot & 0xffff;
		uint64_t offset = e->offset;
		if (as_id != 0 || slot >= nr_slots || offset >= slots[slot].pages ||
		    (out && frameset_add(out, slots[slot].first_page + offset) < 0)) {
			*fetch = f;
			return -EIO;
		}
		/* Release: our reads of the entry complete before KVM may reuse it. */
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		f++;
		n++;
	}
	*fetch = f;
	return n;
}
