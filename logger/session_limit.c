/*
 * Dirty-limit (run --dirty-limit MIBS), as QEMU's set-vcpu-dirty-limit does
 * it: each vCPU's dirty rate is measured by its own dirty ring and held at
 * the limit by keeping the vCPU out of the guest at its ring-full exits.
 *
 * The rule: over a window that began at t0 with the ring's entry count at
 * base, a vCPU may have logged (now - t0) x limit bytes.  At each ring-full
 * exit, after the reaper pass that empties the rings, a vCPU past that is
 * held until the moment its entries would have fit (vm_throttle), then runs
 * on.  A window lasts LIMIT_WINDOW_NS and the next starts where the last
 * one's budget ended, so an idle spell buys no burst later.  An entry is a
 * page first written since its last reset, 4 KiB at the limit's rate, as
 * QEMU's per-vCPU dirty rate counts them.
 *
 * The limit acts only at ring-full exits, so its grain is a ring's worth:
 * a smaller --ring-entries holds it more closely (QEMU recommends a small
 * ring too), and the reaper thread, which would empty the rings before
 * they fill, is off.
 *
 * With --throttle dirty-limit the limit waits for a live migration to turn
 * it on (its auto-converge trigger: the guest outran the link twice in a
 * row); each vCPU's window then starts at its first ring-full exit after.
 */
#include "logger/session_int.h"
#include "util/time.h"

#define LIMIT_WINDOW_NS 1000000000ull

void session_limit_start(struct session *s)
{
	if (s->cfg->migrate && s->cfg->migrate->throttle_dirty_limit)
		return; /* the migration turns it on */
	uint64_t now = time_now_ns();
	for (uint32_t i = 0; i < s->vm.nr_vcpus; i++) {
		s->limit[i].t0 = now;
		s->limit[i].base = dlog_ring_collected(&s->dlog, i);
	}
}

void session_limit_throttle(struct session *s, uint32_t cpu)
{
	uint64_t limit = s->cfg->dirty_limit_mibs;
	if (!limit || cpu >= s->vm.nr_vcpus)
		return;
	uint64_t now = time_now_ns(), got = dlog_ring_collected(&s->dlog, cpu);
	if (s->cfg->migrate && s->cfg->migrate->throttle_dirty_limit) {
		if (!migout_dirty_limit_on(s->mo))
			return;
		if (!s->limit[cpu].armed) {
			s->limit[cpu].armed = true;
			s->limit[cpu].t0 = now;
			s->limit[cpu].base = got;
			return;
		}
	}
	if (!s->limit[cpu].t0)
		return;
	/* bytes / (limit MiB/s), in ns */
	double need =
	    (double)(got - s->limit[cpu].base) * 4096.0 * 1e9 / ((double)limit * (1 << 20));
	uint64_t until = s->limit[cpu].t0 + (uint64_t)need;
	if (until > now) {
		vm_throttle(&s->vm, cpu, until);
		__atomic_add_fetch(&s->limit[cpu].held_ns, until - now, __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->sum.limit_held_ns, until - now, __ATOMIC_RELAXED);
	}
	if (now - s->limit[cpu].t0 >= LIMIT_WINDOW_NS) {
		s->limit[cpu].t0 = until > now ? until : now;
		s->limit[cpu].base = got;
	}
}
