/*
 * A set of RAM page indexes (see vmm/mem.h): a bitmap for O(1) membership and
 * de-duplication, plus the list of members in insertion order so iterating
 * and clearing cost O(members), not O(RAM).
 */
#ifndef LOGGER_FRAMESET_H
#define LOGGER_FRAMESET_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

struct frameset {
	uint64_t *bits;
	uint64_t *list;
	uint64_t nbits; /* capacity: indexes 0 .. nbits-1 */
	uint64_t count;
};

/* Allocate an empty set for indexes below nbits (lazily backed memory, so a
 * 64 GiB guest's set costs what is used).  Returns 0 or -ENOMEM. */
int frameset_init(struct frameset *s, uint64_t nbits);

/* Add idx.  Returns 1 if it was new, 0 if already present, -ERANGE if
 * idx >= nbits (the set is unchanged).  Inline: the harvests call it once
 * per dirty page, and a call costs as much as the work. */
static inline int frameset_add(struct frameset *s, uint64_t idx)
{
	if (idx >= s->nbits)
		return -ERANGE;
	uint64_t bit = 1ULL << (idx % 64);
	if (s->bits[idx / 64] & bit)
		return 0;
	s->bits[idx / 64] |= bit;
	s->list[s->count++] = idx;
	return 1;
}

static inline bool frameset_test(const struct frameset *s, uint64_t idx)
{
	return idx < s->nbits && (s->bits[idx / 64] >> (idx % 64)) & 1;
}

/* Remove every member (O(count)). */
void frameset_clear(struct frameset *s);

/* Sort the member list ascending (for stable output). */
void frameset_sort(struct frameset *s);

void frameset_free(struct frameset *s);

#endif
