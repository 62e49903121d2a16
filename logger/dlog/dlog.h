/*
 * Dirty-log backends behind one mode table, in the style of the KVM
 * selftests' `struct log_mode`.  Every backend answers one question at
 * harvest time: which RAM pages were written since the last harvest?  and
 * re-arms tracking for them before returning.
 */
#ifndef LOGGER_DLOG_H
#define LOGGER_DLOG_H

#include <stddef.h>
#include <stdint.h>

#include "logger/dlog/frameset.h"
#include "logger/dlog/harvest.h"
#include "logger/dlog/reaper.h"
#include "util/fail.h"
#include "vmm/vm.h"

#define DLOG_RING_MIN_BYTES    4096	  /* KVM refuses a ring smaller than a page */
#define DLOG_RING_ENTRIES      4096	  /* default entries per vCPU ring: 64 KiB */
#define DLOG_CLEAR_CHUNK_PAGES (1u << 18) /* 1 GiB per KVM_CLEAR_DIRTY_LOG, as QEMU */
#define DLOG_REAPER_US	       1000	  /* ring: the reaper thread's period */

struct dlog_config {
	uint32_t ring_entries;	    /* ring: entries per vCPU ring, a power of two */
	uint64_t clear_chunk_pages; /* clear: pages per KVM_CLEAR_DIRTY_LOG (multiple of 64) */
	/* ring: the reaper thread empties every ring this often while the
	 * vCPUs run (logger/dlog/reaper.h); 0: no thread, the rings are
	 * emptied at harvests and ring-full exits only. */
	uint32_t reaper_us;
	/* TEST HOOK (tools/testhook.c): ring: the harvest of epoch
	 * test_ring_overrun - 1 (boot is epoch 0) finds a published entry
	 * beyond the first unpublished one, as after KVM overran the ring.
	 * 0: never.  A correct KVM does not overrun, so only this shows the
	 * overflow path on every host. */
	uint64_t test_ring_overrun;
};

/* The configuration every mode runs with unless told otherwise (the CLI's
 * defaults): DLOG_RING_ENTRIES per ring, DLOG_CLEAR_CHUNK_PAGES per clear. */
struct dlog_config dlog_config_default(void);

struct dlog;
struct uffd_track;

struct dlog_mode {
	const char *name;
	const char *desc;
	/* KVM's own dirty log (not a tracker of the host's page tables): what
	 * live migration, source and destination, can harvest. */
	bool kvm_log;
	/* DS_FAIL_NONE if this KVM can run the mode with cfg; else, with the
	 * reason in why, DS_FAIL_PLATFORM (KVM or the kernel lacks what the
	 * mode needs) or DS_FAIL_USAGE (cfg out of the range it takes). */
	enum ds_fail (*supported)(const struct kvm *kvm, const struct dlog_config *cfg, char *why,
				  size_t len);
	int (*vm_created)(struct dlog *d);   /* VM exists; no slots, no vCPUs yet */
	int (*vcpu_created)(struct dlog *d); /* every vCPU exists */
	/* Add pages dirtied since the last harvest to out (NULL: discard) and
	 * re-arm tracking for them.  Returns pages harvested or -errno. */
	int64_t (*harvest)(struct dlog *d, struct frameset *out);
	void (*teardown)(struct dlog *d);
};

