/*
 * Private to the session's files: its state and the steps they share.
 *
 *   session.c          the run: setup, the run-loop handlers (READY, SYNC,
 *                      DONE, ring-full, kicks), closing an epoch, teardown
 *   session_clock.c    epochs by the host's clock (--epoch-ms) and the
 *                      progress line: the ticker's kicks, the guest's rounds
 *   session_verdict.c  how a run ended: the image check and the verdicts
 *                      the summary carries
 */
#ifndef LOGGER_SESSION_INT_H
#define LOGGER_SESSION_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "logger/dlog/dlog.h"
#include "logger/dlog/frameset.h"
#include "logger/epoch.h"
#include "logger/guestview/pcview.h"
#include "logger/hostwb/hostwb.h"
#include "logger/migrate/migrate.h"
#include "logger/session.h"
#include "logger/ticker.h"
#include "logger/verify/oracle.h"
#include "vmm/hcall.h"
#include "vmm/vm.h"

struct session {
	const struct session_config *cfg;
	struct vm vm;
	struct dlog dlog;
	struct frameset dirty; /* the open epoch's pages */
	struct oracle oracle;
	struct run_summary sum;
	struct epoch_rec rec;
	uint64_t epoch; /* the open epoch; 0 = boot phase */
	uint64_t epoch_start_ns;
	uint64_t harvest_ns;
	uint64_t harvest_clear_ns;
	uint64_t log_entries;
	uint64_t ring_full;
	uint64_t stats_base[VSTAT_NR];
	/* Per vCPU, in the open epoch: exits at its start, ring-full exits,
	 * and the guest's own count from its SYNC (vcpu_figs in epoch.h). */
	uint64_t vcpu_exits_base[ABI_MAX_CPUS];
	uint64_t vcpu_ring_full[ABI_MAX_CPUS];
	uint64_t guest_cpu_pages[ABI_MAX_CPUS];
	/* --dirty-limit, per vCPU (session_limit.c): the window's start and
	 * its ring's entries then, and the time held out of the guest in the
	 * open epoch (atomic: its thread adds, the epoch's close takes). */
	struct {
		uint64_t t0, base;
		uint64_t held_ns;
		bool armed; /* --throttle dirty-limit: the window began */
	} limit[ABI_MAX_CPUS];
	bool done;
	bool file_world;
	struct pcview view;    /* file world: the guest's published page-cache view */
	uint64_t device_dirty; /* pages the device wrote in the open epoch */
	struct hostwb hw;      /* --writeback host */
	bool hostwb;
	struct migout *mo;	    /* --migrate-to */
	struct migrate_report migr; /* the migration's figures in the outputs */
	enum ds_fail fail;	    /* what failed (session.h), once something did */
	struct ticker tick;	    /* --epoch-ms, the progress line */
	uint64_t rounds;	    /* --epoch-ms: the guest's rounds (SYNCs) so far */
	uint64_t stores;	    /* the guest's published store count at the last epoch end */
	bool progress_shown;	    /* a progress line is on the terminal */
};

/* session.c */

/* Harvest the log into the open epoch (and a migration's rounds), timed.
 * Returns 0 or -errno (printed). */
int session_timed_harvest(struct session *s);

/* Close the open epoch: final harvest, oracle, record, sinks; open the
 * next.  workload_pages: what the guest says it wrote (by time: stores).
 * Returns 0 or -errno, or what starting a migration returns. */
int session_close_epoch(struct session *s, uint64_t workload_pages);

/* A guest that broke the hypercall protocol: one line, -EFAULT. */
int session_guest_protocol(const char *what, uint64_t got, uint64_t want);
/* An anonymous workload's SYNC: its per-CPU pages, checked, added to the
 * open epoch's.  0 or -EFAULT. */
int session_cpu_pages(struct session *s, const struct hcall *hc);

/* session_clock.c */

/* Whether the open epoch is past the run's last one: the tail of a run
 * delimited by time, from its last epoch's end to the guest's DONE. */
bool session_in_tail(const struct session *s);

/* SYNC in a run delimited by time: a round's end, checked; sets the reply
 * (go on, or stop once the last epoch ended).  0 or -EFAULT. */
int session_time_sync(struct session *s, const struct hcall *hc);

/* Epoch 1 has begun: start the ticker for epochs by time and the progress
 * line, where the run has either.  0 or -errno (printed). */
int session_clock_start(struct session *s);

/* The kicked handler's part for the ticker: close an epoch whose time is
 * up, or show the progress line.  0 or -errno. */
int session_clock_kicked(struct session *s);

/* Erase the progress line, if one is shown, before output takes its place. */
void session_progress_clear(struct session *s);

/* session_limit.c */
/* Open every vCPU's dirty-limit window (at READY). */
void session_limit_start(struct session *s);
/* At vCPU cpu's ring-full exit, on its thread: hold it out of the guest
 * until its ring's entries fit the limit over its window. */
void session_limit_throttle(struct session *s, uint32_t cpu);

/* session_verdict.c */

/* The image check (cfg->verify_image): the verdict into the summary.
 * Returns 0 with a verdict, or -errno when the host could not read the
 * image (printed), which gives none. */
int session_check_image(struct session *s);

/* The summary's verdicts (logger/epoch.h): how the run ended, which check
 * failed it, and the first error printed on the way. */
void session_summarize(struct session *s);

#endif
