/*
 * Live migration, the source's migration thread (logger/migrate/migrate.h):
 * it connects, sends round 0 (all of RAM) while the guest runs, then round
 * after round the pages written since their last copy, decides when the
 * rest fits the downtime limit, stops the guest, sends the final round, the
 * state and END, and runs the ACK/GO handshake; on failure it retries.  The
 * engine it shares with the vCPU thread is in migrate_out.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "logger/migrate/migctl.h"
#include "logger/migrate/migrate_out_int.h"
#include "util/log.h"
#include "util/time.h"

/* ---- the migration thread ------------------------------------------------ */

static bool guest_gone(struct migout *mo)
{
	pthread_mutex_lock(&mo->lock);
	bool g = mo->gone;
	pthread_mutex_unlock(&mo->lock);
	return g;
}

/* A failed attempt's reason, kept for the stats and the message. */
static int fail(struct migout *mo, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct migout *mo, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(mo->st.failure, sizeof(mo->st.failure), fmt, ap);
	va_end(ap);
	return err;
}

/* The destination's reason, when it refused and said why before closing. */
static int link_failed(struct migout *mo, int err, const char *doing)
{
	char reason[MIGCTL_MAX_REASON + 1];
	if (mo->fd >= 0 && migctl_peer_reason(mo->fd, 200, reason, sizeof(reason)))
		return fail(mo, err, "the destination refused the stream: %s", reason);
	return fail(mo, err, "%s: %s", doing, strerror(-err));
}

/* Rate limit: sleep until `bytes` sent since t0 fit max_bandwidth. */
static void pace(struct migout *mo, uint64_t t0, uint64_t bytes0)
{
	uint64_t bw = mo->cfg->max_bandwidth;
	if (!bw)
		return;
	double due = (double)(mo->w.stats.bytes - bytes0) * 1e9 / (double)bw;
	uint64_t el = time_now_ns() - t0;
	if (due > (double)el)
		time_sleep_ns((uint64_t)due - el);
}

/* Tests: the first attempt's link drops after test_cut_after_bytes. */
static void maybe_cut(struct migout *mo)
{
	uint64_t cut = mo->cfg->test_cut_after_bytes;
	if (cut && mo->st.attempts == 1 && mo->w.stats.bytes >= cut)
		shutdown(mo->fd, SHUT_RDWR);
}

/* Send list[0..n) (or, with list NULL, RAM indexes 0..n) as round r. */
static int send_round(struct migout *mo, uint64_t r, const uint64_t *list, uint64_t n, bool stopped,
		      struct migrate_round *out)
{
	const struct guest_mem *m = &mo->vm->mem;
	uint64_t t0 = time_now_ns(), b0 = mo->w.stats.bytes;
	uint64_t p0 = mo->w.stats.pages, z0 = mo->w.stats.zero_pages;
	int ret = migstream_round_begin(&mo->w, r);

	for (uint64_t i = 0; !ret && i < n; i += CHUNK_PAGES) {
		uint64_t k = n - i < CHUNK_PAGES ? n - i : CHUNK_PAGES;
		if (!stopped && guest_gone(mo))
			return fail(mo, -ECANCELED,
				    "the guest stopped before the switch-over (its workload "
				    "finished)");
		ret = list ? migstream_send_pages(&mo->w, m, list + i, k)
			   : migstream_send_range(&mo->w, m, i, k);
		maybe_cut(mo);
		if (!ret && !stopped)
			pace(mo, t0, b0);
	}
	if (!ret)
		ret = migstream_round_end(&mo->w);
	if (ret)
		return link_failed(mo, ret, "sending round");
	/* The writer may have held the last pages until now.  With the guest
	 * stopped the cap is off, as QEMU lifts it for its last stage:
	 * every millisecond there is downtime. */
	if (!stopped)
		pace(mo, t0, b0);
	uint64_t dt = time_now_ns() - t0;
	mo->bw_bytes += mo->w.stats.bytes - b0;
	mo->bw_ns += dt;
	if ((mo->w.stats.zero_pages - z0) * 2 <= mo->w.stats.pages - p0 && dt) {
		mo->bwd_bytes += mo->w.stats.bytes - b0;
		mo->bwd_ns += dt;
	}
	memset(out, 0, sizeof(*out));
	out->round = r;
	out->pages = mo->w.stats.pages - p0;
	out->zero_pages = mo->w.stats.zero_pages - z0;
	out->bytes = mo->w.stats.bytes - b0;
	out->final = stopped;
	out->throttle_pct = mo->throttle_pct;
	if (r == 0)
		mo->st.nonzero_first = out->pages - out->zero_pages;
	return 0;
}

