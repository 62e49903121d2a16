/*
 * The session drives one VM.  Its run-loop handlers are where epochs begin
 * and end:
 *
 *   READY  the guest has booted and mapped its workload; the boot phase's
 *          writes are harvested (and verified) but not reported as an epoch
 *   SYNC   end of an epoch: harvest, verify, emit the record, resume
 *   DONE   the guest finished every epoch
 *   ring-full exit: harvest into the still-open epoch and resume
 *
 * The vCPU is stopped for the whole of a handler, so a harvest and the
 * oracle's comparison see the same memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "abi/wlfile.h"
#include "util/log.h"
#include "logger/verify/fileverify.h"
#include "logger/verify/oracle.h"
#include "logger/guestview/pcview.h"
#include "fs/dsfs.h"
#include "logger/hostwb/journal.h"
#include "logger/session_int.h"
#include "vmm/virtio_blk.h"
#include "util/time.h"

#define LOST_PRINTED 16 /* lost pages printed per epoch; the count is exact */

/* Add the pages of [gpa, gpa + len) that are RAM to the open epoch (and to
 * the migration's pages to send again): stores no dirty log sees.  Returns
 * how many were new to the epoch. */
static uint64_t add_stores(struct session *s, uint64_t gpa, uint64_t len)
{
	uint64_t added = 0;
	for (uint64_t a = gpa & ~(uint64_t)(ABI_PAGE_SIZE - 1); a < gpa + len; a += ABI_PAGE_SIZE) {
		int64_t idx = mem_gpa_to_index(&s->vm.mem, a);
		if (idx < 0)
			continue;
		if (s->mo)
			migout_mark(s->mo, (uint64_t)idx);
		added += frameset_add(&s->dirty, (uint64_t)idx) == 1;
	}
	return added;
}

/*
 * The virtio-blk device stored into guest RAM (read data, status bytes, used
 * ring).  Those stores bypass KVM's MMU, so no dirty log shows them: add the
 * pages to the open epoch here, as QEMU marks DMA writes dirty in its own
 * bitmap.
 */
static void on_dma_dirty(void *ctx, uint64_t gpa, uint64_t len)
{
	struct session *s = ctx;
	if (!len || s->cfg->test_drop_device_writes)
		return;
	s->device_dirty += add_stores(s, gpa, len);
}

/* Host writeback told the guest which pages it wrote (hostwb_post): a host
 * store into guest RAM, which no dirty log sees either. */
static void on_host_store(void *ctx, uint64_t gpa, uint64_t len)
{
	add_stores(ctx, gpa, len);
}

/*
 * Host writeback at the end of an epoch (view: this SYNC's) or of the run
 * (view NULL, final).  The dirty log was harvested, and so re-armed, before
 * this: hostwb.c explains why that order matters.
 */
static int host_writeback(struct session *s, const struct pcview *view, bool final)
{
	char why[256];
	int ret = hostwb_epoch(&s->hw, s->epoch, &s->dirty, view, final, why, sizeof(why));
	if (ret < 0) {
		log_err("%s", why);
		return ret;
	}
	if (ret == 1 && s->cfg->on_commit)
		s->cfg->on_commit(s->cfg->on_commit_ctx, s->epoch, &s->vm.mem, &s->view,
				  s->cfg->image_path);
	return ret;
}

int session_timed_harvest(struct session *s)
{
	uint64_t t0 = time_now_ns(), c0 = s->dlog.clear_ns;
	/* With a migration, one harvest feeds both the epoch and the rounds. */
	int64_t n = s->mo ? migout_harvest(s->mo, &s->dirty) : dlog_harvest(&s->dlog, &s->dirty);
	s->harvest_ns += time_now_ns() - t0;
	s->harvest_clear_ns += s->dlog.clear_ns - c0;
	if (n < 0)
		return (int)n;
	s->log_entries += (uint64_t)n;
	return 0;
}

static void on_lost(void *ctx, uint64_t index)
{
	struct session *s = ctx;
	uint64_t gpa = mem_index_to_gpa(&s->vm.mem, index);
	uint64_t n = s->rec.lost_pages++;
	if (n < EPOCH_LOST_LISTED)
		s->rec.lost_gpa[s->rec.lost_listed++] = gpa;
	if (n < LOST_PRINTED)
		log_err("lost page: gpa %#" PRIx64 " epoch %" PRIu64 "", gpa, s->epoch);
}

