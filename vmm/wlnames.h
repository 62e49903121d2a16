/*
 * The names of the guest's workloads (ABI_WL_*, abi/boot.h) and of its
 * page cache's dirty-tracking policies (ABI_POLICY_*, abi/pcache.h): one
 * table each, the only place a name is spelled.  The command line parses
 * with them and writes its usage text and `info` from them; tests and
 * benchmarks print and choose by them.
 *
 * They live in vmm/, beside boot.h, because that is where the values
 * become the guest's boot parameters (struct boot_workload): the lowest
 * library every user of a name already links, with no dependence on the
 * logger.  (The dirty-log modes keep their names in their own table,
 * logger/dlog/dlog.h.)
 */
#ifndef VMM_WLNAMES_H
#define VMM_WLNAMES_H

#include <stddef.h>
#include <stdint.h>

/* Kinds of workload, a bit each, to choose lists by. */
#define WL_ANON	    0x1u /* anonymous memory: the guest kernel's own loops */
#define WL_FILE	    0x2u /* the file world: a user program, a file on the disk */
#define WL_SELFTEST 0x4u /* bad-input tests: they check themselves, end no epoch */
#define WL_ANY	    (WL_ANON | WL_FILE | WL_SELFTEST)

struct wl_name {
	const char *name;
	uint32_t id;   /* ABI_WL_* */
	unsigned kind; /* one WL_* bit */
};

/* Every workload, in ABI_WL_* order; ends with a NULL name. */
extern const struct wl_name wl_names[];

/* The name of workload id, or NULL. */
const char *wl_name_of(uint32_t id);

/* The entry called name, or NULL. */
const struct wl_name *wl_find(const char *name);

/* The kind (WL_*) of workload id, 0 for none. */
unsigned wl_kind(uint32_t id);

/* The names of the workloads of `kinds` (WL_* bits), in table order, into
 * buf: strlist_join's form ("seq | random | hotcold"). */
const char *wl_list(unsigned kinds, const char *sep, const char *last, char *buf, size_t len);

struct policy_name {
	const char *name;
	uint32_t id; /* ABI_POLICY_* */
};

/* Every policy a file workload can run under, in ABI_POLICY_* order (not
 * ABI_POLICY_NONE, the anonymous workloads'); ends with a NULL name. */
extern const struct policy_name policy_names[];

/* The name of policy id, or NULL (ABI_POLICY_NONE included). */
const char *policy_name_of(uint32_t id);

/* The entry called name, or NULL. */
const struct policy_name *policy_find(const char *name);

/* Every policy's name into buf, in strlist_join's form. */
const char *policy_list(const char *sep, const char *last, char *buf, size_t len);

#endif
