/*
 * The other CPUs.  The VMM creates every vCPU in long mode, at the image's
 * ap_entry with its number in RDI (include/abi/boot.h), but runs CPUs 1 and
 * up only once CPU 0 asks (ABI_HC_START_APS), as a real machine's boot CPU
 * wakes the others with INIT and SIPI once it has a kernel for them.  They
 * enter ap_start (entry.S) on stacks of their own and come here: their own
 * TSS, the shared IDT, the address space CPU 0 built, then the workload.
 *
 * Which CPU am I?  The kernel reads it off its stack pointer: every CPU runs
 * on stacks of its own (CPU 0 on the boot stack, CPU c on ap_stacks[c - 1])
 * or on the kernel stack of the process it runs, which knows its CPU
 * (proc.c sets it under the kernel lock before switching to that stack).
 * A GS base would need swapgs on every way into the kernel, and this
 * kernel enters from user mode through int3 with the user's GS; the stack
 * needs nothing.
 */
#include <stdbool.h>

#include "defs.h"
#include "proc.h"
#include "smp.h"
#include "x86.h"

/* CPU c >= 1: ap_stacks[c - 1], kernel stack below, double-fault stack above. */
__attribute__((aligned(4096))) char ap_stacks[ABI_MAX_CPUS - 1][SMP_AP_STRIDE];
_Static_assert(SMP_AP_STRIDE % 4096 == 0, "AP stacks stay page aligned");

extern char df_stack_top[];

static uint32_t nr_cpus = 1;
static volatile uint32_t online; /* CPUs other than 0 that reached ap_main */
static uint64_t smp_cr3;
static void (*ap_fn)(uint32_t cpu) __attribute__((noreturn));
/* The kernel lock is a ticket lock: CPUs get it in the order they asked.
 * A test-and-set lock let CPU 0, in and out of the kernel on every page
 * fault, take it again and again while the other vCPU, sharing a host CPU
 * with it, only ever looked while it was held: that CPU waited for
 * hundreds of millions of cycles. */
static struct {
	volatile uint32_t next;	 /* the ticket the next CPU to ask takes */
	volatile uint32_t owner; /* the ticket that holds the lock */
} big_lock;

uint32_t cpu_id(void)
{
	/* Every process's trap asks, several times: with one CPU the answer
	 * costs nothing (guest instructions are dear where they are
	 * emulated). */
	if (nr_cpus == 1)
		return 0;
	uint64_t sp = (uint64_t)__builtin_frame_address(0);
	uint64_t lo = (uint64_t)ap_stacks;
	if (sp >= lo && sp < lo + sizeof(ap_stacks))
		return 1 + (uint32_t)((sp - lo) / SMP_AP_STRIDE);
	int cpu = proc_cpu_on_stack(sp);
	return cpu < 0 ? 0 : (uint32_t)cpu;
}

void kernel_lock(void)
{
	if (nr_cpus == 1)
		return;
	uint32_t ticket = __atomic_fetch_add(&big_lock.next, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&big_lock.owner, __ATOMIC_ACQUIRE) != ticket) {
		tlb_shootdown_answer();
		cpu_relax();
	}
}

void kernel_unlock(void)
{
	if (nr_cpus > 1)
		__atomic_store_n(&big_lock.owner, big_lock.owner + 1, __ATOMIC_RELEASE);
}

uint32_t smp_nr_cpus(void)
{
	return nr_cpus;
}

uint64_t smp_df_stack_top(uint32_t cpu)
{
	if (cpu == 0)
		return (uint64_t)df_stack_top;
	return (uint64_t)ap_stacks[cpu - 1] + SMP_AP_STRIDE;
}

void smp_start(const struct abi_boot_params *bp, uint64_t cr3,
	       void (*fn)(uint32_t cpu) __attribute__((noreturn)))
{
	if (bp->nr_cpus == 0 || bp->nr_cpus > ABI_MAX_CPUS)
		panic("boot parameters: %u CPUs", bp->nr_cpus);
	if (bp->nr_cpus == 1)
		return;
	smp_cr3 = cr3;
	ap_fn = fn;
	nr_cpus = bp->nr_cpus;
	hcall_start_aps(); /* an exit: our stores above are visible first */
	/* They come up in well under a million instructions each. */
	while (__atomic_load_n(&online, __ATOMIC_ACQUIRE) != nr_cpus - 1)
		cpu_relax();
}

void ap_main(uint64_t cpu) __attribute__((noreturn));

/* From ap_start (entry.S), on ap_stacks[cpu - 1]. */
void ap_main(uint64_t cpu)
{
	if (cpu == 0 || cpu >= nr_cpus || cpu != cpu_id())
		panic("application processor %lu of %u: not where its stack says", cpu, nr_cpus);
	gdt_init((uint32_t)cpu);
	idt_load();
	lcr3(smp_cr3);
	__atomic_add_fetch(&online, 1, __ATOMIC_RELEASE);
	ap_fn((uint32_t)cpu);
}
