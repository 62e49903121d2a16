/*
 * The source's engine, shared by its two files: migrate_out.c (the engine's
 * life, the dirty log both threads harvest, the vCPU side and the throttle)
 * and migrate_rounds.c (the migration thread: rounds, convergence,
 * switch-over, attempts).  Private to logger/migrate/.
 */
#ifndef LOGGER_MIGRATE_OUT_INT_H
#define LOGGER_MIGRATE_OUT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "logger/migrate/migrate.h"
#include "vmm/vcpu_state.h"

#define CHUNK_PAGES 256 /* pages sent between rate-limit and stop checks */

enum vstate {
	V_RUN,	       /* the guest runs */
	V_PAUSE_REQ,   /* the migration thread wants it stopped */
	V_PAUSED,      /* stopped, state saved: waiting for the verdict */
	V_HANDED_OVER, /* GO sent: the run ends here */
};

struct migout {
	const struct migrate_config *cfg;
	struct vm *vm;
	struct dlog *dlog;
	struct migrate_hello_cfg hello;
	migout_session_save save;
	void *save_ctx;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct frameset scratch; /* one harvest's pages */
	struct frameset dirty;	 /* to send again: written since their last copy */
	struct frameset pending; /* harvested by the migration thread, not yet in an epoch */
	struct frameset redirty; /* of those, dirtied after their first copy */
	bool tracking;		 /* an attempt is running: harvests feed `dirty` */
	enum vstate vstate;
	bool gone;	       /* vm_run returned: no more pauses */
	bool thread_done;      /* the migration thread ends: throttle thread too */
	uint32_t throttle_pct; /* 0: off */
	bool started, throttle_started;
	pthread_t thread, throttle_thread;

	/* The migration thread's. */
	uint64_t *list; /* a round's pages */
	int fd;
	struct migstream_writer w;
	uint64_t bw_bytes, bw_ns;   /* stream bytes and sending time, this attempt */
	uint64_t bwd_bytes, bwd_ns; /* the same over rounds of mostly data pages */
	uint32_t high_dirty;	    /* auto-converge: syncs in a row the guest outran the link */

	/* Saved by the vCPU thread at the pause. */
	int pause_err;
	uint64_t t_stop;
	uint64_t t_go;	  /* GO left */
	uint64_t hook_ns; /* a test's on_switchover, kept out of the times */
	uint8_t *lost;	  /* test_lose_page's store, undone when the attempt ends */
	struct vcpu_state vcpu[ABI_MAX_CPUS]; /* vm->nr_vcpus of them */
	struct virtio_blk_state blk;
	struct serial_state serial;
	struct migrate_session_state sess;

	struct migrate_stats st;
};

/* Harvest the dirty log into mo->scratch, and into mo->dirty while an
 * attempt runs.  Called with mo->lock held.  Returns log entries or -errno. */
int64_t migout_harvest_locked(struct migout *mo);

/* The migration thread's harvest between rounds: every page written since
 * its last copy moves into mo->list (returns how many, or -errno), and the
 * epoch gets them too.  `stopped`: the vCPU is parked. */
int64_t migout_take_dirty(struct migout *mo, bool stopped);

/* The CLOCK_REALTIME deadline ns from now, for pthread_cond_timedwait. */
struct timespec migout_deadline_in(uint64_t ns);

/* The migration thread (migrate_rounds.c): attempts until one completes,
 * the retries are spent or the guest is gone. */
void *migout_thread_main(void *arg);

#endif