/*
 * Bytes per second the stream has carried in this attempt: over the rounds
 * of mostly data pages once there are any, since the pages left at the
 * switch-over are data pages; round 0 alone is mostly zero markers, whose
 * scanning takes time but few bytes, and would underestimate the link.
 */
static double bandwidth(const struct migout *mo)
{
	if (mo->bwd_ns)
		return (double)mo->bwd_bytes * 1e9 / (double)mo->bwd_ns;
	if (!mo->bw_ns)
		return 0;
	return (double)mo->bw_bytes * 1e9 / (double)mo->bw_ns;
}

/* Close a round's figures once the harvest after it is known, and print
 * them live. */
static void round_done(struct migout *mo, struct migrate_round *rd, uint64_t t_begin,
		       uint64_t dirty)
{
	rd->duration_ns = time_now_ns() - t_begin;
	double s = (double)rd->duration_ns / 1e9;
	rd->dirty_pages = dirty;
	rd->dirty_rate = s > 0 ? (double)dirty / s : 0;
	rd->mbps = s > 0 ? (double)rd->bytes * 8 / 1e6 / s : 0;
	rd->remaining = rd->final ? 0 : dirty;
	double bw = bandwidth(mo);
	rd->expected_ms = bw > 0 ? (double)rd->remaining * MIGSTREAM_PAGE / bw * 1e3 : 0;
	if (mo->st.nr_round < MIGRATE_MAX_ROUNDS_KEPT)
		mo->st.round[mo->st.nr_round++] = *rd;
	mo->st.rounds++;
	if (!mo->cfg->quiet)
		log_info("migration: round %" PRIu64 "%s: sent %" PRIu64 " pages (%" PRIu64
			 " zero), dirty %" PRIu64
			 " pages (%.0f pages/s), %.1f mbps, remaining %" PRIu64
			 " pages, expected downtime %.1f ms%s",
			 rd->round, rd->final ? " (final, vCPU stopped)" : "", rd->pages,
			 rd->zero_pages, rd->dirty_pages, rd->dirty_rate, rd->mbps, rd->remaining,
			 rd->expected_ms, rd->throttle_pct ? ", throttled" : "");
}

/* QEMU's auto-converge trigger: the guest dirtied more than half of what
 * the link carried in the period, twice in a row -> throttle harder. */
static void maybe_throttle(struct migout *mo, const struct migrate_round *rd)
{
	if (!mo->cfg->throttle_auto && !mo->cfg->throttle_dirty_limit)
		return;
	if (rd->dirty_pages * MIGSTREAM_PAGE * 2 <= rd->bytes) {
		mo->high_dirty = 0;
		return;
	}
	if (++mo->high_dirty < 2)
		return;
	mo->high_dirty = 0;
	if (mo->cfg->throttle_dirty_limit) {
		/* QEMU's dirty-limit throttle: the vCPUs are held at their
		 * limit from now on, each at its own ring-full exits. */
		if (!__atomic_exchange_n(&mo->st.dirty_limit_on, true, __ATOMIC_RELEASE) &&
		    !mo->cfg->quiet)
			log_info("migration: dirty-limit: every vCPU held at its dirty limit");
		return;
	}
	pthread_mutex_lock(&mo->lock);
	uint32_t p = mo->throttle_pct;
	p = p ? p + MIGRATE_THROTTLE_STEP : MIGRATE_THROTTLE_INITIAL;
	mo->throttle_pct = p > MIGRATE_THROTTLE_MAX ? MIGRATE_THROTTLE_MAX : p;
	if (mo->throttle_pct > mo->st.throttle_pct)
		mo->st.throttle_pct = mo->throttle_pct;
	pthread_cond_broadcast(&mo->cond);
	pthread_mutex_unlock(&mo->lock);
	if (!mo->cfg->quiet)
		log_info("migration: auto-converge: vCPU throttled to %u%%", mo->throttle_pct);
}