static void stats_delta(struct session *s, uint64_t *out)
{
	uint64_t now[VSTAT_NR];
	if (vm_stats_read(&s->vm, -1, now)) {
		for (int k = 0; k < VSTAT_NR; k++)
			out[k] = UINT64_MAX;
		return;
	}
	for (int k = 0; k < VSTAT_NR; k++) {
		out[k] = now[k] == UINT64_MAX ? UINT64_MAX : now[k] - s->stats_base[k];
		s->stats_base[k] = now[k];
	}
}

const char *vcpu_source_name(enum vcpu_source src)
{
	return src == VCPU_SOURCE_RING ? "ring" : src == VCPU_SOURCE_GUEST ? "guest" : NULL;
}

/* The open epoch's per-vCPU figures into f, and the counters behind them
 * reset for the next. */
static void vcpu_figs_close(struct session *s, struct vcpu_figs *f, uint64_t dirty_pages)
{
	uint32_t n = s->vm.nr_vcpus;
	memset(f, 0, sizeof(*f));
	f->nr = n;
	if (s->cfg->mode == &dlog_mode_ring)
		f->source = VCPU_SOURCE_RING;
	else if (!s->cfg->epoch_ms && !s->file_world)
		f->source = VCPU_SOURCE_GUEST;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t st[VSTAT_NR];
		if (vm_stats_read(&s->vm, (int)i, st) || st[VSTAT_EXITS] == UINT64_MAX) {
			f->exits[i] = UINT64_MAX;
		} else {
			f->exits[i] = st[VSTAT_EXITS] - s->vcpu_exits_base[i];
			s->vcpu_exits_base[i] = st[VSTAT_EXITS];
		}
		f->ring_full_exits[i] =
		    __atomic_exchange_n(&s->vcpu_ring_full[i], 0, __ATOMIC_RELAXED);
		f->held_ns[i] = __atomic_exchange_n(&s->limit[i].held_ns, 0, __ATOMIC_RELAXED);
		if (f->source == VCPU_SOURCE_RING)
			f->dirty_pages[i] =
			    n == 1 ? dirty_pages : dlog_vcpu_pages_take(&s->dlog, i);
		else if (f->source == VCPU_SOURCE_GUEST)
			f->dirty_pages[i] = s->guest_cpu_pages[i];
		s->guest_cpu_pages[i] = 0;
	}
}

