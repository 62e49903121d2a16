/*
 * Guest entry and exception entry stubs.
 *
 * The VMM enters _start in 64-bit mode with paging on (boot page tables built
 * host-side: direct map + kernel map), interrupts off and RSP undefined.
 * (A PVH loader enters at pvh_start instead: pvh.S.)
 */
#include "../include/abi/boot.h"
#include "smp.h"

	.section .head, "a"
	.globl image_header
image_header:
	.quad ABI_IMAGE_MAGIC
	.quad _start
	.quad _end - 0xffffffff80000000 /* load_end as a GPA */
	.quad ap_start

	.text
	.globl _start
_start:
	lea boot_stack_top(%rip), %rsp
	xor %ebp, %ebp
	/* kmain(the VMM's boot parameters, by the direct map) */
	movabs $0xffff800000000000 + ABI_BOOT_PARAMS_GPA, %rdi
	call kmain
1:	cli
	hlt
	jmp 1b

/*
 * The other CPUs (smp.c), entered like _start with RDI their number (1 and
 * up): the top of kernel stack ap_stacks[RDI - 1] is RDI strides up, less
 * the double-fault stack above it.
 */
	.globl ap_start
ap_start:
	imul $SMP_AP_STRIDE, %rdi, %rax
	lea ap_stacks(%rip), %rsp
	add %rax, %rsp
	sub $SMP_DFSTACK_SIZE, %rsp
	xor %ebp, %ebp
	call ap_main
2:	cli
	hlt
	jmp 2b

/*
 * Exception vectors 0-31.  Each stub makes the frame uniform (a zero error
 * code where the CPU pushes none), pushes its vector and joins alltraps, which
 * saves the general registers and calls trap(struct trapframe *).
 */
.macro VEC_NOERR n
vec\n:
	pushq $0
	pushq $\n
	jmp alltraps
.endm
.macro VEC_ERR n
vec\n:
	pushq $\n
	jmp alltraps
.endm

	VEC_NOERR 0
	VEC_NOERR 1
	VEC_NOERR 2
	VEC_NOERR 3
	VEC_NOERR 4
	VEC_NOERR 5
	VEC_NOERR 6
	VEC_NOERR 7
	VEC_ERR 8
	VEC_NOERR 9
	VEC_ERR 10
	VEC_ERR 11
	VEC_ERR 12
	VEC_ERR 13
	VEC_ERR 14
	VEC_NOERR 15
	VEC_NOERR 16
	VEC_ERR 17
	VEC_NOERR 18
	VEC_NOERR 19
	VEC_NOERR 20
	VEC_ERR 21
	VEC_NOERR 22
	VEC_NOERR 23
	VEC_NOERR 24
	VEC_NOERR 25
	VEC_NOERR 26
	VEC_NOERR 27
	VEC_NOERR 28
	VEC_ERR 29
	VEC_ERR 30
	VEC_NOERR 31

/*
 * The IPI test's vector (ipi.c): save what a C call may clobber, call
 * ipi_handler (which acknowledges the interrupt), return.  The CPU aligned
 * the stack before its 5-word frame; nine more words leave it aligned for
 * the call.
 */
	.globl ipi_entry
ipi_entry:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	cld
	call ipi_handler
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	iretq

/* The LAPIC's spurious vector: no handler, no EOI. */
	.globl spurious_entry
spurious_entry:
	iretq

/*
 * A new process's first run (proc.c): its scheduler switched here holding
 * the kernel lock, which the process gives up before its first return to
 * user mode, as every trap does.  The stack is the trap frame, 16-byte
 * aligned, so the call is aligned too.
 */
	.globl forkret
forkret:
	call kernel_unlock
	jmp trapret

alltraps:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	mov %rsp, %rdi
	cld
	call trap
	.globl trapret
trapret:
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	add $16, %rsp /* vector and error code */
	iretq

	.section .rodata
	.globl trap_vectors
	.balign 8
trap_vectors:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad vec\n
	.endr

	.bss
	.balign 4096
	.globl boot_stack
boot_stack:
	.skip 16384
	.globl boot_stack_top
boot_stack_top:
	.globl df_stack_top
	.skip 4096
df_stack_top:
	.section .note.GNU-stack, "", @progbits