/* Stop the guest: kick the vCPU thread and wait until it parked and saved. */
static int pause_guest(struct migout *mo)
{
	pthread_mutex_lock(&mo->lock);
	if (mo->gone) {
		pthread_mutex_unlock(&mo->lock);
		return fail(mo, -ECANCELED, "the guest stopped before the switch-over");
	}
	mo->vstate = V_PAUSE_REQ;
	pthread_cond_broadcast(&mo->cond); /* a throttle sleep ends early */
	pthread_mutex_unlock(&mo->lock);
	vm_kick(mo->vm);
	pthread_mutex_lock(&mo->lock);
	while (mo->vstate == V_PAUSE_REQ && !mo->gone)
		pthread_cond_wait(&mo->cond, &mo->lock);
	int err = mo->vstate == V_PAUSED ? mo->pause_err : -ECANCELED;
	if (mo->vstate == V_PAUSE_REQ)
		mo->vstate = V_RUN;
	pthread_mutex_unlock(&mo->lock);
	if (err == -ECANCELED)
		return fail(mo, err, "the guest stopped before the switch-over");
	if (err)
		return fail(mo, err, "saving the stopped guest's state: %s", strerror(-err));
	return 0;
}

/*
 * After GO: the source's RAM checksum, sent as VERDICT, and the
 * destination's answer.  The vCPU stays parked and never runs here again,
 * so the RAM hashed is exactly what the final round left, and hashing it
 * now costs no downtime.  Nothing here can give the guest back to the
 * source (the destination runs it already): a failure is recorded, and
 * the run then fails (exit 1), but the attempt stands.
 */
static void late_verify(struct migout *mo)
{
	char why[256], reason[MIGCTL_MAX_REASON + 1];
	uint32_t type;
	uint64_t arg;
	int ret;

	if (mo->cfg->test_no_verdict) {
		shutdown(mo->fd, SHUT_RDWR);
		snprintf(mo->st.verify_failure, sizeof(mo->st.verify_failure),
			 "test: the source hung up instead of sending VERDICT");
		goto out;
	}
	ret = migstream_write_verdict(&mo->w, &mo->vm->mem);
	if (ret) {
		snprintf(mo->st.verify_failure, sizeof(mo->st.verify_failure),
			 "sending VERDICT: %s", strerror(-ret));
		goto out;
	}
	mo->st.ram_checksum = mo->w.ram_checksum;
	ret = migctl_recv(mo->fd, &type, &arg, reason, sizeof(reason), why, sizeof(why));
	if (ret)
		snprintf(mo->st.verify_failure, sizeof(mo->st.verify_failure),
			 "the destination did not confirm the RAM checksum: %s", why);
	else if (type == MIGCTL_NACK)
		snprintf(mo->st.verify_failure, sizeof(mo->st.verify_failure),
			 "the destination refused the RAM it received: %s", reason);
	else if (type != MIGCTL_VERIFIED || arg != mo->w.ram_checksum)
		snprintf(mo->st.verify_failure, sizeof(mo->st.verify_failure),
			 "the destination's answer to VERDICT does not confirm it");
	else
		mo->st.verified = true;
out:
	mo->st.verify_ns = time_now_ns() - mo->t_go;
	if (!mo->st.verified)
		log_err("migration: verification after the switch-over failed: %s; the "
			"destination stops the guest",
			mo->st.verify_failure);
}

