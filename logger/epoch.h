/*
 * The epoch record: what one harvest found, and the run's summary.  Every
 * consumer (the outputs, host writeback, migration, comparison) takes this
 * one record; none of them harvests on its own.  It holds what every run
 * has; a subsystem's own figures hang on it as a report_ext.
 */
#ifndef LOGGER_EPOCH_H
#define LOGGER_EPOCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "abi/layout.h"
#include "logger/dlog/frameset.h"
#include "util/fail.h"
#include "util/report.h"
#include "vmm/mem.h"
#include "vmm/stats.h"

struct pcview;

/* Subsystems reporting figures of their own in one run (util/report.h). */
#define REPORT_MAX_EXT 4

#define EPOCH_LOST_LISTED 64 /* lost GPAs carried in a record; the count is exact */

/*
 * Per-vCPU figures.  Dirty pages come from each vCPU's own dirty ring with
 * --log ring (the pages KVM logged for stores that vCPU made, kernel pages
 * included); with the bitmap logs, which cannot tell vCPUs apart, from the
 * guest's own count of the workload pages each CPU wrote (its SYNC), and
 * not at all by time, where the guest's rounds do not follow the epochs.
 */
enum vcpu_source {
	VCPU_SOURCE_NONE = 0,
	VCPU_SOURCE_RING,
	VCPU_SOURCE_GUEST,
};

struct vcpu_figs {
	uint32_t nr; /* vCPUs */
	enum vcpu_source source;
	uint64_t dirty_pages[ABI_MAX_CPUS];
	uint64_t exits[ABI_MAX_CPUS]; /* UINT64_MAX: absent */
	uint64_t ring_full_exits[ABI_MAX_CPUS];
	uint64_t held_ns[ABI_MAX_CPUS]; /* --dirty-limit: time held out of the guest */
};

/* The name of a source in the outputs: "ring", "guest", or NULL. */
const char *vcpu_source_name(enum vcpu_source src);

struct epoch_rec {
	uint64_t epoch; /* 1-based; the boot phase is not an epoch */
	const char *mode;
	const char *workload;
	const struct frameset *dirty; /* RAM indexes, sorted ascending */
	const struct guest_mem *mem;  /* to turn indexes into GPAs */
	uint64_t dirty_pages;
	uint64_t log_entries;	 /* bits or ring entries the log reported, duplicates included */
	uint64_t workload_pages; /* distinct pages the guest workload says it wrote;
				    time_based: the stores it made in the epoch */
	bool time_based;	 /* the host's clock closed the epoch (--epoch-ms) */
	/* An incoming guest's first epoch: it began at the source, so the
	 * dirty pages are those of this side only, while the workload's count
	 * is the whole epoch's. */
	bool partial;
	uint64_t slot_pages[MEM_MAX_SLOTS];
	int nr_slots;
	bool verified;	     /* the oracle ran */
	uint64_t lost_pages; /* valid when verified */
	uint64_t lost_gpa[EPOCH_LOST_LISTED];
	uint64_t lost_listed;	   /* min(lost_pages, EPOCH_LOST_LISTED) */
	uint64_t harvest_ns;	   /* all harvests of the epoch, ring-full ones included */
	uint64_t harvest_clear_ns; /* of which the clear/reset step (dlog.h clear_ns) */
	uint64_t epoch_ns;	   /* guest running time since the previous harvest */
	double dirty_rate_mibs;
	uint64_t ring_full_exits;
	uint64_t stats[VSTAT_NR]; /* KVM vCPU counters during the epoch; UINT64_MAX: absent */
	struct vcpu_figs vcpu;	  /* per vCPU, this epoch */
	/* File workloads: what the guest kernel published (include/abi/pcache.h). */
	bool file_world;
	uint64_t guest_dirty_pages;   /* pages its page cache considers dirty now */
	uint64_t guest_written_pages; /* distinct pages it wrote back this epoch */
	uint64_t guest_page_writes;   /* page writes it issued this epoch */
	uint64_t device_dirty_pages;  /* guest pages the virtio-blk device wrote */
	const struct pcview *view;    /* the epoch's view itself (logger/guestview/pcview.h) */
	/* Subsystems' own figures for this epoch (host writeback's commit). */
	const struct report_ext *ext[REPORT_MAX_EXT];
	int nr_ext;
};

