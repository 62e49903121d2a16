/*
 * Interrupt descriptor table and the trap dispatcher.  In this kernel every
 * exception is fatal: it is reported to the host (vector, error code, rip,
 * rsp, cr2) through the panic hypercall, which makes the VMM dump the vCPU
 * registers and end the run with a failure.
 */
#include "defs.h"
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

static struct gate idt[32];
extern uint64_t trap_vectors[32];

#define T_DF 8

/* Install gates for the 32 exception vectors and load the IDT. */
void idt_init(void)
{
	for (int i = 0; i < 32; i++) {
		uint64_t off = trap_vectors[i];
		idt[i].off_lo = off & 0xffff;
		idt[i].sel = 0x08;
		/* #DF switches to its own stack: it usually means ours is gone. */
		idt[i].ist = (i == T_DF) ? 1 : 0;
		idt[i].type_attr = 0x8e; /* present, DPL 0, interrupt gate */
		idt[i].off_mid = (off >> 16) & 0xffff;
		idt[i].off_hi = off >> 32;
		idt[i].zero = 0;
	}
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)idt};
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* Called by alltraps with interrupts off.  Nothing is recoverable yet. */
void trap(struct trapframe *tf)
{
	panic_trap(tf);
}
