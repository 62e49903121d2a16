/*
 * The dirty ring: KVM appends (slot, offset) entries to a per-vCPU ring we
 * mmap from the vCPU fd.  We collect every ring's published entries
 * (harvest_ring: acquire on the flag, release on the RESET mark), then one
 * KVM_RESET_DIRTY_RINGS re-protects the collected pages and recycles their
 * entries in all rings; the count it returns must equal what we collected,
 * or entries were lost or invented.  With several vCPUs each ring's pages
 * are also kept apart, for the per-vCPU figures.
 *
 * A harvest may also run while the vCPU runs (the live migration thread):
 * KVM keeps pushing meanwhile, which the entries' flags make safe; only the
 * overflow check below needs a stopped vCPU.
 *
 * When a ring fills up to its soft limit the vCPU exits with
 * KVM_EXIT_DIRTY_RING_FULL: the session harvests into the epoch that is still
 * open and resumes, so no entry is lost and the epoch's set stays whole.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"
#include "util/time.h"
#include "logger/dlog/dlog.h"

/* The capability we use: the acquire/release ring when KVM has it. */
static long ring_cap(const struct kvm *kvm)
{
	return kvm_cap(kvm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL) > 0 ? KVM_CAP_DIRTY_LOG_RING_ACQ_REL
								: KVM_CAP_DIRTY_LOG_RING;
}

static enum ds_fail ring_supported(const struct kvm *kvm, const struct dlog_config *cfg, char *why,
				   size_t len)
{
	uint64_t max_bytes = (uint64_t)kvm_cap(kvm, ring_cap(kvm));
	uint64_t n = cfg->ring_entries;
	uint64_t entry = sizeof(struct kvm_dirty_gfn);

	if (!max_bytes) {
		snprintf(why, len, "KVM lacks KVM_CAP_DIRTY_LOG_RING");
		return DS_FAIL_PLATFORM;
	}
	if (!n || (n & (n - 1))) {
		snprintf(why, len, "--ring-entries %llu is not a power of two",
			 (unsigned long long)n);
		return DS_FAIL_USAGE;
	}
	if (n * entry > max_bytes) {
		snprintf(why, len, "--ring-entries %llu exceeds this KVM's maximum of %llu",
			 (unsigned long long)n, (unsigned long long)(max_bytes / entry));
		return DS_FAIL_USAGE;
	}
	if (n * entry < DLOG_RING_MIN_BYTES) {
		snprintf(why, len,
			 "--ring-entries %llu is below KVM's minimum of %llu (one 4 KiB page)",
			 (unsigned long long)n, (unsigned long long)(DLOG_RING_MIN_BYTES / entry));
		return DS_FAIL_USAGE;
	}
	return DS_FAIL_NONE;
}

static int ring_vm_created(struct dlog *d)
{
	/* Must precede vCPU creation: KVM sizes each vCPU's ring at creation. */
	d->ring_bytes = (size_t)d->cfg.ring_entries * sizeof(struct kvm_dirty_gfn);
	return kvm_enable_cap(&d->vm->kvm, (uint32_t)ring_cap(&d->vm->kvm), d->ring_bytes);
}

/* The reaper's reset: KVM_RESET_DIRTY_RINGS on the VM, timed when a
 * harvest runs it (the thread's own passes are not a harvest's cost). */
static int64_t ring_reset(void *arg)
{
	struct dlog *d = arg;
	uint64_t t0 = time_now_ns();
	int reset = ioctl(d->vm->kvm.vm_fd, KVM_RESET_DIRTY_RINGS, 0);
	if (d->in_take)
		d->clear_ns += time_now_ns() - t0;
	__atomic_add_fetch(&d->kvm_calls, 1, __ATOMIC_RELAXED);
	if (reset < 0) {
		int ret = -errno;
		log_err("KVM_RESET_DIRTY_RINGS: %s", strerror(-ret));
		return ret;
	}
	return reset;
}