/* Close the open epoch: final harvest, oracle, record, sinks; open the next. */
int session_close_epoch(struct session *s, uint64_t workload_pages)
{
	uint64_t end = time_now_ns();
	int ret = session_timed_harvest(s);
	if (ret)
		return ret;

	struct epoch_rec *r = &s->rec;
	memset(r, 0, sizeof(*r));
	frameset_sort(&s->dirty);
	r->epoch = s->epoch;
	r->mode = s->cfg->mode->name;
	r->workload = s->cfg->workload_name;
	r->dirty = &s->dirty;
	r->mem = &s->vm.mem;
	r->dirty_pages = s->dirty.count;
	r->log_entries = s->log_entries;
	r->workload_pages = workload_pages;
	r->time_based = s->cfg->epoch_ms != 0;
	r->partial = s->cfg->incoming && s->epoch == s->sum.first_epoch;
	r->nr_slots = s->vm.mem.nr_slots;
	for (uint64_t i = 0; i < s->dirty.count; i++)
		r->slot_pages[s->dirty.list[i] >= s->vm.mem.slots[0].pages]++;
	if (s->cfg->verify) {
		r->verified = true;
		oracle_check(&s->oracle, &s->dirty, on_lost, s);
		if (r->lost_pages > LOST_PRINTED)
			log_err("%" PRIu64 " more lost pages in epoch %" PRIu64 "",
				r->lost_pages - LOST_PRINTED, s->epoch);
	}
	r->harvest_ns = s->harvest_ns;
	r->harvest_clear_ns = s->harvest_clear_ns;
	r->epoch_ns = end - s->epoch_start_ns;
	r->dirty_rate_mibs = epoch_dirty_rate(r->dirty_pages, r->epoch_ns);
	r->ring_full_exits = __atomic_exchange_n(&s->ring_full, 0, __ATOMIC_RELAXED);
	stats_delta(s, r->stats);
	vcpu_figs_close(s, &r->vcpu, r->dirty_pages);
	if (s->file_world) {
		r->file_world = true;
		r->guest_dirty_pages = s->view.dirty_total;
		r->guest_written_pages = s->view.nr_written;
		r->guest_page_writes = s->view.page_writes;
		r->device_dirty_pages = s->device_dirty;
		r->view = &s->view;
		s->sum.guest_page_writes += s->view.page_writes;
		s->sum.device_dirty_pages += s->device_dirty;
	}
	s->device_dirty = 0;

	if (s->hostwb && s->epoch > 0) {
		ret = host_writeback(s, &s->view, false);
		if (ret < 0)
			return ret;
		r->ext[r->nr_ext++] = &s->hw.report; /* the commit's figures, if any */
	}

	s->sum.lost_pages += r->lost_pages;
	s->sum.harvest_ns += r->harvest_ns;
	s->sum.harvest_clear_ns += r->harvest_clear_ns;
	s->sum.ring_full_exits += r->ring_full_exits;
	if (s->epoch == 0) {
		s->sum.boot_dirty_pages = r->dirty_pages;
	} else if (session_in_tail(s)) {
		s->sum.tail_dirty_pages = r->dirty_pages; /* verified, not an epoch */
	} else {
		session_progress_clear(s);
		s->sum.epochs++;
		s->sum.epoch_ns += r->epoch_ns;
		s->sum.dirty_pages += r->dirty_pages;
		s->sum.log_entries += r->log_entries;
		s->sum.workload_pages += r->workload_pages;
		for (int k = 0; k < VSTAT_NR; k++)
			s->sum.stats[k] =
			    r->stats[k] == UINT64_MAX ? UINT64_MAX : s->sum.stats[k] + r->stats[k];
		struct vcpu_figs *v = &s->sum.vcpu;
		v->nr = r->vcpu.nr;
		v->source = r->vcpu.source;
		for (uint32_t i = 0; i < r->vcpu.nr; i++) {
			v->dirty_pages[i] += r->vcpu.dirty_pages[i];
			v->exits[i] = r->vcpu.exits[i] == UINT64_MAX || v->exits[i] == UINT64_MAX
					  ? UINT64_MAX
					  : v->exits[i] + r->vcpu.exits[i];
			v->ring_full_exits[i] += r->vcpu.ring_full_exits[i];
			v->held_ns[i] += r->vcpu.held_ns[i];
		}
		for (int i = 0; i < s->cfg->nr_sinks; i++)
			if (s->cfg->sinks[i]->epoch)
				s->cfg->sinks[i]->epoch(s->cfg->sinks[i], r);
	}

	frameset_clear(&s->dirty);
	if (s->hostwb)
		hostwb_post(&s->hw, &s->view, on_host_store, s);
	s->harvest_ns = 0;
	s->harvest_clear_ns = 0;
	s->log_entries = 0;
	s->epoch++;
	s->dlog.epoch = s->epoch;
	s->epoch_start_ns = time_now_ns();
	/* The test hook (session.h): the guest is running its epochs now. */
	if (s->epoch == 2 && s->cfg->test_kvm_fail)
		kvm_test_fail_arm(s->cfg->test_kvm_fail, s->cfg->test_kvm_fail_err);
	if (s->mo && s->epoch - 1 == s->cfg->migrate->after_epoch)
		return migout_start(s->mo);
	return 0;
}

int session_guest_protocol(const char *what, uint64_t got, uint64_t want)
{
	log_err("guest failed: %s %" PRIu64 ", expected %" PRIu64 "", what, got, want);
	return -EFAULT;
}

int session_cpu_pages(struct session *s, const struct hcall *hc)
{
	const struct boot_workload *wl = &s->cfg->wl;
	if (hc->args[ABI_SYNC_NR_CPUS] != s->vm.nr_vcpus)
		return session_guest_protocol("sync for CPUs", hc->args[ABI_SYNC_NR_CPUS],
					      s->vm.nr_vcpus);
	for (uint32_t i = 0; i < s->vm.nr_vcpus; i++) {
		/* A CPU writes at most its share of the stores, and each page
		 * at most once; together they wrote at least `pages`. */
		uint64_t share = wl->writes_per_epoch / s->vm.nr_vcpus +
				 (i < wl->writes_per_epoch % s->vm.nr_vcpus);
		if (hc->cpu_pages[i] > wl->wss_pages || hc->cpu_pages[i] > share)
			return session_guest_protocol("workload pages of a CPU", hc->cpu_pages[i],
						      share);
	}
	for (uint32_t i = 0; i < s->vm.nr_vcpus; i++)
		s->guest_cpu_pages[i] += hc->cpu_pages[i];
	return 0;
}

