/*
 * Interrupt descriptor table and the trap dispatcher.
 *
 * From ring 3: vector 3 (`int3`, through a DPL-3 gate) is the system call;
 * a page fault goes to the fault path and kills the process if it was not a
 * legal access; any other exception kills the process.  From ring 0 every
 * exception is a kernel bug: it is reported to the host (vector, error code,
 * rip, rsp, cr2) through the panic hypercall, which makes the VMM dump the
 * vCPU registers and end the run with a failure.
 */
#include "defs.h"
#include "proc.h"
#include "trap.h"
#include "x86.h"

struct gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));
_Static_assert(sizeof(struct gate) == 16, "64-bit gate layout");

/* Every vector: the exceptions, the IPI vector (ipi.c) and the LAPIC's
 * spurious vector; the others are not present, so a stray interrupt
 * faults. */
static struct gate idt[256];
extern uint64_t trap_vectors[32];

#define T_BP 3
#define T_DF 8
#define T_PF 14

/* An interrupt gate (interrupts off in the handler), DPL 0. */
static void set_irq_gate(int vec, uint64_t off)
{
	idt[vec] = (struct gate){.off_lo = off & 0xffff,
				 .sel = 0x08,
				 .type_attr = 0x8e,
				 .off_mid = (off >> 16) & 0xffff,
				 .off_hi = off >> 32};
}

/* Install gates for the 32 exception vectors and the interrupts, and load
 * the IDT. */
void idt_init(void)
{
	for (int i = 0; i < 32; i++) {
		uint64_t off = trap_vectors[i];
		idt[i].off_lo = off & 0xffff;
		idt[i].sel = 0x08;
		/* #DF switches to its own stack: it usually means ours is gone. */
		idt[i].ist = (i == T_DF) ? 1 : 0;
		/* present, interrupt gate; DPL 3 on the system-call vector only.
		 * `int3` is the one user->kernel gate that works on every platform
		 * this project runs on (include/abi/syscall.h). */
		idt[i].type_attr = (i == T_BP) ? 0xee : 0x8e;
		idt[i].off_mid = (off >> 16) & 0xffff;
		idt[i].off_hi = off >> 32;
		idt[i].zero = 0;
	}
	set_irq_gate(IPI_VECTOR, (uint64_t)ipi_entry);
	set_irq_gate(SPURIOUS_VECTOR, (uint64_t)spurious_entry);
	idt_load();
}

/* Point this CPU at the IDT, which every CPU shares. */
void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)idt};
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* Called by alltraps with interrupts off.  From user mode the whole of the
 * kernel's work runs under the kernel lock (smp.c); the process may sleep
 * in it (sched), and comes back holding it. */
void trap(struct trapframe *tf)
{
	if ((tf->cs & 3) != 3 || !current)
		panic_trap(tf);
	kernel_lock();
	current->tf = tf;
	if (tf->vector == T_BP) {
		syscall(tf);
	} else if (tf->vector == T_PF) {
		uint64_t va = rcr2();
		pc_faults++;
		/* Error code bit 1: the access was a store. */
		int err = mm_fault(&current->mm, va, (tf->err & 2) != 0, NULL);
		if (err == -ABI_ENOMEM)
			proc_kill("out of memory on a page fault", va, tf->err);
		if (err)
			proc_kill(tf->err & 2 ? "store outside its writable mappings"
					      : "access outside its mappings",
				  va, tf->err);
	} else {
		proc_kill("exception", tf->rip, tf->vector);
	}
	kernel_unlock();
}
