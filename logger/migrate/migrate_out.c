/*
 * Live migration, the source (logger/migrate/migrate.h).  Three threads meet here:
 *
 *   vCPU thread       runs the guest and the session; harvests for epochs
 *                     through migout_harvest; parks in migout_kicked for a
 *                     throttle slice or for the switch-over
 *   migration thread  connects, sends rounds, decides when to switch over,
 *                     harvests between rounds, runs the handshake
 *   throttle thread   kicks the vCPU every slice while auto-converge is on
 *
 * `lock` covers the dirty log and every set below, the vCPU's pause state
 * and the throttle.  The migration thread copies guest pages without it:
 * the guest writes them meanwhile, and the dirty log (harvested and so
 * re-armed before the copy) sends such a page again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logger/migrate/migrate_out_int.h"
#include "util/time.h"

void migrate_hello_fill(struct migrate_hello_cfg *c, const struct boot_workload *wl,
			uint64_t mem_bytes, const char *workload_name, const char *policy_name,
			const char *image, uint64_t image_size, const uint8_t *image_uuid)
{
	memset(c, 0, sizeof(*c));
	c->version = MIGRATE_CFG_VERSION;
	c->mem_bytes = mem_bytes;
	c->workload = wl->workload;
	c->epochs = wl->epochs;
	c->wss_pages = wl->wss_pages;
	c->writes_per_epoch = wl->writes_per_epoch;
	c->seed = wl->seed;
	c->hot_pages = wl->hot_pages;
	c->hot_pct = wl->hot_pct;
	c->policy = wl->policy;
	c->flush_every = wl->flush_every;
	c->boot_flags = wl->flags;
	c->cache_pages = wl->cache_pages;
	c->sync_every = wl->sync_every;
	c->nr_cpus = wl->nr_cpus ? wl->nr_cpus : 1;
	c->share_pct = wl->share_pct;
	snprintf(c->workload_name, sizeof(c->workload_name), "%s",
		 workload_name ? workload_name : "");
	snprintf(c->policy_name, sizeof(c->policy_name), "%s", policy_name ? policy_name : "");
	if (image) {
		/* The source's directories are nothing the destination may
		 * use or needs to know. */
		const char *base = strrchr(image, '/');
		c->flags |= MIGRATE_CFG_F_DISK;
		snprintf(c->image, sizeof(c->image), "%s", base ? base + 1 : image);
		c->image_size = image_size;
		memcpy(c->image_uuid, image_uuid, sizeof(c->image_uuid));
	}
}

int migout_create(struct migout **out, const struct migrate_config *cfg, struct vm *vm,
		  struct dlog *d, const struct migrate_hello_cfg *hello, migout_session_save save,
		  void *save_ctx)
{
	struct migout *mo = calloc(1, sizeof(*mo));
	uint64_t n = vm->mem.nr_pages;

	if (!mo)
		return -ENOMEM;
	mo->cfg = cfg;
	mo->vm = vm;
	mo->dlog = d;
	mo->hello = *hello;
	mo->save = save;
	mo->save_ctx = save_ctx;
	mo->fd = -1;
	mo->st.requested = true;
	pthread_mutex_init(&mo->lock, NULL);
	pthread_cond_init(&mo->cond, NULL);
	mo->list = malloc(n * sizeof(*mo->list));
	if (!mo->list || frameset_init(&mo->scratch, n) || frameset_init(&mo->dirty, n) ||
	    frameset_init(&mo->pending, n) || frameset_init(&mo->redirty, n)) {
		migout_destroy(mo);
		return -ENOMEM;
	}
	*out = mo;
	return 0;
}

void migout_destroy(struct migout *mo)
{
	if (!mo)
		return;
	frameset_free(&mo->scratch);
	frameset_free(&mo->dirty);
	frameset_free(&mo->pending);
	frameset_free(&mo->redirty);
	free(mo->list);
	pthread_cond_destroy(&mo->cond);
	pthread_mutex_destroy(&mo->lock);
	free(mo);
}

/* ---- the shared dirty log ------------------------------------------------ */

