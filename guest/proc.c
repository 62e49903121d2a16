/*
 * Processes and a cooperative scheduler, xv6 style.  A process runs until it
 * makes a system call that yields, waits or exits; there is no timer.  Each
 * CPU runs a scheduler loop on its own stack (CPU 0 on the boot stack, the
 * others on theirs, smp.c); every switch goes process -> that CPU's
 * scheduler -> process, each through swtch().  Any CPU runs any process:
 * the loops share one table under the kernel lock, which a CPU holds from
 * its entry into the kernel through every switch until the process it
 * switched to returns to user mode.
 *
 * Every process has a 16 KiB kernel stack (its CPU's TSS.RSP0 points at its
 * top while it runs); traps from ring 3 build their trap frame there.  A new
 * process's stack holds a trap frame for its first return to user mode and
 * a context whose rip is forkret (entry.S), which drops the kernel lock.
 *
 * A CPU with nothing to run halts with interrupts on (several CPUs only:
 * with one, nothing runnable means every process waits, a deadlock).
 * Making a process runnable wakes the halted CPUs with an IPI.
 */
#include "../include/abi/syscall.h"
#include "defs.h"
#include "proc.h"
#include "x86.h"

#define KSTACK_PAGES 4
#define USER_RFLAGS  0x2 /* IOPL 0: no port I/O */
#define RFLAGS_IF    0x200
#define SEL_UCODE    (0x20 | 3)
#define SEL_UDATA    (0x18 | 3)

struct proc procs[ABI_MAX_PROCS];
struct cpu cpus[ABI_MAX_CPUS];
static int next_pid = 1;
static int init_status = -1;
static volatile int sched_open; /* CPU 0 told the host READY: run processes */

extern char forkret[];
extern const uint8_t user_image[], user_image_end[];

static struct proc *proc_alloc(void)
{
	for (int i = 0; i < ABI_MAX_PROCS; i++) {
		struct proc *p = &procs[i];
		if (p->state != P_UNUSED)
			continue;
		if (!p->kstack)
			p->kstack = (uint64_t)P2V(pmem_alloc_kernel_contig(KSTACK_PAGES));
		if (mm_init(&p->mm))
			return NULL;
		p->pid = next_pid++;
		p->parent = NULL;
		p->xstatus = 0;
		for (int f = 0; f < ABI_MAX_FDS; f++)
			p->fds[f] = NULL;
		/* Trap frame at the top, the first context just below it. */
		uint64_t top = p->kstack + KSTACK_PAGES * ABI_PAGE_SIZE;
		p->tf = (struct trapframe *)(top - sizeof(struct trapframe));
		memset(p->tf, 0, sizeof(*p->tf));
		p->ctx = (struct context *)((uint64_t)p->tf - sizeof(struct context));
		memset(p->ctx, 0, sizeof(*p->ctx));
		p->ctx->rip = (uint64_t)forkret;
		p->state = P_RUNNABLE;
		return p;
	}
	return NULL;
}

/*
 * Create process 1: map the embedded user program (text read-only, data and
 * bss private and writable, a stack), put the workload arguments on the
 * stack and point the trap frame at the entry with rdi = &args.
 */
void proc_start_init(const struct abi_wl_args *args)
{
	const struct abi_user_header *h = (const void *)user_image;
	uint64_t file_len = (uint64_t)(user_image_end - user_image);
	if (h->magic != ABI_USER_MAGIC || h->file_len > file_len || h->text_len % ABI_PAGE_SIZE ||
	    h->text_len > h->mem_len || h->entry < ABI_USER_TEXT ||
	    h->entry >= ABI_USER_TEXT + h->text_len)
		panic("embedded user program has a bad header");
	struct proc *p = proc_alloc();
	if (!p)
		panic("cannot create process 1");
	struct mm *mm = &p->mm;
	uint64_t mem = (h->mem_len + ABI_PAGE_SIZE - 1) & ~(uint64_t)(ABI_PAGE_SIZE - 1);
	if (mm_add_vma(mm, ABI_USER_TEXT, h->text_len, ABI_PROT_READ, VMA_ANON, NULL, 0) < 0 ||
	    (mem > h->text_len &&
	     mm_add_vma(mm, ABI_USER_TEXT + h->text_len, mem - h->text_len,
			ABI_PROT_READ | ABI_PROT_WRITE, VMA_ANON, NULL, 0) < 0) ||
	    mm_add_vma(mm, ABI_USER_STACK_TOP - ABI_USER_STACK_PAGES * ABI_PAGE_SIZE,
		       ABI_USER_STACK_PAGES * ABI_PAGE_SIZE, ABI_PROT_READ | ABI_PROT_WRITE,
		       VMA_ANON, NULL, 0) < 0)
		panic("cannot lay out process 1");
	/* Load the image page by page (rep movs; the bss pages stay zero). */
	for (uint64_t off = 0; off < h->file_len; off += ABI_PAGE_SIZE) {
		uint64_t pa;
		if (mm_fault(mm, ABI_USER_TEXT + off, 0, &pa))
			panic("cannot map the user program");
		uint64_t n = h->file_len - off < ABI_PAGE_SIZE ? h->file_len - off : ABI_PAGE_SIZE;
		memcpy(P2V(pa), user_image + off, n);
	}
	uint64_t sp = ABI_USER_STACK_TOP - 64;
	if (copy_out(mm, sp, args, sizeof(*args)))
		panic("cannot set up the user stack");
	p->tf->rip = h->entry;
	p->tf->cs = SEL_UCODE;
	p->tf->ss = SEL_UDATA;
	/* With several CPUs user mode takes interrupts: the IPIs of TLB
	 * shootdowns (tlb.c), the only interrupts there are. */
	p->tf->rflags = USER_RFLAGS | (smp_nr_cpus() > 1 ? RFLAGS_IF : 0);
	p->tf->rsp = sp - 8; /* as after a call: 16-byte alignment minus the return address */
	p->tf->rdi = sp;
}

