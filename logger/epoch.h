/*
 * The epoch record: what one harvest found.  Every output (table, JSON, and
 * later writeback, migration, comparison) consumes this one record; none of
 * them harvests on its own.
 */
#ifndef LOGGER_EPOCH_H
#define LOGGER_EPOCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "logger/frameset.h"

struct pcview;
struct migrate_stats;
struct migin_stats;
#include "vmm/mem.h"
#include "vmm/stats.h"

/* Host writeback's figures (logger/hostwb.c): one commit's, or the run's. */
struct hostwb_stats {
	uint64_t commits;
	uint64_t pages;		/* file pages written from guest RAM */
	uint64_t staged_blocks; /* blocks the guest wrote itself, committed */
	uint64_t blocks;	/* image blocks written (pages + staged, each once) */
	uint64_t extents;	/* runs of adjacent blocks: one journal extent each */
	uint64_t unbacked;	/* dirty file pages the guest's index no longer holds */
	uint64_t deferred;	/* pages of files not yet in the disk's metadata */
	uint64_t listed;	/* pages told to the guest */
	uint64_t flushes;	/* guest FLUSH requests answered from staging */
	uint64_t mismatches;	/* verify: cached pages that differ from the image */
	uint64_t gather_ns;	/* mapping dirty frames to blocks (vCPU stopped) */
	uint64_t commit_ns;	/* journal_commit, checkpoints included */
};

#define EPOCH_LOST_LISTED 64 /* lost GPAs carried in a record; the count is exact */

struct epoch_rec {
	uint64_t epoch; /* 1-based; the boot phase is not an epoch */
	const char *mode;
	const char *workload;
	const struct frameset *dirty; /* RAM indexes, sorted ascending */
	const struct guest_mem *mem;  /* to turn indexes into GPAs */
	uint64_t dirty_pages;
	uint64_t log_entries;	 /* bits or ring entries the log reported, duplicates included */
	uint64_t workload_pages; /* distinct pages the guest workload says it wrote */
	uint64_t slot_pages[MEM_MAX_SLOTS];
	int nr_slots;
	bool verified;	     /* the oracle ran */
	uint64_t lost_pages; /* valid when verified */
	uint64_t lost_gpa[EPOCH_LOST_LISTED];
	uint64_t lost_listed; /* min(lost_pages, EPOCH_LOST_LISTED) */
	uint64_t harvest_ns;  /* all harvests of the epoch, ring-full ones included */
	uint64_t epoch_ns;    /* guest running time since the previous harvest */
	double dirty_rate_mibs;
	uint64_t ring_full_exits;
	uint64_t stats[VSTAT_NR]; /* KVM vCPU counters during the epoch; UINT64_MAX: absent */
	/* File workloads: what the guest kernel published (include/abi/pcache.h). */
	bool file_world;
	uint64_t guest_dirty_pages;   /* pages its page cache considers dirty now */
	uint64_t guest_written_pages; /* distinct pages it wrote back this epoch */
	uint64_t guest_page_writes;   /* page writes it issued this epoch */
	uint64_t device_dirty_pages;  /* guest pages the virtio-blk device wrote */
	const struct pcview *view;    /* the epoch's view itself (logger/pcview.h) */
	/* --writeback host */
	bool hostwb;
	bool hostwb_committed;		 /* this epoch's end committed a transaction */
	struct hostwb_stats hostwb_last; /* that commit's figures */
};

struct run_summary {
	const char *mode;
	const char *workload;
	uint64_t mem_bytes;
	uint64_t wss_pages;
	uint64_t epochs;
	uint64_t dirty_pages;	 /* sum over epochs */
	uint64_t log_entries;	 /* sum over epochs */
	uint64_t workload_pages; /* sum over epochs */
	uint64_t boot_dirty_pages;
	bool verified;
	uint64_t lost_pages; /* boot phase included */
	uint64_t ring_full_exits;
	uint64_t kvm_calls;
	uint64_t harvest_ns;
	uint64_t total_ns;
	uint64_t stats[VSTAT_NR];
	const char *policy; /* file workloads; NULL otherwise */
	uint64_t guest_page_writes;
	uint64_t device_dirty_pages;
	uint64_t blk_requests, blk_bytes_read, blk_bytes_written;
	bool guest_check_failed; /* DONE: the anonymous workload's own data check failed */
	bool hostwb;
	uint64_t hostwb_interval;
	struct hostwb_stats hostwb_stats; /* the final commit at DONE included */
	uint64_t host_cleaned;		  /* pages the guest cleaned on the host's word */
	/* Live migration (logger/migrate.h).  The pointers are valid during
	 * the sinks' summary calls only. */
	const struct migrate_stats *migration; /* source: --migrate-to was given */
	bool migrated;			       /* source: the destination took over */
	const struct migin_stats *incoming;    /* destination: the guest came in */
	uint64_t first_epoch;		       /* destination: the first epoch run here */
};

/* An output.  Either callback may be NULL. */
struct sink {
	void (*epoch)(struct sink *s, const struct epoch_rec *e);
	void (*summary)(struct sink *s, const struct run_summary *r);
	FILE *f;
};

#endif