static int on_hcall(void *ctx, const struct hcall *hc)
{
	struct session *s = ctx;
	const struct boot_workload *wl = &s->cfg->wl;

	char why[160];
	int ret;

	switch (hc->nr) {
	case ABI_HC_READY:
		if (s->epoch != 0)
			return session_guest_protocol("ready in epoch", s->epoch, 0);
		if (s->file_world) {
			ret = pcview_attach(&s->view, &s->vm.mem, hc->args[ABI_READY_PC_DESC], why,
					    sizeof(why));
			if (ret) {
				log_err("guest failed: %s", why);
				return -EFAULT;
			}
			if (s->view.policy != wl->policy)
				return session_guest_protocol("policy", s->view.policy, wl->policy);
		}
		ret = session_close_epoch(s, 0);
		if (ret)
			return ret;
		if (s->cfg->dirty_limit_mibs)
			session_limit_start(s);
		/* Epoch 1 starts now: so does the host's clock. */
		ret = session_clock_start(s);
		return ret;
	case ABI_HC_SYNC:
		if (s->cfg->epoch_ms)
			return session_time_sync(s, hc);
		/* The guest is untrusted: its claims are checked, not believed. */
		if (s->epoch == 0 || hc->args[0] != s->epoch || s->epoch > wl->epochs)
			return session_guest_protocol("sync for epoch", hc->args[0], s->epoch);
		if (s->file_world) {
			/* File workloads count stores, which may revisit pages;
			 * db's writers (one per CPU) each make an epoch's. */
			uint64_t most =
			    wl->writes_per_epoch * abi_wl_writers(wl->workload, s->vm.nr_vcpus);
			if (hc->args[1] > most)
				return session_guest_protocol("workload stores", hc->args[1], most);
			ret = pcview_read(&s->view, &s->vm.mem, hc->args, why, sizeof(why));
			if (ret == -EPROTO) {
				log_err("guest failed: %s", why);
				return -EFAULT;
			}
			if (ret)
				return ret;
		} else {
			if (hc->args[1] > wl->wss_pages || hc->args[1] > wl->writes_per_epoch)
				return session_guest_protocol("workload pages", hc->args[1],
							      wl->wss_pages);
			ret = session_cpu_pages(s, hc);
			if (ret)
				return ret;
		}
		return session_close_epoch(s, hc->args[1]);
	case ABI_HC_DONE:
		if (hc->args[0] != 0) {
			log_err("guest failed: workload exited with status %" PRIu64 "%s",
				hc->args[0],
				hc->args[0] == 139 ? " (killed by the guest kernel)" : "");
			return -EFAULT;
		}
		if (s->cfg->epoch_ms) {
			/* Done after the host said stop: the stores since the
			 * last epoch's end are checked too, as boot's are. */
			if (!session_in_tail(s) || hc->args[1] != s->rounds)
				return session_guest_protocol("done after rounds", hc->args[1],
							      s->rounds);
			ret = session_close_epoch(s, 0);
			if (ret)
				return ret;
		} else if (s->epoch != (uint64_t)wl->epochs + 1 || hc->args[1] != wl->epochs) {
			return session_guest_protocol("done after epochs", hc->args[1], wl->epochs);
		}
		s->sum.guest_check_failed = hc->args[ABI_DONE_CHECK_FAILED] != 0;
		if (s->sum.guest_check_failed)
			log_err("the guest's own data check failed: its pages "
				"no longer hold what the workload wrote there");
		s->done = true;
		if (s->hostwb) {
			/* The stores since the last SYNC, and what the guest wrote
			 * through the device on its way out, go in a last commit
			 * numbered one past the workload's epochs. */
			ret = session_timed_harvest(s);
			if (ret)
				return ret;
			ret = host_writeback(s, NULL, true); /* s->epoch: epochs + 1 */
			if (ret < 0)
				return ret;
			ret = hostwb_close(&s->hw, true, why, sizeof(why));
			if (ret) {
				log_err("%s", why);
				return ret;
			}
		}
		return 1;
	}
	return session_guest_protocol("hypercall", hc->nr, ABI_HC_SYNC);
}

/* KVM_EXIT_DIRTY_RING_FULL, on the vCPU's own thread while the others run
 * (vm.h): a reaper pass empties every ring into the log's pending set, and
 * the next harvest takes it into the epoch (logger/dlog/dlog_ring.c). */
static int on_ring_full(void *ctx, uint32_t cpu)
{
	struct session *s = ctx;
	__atomic_add_fetch(&s->ring_full, 1, __ATOMIC_RELAXED);
	if (cpu < ABI_MAX_CPUS)
		__atomic_add_fetch(&s->vcpu_ring_full[cpu], 1, __ATOMIC_RELAXED);
	int64_t n = dlog_reap(&s->dlog);
	if (n < 0)
		return (int)n;
	session_limit_throttle(s, cpu);
	return 0;
}

