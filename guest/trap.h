/* The register frame alltraps (entry.S) builds. */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include <stdint.h>

struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, err;
	/* pushed by the CPU */
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct trapframe) == 22 * 8, "trapframe matches entry.S");

#endif
