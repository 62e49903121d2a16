/*
 * Several CPUs: per-CPU stacks and identity, spinlocks, and the meeting
 * point the workloads' CPUs use at the end of every epoch.  Usable from
 * assembly for the stack geometry.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include "../include/abi/layout.h"

/* Each application processor (CPU 1..ABI_MAX_CPUS-1) has a kernel stack
 * and, above it, the stack its double faults switch to (TSS IST1). */
#define SMP_KSTACK_SIZE	 16384
#define SMP_DFSTACK_SIZE 4096
#define SMP_AP_STRIDE	 (SMP_KSTACK_SIZE + SMP_DFSTACK_SIZE)

#ifndef __ASSEMBLER__
#include <stdint.h>

struct abi_boot_params;

/* This CPU's number, 0..ABI_MAX_CPUS-1 (see smp.c for how it is known). */
uint32_t cpu_id(void);

/* CPUs running: the boot parameters' nr_cpus once smp_start ran, else 1. */
uint32_t smp_nr_cpus(void);

/* The top of CPU cpu's double-fault stack (CPU 0's is entry.S's). */
uint64_t smp_df_stack_top(uint32_t cpu);

/*
 * CPU 0, with the address space the others start in loaded (cr3): start
 * the other bp->nr_cpus - 1 CPUs and wait until each runs on its own stack
 * in that address space, then return.  Each of them then calls fn(cpu):
 * the anonymous workload's ap_run (workload.c) or the file world's
 * scheduler (proc.c).
 */
void smp_start(const struct abi_boot_params *bp, uint64_t cr3,
	       void (*fn)(uint32_t cpu) __attribute__((noreturn)));

/* What an application processor runs once it is up (workload.c). */
void ap_run(uint32_t cpu) __attribute__((noreturn));

/*
 * The big kernel lock: the file world's kernel (processes, page cache,
 * file system, disk driver) runs under it on whichever CPU entered it.
 * One lock is the plain choice for a kernel whose every path is short
 * next to a guest exit; it also keeps the single-CPU kernel's reasoning
 * true on N CPUs.  Waiting for it, a CPU still answers TLB shootdowns
 * (tlb.c): the holder may be waiting for exactly that.
 */
void kernel_lock(void);
void kernel_unlock(void);

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* A test-and-test-and-set lock.  The kernel runs with interrupts off, so
 * a holder is never interrupted by code that wants the same lock. */
struct spinlock {
	volatile uint32_t locked;
};

static inline void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
}

static inline void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#endif
#endif