/* vm_handlers.kicked: the migration's pause or throttle; at a
 * destination, the late verification that failed: the guest must stop; or
 * the ticker's epoch end or progress line. */
static int on_kicked(void *ctx)
{
	struct session *s = ctx;
	if (s->cfg->incoming && migin_verify_failed(s->cfg->incoming))
		return 1;
	if (s->mo)
		return migout_kicked(s->mo);
	return session_clock_kicked(s);
}

/* Source, guest stopped for the switch-over: where it is in its epochs. */
static void session_save(void *ctx, struct migrate_session_state *st)
{
	struct session *s = ctx;
	memset(st, 0, sizeof(*st));
	st->version = MIGRATE_SESSION_VERSION;
	st->file_world = s->file_world;
	st->epoch = s->epoch;
	st->pc_desc_gpa = s->file_world ? s->view.desc_gpa : 0;
}

/* Destination: take the source's place in the epochs.  The blob comes off
 * the wire: every field is checked against this run's configuration. */
static int session_load(void *ctx, const struct migrate_session_state *st, char *why, size_t whylen)
{
	struct session *s = ctx;
	if (st->version != MIGRATE_SESSION_VERSION || st->file_world != s->file_world ||
	    st->epoch < 1 || st->epoch > (uint64_t)s->cfg->wl.epochs + 1) {
		snprintf(why, whylen,
			 "session state: version %u, file world %u, epoch %llu do not fit a "
			 "%u-epoch %s run",
			 st->version, st->file_world, (unsigned long long)st->epoch,
			 s->cfg->wl.epochs, s->cfg->workload_name);
		return -EPROTO;
	}
	if (s->file_world) {
		char reason[160];
		int ret =
		    pcview_attach(&s->view, &s->vm.mem, st->pc_desc_gpa, reason, sizeof(reason));
		if (ret) {
			snprintf(why, whylen, "session state: %s", reason);
			return -EPROTO;
		}
		if (s->view.policy != s->cfg->wl.policy) {
			snprintf(why, whylen, "session state: the guest runs policy %u, not %u",
				 s->view.policy, s->cfg->wl.policy);
			return -EPROTO;
		}
	}
	s->epoch = st->epoch;
	s->dlog.epoch = s->epoch;
	return 0;
}

/* The disk the device opened is the file the caller checked (receive's
 * DSFS, size and identity checks), not one put at its path since. */
static int same_file(int fd, const struct session_config *cfg)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	if ((uint64_t)st.st_dev == cfg->image_dev && (uint64_t)st.st_ino == cfg->image_ino)
		return 0;
	log_err("%s: another file took its place after it was checked", cfg->image_path);
	return -ESTALE;
}

/* Source: the engine that sends the guest away once the chosen epoch ends. */
static int migrate_setup(struct session *s)
{
	const struct session_config *cfg = s->cfg;
	struct migrate_hello_cfg hello;

	if (s->hostwb) {
		log_err("live migration with host writeback is not supported");
		s->fail = DS_FAIL_USAGE;
		return -EINVAL;
	}
	/* The destination's disk must be this image or a copy of it: HELLO
	 * carries its identity (a disk that is not DSFS has none). */
	uint8_t uuid[16] = {0};
	if (s->vm.blk && dsfs_identity(s->vm.blk->fd, uuid)) {
		log_err("%s: cannot read the image's identity", cfg->image_path);
		s->fail = DS_FAIL_IO;
		return -EIO;
	}
	migrate_hello_fill(&hello, &cfg->wl, cfg->mem_bytes, cfg->workload_name, cfg->policy_name,
			   cfg->image_path, s->vm.blk ? s->vm.blk->size : 0, uuid);
	int ret = migout_create(&s->mo, cfg->migrate, &s->vm, &s->dlog, &hello, session_save, s);
	if (ret) {
		log_err("no memory for the migration's page sets");
		s->fail = DS_FAIL_PLATFORM;
	}
	return ret;
}

/* Where the run failed, for session.h's categories: the phase decides,
 * unless the failing step said more precisely (s->fail already set). */
static int failed(struct session *s, enum ds_fail phase, int err)
{
	if (!s->fail)
		s->fail = phase;
	return err;
}

/* The run phase's category for a failure of vm_run: only a stop request or
 * an overflowed log make it something else than the run failing. */
static enum ds_fail run_failure(const struct session *s)
{
	if (vm_stop_requested())
		return DS_FAIL_INTERRUPTED;
	if (s->dlog.overflowed)
		return DS_FAIL_CHECK;
	return DS_FAIL_RUN;
}