int proc_cpu_on_stack(uint64_t sp)
{
	for (int i = 0; i < ABI_MAX_PROCS; i++) {
		const struct proc *p = &procs[i];
		if (p->kstack && sp >= p->kstack && sp < p->kstack + KSTACK_PAGES * ABI_PAGE_SIZE)
			return p->cpu;
	}
	return -1;
}

/* Switch from the current process to this CPU's scheduler. */
static void sched(void)
{
	struct cpu *c = &cpus[cpu_id()];
	swtch(&c->proc->ctx, c->sched_ctx);
}

/* p became runnable: wake the CPUs halted for want of work (under the
 * kernel lock, so none is between finding nothing and halting unseen:
 * it set idle before dropping the lock, and an IPI sent before its `hlt`
 * waits in its LAPIC). */
static void wake_idle(void)
{
	uint32_t me = cpu_id();
	for (uint32_t c = 0; c < smp_nr_cpus(); c++)
		if (c != me && cpus[c].idle)
			ipi_send(c);
}

/*
 * The next runnable process for CPU cpu: round-robin after the one it last
 * ran, its own first (a process's home CPU is its pid's turn round the
 * CPUs, which spreads db's writers, shared2's and forkcow's two processes
 * over different CPUs), else any other's (an idle CPU takes work).
 */
static struct proc *pick(uint32_t cpu, int *last)
{
	struct proc *other = NULL;
	for (int k = 1; k <= ABI_MAX_PROCS; k++) {
		struct proc *q = &procs[(*last + k) % ABI_MAX_PROCS];
		if (q->state != P_RUNNABLE)
			continue;
		if ((uint32_t)(q->pid - 1) % smp_nr_cpus() == cpu) {
			other = q;
			break;
		}
		if (!other)
			other = q;
	}
	if (other)
		*last = (int)(other - procs);
	return other;
}

/* Whether some CPU runs a process (a halted one has none). */
static int anyone_runs(void)
{
	for (uint32_t c = 0; c < smp_nr_cpus(); c++)
		if (cpus[c].proc)
			return 1;
	return 0;
}

/* Halt until an IPI, with the kernel lock dropped meanwhile. */
static void idle(struct cpu *c)
{
	c->idle = 1;
	kernel_unlock();
	/* `sti` holds interrupts off for one more instruction: the `hlt`,
	 * so a wake-up sent after the unlock ends it rather than being taken
	 * before it. */
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	kernel_lock();
	c->idle = 0;
}

/* This CPU's scheduler loop: run processes until process 1 exits. */
static void schedule(uint32_t cpu)
{
	struct cpu *c = &cpus[cpu];
	uint64_t boot_cr3 = rcr3();
	int last = 0;
	kernel_lock();
	while (init_status < 0) {
		struct proc *p = pick(cpu, &last);
		if (!p) {
			if (!anyone_runs())
				panic("no runnable process: every process waits");
			idle(c);
			continue;
		}
		c->proc = p;
		p->cpu = (int)cpu;
		p->state = P_RUNNING;
		gdt_set_kstack(cpu, p->kstack + KSTACK_PAGES * ABI_PAGE_SIZE);
		lcr3(V2P(p->mm.pml4));
		swtch(&c->sched_ctx, p->ctx);
		lcr3(boot_cr3); /* flushes every user translation of p */
		c->proc = NULL;
	}
}

