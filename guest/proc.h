/* Processes, CPUs and the cooperative scheduler (proc.c). */
#ifndef GUEST_PROC_H
#define GUEST_PROC_H

#include <stdint.h>
#include "../include/abi/syscall.h"
#include "fs.h"
#include "mm.h"
#include "smp.h"
#include "trap.h"

/* Callee-saved registers, as swtch.S pushes them; rip is its return address. */
struct context {
	uint64_t r15, r14, r13, r12, rbx, rbp, rip;
};

enum proc_state { P_UNUSED, P_RUNNABLE, P_RUNNING, P_WAITING, P_ZOMBIE };

struct proc {
	int pid;
	enum proc_state state;
	int xstatus;
	struct proc *parent;
	struct mm mm;
	uint64_t kstack; /* lowest address of its kernel stack */
	struct context *ctx;
	struct trapframe *tf;
	struct file *fds[ABI_MAX_FDS];
	int cpu; /* the CPU running it, while it runs */
};

/* One per CPU.  Changed under the kernel lock only (idle and flush also
 * by their CPU's interrupt handler and the shootdown's sender). */
struct cpu {
	struct proc *proc;	   /* the process it runs; NULL in its scheduler */
	struct context *sched_ctx; /* its scheduler loop, for sched() */
	volatile uint32_t idle;	   /* halted, waiting for an IPI to look again */
	volatile uint32_t flush;   /* a shootdown waits for it to flush its TLB (tlb.c) */
};

extern struct proc procs[ABI_MAX_PROCS];
extern struct cpu cpus[ABI_MAX_CPUS];

/* The process this CPU runs (an lvalue). */
#define current (cpus[cpu_id()].proc)

void swtch(struct context **old, struct context *new);
void proc_start_init(const struct abi_wl_args *args);
int proc_run_all(void);
void proc_ap_sched(uint32_t cpu) __attribute__((noreturn));
/* The CPU running the process on whose kernel stack sp is, or -1. */
int proc_cpu_on_stack(uint64_t sp);
void proc_yield(void);
int64_t proc_fork(void);
void proc_exit(int status) __attribute__((noreturn));
int64_t proc_wait(uint64_t status_uva);
void proc_kill(const char *why, uint64_t va, uint64_t err) __attribute__((noreturn));

/* syscall.c */
void syscall(struct trapframe *tf);

#endif