/* Harvest into scratch, and into `dirty` while an attempt runs.  Locked. */
int64_t migout_harvest_locked(struct migout *mo)
{
	frameset_clear(&mo->scratch);
	int64_t n = dlog_harvest(mo->dlog, &mo->scratch);
	if (n < 0)
		return n;
	if (mo->tracking)
		for (uint64_t i = 0; i < mo->scratch.count; i++)
			frameset_add(&mo->dirty, mo->scratch.list[i]);
	return n;
}

int64_t migout_harvest(struct migout *mo, struct frameset *epoch_set)
{
	pthread_mutex_lock(&mo->lock);
	int64_t n = migout_harvest_locked(mo);
	if (n >= 0) {
		for (uint64_t i = 0; i < mo->scratch.count; i++)
			frameset_add(epoch_set, mo->scratch.list[i]);
		for (uint64_t i = 0; i < mo->pending.count; i++)
			frameset_add(epoch_set, mo->pending.list[i]);
		frameset_clear(&mo->pending);
	}
	pthread_mutex_unlock(&mo->lock);
	return n;
}

void migout_mark(struct migout *mo, uint64_t idx)
{
	pthread_mutex_lock(&mo->lock);
	if (mo->tracking)
		frameset_add(&mo->dirty, idx);
	pthread_mutex_unlock(&mo->lock);
}

bool migout_dirty_limit_on(struct migout *mo)
{
	return mo && __atomic_load_n(&mo->st.dirty_limit_on, __ATOMIC_ACQUIRE);
}

bool migout_active(struct migout *mo)
{
	pthread_mutex_lock(&mo->lock);
	bool t = mo->tracking;
	pthread_mutex_unlock(&mo->lock);
	return t;
}

/*
 * The migration thread's harvest between rounds: every page written since
 * its last copy moves from `dirty` into mo->list (returned: how many), and
 * the epoch gets them through `pending`.  Counts re-dirtied pages for the
 * ideal-bytes figure.
 */
int64_t migout_take_dirty(struct migout *mo, bool stopped)
{
	pthread_mutex_lock(&mo->lock);
	mo->dlog->vcpu_running = !stopped;
	int64_t n = migout_harvest_locked(mo);
	mo->dlog->vcpu_running = false;
	if (n < 0) {
		pthread_mutex_unlock(&mo->lock);
		return n;
	}
	for (uint64_t i = 0; i < mo->scratch.count; i++)
		frameset_add(&mo->pending, mo->scratch.list[i]);
	uint64_t count = mo->dirty.count;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t idx = mo->dirty.list[i];
		mo->list[i] = idx;
		/* Round 0 copied every page before the first of these
		 * harvests, so every page here was written after its first
		 * copy (or during it). */
		if (frameset_add(&mo->redirty, idx) == 1)
			mo->st.redirtied++;
	}
	frameset_clear(&mo->dirty);
	pthread_mutex_unlock(&mo->lock);
	mo->st.dirty_sync_count++;
	return (int64_t)count;
}

/* ---- the vCPU side ------------------------------------------------------- */

/* Stopped guest (every vCPU: this runs in vCPU 0's kicked handler, with
 * the others parked out of KVM_RUN, vm.h): finish each vCPU's exit in
 * flight, then save what the destination needs.  The image is flushed as
 * QEMU flushes at stop, for a destination on another host sharing the
 * storage. */
static int pause_save(struct migout *mo)
{
	struct vm *vm = mo->vm;
	int ret = 0;
	for (uint32_t i = 0; !ret && i < vm->nr_vcpus; i++) {
		ret = vcpu_state_settle(&vm->vcpus[i]);
		if (!ret)
			ret = vcpu_state_save(&vm->vcpus[i], &mo->vcpu[i]);
	}
	if (!ret && vm->blk) {
		ret = virtio_blk_state_save(vm->blk, &mo->blk);
		if (!ret && fdatasync(vm->blk->fd) < 0)
			ret = -errno;
	}
	serial_state_save(&vm->serial, &mo->serial);
	mo->save(mo->save_ctx, &mo->sess);
	return ret;
}

