/*
 * void swtch(struct context **old, struct context *new)
 *
 * Save the callee-saved registers on the current stack, store the stack
 * pointer in *old, switch to new and pop its registers; `ret` then resumes
 * wherever new last called swtch (or at its context's rip for a new process:
 * trapret, which returns to user mode through the trap frame above it).
 */
	.text
	.globl swtch
swtch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.section .note.GNU-stack, "", @progbits