/* Stopped: the last round, state, END and the handshake. */
static int switch_over(struct migout *mo, uint64_t r)
{
	struct migrate_round rd;
	char why[256];
	int ret = pause_guest(mo);
	if (ret)
		return ret;
	uint64_t t = time_now_ns();
	mo->hook_ns = 0;
	mo->st.down_pause_ns = t - mo->t_stop;
	/* Everything from here on is sent with the guest stopped, so from
	 * guest RAM as it lies. */
	mo->st.precopy_bytes = mo->w.stats.bytes;
	migstream_writer_in_place(&mo->w);
	int64_t n = migout_take_dirty(mo, true);
	if (n < 0)
		return fail(mo, (int)n, "harvesting the dirty log: %s", strerror((int)-n));
	uint64_t b0 = mo->w.stats.bytes;
	ret = send_round(mo, r, mo->list, (uint64_t)n, true, &rd);
	if (ret)
		return ret;
	/*
	 * Tests: a dirty log that lost a write.  Leaving a harvested page out
	 * of this round would not do: a page is harvested again when the
	 * guest wrote it between an earlier harvest and that round's copy, so
	 * the destination may already hold its bytes and END's checksum would
	 * match.  Instead, now that every page the destination holds equals
	 * ours, the guest's last page takes a store (guest stopped, after the
	 * last harvest) that no log reports and no round sends: that page
	 * alone differs, and END's checksum, a chain of bijections over every
	 * word, must differ too.  The store stays until the attempt ends
	 * (VERDICT's checksum, after GO, must see it) and is undone before
	 * the guest can run here again.
	 */
	if (mo->cfg->test_lose_page) {
		uint64_t idx = n > 0 ? mo->list[n - 1] : 0;
		mo->lost = mem_gpa_to_hva(&mo->vm->mem, mem_index_to_gpa(&mo->vm->mem, idx), 1);
		*mo->lost ^= 0x10;
		mo->st.test_lost++;
	}
	round_done(mo, &rd, t, 0);
	mo->st.final_bytes = mo->w.stats.bytes - b0;
	uint64_t t_final = time_now_ns();
	mo->st.down_final_ns = t_final - t;
	if (mo->cfg->on_switchover) {
		/* A test's own RAM hash: not part of any migration's downtime. */
		mo->cfg->on_switchover(mo->cfg->test_ctx, &mo->vm->mem);
		mo->hook_ns = time_now_ns() - t_final;
	}
	uint64_t t_state = time_now_ns();

	ret = 0;
	for (uint32_t i = 0; !ret && i < mo->vm->nr_vcpus; i++)
		ret = migstream_write_state(&mo->w, MIGRATE_STATE_VCPU, &mo->vcpu[i],
					    sizeof(mo->vcpu[i]));
	if (!ret && mo->vm->blk)
		ret = migstream_write_state(&mo->w, MIGRATE_STATE_BLK, &mo->blk, sizeof(mo->blk));
	if (!ret)
		ret = migstream_write_state(&mo->w, MIGRATE_STATE_SERIAL, &mo->serial,
					    sizeof(mo->serial));
	if (!ret)
		ret = migstream_write_state(&mo->w, MIGRATE_STATE_SESSION, &mo->sess,
					    sizeof(mo->sess));
	/* END reads no RAM: the RAM checksum that proves the dirty log
	 * missed nothing comes after GO (late_verify), out of the downtime. */
	if (!ret)
		ret = migstream_write_end(&mo->w);
	if (ret)
		return link_failed(mo, ret, "sending the state");
	uint64_t t_end = time_now_ns();
	mo->st.down_end_ns = t_end - t_state;

	uint32_t type;
	uint64_t arg;
	char reason[MIGCTL_MAX_REASON + 1];
	ret = migctl_recv(mo->fd, &type, &arg, reason, sizeof(reason), why, sizeof(why));
	if (ret)
		return fail(mo, ret, "%s", why);
	if (type == MIGCTL_NACK)
		return fail(mo, -EPROTO, "the destination refused the guest: %s", reason);
	if (type != MIGCTL_ACK || arg != mo->w.end_csum)
		return fail(mo, -EPROTO, "the destination's answer is not an ACK of this stream");
	uint64_t t_ack = time_now_ns();
	mo->st.down_ack_ns = t_ack - t_end;
	/* Downtime ends as GO leaves: taken before the send, which wakes the
	 * destination and may let it run on this CPU before send returns. */
	uint64_t t_go = time_now_ns();
	ret = migctl_send(mo->fd, MIGCTL_GO, arg, NULL);
	if (ret)
		return fail(mo, ret, "sending GO: %s", strerror(-ret));
	mo->st.downtime_ns = t_go - mo->t_stop - mo->hook_ns;
	mo->t_go = t_go;
	late_verify(mo);
	return 0;
}

