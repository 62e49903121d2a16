/*
 * Guest side of the hypercall ABI (include/abi/hcall.h): fill the shared page,
 * then one `out` to the hypercall port.  The "memory" clobber on outl orders
 * the page stores before the exit, so the VMM sees complete arguments.
 */
#include <stdarg.h>
#include "defs.h"
#include "trap.h"
#include "x86.h"
#include "../include/abi/hcall.h"

static struct abi_hcall_page *const hp = P2V(ABI_HCALL_PAGE_GPA);

static void hcall(uint32_t nr)
{
	hp->nr = nr;
	outl(ABI_HCALL_PORT, nr);
}

/* Tell the host that boot is over and the workload is mapped. */
void hcall_ready(void)
{
	hp->args[0] = 0;
	hcall(ABI_HC_READY);
}

/* End of an epoch: the host harvests its dirty log now.  `pages` is the
 * number of distinct workload pages written in the epoch. */
void hcall_sync(uint64_t epoch, uint64_t pages)
{
	hp->args[0] = epoch;
	hp->args[1] = pages;
	hcall(ABI_HC_SYNC);
}

/* End of a round in a run the host delimits by time: the host's reply
 * (ABI_HC_REPLY_CONTINUE or ABI_HC_REPLY_STOP), read after the call. */
uint32_t hcall_sync_reply(uint64_t round, uint64_t pages)
{
	hcall_sync(round, pages);
	return inl(ABI_HCALL_PORT);
}

/* End of a file-world epoch: args as include/abi/pcache.h lays them out. */
void hcall_sync_args(const uint64_t *args)
{
	for (int i = 0; i < ABI_HCALL_NR_ARGS; i++)
		hp->args[i] = args[i];
	hcall(ABI_HC_SYNC);
}

/* Boot done; args[0] is the page-cache descriptor's GPA (0: no page cache). */
void hcall_ready_desc(uint64_t desc_gpa)
{
	hp->args[0] = desc_gpa;
	hcall(ABI_HC_READY);
}

/* The workload finished; status 0 means it ran to its end; check_failed is
 * what its own data check found wrong (anonymous workloads). */
void hcall_done(uint64_t status, uint64_t epochs, uint64_t check_failed)
{
	hp->args[0] = status;
	hp->args[1] = epochs;
	hp->args[ABI_DONE_CHECK_FAILED] = check_failed;
	hcall(ABI_HC_DONE);
}

/* Send one formatted line to the host log (one exit, unlike the console). */
void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf_k(hp->buf, sizeof(hp->buf), fmt, ap);
	va_end(ap);
	hp->args[0] = n < (int)sizeof(hp->buf) ? (uint64_t)n : sizeof(hp->buf) - 1;
	hcall(ABI_HC_LOG);
}

static void __attribute__((noreturn)) panic_send(int line)
{
	size_t len = strlen(hp->buf);
	hp->args[ABI_PANIC_LINE] = (uint64_t)line;
	hp->args[ABI_PANIC_LEN] = len;
	hcall(ABI_HC_PANIC);
	halt_forever(); /* the host never resumes a panicked guest */
}

/* Report a broken invariant at file:line and stop.  Never returns. */
void panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf_k(hp->buf, sizeof(hp->buf), "%s:%d: ", file, line);
	va_start(ap, fmt);
	if (n < (int)sizeof(hp->buf))
		vsnprintf_k(hp->buf + n, sizeof(hp->buf) - n, fmt, ap);
	va_end(ap);
	hp->args[ABI_PANIC_VECTOR] = ABI_PANIC_NO_TRAP;
	panic_send(line);
}

static const char *const trap_names[32] = {
    [0] = "#DE divide error",	     [6] = "#UD invalid opcode", [8] = "#DF double fault",
    [13] = "#GP general protection", [14] = "#PF page fault",
};

/* Report an unhandled exception with its trap frame.  Never returns. */
void panic_trap(struct trapframe *tf)
{
	const char *name =
	    tf->vector < 32 && trap_names[tf->vector] ? trap_names[tf->vector] : "exception";
	snprintf_k(hp->buf, sizeof(hp->buf), "%s:%d: %s (vector %lu, error %lx)", __FILE_NAME__,
		   __LINE__, name, tf->vector, tf->err);
	hp->args[ABI_PANIC_VECTOR] = tf->vector;
	hp->args[ABI_PANIC_ERR] = tf->err;
	hp->args[ABI_PANIC_RIP] = tf->rip;
	hp->args[ABI_PANIC_RSP] = tf->rsp;
	hp->args[ABI_PANIC_CR2] = rcr2();
	panic_send(__LINE__);
}
