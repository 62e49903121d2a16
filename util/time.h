/* Time for measurements: a monotonic clock in nanoseconds. */
#ifndef UTIL_TIME_H
#define UTIL_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: for durations, never for dates. */
uint64_t time_now_ns(void);

/* Sleep ns nanoseconds, resuming after signals until the time is up. */
void time_sleep_ns(uint64_t ns);

#endif
