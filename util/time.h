/* Time for measurements: a monotonic clock in nanoseconds. */
#ifndef UTIL_TIME_H
#define UTIL_TIME_H

#include <pthread.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: for durations, never for dates. */
uint64_t time_now_ns(void);

/* Sleep ns nanoseconds, resuming after signals until the time is up. */
void time_sleep_ns(uint64_t ns);

/* Initialise `c` so that time_cond_wait_until waits on CLOCK_MONOTONIC,
 * the clock time_now_ns reads (a wall-clock step must not stretch a wait). */
void time_cond_init(pthread_cond_t *c);

/* pthread_cond_timedwait on `c` (set up by time_cond_init) until time_now_ns
 * reaches at_ns, a wake-up or a spurious return, whichever comes first. */
void time_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t at_ns);

#endif
