/*
 * Holding off the stop signals around work that must finish once begun
 * (util/sigmask.h).
 */
#include <pthread.h>
#include <signal.h>

#include "util/sigmask.h"

void sigmask_block_stop(sigset_t *old)
{
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	/* The thread's mask, not the process's: sigprocmask is unspecified in
	 * a process with threads (a migration's sender runs beside the vCPU).
	 * Neither call can fail with a valid `how` and valid sets. */
	pthread_sigmask(SIG_BLOCK, &stop, old);
}

void sigmask_restore(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}
