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
 */
#include "logger/session_int.h"
#include "util/time.h"

#define LIMIT_WINDOW_NS 1000000000ull

void session_limit_start(struct session *s)
{
	uint64_t now = time_now_ns();
	for (uint32_t i = 0; i < s->vm.nr_vcpus; i++) {
		s->limit[i].t0 = now;
		s->limit[i].base = dlog_ring_collected(&s->dlog, i);
	}
}

void session_limit_throttle(struct session *s, uint32_t cpu)
{
	uint64_t limit = s->cfg->dirty_limit_mibs;
	if (!limit || cpu >= s->vm.nr_vcpus || !s->limit[cpu].t0)
		return;
	uint64_t now = time_now_ns(), got = dlog_ring_collected(&s->dlog, cpu);
	/* bytes / (limit MiB/s), in ns */
	double need = (double)(got - s->limit[cpu].base) * 4096.0 * 1e9 / ((double)limit * (1 << 20));
	uint64_t until = s->limit[cpu].t0 + (uint64_t)need;
	if (until > now) {
		vm_throttle(&s->vm, cpu, until);
		__atomic_add_fetch(&s->limit[cpu].held_ns, until - now, __ATOMIC_RELAXED);
	}
	if (now - s->limit[cpu].t0 >= LIMIT_WINDOW_NS) {
		s->limit[cpu].t0 = until > now ? until : now;
		s->limit[cpu].base = got;
	}
}
