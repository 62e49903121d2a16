/*
 * Processes and a cooperative scheduler, xv6 style.  A process runs until it
 * makes a system call that yields, waits or exits; there is no timer.  The
 * scheduler loop runs on the boot stack (kmain's context): every switch goes
 * process -> scheduler -> process, each through swtch().
 *
 * Every process has a 16 KiB kernel stack (TSS.RSP0 points at its top while it
 * runs); traps from ring 3 build their trap frame there.  A new process's
 * stack holds a trap frame for its first return to user mode and a context
 * whose rip is trapret.
 */
#include "../include/abi/syscall.h"
#include "defs.h"
#include "proc.h"
#include "x86.h"

#define KSTACK_PAGES 4
#define USER_RFLAGS  0x2 /* IF off: there are no interrupts; IOPL 0: no port I/O */
#define SEL_UCODE    (0x20 | 3)
#define SEL_UDATA    (0x18 | 3)

struct proc procs[ABI_MAX_PROCS];
struct proc *current;
static struct context *sched_ctx;
static int next_pid = 1;
static int init_status = -1;

extern char trapret[];
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
		p->ctx->rip = (uint64_t)trapret;
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
	p->tf->rflags = USER_RFLAGS;
	p->tf->rsp = sp - 8; /* as after a call: 16-byte alignment minus the return address */
	p->tf->rdi = sp;
}

/* Switch from the current process to the scheduler. */
static void sched(void)
{
	swtch(&current->ctx, sched_ctx);
}

/*
 * The scheduler: run processes round-robin until process 1 exits.  Returns
 * its exit status.  Processes still alive then are torn down.
 */
int proc_run_all(void)
{
	uint64_t boot_cr3 = rcr3();
	int last = 0;
	while (init_status < 0) {
		struct proc *p = NULL;
		for (int k = 1; k <= ABI_MAX_PROCS; k++) {
			struct proc *q = &procs[(last + k) % ABI_MAX_PROCS];
			if (q->state == P_RUNNABLE) {
				p = q;
				last = (int)(q - procs);
				break;
			}
		}
		if (!p)
			panic("no runnable process: every process waits");
		current = p;
		p->state = P_RUNNING;
		gdt_set_kstack(p->kstack + KSTACK_PAGES * ABI_PAGE_SIZE);
		lcr3(V2P(p->mm.pml4));
		swtch(&sched_ctx, p->ctx);
		lcr3(boot_cr3);
		current = NULL;
	}
	for (int i = 0; i < ABI_MAX_PROCS; i++)
		if (procs[i].state != P_UNUSED && procs[i].mm.pml4) {
			for (int f = 0; f < ABI_MAX_FDS; f++)
				if (procs[i].fds[f] && --procs[i].fds[f]->ref == 0)
					kfree(procs[i].fds[f], sizeof(struct file));
			mm_free(&procs[i].mm);
		}
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
	if (p->pid == 1)
		init_status = status;
	else if (!p->parent)
		p->state = P_UNUSED;
	else if (p->parent->state == P_WAITING)
		p->parent->state = P_RUNNABLE;
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
