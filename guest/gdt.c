/*
 * Segmentation: a flat GDT (kernel and user code/data), and per CPU a TSS
 * whose IST1 stack catches double faults even when the kernel stack is
 * broken.  The VMM
 * starts us with hidden segment state matching these selectors, but iretq
 * reloads CS/SS from the GDT, so it must exist in guest memory.
 */
#include "defs.h"
#include "smp.h"

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_TSS	  0x28 /* CPU c's: SEL_TSS + 16 * c */

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS layout");

static struct tss tss[ABI_MAX_CPUS];
static uint64_t gdt[5 + 2 * ABI_MAX_CPUS] = {
    0,
    0x00af9a000000ffffULL, /* 0x08 kernel code, 64-bit */
    0x00cf92000000ffffULL, /* 0x10 kernel data */
    0x00cff2000000ffffULL, /* 0x18 user data, DPL 3 */
    0x00affa000000ffffULL, /* 0x20 user code, 64-bit, DPL 3 */
    /* 0x28 on: per CPU a TSS descriptor, low and high halves */
};

/* The stack CPU cpu switches to on a trap from ring 3 (TSS.RSP0): the
 * kernel stack of the process it is about to run. */
void gdt_set_kstack(uint32_t cpu, uint64_t top)
{
	tss[cpu].rsp[0] = top;
}

/* Load the GDT and this CPU's TSS and reload every segment register.  Each
 * CPU calls it once, at its boot. */
void gdt_init(uint32_t cpu)
{
	struct tss *t = &tss[cpu];
	uint64_t base = (uint64_t)t;
	uint64_t limit = sizeof(*t) - 1;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = {sizeof(gdt) - 1, (uint64_t)gdt};

	t->ist[0] = smp_df_stack_top(cpu);
	t->iomap_base = sizeof(*t); /* no I/O bitmap */
	/* 64-bit available TSS descriptor (type 9, present). */
	gdt[5 + 2 * cpu] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
			   (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[6 + 2 * cpu] = base >> 32;

	__asm__ volatile("lgdt %0\n\t"
			 "mov %1, %%ds\n\t"
			 "mov %1, %%es\n\t"
			 "mov %1, %%ss\n\t"
			 "pushq %2\n\t"
			 "lea 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "ltr %w3"
			 :
			 : "m"(gdtr), "r"((uint64_t)SEL_KDATA), "i"(SEL_KCODE),
			   "r"(SEL_TSS + 16 * cpu)
			 : "rax", "memory");
}