struct dlog {
	const struct dlog_mode *mode;
	struct dlog_config cfg;
	struct vm *vm;
	struct harvest_slot slots[MEM_MAX_SLOTS]; /* indexed by KVM slot id */
	uint64_t *bitmap;			  /* bitmap/clear: one slot's bits */
	uint32_t nr_rings; /* ring: vCPUs whose ring is mapped (rrings below) */
	size_t ring_bytes;
	/* ring: the rings go through a reaper (reaper.h), with or without
	 * its thread; what it collects waits in `pending` until a harvest
	 * takes it.  With several vCPUs each ring's pages also go to its
	 * vcpu_dirty set (per-vCPU figures: dlog_vcpu_pages_take), by way
	 * of scratch. */
	struct reaper reaper;
	struct reaper_ring rrings[ABI_MAX_CPUS];
	bool reaper_ready;
	struct frameset pending;
	uint64_t reaper_taken; /* entries the harvests have taken so far */
	bool in_take;	       /* a harvest holds the reaper: time its reset */
	struct frameset vcpu_dirty[ABI_MAX_CPUS];
	struct frameset scratch;
	struct uffd_track *uffd; /* uffd: host-level tracker of guest RAM */
	uint64_t kvm_calls;	 /* dirty-log ioctls made, all harvests (uffd: its ioctls) */
	/* Time in the clear or reset step of all harvests (clear's
	 * KVM_CLEAR_DIRTY_LOG, ring's KVM_RESET_DIRTY_RINGS); 0 where one
	 * call gets and re-protects together (bitmap, uffd). */
	uint64_t clear_ns;
	/* Set by a caller that harvests while the vCPU runs (the migration
	 * thread): checks that need a stopped vCPU are skipped then. */
	bool vcpu_running;
	/* Set by a harvest that found the log itself lost entries (a dirty
	 * ring KVM overran): the run's dirty sets are incomplete, a failed
	 * check rather than a KVM failure. */
	bool overflowed;
	/* Set by the session: the epoch harvests now belong to (0: boot),
	 * so that an overflow can say where it happened. */
	uint64_t epoch;
	/* ring: the most entries one harvest took this run (each harvest
	 * takes what came since the previous one). */
	uint32_t ring_peak;
};

/*
 * The one-line reason of a dirty ring overflow, into buf: where it happened
 * (epoch, or boot for epoch 0), whose ring (vCPU cpu), the ring's size, at least how many entries
 * came between two harvests (seen: the published entries found), the
 * run's largest harvest before it (peak; 0 leaves it out), and what to try: a ring at least
 * four times the size, up to this KVM's max_entries, else a bitmap mode.
 * The overwritten entries cannot be counted, so the advice is a lower
 * bound, and says so.  Pure: tests call it directly.
 */
void dlog_ring_overflow_msg(char *buf, size_t len, uint32_t cpu, uint32_t entries,
			    uint32_t max_entries, uint64_t seen, uint32_t peak, uint64_t epoch,
			    bool wrapped);

/* ring: one reaper pass now, from any thread, while vCPUs run: what a vCPU
 * whose ring is full does (the pages wait for the next harvest).  Entries
 * collected, or -errno (an overflow: printed, d->overflowed set). */
int64_t dlog_reap(struct dlog *d);

/* ring: the entries collected from vCPU cpu's ring so far (any thread). */
uint64_t dlog_ring_collected(struct dlog *d, uint32_t cpu);

/* ring with several vCPUs: the pages vCPU cpu's ring named since the last
 * call, and forget them.  0 in any other case. */
uint64_t dlog_vcpu_pages_take(struct dlog *d, uint32_t cpu);

/* ring: the reaper's passes that found entries, of them the thread's, and
 * the largest; zeros without a ring. */
void dlog_reaper_stats(struct dlog *d, uint64_t *passes, uint64_t *thread_passes,
		       uint64_t *max_pass);

/* NULL-terminated table of all modes. */
extern const struct dlog_mode *const dlog_modes[];
extern const struct dlog_mode dlog_mode_bitmap, dlog_mode_clear, dlog_mode_ring, dlog_mode_uffd;

/* The mode called name, or NULL. */
const struct dlog_mode *dlog_find(const char *name);

/* The modes' names into buf, in table order (only KVM's own logs if
 * kvm_log_only), in strlist_join's form (util/strlist.h): "bitmap | clear
 * | ring | uffd", "bitmap, clear or ring". */
const char *dlog_mode_list(bool kvm_log_only, const char *sep, const char *last, char *buf,
			   size_t len);

/* Bind a mode to a created VM (no slots, no vCPUs yet) and run vm_created. */
int dlog_init(struct dlog *d, const struct dlog_mode *mode, const struct dlog_config *cfg,
	      struct vm *vm);

/* Harvest: see struct dlog_mode.  Timing and counting are the caller's. */
int64_t dlog_harvest(struct dlog *d, struct frameset *out);

void dlog_teardown(struct dlog *d);

#endif