/* The image check of a file workload's run (--verify; logger/verify/fileverify.h). */
enum run_image_check {
	RUN_IMAGE_NOT_CHECKED = 0, /* no --verify, no disk, or the guest moved away */
	RUN_IMAGE_PASSED,
	RUN_IMAGE_FAILED, /* pages differ, or the image is no longer DSFS */
	RUN_IMAGE_ERROR,  /* the host could not read it: no verdict */
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
	uint64_t tail_dirty_pages; /* --epoch-ms: after the last epoch, before DONE */
	uint32_t epoch_ms;	   /* epochs by time: their length; 0: by the guest */
	bool verified;
	uint64_t lost_pages; /* boot phase included */
	uint64_t ring_full_exits;
	/* ring: the reaper (logger/dlog/reaper.h): its period (0: no thread),
	 * passes that found entries, of them the thread's, the largest. */
	bool reaper;
	uint32_t reaper_us;
	uint32_t dirty_limit_mibs; /* --dirty-limit; 0 none */
	uint64_t limit_held_ns;	   /* the vCPUs' held time, all of the run's */
	uint64_t reaper_passes, reaper_thread_passes, reaper_max_pass;
	uint64_t kvm_calls;
	uint64_t harvest_ns;
	uint64_t harvest_clear_ns;
	uint64_t epoch_ns; /* the epochs' running time, summed: the dirty rate's base */
	uint64_t total_ns;
	uint64_t stats[VSTAT_NR];
	struct vcpu_figs vcpu; /* per vCPU, summed over the epochs */
	const char *policy;    /* file workloads; NULL otherwise */
	uint64_t guest_page_writes;
	uint64_t device_dirty_pages;
	uint64_t blk_requests, blk_bytes_read, blk_bytes_written;
	bool guest_check_failed; /* DONE: the anonymous workload's own data check failed */
	bool migrated;		 /* the guest moved to a destination and ended here */
	uint64_t first_epoch;	 /* the guest came in: the first epoch run here (else 0) */
	/* The epoch open at a migration's switch-over, split between the
	 * sides (set on both; else 0). */
	uint64_t partial_epoch;
	/* The verdicts, set before the sinks' summary call, which comes once
	 * the guest ran, whether the run completed or failed on the way. */
	bool completed; /* every epoch ran (checks may still have failed) */
	bool log_overflowed;
	bool migration_unverified; /* the late RAM verdict failed or never came */
	enum run_image_check image_check;
	uint64_t image_pages_differ; /* RUN_IMAGE_FAILED with a DSFS image */
	const char *failed_check;    /* the check that failed the run, or NULL */
	enum ds_fail fail;	     /* what failed, as the process exits with it */
	const char *error;	     /* failed: the first error line printed */
	bool reported;		     /* the sinks got this summary */
	/* Subsystems' own figures (host writeback, live migration), in the
	 * order they print; valid during the sinks' summary calls only. */
	const struct report_ext *ext[REPORT_MAX_EXT];
	int nr_ext;
};

/* A dirty rate in MiB/s: `pages` of 4 KiB dirtied in `ns` of running
 * time (0 for no time), as every output and the progress line state it. */
static inline double epoch_dirty_rate(uint64_t pages, uint64_t ns)
{
	return ns ? (double)pages * 4096.0 / (1 << 20) / ((double)ns / 1e9) : 0;
}

/* An output.  Either callback may be NULL. */
struct sink {
	void (*epoch)(struct sink *s, const struct epoch_rec *e);
	void (*summary)(struct sink *s, const struct run_summary *r);
	FILE *f;
	uint64_t rows; /* epochs it was given so far */
};

#endif
