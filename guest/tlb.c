/*
 * TLB shootdown.  A CPU caches translations; a PTE changed in memory is
 * not changed for a CPU that still holds the old one.  When the kernel
 * takes a permission away (write-protects a page it cleans, clears a D
 * bit it harvests, unmaps a page it evicts) in an address space another
 * CPU is running, that CPU must flush before the change counts: until
 * then it may store through the old writable, dirty translation without a
 * fault and without setting D, and the store would be invisible to the
 * kernel's dirty tracking.
 *
 * The protocol, all of it under the kernel lock, so one shootdown at a
 * time: the sender marks each target's flush flag, sends it an IPI
 * (IPI_VECTOR through the in-kernel LAPIC) and waits until every target
 * has cleared its flag.  A target answers wherever it is:
 *   - in user mode (interrupts on there with several CPUs, proc.c), the
 *     IPI's handler flushes and clears the flag;
 *   - in the kernel, interrupts off, it is on its way to the kernel lock,
 *     and the lock's wait loop answers (smp.c); the IPI stays pending and
 *     is taken, harmlessly, on the way back to user mode;
 *   - halted or in its scheduler it runs no process and is no target: its
 *     scheduler's CR3 load flushed every user translation.
 * A flush is a CR3 reload (everything but global pages, which user pages
 * never are), simpler than a list of addresses and as cheap here, where
 * the cost is the IPI's exits.
 */
#include "defs.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

/* Spins of the sender before it calls a lost answer a kernel bug. */
#define TLB_SPIN_MAX 1000000000ull

uint64_t tlb_shootdowns; /* shootdowns sent */
uint64_t tlb_ipis;	 /* IPIs they took */

uint32_t tlb_cpus_of(const struct mm *mm)
{
	uint32_t me = cpu_id(), mask = 0;
	for (uint32_t c = 0; c < smp_nr_cpus(); c++)
		if (c != me && cpus[c].proc && &cpus[c].proc->mm == mm)
			mask |= 1u << c;
	return mask;
}

void tlb_shootdown(uint32_t mask)
{
	tlb_shootdowns++;
	for (uint32_t c = 0; c < smp_nr_cpus(); c++)
		if (mask & (1u << c)) {
			__atomic_store_n(&cpus[c].flush, 1, __ATOMIC_RELEASE);
			ipi_send(c);
			tlb_ipis++;
		}
	for (uint32_t c = 0; c < smp_nr_cpus(); c++) {
		uint64_t spins = 0;
		while ((mask & (1u << c)) && __atomic_load_n(&cpus[c].flush, __ATOMIC_ACQUIRE))
			if (++spins == TLB_SPIN_MAX)
				panic("TLB shootdown: CPU %u never answered", c);
			else
				cpu_relax();
	}
}

/* On this CPU: flush if a shootdown waits for it (the IPI's handler and
 * the kernel lock's wait loop call this). */
void tlb_shootdown_answer(void)
{
	struct cpu *c = &cpus[cpu_id()];
	if (!__atomic_load_n(&c->flush, __ATOMIC_ACQUIRE))
		return;
	lcr3(rcr3());
	__atomic_store_n(&c->flush, 0, __ATOMIC_RELEASE);
}