/* CPUs other than 0 in the file world (smp_start): schedule, then halt for
 * good; CPU 0 ends the run. */
void proc_ap_sched(uint32_t cpu)
{
	lapic_init();
	while (!sched_open)
		cpu_relax();
	schedule(cpu);
	kernel_unlock();
	halt_forever();
}

/*
 * CPU 0's scheduler: open the run to every CPU, run processes until
 * process 1 exits, wait until no CPU runs a process any more (an orphan
 * still running would be torn down under it), tear down what is left and
 * return process 1's exit status.
 */
int proc_run_all(void)
{
	if (smp_nr_cpus() > 1)
		lapic_init();
	__atomic_store_n(&sched_open, 1, __ATOMIC_RELEASE);
	schedule(0);
	while (anyone_runs()) {
		kernel_unlock();
		cpu_relax();
		kernel_lock();
	}
	for (int i = 0; i < ABI_MAX_PROCS; i++)
		if (procs[i].state != P_UNUSED && procs[i].mm.pml4) {
			for (int f = 0; f < ABI_MAX_FDS; f++)
				if (procs[i].fds[f] && --procs[i].fds[f]->ref == 0)
					kfree(procs[i].fds[f], sizeof(struct file));
			mm_free(&procs[i].mm);
		}
	kernel_unlock();
	return init_status;
}

/* Give the CPU to the next runnable process. */
void proc_yield(void)
{
	current->state = P_RUNNABLE;
	sched();
}

/* fork(): a copy of the current process whose fork() returns 0. */
int64_t proc_fork(void)
{
	struct proc *p = proc_alloc();
	if (!p)
		return -ABI_ENOMEM;
	if (mm_copy(&p->mm, &current->mm)) {
		mm_free(&p->mm);
		p->state = P_UNUSED;
		return -ABI_ENOMEM;
	}
	*p->tf = *current->tf;
	p->tf->rax = 0;
	p->parent = current;
	for (int f = 0; f < ABI_MAX_FDS; f++)
		if ((p->fds[f] = current->fds[f]))
			p->fds[f]->ref++;
	wake_idle();
	return p->pid;
}

/* exit(): release the address space and files, become a zombie for wait(). */
void proc_exit(int status)
{
	struct proc *p = current;
	/* Leave the address space before freeing its page tables. */
	lcr3(ABI_BOOT_PT_GPA);
	for (int f = 0; f < ABI_MAX_FDS; f++)
		if (p->fds[f]) {
			if (--p->fds[f]->ref == 0) {
				p->fds[f]->ip->nopen--;
				kfree(p->fds[f], sizeof(struct file));
			}
			p->fds[f] = NULL;
		}
	mm_free(&p->mm);
	p->xstatus = status;
	p->state = P_ZOMBIE;
	for (int i = 0; i < ABI_MAX_PROCS; i++)
		if (procs[i].parent == p) {
			/* Nobody will wait for orphans: a dead one is freed now, a live
			 * one when it exits. */
			procs[i].parent = NULL;
			if (procs[i].state == P_ZOMBIE)
				procs[i].state = P_UNUSED;
		}
	if (p->pid == 1) {
		init_status = status;
		wake_idle(); /* CPU 0 ends the run, and may be halted */
	} else if (!p->parent) {
		p->state = P_UNUSED;
	} else if (p->parent->state == P_WAITING) {
		p->parent->state = P_RUNNABLE;
		wake_idle();
	}
	sched();
	panic("zombie %d ran again", p->pid);
}

/* wait(): reap a zombie child, blocking until one exits. */
int64_t proc_wait(uint64_t status_uva)
{
	for (;;) {
		int children = 0;
		for (int i = 0; i < ABI_MAX_PROCS; i++) {
			struct proc *c = &procs[i];
			if (c->parent != current || c->state == P_UNUSED)
				continue;
			children++;
			if (c->state != P_ZOMBIE)
				continue;
			int st = c->xstatus;
			if (status_uva && copy_out(&current->mm, status_uva, &st, sizeof(st)))
				return -ABI_EFAULT;
			int64_t pid = c->pid;
			c->state = P_UNUSED;
			c->parent = NULL;
			return pid;
		}
		if (!children)
			return -ABI_ECHILD;
		current->state = P_WAITING;
		sched();
	}
}

/* Kill the current process for a fault it cannot survive, saying why. */
void proc_kill(const char *why, uint64_t va, uint64_t err)
{
	klog("pid %d killed: %s at 0x%lx (error 0x%lx)", current->pid, why, va, err);
	proc_exit(ABI_WAIT_KILLED);
}
