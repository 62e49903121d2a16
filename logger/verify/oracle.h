/*
 * The lost-page oracle.  It keeps a shadow copy of guest RAM as of the last
 * harvest; at the next harvest every page whose bytes differ from the shadow
 * but is not in the reported set is a lost page: a store the dirty log never
 * told us about.  A pure function over two memory areas and a frameset, so
 * its own tests can feed it wrong reports.
 */
#ifndef LOGGER_ORACLE_H
#define LOGGER_ORACLE_H

#include <stdint.h>

#include "logger/dlog/frameset.h"

struct oracle {
	const uint8_t *ram; /* the live guest RAM (RAM-index order) */
	uint8_t *shadow;    /* RAM as of the last check */
	uint64_t *written;  /* bitmap: shadow pages holding a copy (others are zero) */
	uint64_t nr_pages;
	int pagemap_fd; /* /proc/self/pagemap, or -1: compare every page */
};

/* Snapshot `ram` (nr_pages pages, page aligned) as the baseline.  Only
 * non-zero pages are copied, so the shadow of a large, mostly untouched guest
 * stays small.  Returns 0 or -ENOMEM. */
int oracle_init(struct oracle *o, const uint8_t *ram, uint64_t nr_pages);

/*
 * Compare RAM with the shadow.  For every changed page not in `reported`,
 * call lost(ctx, index) and count it.  Then bring the shadow up to date
 * (changed pages are copied whether reported or not, so a lost page is
 * reported once, in the epoch it was lost).  Returns the number of lost pages.
 */
uint64_t oracle_check(struct oracle *o, const struct frameset *reported,
		      void (*lost)(void *ctx, uint64_t index), void *ctx);

void oracle_free(struct oracle *o);

#endif