/* The CLOCK_REALTIME deadline ns from now, for pthread_cond_timedwait. */
struct timespec migout_deadline_in(uint64_t ns)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	ns += (uint64_t)dl.tv_nsec;
	dl.tv_sec += (time_t)(ns / 1000000000ull);
	dl.tv_nsec = (long)(ns % 1000000000ull);
	return dl;
}

/* Sleep ns, or until a pause request.  Locked. */
static void throttle_sleep(struct migout *mo, uint64_t ns)
{
	struct timespec dl = migout_deadline_in(ns);
	while (mo->vstate != V_PAUSE_REQ &&
	       pthread_cond_timedwait(&mo->cond, &mo->lock, &dl) != ETIMEDOUT)
		;
}

int migout_kicked(struct migout *mo)
{
	pthread_mutex_lock(&mo->lock);
	/* Auto-converge: the vCPU ran one slice; now it sleeps pct/(100-pct)
	 * slices, unless the switch-over wants it stopped meanwhile. */
	uint32_t pct = mo->throttle_pct;
	if (pct && mo->vstate == V_RUN)
		throttle_sleep(mo, (uint64_t)MIGRATE_THROTTLE_SLICE_MS * 1000000ull * pct /
				       (100 - pct));
	if (mo->vstate != V_PAUSE_REQ) {
		pthread_mutex_unlock(&mo->lock);
		return 0;
	}
	mo->t_stop = time_now_ns();
	pthread_mutex_unlock(&mo->lock);
	int err = pause_save(mo);
	pthread_mutex_lock(&mo->lock);
	mo->pause_err = err;
	mo->vstate = V_PAUSED;
	pthread_cond_broadcast(&mo->cond);
	while (mo->vstate == V_PAUSED)
		pthread_cond_wait(&mo->cond, &mo->lock);
	int ret = mo->vstate == V_HANDED_OVER;
	if (!ret)
		mo->vstate = V_RUN;
	pthread_mutex_unlock(&mo->lock);
	return ret;
}

static void *throttle_main(void *arg)
{
	struct migout *mo = arg;

	pthread_mutex_lock(&mo->lock);
	while (!mo->thread_done && !mo->gone) {
		uint32_t pct = mo->throttle_pct;
		/* The vCPU runs one slice between sleeps: kick every
		 * slice / (1 - pct). */
		uint64_t wait =
		    pct ? (uint64_t)MIGRATE_THROTTLE_SLICE_MS * 1000000ull * 100 / (100 - pct)
			: 50000000ull;
		struct timespec dl = migout_deadline_in(wait);
		/* Kick when the slice is over, not on every broadcast (which
		 * would add sleeps to the vCPU's share). */
		if (pthread_cond_timedwait(&mo->cond, &mo->lock, &dl) != ETIMEDOUT)
			continue;
		if (mo->throttle_pct && mo->vstate == V_RUN && !mo->gone && !mo->thread_done) {
			pthread_mutex_unlock(&mo->lock);
			vm_kick(mo->vm);
			pthread_mutex_lock(&mo->lock);
		}
	}
	pthread_mutex_unlock(&mo->lock);
	return NULL;
}

int migout_start(struct migout *mo)
{
	if (mo->started)
		return 0;
	int ret = pthread_create(&mo->thread, NULL, migout_thread_main, mo);
	if (ret)
		return -ret;
	mo->started = true;
	if (mo->cfg->throttle_auto &&
	    !pthread_create(&mo->throttle_thread, NULL, throttle_main, mo))
		mo->throttle_started = true;
	return 0;
}

void migout_finish(struct migout *mo)
{
	pthread_mutex_lock(&mo->lock);
	mo->gone = true;
	pthread_cond_broadcast(&mo->cond);
	pthread_mutex_unlock(&mo->lock);
	if (mo->started)
		pthread_join(mo->thread, NULL);
	if (mo->throttle_started)
		pthread_join(mo->throttle_thread, NULL);
	mo->started = mo->throttle_started = false;
}

const struct migrate_stats *migout_stats(const struct migout *mo)
{
	return &mo->st;
}
