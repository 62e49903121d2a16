/*
 * The reaper thread over every vCPU's dirty ring (reaper.h).
 */
#include <errno.h>
#include <string.h>

#include "logger/dlog/reaper.h"
#include "util/time.h"

int reaper_init(struct reaper *r, struct reaper_ring *rings, uint32_t nr_rings,
		const struct harvest_slot *slots, uint32_t nr_slots, struct frameset *set,
		reaper_reset_fn reset, void *reset_arg, uint64_t period_ns)
{
	memset(r, 0, sizeof(*r));
	if (!rings || !nr_rings || !slots || !nr_slots || !set || !reset || !period_ns)
		return -EINVAL;
	for (uint32_t i = 0; i < nr_rings; i++)
		if (!rings[i].gfns || !rings[i].entries ||
		    (rings[i].entries & (rings[i].entries - 1)))
			return -EINVAL;
	r->rings = rings;
	r->nr_rings = nr_rings;
	r->slots = slots;
	r->nr_slots = nr_slots;
	r->set = set;
	r->reset = reset;
	r->reset_arg = reset_arg;
	r->period_ns = period_ns;
	pthread_mutex_init(&r->lock, NULL);
	time_cond_init(&r->cond);
	return 0;
}

/* One pass over every ring, then the reset.  Under r->lock. */
static int64_t pass_locked(struct reaper *r)
{
	int64_t total = 0;

	if (r->err)
		return r->err;
	for (uint32_t i = 0; i < r->nr_rings; i++) {
		struct reaper_ring *g = &r->rings[i];
		struct frameset *into = g->own ? r->scratch : r->set;
		int64_t n =
		    harvest_ring(g->gfns, g->entries, &g->fetch, r->slots, r->nr_slots, into);
		if (n < 0) {
			r->err = (int)n;
			return n;
		}
		if (g->own) {
			/* Same capacity as the set: adding cannot fail. */
			for (uint64_t k = 0; k < r->scratch->count; k++) {
				frameset_add(r->set, r->scratch->list[k]);
				frameset_add(g->own, r->scratch->list[k]);
			}
			frameset_clear(r->scratch);
		}
		if (n == g->entries)
			g->full_passes++;
		g->collected += (uint64_t)n;
		total += n;
	}
	if (total == 0)
		return 0;
	/* The reset re-protects what was collected: only now may a store to
	 * those pages push an entry again.  Its count must be ours: any other
	 * means an entry was lost or invented between the two. */
	int64_t reset = r->reset(r->reset_arg);
	if (reset < 0) {
		r->err = (int)reset;
		return reset;
	}
	if (reset != total) {
		r->err = -EPROTO;
		return r->err;
	}
	r->passes++;
	r->collected += (uint64_t)total;
	if ((uint64_t)total > r->max_pass)
		r->max_pass = (uint64_t)total;
	return total;
}

static void *reaper_main(void *arg)
{
	struct reaper *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stop && !r->err) {
		if (pass_locked(r) > 0)
			r->thread_passes++;
		uint64_t at = time_now_ns() + r->period_ns;
		while (!r->stop && time_now_ns() < at)
			time_cond_wait_until(&r->cond, &r->lock, at);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int reaper_start(struct reaper *r)
{
	int ret = pthread_create(&r->thread, NULL, reaper_main, r);
	if (ret)
		return -ret;
	r->started = true;
	return 0;
}

int64_t reaper_reap(struct reaper *r)
{
	pthread_mutex_lock(&r->lock);
	int64_t n = pass_locked(r);
	pthread_mutex_unlock(&r->lock);
	return n;
}

void reaper_lock(struct reaper *r)
{
	pthread_mutex_lock(&r->lock);
}

void reaper_unlock(struct reaper *r)
{
	pthread_mutex_unlock(&r->lock);
}

int64_t reaper_pass_locked(struct reaper *r)
{
	return pass_locked(r);
}

int reaper_close_epoch(struct reaper *r, struct frameset *next, struct frameset **closed)
{
	pthread_mutex_lock(&r->lock);
	int64_t n = pass_locked(r);
	if (n >= 0) {
		*closed = r->set;
		r->set = next;
	}
	pthread_mutex_unlock(&r->lock);
	return n < 0 ? (int)n : 0;
}

int reaper_stop(struct reaper *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (r->started) {
		pthread_join(r->thread, NULL);
		r->started = false;
	}
	return r->err;
}

void reaper_destroy(struct reaper *r)
{
	if (r->started)
		reaper_stop(r);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
}
