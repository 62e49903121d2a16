/* Monotonic time (util/time.h). */
#include <errno.h>
#include <time.h>

#include "util/time.h"

uint64_t time_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void time_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

void time_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t at_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(at_ns / 1000000000ull),
			      .tv_nsec = (long)(at_ns % 1000000000ull)};

	pthread_cond_timedwait(c, m, &ts);
}

void time_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