/* One attempt, connect to GO.  Returns 0 when the destination took over. */
static int attempt(struct migout *mo)
{
	const struct migrate_config *cfg = mo->cfg;
	struct migrate_round rd;
	char why[256];
	uint64_t t0 = time_now_ns();
	int ret;

	mo->bw_bytes = mo->bw_ns = mo->bwd_bytes = mo->bwd_ns = 0;
	mo->high_dirty = 0;
	mo->st.rounds = mo->st.nr_round = mo->st.redirtied = mo->st.dirty_sync_count = 0;
	mo->st.verified = false;
	mo->st.verify_failure[0] = 0;
	mo->fd = migaddr_connect(&cfg->to, MIGRATE_CONNECT_MS, MIGRATE_IO_MS, why, sizeof(why));
	if (mo->fd < 0)
		return fail(mo, mo->fd, "%s", why);
	ret = migstream_writer_init(&mo->w, mo->fd);
	if (ret) {
		close(mo->fd);
		mo->fd = -1;
		return fail(mo, ret, "no memory for the stream");
	}
	/* Arm: from this harvest on every write reaches `dirty`; round 0 then
	 * copies every page after it, so nothing written before is missed. */
	pthread_mutex_lock(&mo->lock);
	frameset_clear(&mo->dirty);
	frameset_clear(&mo->redirty);
	mo->tracking = true;
	mo->dlog->vcpu_running = true;
	int64_t n = migout_harvest_locked(mo);
	mo->dlog->vcpu_running = false;
	for (uint64_t i = 0; n >= 0 && i < mo->scratch.count; i++)
		frameset_add(&mo->pending, mo->scratch.list[i]);
	frameset_clear(&mo->dirty);
	pthread_mutex_unlock(&mo->lock);
	if (n < 0)
		return fail(mo, (int)n, "harvesting the dirty log: %s", strerror((int)-n));
	mo->st.dirty_sync_count++;

	ret = migstream_write_hello(&mo->w, &mo->vm->mem, &mo->hello, sizeof(mo->hello));
	if (ret)
		return link_failed(mo, ret, "sending HELLO");
	mo->st.setup_ns = time_now_ns() - t0;

	uint64_t r = 0, t = time_now_ns();
	ret = send_round(mo, 0, NULL, mo->vm->mem.nr_pages, false, &rd);
	for (;;) {
		if (ret)
			return ret;
		n = migout_take_dirty(mo, false);
		if (n < 0)
			return fail(mo, (int)n, "harvesting the dirty log: %s", strerror((int)-n));
		round_done(mo, &rd, t, (uint64_t)n);
		/* QEMU's rule: switch over once what is left can be sent
		 * within the downtime limit at the bandwidth seen so far. */
		if (rd.expected_ms <= (double)cfg->downtime_limit_ms || r + 1 >= cfg->max_rounds)
			break;
		maybe_throttle(mo, &rd);
		r++;
		t = time_now_ns();
		ret = send_round(mo, r, mo->list, (uint64_t)n, false, &rd);
	}
	/* The pages just harvested are still to send: back into `dirty`, and
	 * the final harvest (vCPU stopped) adds the rest. */
	pthread_mutex_lock(&mo->lock);
	for (uint64_t i = 0; i < (uint64_t)n; i++)
		frameset_add(&mo->dirty, mo->list[i]);
	pthread_mutex_unlock(&mo->lock);
	mo->st.bandwidth = bandwidth(mo);
	mo->st.last_expected_ms = rd.expected_ms;
	mo->st.last_dirty_rate = rd.dirty_rate;
	mo->st.last_throttle_pct = rd.throttle_pct;
	mo->st.ram_bytes = mo->vm->mem.ram_size;
	ret = switch_over(mo, r + 1);
	if (ret)
		return ret;
	mo->st.total_ns = mo->t_go - t0 - mo->hook_ns;
	return 0;
}