static int ring_vcpu_created(struct dlog *d)
{
	long page = sysconf(_SC_PAGESIZE);
	for (uint32_t i = 0; i < d->vm->nr_vcpus; i++) {
		void *p = mmap(NULL, d->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
			       d->vm->vcpus[i].fd, (off_t)page * KVM_DIRTY_LOG_PAGE_OFFSET);
		if (p == MAP_FAILED) {
			int ret = -errno;
			log_err("mmap of the dirty ring of vCPU %u: %s", i, strerror(-ret));
			return ret;
		}
		d->nr_rings = i + 1;
		d->rrings[i] = (struct reaper_ring){.gfns = p, .entries = d->cfg.ring_entries};
	}
	uint64_t pages = d->vm->mem.nr_pages;
	if (frameset_init(&d->pending, pages))
		return -ENOMEM;
	int ret = reaper_init(&d->reaper, d->rrings, d->nr_rings, d->slots,
			      (uint32_t)d->vm->mem.nr_slots, &d->pending, ring_reset, d,
			      d->cfg.reaper_us ? (uint64_t)d->cfg.reaper_us * 1000 : 1);
	if (ret)
		return ret;
	d->reaper_ready = true;
	if (d->nr_rings > 1) {
		if (frameset_init(&d->scratch, pages))
			return -ENOMEM;
		d->reaper.scratch = &d->scratch;
		for (uint32_t i = 0; i < d->nr_rings; i++) {
			if (frameset_init(&d->vcpu_dirty[i], pages))
				return -ENOMEM;
			d->rrings[i].own = &d->vcpu_dirty[i];
		}
	}
	if (d->cfg.reaper_us && (ret = reaper_start(&d->reaper))) {
		log_err("the dirty ring's reaper thread: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

uint64_t dlog_vcpu_pages_take(struct dlog *d, uint32_t cpu)
{
	if (!d->reaper_ready || d->nr_rings < 2 || cpu >= d->nr_rings)
		return 0;
	reaper_lock(&d->reaper);
	uint64_t n = d->vcpu_dirty[cpu].count;
	frameset_clear(&d->vcpu_dirty[cpu]);
	reaper_unlock(&d->reaper);
	return n;
}

uint64_t dlog_ring_collected(struct dlog *d, uint32_t cpu)
{
	if (!d->reaper_ready || cpu >= d->nr_rings)
		return 0;
	reaper_lock(&d->reaper);
	uint64_t n = d->rrings[cpu].collected;
	reaper_unlock(&d->reaper);
	return n;
}

void dlog_reaper_stats(struct dlog *d, uint64_t *passes, uint64_t *thread_passes,
		       uint64_t *max_pass)
{
	*passes = *thread_passes = *max_pass = 0;
	if (!d->reaper_ready)
		return;
	reaper_lock(&d->reaper);
	*passes = d->reaper.passes;
	*thread_passes = d->reaper.thread_passes;
	*max_pass = d->reaper.max_pass;
	reaper_unlock(&d->reaper);
}

/* Where a harvest's trouble came, for its message: "at boot" (the phase
 * before epoch 1) or "in epoch N". */
static void ring_where(char *buf, size_t len, uint64_t epoch)
{
	if (epoch)
		snprintf(buf, len, "in epoch %llu", (unsigned long long)epoch);
	else
		snprintf(buf, len, "at boot");
}

/*
 * KVM asks for a ring-full exit when a ring reaches its soft limit, which
 * leaves a reserve of entries for pushes already under way.  A ring some
 * pass found completely full, or published entries beyond the first
 * unpublished one (KVM's write index ran past ours), means that reserve was
 * not honoured: KVM pushed past the end and overwrote entries we never saw.
 * The dirty set is then incomplete, and no later harvest can repair it
 * (KVM's reset index is out of step with the ring), so say so instead of
 * reporting a set that looks whole.  Under the reaper's lock.  0, or
 * -EOVERFLOW (printed).
 */
static int ring_check_overrun(struct dlog *d, uint32_t i, uint64_t seen)
{
	uint32_t stray = 0;
	/* With the vCPUs running, KVM publishes new entries during this scan:
	 * they would look like strays.  The next harvest with them stopped
	 * (every epoch end, and the switch-over) still looks. */
	for (uint32_t k = 0; !d->vcpu_running && k < d->cfg.ring_entries; k++)
		stray += __atomic_load_n(&d->rrings[i].gfns[k].flags, __ATOMIC_ACQUIRE) &
			 KVM_DIRTY_GFN_F_DIRTY;
	if (i == 0 && d->cfg.test_ring_overrun && d->epoch + 1 == d->cfg.test_ring_overrun)
		stray++;
	if (!d->rrings[i].full_passes && !stray)
		return 0;
	char msg[384];
	uint64_t max_bytes = (uint64_t)kvm_cap(&d->vm->kvm, ring_cap(&d->vm->kvm));
	dlog_ring_overflow_msg(msg, sizeof(msg), i, d->cfg.ring_entries,
			       (uint32_t)(max_bytes / sizeof(struct kvm_dirty_gfn)),
			       d->rrings[i].full_passes ? d->cfg.ring_entries + (uint64_t)stray
							: seen + stray,
			       d->ring_peak, d->epoch, stray != 0);
	log_err("%s", msg);
	d->overflowed = true; /* a failed check, not a KVM failure */
	return -EOVERFLOW;
}

/* A pass under the reaper's lock, the overflow checks, and what the
 * reaper collected since the last harvest moved into out.  Returns the
 * entries that came since the last harvest, or -errno. */
static int64_t ring_pass_locked(struct dlog *d)
{
	int64_t n = reaper_pass_locked(&d->reaper);
	if (n == -EPROTO) {
		/* KVM's reset count differs from what we collected: what an
		 * overflow it did not flag leaves (docs/platform-notes.md).
		 * Entries went missing, so it fails the check like one. */
		char where[48];
		ring_where(where, sizeof(where), d->epoch);
		log_err("dirty ring out of step %s: KVM_RESET_DIRTY_RINGS reset a different "
			"number of entries than were harvested, so KVM overran the ring and dirty "
			"pages may be lost; use a larger --ring-entries or --log bitmap or clear",
			where);
		d->overflowed = true; /* a failed check, not a KVM failure */
		return -EOVERFLOW;
	}
	if (n == -EIO)
		log_err("a dirty ring entry names a page outside guest RAM");
	return n;
}

static int64_t ring_take_locked(struct dlog *d, struct frameset *out)
{
	d->in_take = true;
	int64_t n = ring_pass_locked(d);
	d->in_take = false;
	if (n < 0)
		return n;
	uint64_t since = d->reaper.collected - d->reaper_taken;
	for (uint32_t i = 0; i < d->nr_rings; i++) {
		int ret = ring_check_overrun(d, i, since);
		if (ret)
			return ret;
	}
	d->reaper_taken = d->reaper.collected;
	if (since > d->ring_peak)
		d->ring_peak = (uint32_t)since;
	if (out)
		for (uint64_t k = 0; k < d->pending.count; k++)
			frameset_add(out, d->pending.list[k]);
	frameset_clear(&d->pending);
	return (int64_t)since;
}

int64_t dlog_reap(struct dlog *d)
{
	if (!d->reaper_ready)
		return -EINVAL;
	reaper_lock(&d->reaper);
	int64_t n = ring_pass_locked(d);
	for (uint32_t i = 0; n >= 0 && i < d->nr_rings; i++)
		if (d->rrings[i].full_passes) {
			/* The stray scan needs stopped vCPUs: the next
			 * harvest makes it; a full ring is enough here. */
			bool running = d->vcpu_running;
			d->vcpu_running = true;
			n = ring_check_overrun(d, i, d->cfg.ring_entries);
			d->vcpu_running = running;
		}
	reaper_unlock(&d->reaper);
	return n;
}

static int64_t ring_harvest(struct dlog *d, struct frameset *out)
{
	if (!d->reaper_ready)
		return 0; /* before the vCPUs exist nothing can be dirty */
	reaper_lock(&d->reaper);
	int64_t n = ring_take_locked(d, out);
	reaper_unlock(&d->reaper);
	return n;
}

void dlog_ring_overflow_msg(char *buf, size_t len, uint32_t cpu, uint32_t entries,
			    uint32_t max_entries, uint64_t seen, uint32_t peak, uint64_t epoch,
			    bool wrapped)
{
	char where[48], advice[160], before[80] = "";
	ring_where(where, sizeof(where), epoch);
	/* At least `seen` entries came, and those KVM overwrote are beyond
	 * counting: four times the ring (and never less than twice what was
	 * seen) is where to start, not a guarantee. */
	uint64_t want = (uint64_t)entries * 4;
	while (want < 2 * seen)
		want *= 2;
	if (want <= max_entries)
		snprintf(advice, sizeof(advice), "try --ring-entries %llu or more",
			 (unsigned long long)want);
	else if (entries < max_entries)
		snprintf(advice, sizeof(advice),
			 "try --ring-entries %u (this KVM's largest), or --log bitmap or clear",
			 max_entries);
	else
		snprintf(advice, sizeof(advice),
			 "no ring this KVM allows holds it: use --log bitmap or clear");
	/* A ring that overflows at boot has no harvest before it to compare. */
	if (peak)
		snprintf(before, sizeof(before), "; this run's largest harvest before took %u",
			 peak);
	snprintf(buf, len,
		 "dirty ring overflow %s: vCPU %u's ring of %u entries %s without stopping at "
		 "its soft limit (at least %llu entries came between two harvests%s), so KVM "
		 "overwrote entries and dirty pages were lost; %s (docs/platform-notes.md)",
		 where, cpu, entries, wrapped ? "wrapped" : "filled up", (unsigned long long)seen,
		 before, advice);
}

static void ring_teardown(struct dlog *d)
{
	/* The thread first: it reads the rings. */
	if (d->reaper_ready)
		reaper_destroy(&d->reaper);
	d->reaper_ready = false;
	frameset_free(&d->pending);
	for (uint32_t i = 0; i < d->nr_rings; i++) {
		munmap(d->rrings[i].gfns, d->ring_bytes);
		d->rrings[i].gfns = NULL;
		frameset_free(&d->vcpu_dirty[i]);
	}
	frameset_free(&d->scratch);
	d->nr_rings = 0;
}

const struct dlog_mode dlog_mode_ring = {
    .name = "ring",
    .desc = "per-vCPU dirty ring (KVM_CAP_DIRTY_LOG_RING_ACQ_REL), KVM_RESET_DIRTY_RINGS",
    .kvm_log = true,
    .supported = ring_supported,
    .vm_created = ring_vm_created,
    .vcpu_created = ring_vcpu_created,
    .harvest = ring_harvest,
    .teardown = ring_teardown,
};