/*
 * Release host writeback after a run that did not reach DONE (DONE closed
 * it, checkpointed).  A run stopped by SIGINT or SIGTERM ends the way a
 * finished one does, with the journal checkpointed: the stop is the user's
 * and leaves nothing in doubt.  hostwb holds the signals off while it
 * commits, so the stop always comes between two commits; the stores since
 * the last one go with the guest.  The image alone then holds the last
 * committed epoch, durably, and verify-image finds nothing to recover.  Any
 * other failure leaves the journal as it stands, for the recovery the next
 * `run --image` or `recover` makes: after a failed journal I/O it could
 * not be checkpointed anyway.
 */
static void end_hostwb(struct session *s)
{
	char why[256];
	bool stopped = s->fail == DS_FAIL_INTERRUPTED;
	if (hostwb_close(&s->hw, stopped, why, sizeof(why)))
		log_err("%s: run dirtyscope recover on the image", why);
}

static bool ram_size_valid(uint64_t bytes)
{
	return bytes % ABI_PAGE_SIZE == 0 && bytes >= ABI_RAM_MIN && bytes <= ABI_RAM_MAX;
}

int session_run(const struct session_config *cfg, struct run_summary *summary)
{
	struct session s = {.cfg = cfg};
	char why[160];
	int ret;

	uint64_t t0 = time_now_ns();
	/* Setup: a failure here is KVM or the host refusing (the platform's),
	 * unless the step says the configuration does not fit. */
	if (!ram_size_valid(cfg->mem_bytes)) {
		log_err("guest RAM of %llu bytes: not a multiple of 4 KiB in 16 MiB..256 GiB",
			(unsigned long long)cfg->mem_bytes);
		ret = failed(&s, DS_FAIL_USAGE, -EINVAL);
		goto out_report;
	}
	ret = vm_create(&s.vm, cfg->kvm_path, cfg->mem_bytes);
	if (ret) {
		failed(&s, DS_FAIL_PLATFORM, ret);
		goto out_report;
	}
	long max_vcpus = kvm_cap(&s.vm.kvm, KVM_CAP_MAX_VCPUS);
	if (cfg->wl.nr_cpus > 1 && max_vcpus > 0 && cfg->wl.nr_cpus > max_vcpus) {
		log_err("--vcpus %u: this KVM runs at most %ld vCPUs in a VM", cfg->wl.nr_cpus,
			max_vcpus);
		ret = failed(&s, DS_FAIL_USAGE, -EINVAL);
		goto out_vm;
	}
	s.vm.serial.echo = cfg->echo_console;
	/* The virtio selftest (badblk) needs a disk but has no page cache. */
	s.file_world = session_file_workload(cfg->wl.workload) && cfg->wl.workload != ABI_WL_BADBLK;
	if (session_file_workload(cfg->wl.workload) && !cfg->image_path) {
		log_err("workload %s needs a disk image", cfg->workload_name);
		ret = failed(&s, DS_FAIL_USAGE, -EINVAL);
		goto out_vm;
	}
	if (cfg->image_path && (ret = vm_attach_blk(&s.vm, cfg->image_path))) {
		failed(&s, DS_FAIL_USAGE, ret); /* the image cannot serve as the disk */
		goto out_vm;
	}
	if (cfg->image_path && cfg->image_pinned && (ret = same_file(s.vm.blk->fd, cfg))) {
		failed(&s, DS_FAIL_USAGE, ret);
		goto out_vm;
	}
	/* The disk is this run's to write: lock it against every other writer
	 * (docs/cli.md).  Not an incoming guest's: its source still runs, on
	 * the same image when both ends share a host, until the switch-over. */
	if (cfg->image_path && !cfg->incoming && (ret = virtio_blk_lock(s.vm.blk))) {
		failed(&s, DS_FAIL_USAGE, ret); /* held by another writer */
		goto out_vm;
	}
	if (cfg->hostwb) {
		if (!s.file_world) {
			log_err("host writeback needs a file workload");
			ret = failed(&s, DS_FAIL_USAGE, -EINVAL);
			goto out_vm;
		}
		ret = hostwb_open(&s.hw, cfg->hostwb, &s.vm.mem, s.vm.blk, cfg->image_path, why,
				  sizeof(why));
		if (ret) {
			log_err("%s", why);
			failed(&s, journal_fail(ret, DS_FAIL_USAGE), ret);
			goto out_vm;
		}
		s.hostwb = true;
	}
	enum ds_fail unsupported = cfg->mode->supported(&s.vm.kvm, &cfg->dlog, why, sizeof(why));
	if (unsupported) {
		log_err("%s", why);
		ret = failed(&s, unsupported, unsupported == DS_FAIL_USAGE ? -EINVAL : -EOPNOTSUPP);
		goto out_vm;
	}
	ret = dlog_init(&s.dlog, cfg->mode, &cfg->dlog, &s.vm);
	if (ret)
		goto out_dlog;
	ret = vm_register_memory(&s.vm, KVM_MEM_LOG_DIRTY_PAGES);
	if (ret)
		goto out_dlog;
	/* By time, the guest runs rounds until the host says stop. */
	struct boot_workload guest_wl = cfg->wl;
	if (cfg->epoch_ms)
		guest_wl.epochs = 0;
	if (!cfg->incoming && (ret = vm_load_guest(&s.vm, &guest_wl))) {
		failed(&s, DS_FAIL_USAGE, ret); /* the workload does not fit the RAM */
		goto out_dlog;
	}
	if (cfg->incoming && (ret = vm_set_vcpus(&s.vm, &cfg->wl))) {
		failed(&s, DS_FAIL_MIGRATION, ret);
		goto out_dlog;
	}
	ret = vm_create_vcpus(&s.vm);
	if (ret)
		goto out_dlog;
	if (cfg->mode->vcpu_created && (ret = cfg->mode->vcpu_created(&s.dlog)))
		goto out_dlog;
	ret = frameset_init(&s.dirty, s.vm.mem.nr_pages);
	if (ret)
		goto out_dlog;
	if (cfg->incoming) {
		/* The guest's RAM and state replace the boot: it runs on from
		 * where the source stopped it. */
		ret = migin_load(cfg->incoming, &s.vm, session_load, &s);
		if (ret) {
			failed(&s, DS_FAIL_MIGRATION, ret);
			goto out_set;
		}
		s.sum.first_epoch = s.epoch;
		s.sum.partial_epoch = s.epoch; /* it began at the source */
		migrate_report_incoming(&s.migr, &cfg->incoming->stats, s.epoch);
		s.sum.ext[s.sum.nr_ext++] = &s.migr.ext;
	}
	/* Arm: start from a clean log (clear mode with INITIALLY_SET begins
	 * with every page dirty). */
	if (dlog_harvest(&s.dlog, NULL) < 0) {
		ret = -EIO;
		goto out_set;
	}
	if (cfg->verify && (ret = oracle_init(&s.oracle, s.vm.mem.host, s.vm.mem.nr_pages))) {
		log_err("no memory for the --verify shadow copy");
		goto out_set;
	}
	if (cfg->migrate && (ret = migrate_setup(&s)))
		goto out_oracle;
	if (cfg->on_incoming)
		cfg->on_incoming(cfg->on_incoming_ctx, &s.vm.mem);
	stats_delta(&s, s.rec.stats); /* baseline */
	vcpu_figs_close(&s, &s.rec.vcpu, 0);
	s.sum.mode = cfg->mode->name;
	s.sum.workload = cfg->workload_name;
	s.sum.mem_bytes = cfg->mem_bytes;
	s.sum.wss_pages = cfg->wl.wss_pages;
	s.sum.verified = cfg->verify;
	s.sum.epoch_ms = cfg->epoch_ms;
	s.sum.dirty_limit_mibs = cfg->dirty_limit_mibs;
	s.epoch_start_ns = time_now_ns();

	/* The run: from the guest's first instruction on, a failure is the
	 * guest's or KVM's (or the host's I/O for it), whatever its errno. */
	struct vm_handlers h = {.ctx = &s,
				.hcall = on_hcall,
				.ring_full = on_ring_full,
				.dma_dirty = on_dma_dirty,
				.kicked = on_kicked};
	ret = vm_run(&s.vm, &h);
	ticker_stop(&s.tick);
	session_progress_clear(&s);
	if (ret)
		failed(&s, run_failure(&s), ret);
	/* An incoming guest's RAM is proved the source's after it resumed
	 * (docs/migration.md): wait for that verdict, whatever the run did.
	 * A guest stopped for a failed one is a failed check, not a crash. */
	bool unverified = cfg->incoming && migin_verify_finish(cfg->incoming);
	s.sum.migration_unverified = unverified;
	if (unverified && !ret)
		ret = failed(&s, DS_FAIL_CHECK, 1);
	if (s.mo) {
		migout_finish(s.mo);
		const struct migrate_stats *ms = migout_stats(s.mo);
		s.sum.migrated = ms->completed;
		if (cfg->migrate_stats)
			*cfg->migrate_stats = *ms;
		if (ms->completed)
			s.sum.partial_epoch = s.epoch; /* open at the switch-over */
		migrate_report_source(&s.migr, ms);
		s.sum.ext[s.sum.nr_ext++] = &s.migr.ext;
	}
	if (!ret && !s.done && !s.sum.migrated)
		ret = failed(&s, DS_FAIL_RUN, -EFAULT);
	/* The guest moved, but the destination found its RAM was not ours
	 * (or could not tell): the migration's check failed. */
	bool mig_unverified = s.mo && s.sum.migrated && !migout_stats(s.mo)->verified;
	if (mig_unverified)
		s.sum.migration_unverified = true;
	s.sum.kvm_calls = __atomic_load_n(&s.dlog.kvm_calls, __ATOMIC_RELAXED);
	if (cfg->mode == &dlog_mode_ring) {
		s.sum.reaper = true;
		s.sum.reaper_us = cfg->dlog.reaper_us;
		dlog_reaper_stats(&s.dlog, &s.sum.reaper_passes, &s.sum.reaper_thread_passes,
				  &s.sum.reaper_max_pass);
	}
	if (s.file_world) {
		s.sum.policy = cfg->policy_name;
		s.sum.blk_requests = s.vm.blk->stats.requests;
		s.sum.blk_bytes_read = s.vm.blk->stats.bytes_read;
		s.sum.blk_bytes_written = s.vm.blk->stats.bytes_written;
	}
	if (s.hostwb) {
		s.hw.stats.host_cleaned = s.view.desc.host_cleaned;
		s.sum.ext[s.sum.nr_ext++] = &s.hw.report;
		if (cfg->hostwb_stats)
			*cfg->hostwb_stats = s.hw.stats;
	}
	s.sum.total_ns = time_now_ns() - t0;
	if (!ret) {
		s.sum.completed = true;
		if (cfg->verify_image && cfg->verify && s.file_world && !s.sum.migrated &&
		    (ret = session_check_image(&s)) < 0)
			failed(&s, DS_FAIL_IO, ret); /* no verdict: the host's I/O failed */
		if (!ret && (s.sum.lost_pages || (s.hostwb && s.hw.stats.mismatches) ||
			     s.sum.guest_check_failed || s.sum.image_check == RUN_IMAGE_FAILED ||
			     mig_unverified))
			ret = failed(&s, DS_FAIL_CHECK, 1);
		/* The guest was to move: finishing it here is not what was
		 * asked, though every epoch ran (0 returned, session.h). */
		if (cfg->migrate && !s.sum.migrated) {
			log_err("the guest did not migrate to %s; it finished here",
				cfg->migrate->to.text);
			failed(&s, DS_FAIL_MIGRATION, 0);
		}
	}
	/* Once the guest ran, the outputs get a summary whatever happened:
	 * the epochs they have are real, and the summary says how it ended. */
	session_summarize(&s);
	for (int i = 0; i < cfg->nr_sinks; i++)
		if (cfg->sinks[i]->summary)
			cfg->sinks[i]->summary(cfg->sinks[i], &s.sum);
	s.sum.reported = true;
	if (summary)
		*summary = s.sum;

out_oracle:
	if (cfg->verify)
		oracle_free(&s.oracle);
out_set:
	frameset_free(&s.dirty);
	pcview_free(&s.view);
out_dlog:
	migout_destroy(s.mo);
	dlog_teardown(&s.dlog);
out_vm:
	if (s.hostwb)
		end_hostwb(&s);
	vm_destroy(&s.vm);
out_report:
	/* Whatever failed in setup without a category of its own: KVM or the
	 * host refused (an ioctl, an allocation). */
	if (ret < 0)
		failed(&s, DS_FAIL_PLATFORM, ret);
	if (cfg->fail)
		*cfg->fail = s.fail;
	return ret;
}

void session_config_incoming(struct session_config *cfg, struct migin *in, const char *image)
{
	const struct migrate_hello_cfg *h = &in->cfg;

	cfg->mem_bytes = h->mem_bytes;
	cfg->workload_name = h->workload_name;
	cfg->policy_name = h->policy_name[0] ? h->policy_name : NULL;
	migin_workload(in, &cfg->wl);
	/* Never h->image: the stream does not choose a file on this host. */
	cfg->image_path = h->flags & MIGRATE_CFG_F_DISK ? image : NULL;
	cfg->incoming = in;
}