/* After an attempt, whatever its end: the stream is closed, tracking for
 * the migration stops, and a stopped guest runs on (or ends, if handed
 * over). */
static void attempt_end(struct migout *mo, int ret)
{
	if (mo->lost) {
		*mo->lost ^= 0x10;
		mo->lost = NULL;
	}
	if (mo->fd >= 0) {
		if (ret && ret != -ECONNRESET && ret != -EPIPE)
			migstream_write_abort(&mo->w, mo->st.failure);
		mo->st.transferred_all += mo->w.stats.bytes;
		if (!ret) {
			mo->st.transferred = mo->w.stats.bytes;
			mo->st.downtime_bytes = mo->w.stats.bytes - mo->st.precopy_bytes;
			mo->st.pages = mo->w.stats.pages;
			mo->st.zero_pages = mo->w.stats.zero_pages;
		}
		migstream_writer_destroy(&mo->w);
		close(mo->fd);
		mo->fd = -1;
	}
	pthread_mutex_lock(&mo->lock);
	mo->tracking = false;
	frameset_clear(&mo->dirty);
	mo->throttle_pct = 0;
	if (mo->vstate == V_PAUSED)
		mo->vstate = ret ? V_RUN : V_HANDED_OVER;
	pthread_cond_broadcast(&mo->cond);
	pthread_mutex_unlock(&mo->lock);
}

void *migout_thread_main(void *arg)
{
	struct migout *mo = arg;
	const struct migrate_config *cfg = mo->cfg;

	for (;;) {
		mo->st.attempts++;
		if (!cfg->quiet)
			log_info("migration: attempt %u to %s", mo->st.attempts, cfg->to.text);
		int ret = attempt(mo);
		attempt_end(mo, ret);
		if (!ret) {
			mo->st.completed = true;
			mo->st.ideal_bytes =
			    (mo->st.nonzero_first + mo->st.redirtied) * (uint64_t)MIGSTREAM_PAGE;
			if (!cfg->quiet)
				log_info(
				    "migration: completed in %.1f ms (setup %.1f ms, downtime "
				    "%.1f ms), %" PRIu64 " bytes, %" PRIu64
				    " rounds; RAM %s %.1f ms after GO",
				    (double)mo->st.total_ns / 1e6, (double)mo->st.setup_ns / 1e6,
				    (double)mo->st.downtime_ns / 1e6, mo->st.transferred,
				    mo->st.rounds, mo->st.verified ? "verified" : "NOT verified",
				    (double)mo->st.verify_ns / 1e6);
			break;
		}
		bool last = ret == -ECANCELED || mo->st.attempts > cfg->retries || guest_gone(mo);
		log_err("migration attempt %u failed: %s%s", mo->st.attempts, mo->st.failure,
			ret == -ECANCELED ? ""
			: last		  ? "; the guest runs on here"
					  : "; the guest runs on here, retrying");
		if (last)
			break;
		/* Wait, but not past the guest's end. */
		pthread_mutex_lock(&mo->lock);
		struct timespec dl = migout_deadline_in((uint64_t)cfg->retry_delay_ms * 1000000ull);
		while (!mo->gone && pthread_cond_timedwait(&mo->cond, &mo->lock, &dl) == 0)
			;
		pthread_mutex_unlock(&mo->lock);
	}
	pthread_mutex_lock(&mo->lock);
	mo->thread_done = true;
	pthread_cond_broadcast(&mo->cond);
	pthread_mutex_unlock(&mo->lock);
	return NULL;
}
