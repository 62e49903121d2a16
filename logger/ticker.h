/*
 * The host's clock in a run: a thread that kicks the vCPU out of the guest
 * when an epoch of wall time is up (run --epoch-ms) and when the progress
 * line is due, and leaves a note saying which.  The work itself (a harvest,
 * closing the epoch, printing) is the session's, on the vCPU thread, in its
 * kicked handler: the guest is stopped there, the oracle sees RAM at rest,
 * and the progress line and the table come from one thread.
 */
#ifndef LOGGER_TICKER_H
#define LOGGER_TICKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm.h"

#define TICK_EPOCH    1u /* an epoch's time is up */
#define TICK_PROGRESS 2u /* the progress line is due */

struct ticker {
	struct vm *vm;
	uint64_t epoch_ns;    /* 0: no epochs by time */
	uint64_t progress_ns; /* 0: no progress line */
	uint64_t next_epoch, next_progress;
	unsigned int due; /* TICK_*, set by the thread, taken by ticker_take */
	int stop_fd;	  /* eventfd: written by ticker_stop */
	pthread_t thread;
	bool running;
};

/*
 * Start kicking vm's vCPU: every epoch_ns from now (0: never) with
 * TICK_EPOCH, and every progress_ns (0: never) with TICK_PROGRESS.
 * Epochs follow a fixed schedule from now, so a late kick does not move
 * the ones after it.  Returns 0 or -errno (printed).
 */
int ticker_start(struct ticker *t, struct vm *vm, uint64_t epoch_ns, uint64_t progress_ns);

/* What came due since the last call (TICK_* bits), cleared. */
unsigned int ticker_take(struct ticker *t);

/* Stop the thread and wait for it; no kick comes after.  Safe to call on a
 * zeroed or stopped ticker. */
void ticker_stop(struct ticker *t);

#endif
