/*
 * Guest side of the hypercall ABI (include/abi/hcall.h): fill the shared page,
 * then one `out` to the hypercall port.  The "memory" clobber on outl orders
 * the page stores before the exit, so the VMM sees complete arguments.
 *
 * Booted standalone by a PVH loader (guest/pvh.c) there is no hypercall
 * port: an `out` to it would go nowhere under QEMU, and the workload would
 * wait for replies no one sends.  hcall_standalone() then turns every call
 * here into its standalone form (guest/standalone.c: lines on COM1, the end
 * through QEMU's debug-exit port), so the rest of the kernel calls the same
 * functions whoever booted it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include "defs.h"
#include "smp.h"
#include "trap.h"
#include "x86.h"
#include "../include/abi/hcall.h"

static bool standalone;
/* Standalone, klog and panic format into this page in .bss instead: GPA
 * 0x2000 and 0x3000 are the loader's memory then, not pages set aside. */
static struct abi_hcall_page standalone_page;
static struct abi_progress standalone_progress;

/* This CPU's hypercall page (include/abi/layout.h): CPUs calling at once
 * never share one. */
static struct abi_hcall_page *my_page(void)
{
	return standalone ? &standalone_page : P2V(abi_hcall_page_gpa(cpu_id()));
}

static void hcall(uint32_t nr)
{
	struct abi_hcall_page *hp = my_page();
	hp->nr = nr;
	outl(ABI_HCALL_PORT, nr);
}

/* From now on there is no VMM: calls go to COM1 and the debug-exit port.
 * Call once, first thing, on the PVH path. */
void hcall_standalone(void)
{
	standalone = true;
	console_poll_ready();
}

/* CPU 0: the VMM may run the other CPUs now (smp.c). */
void hcall_start_aps(void)
{
	if (standalone)
		panic("one CPU only when booted standalone");
	hcall(ABI_HC_START_APS);
}

/* Tell the host that boot is over and the workload is mapped. */
void hcall_ready(void)
{
	struct abi_hcall_page *hp = my_page();
	if (standalone) {
		standalone_ready();
		return;
	}
	hp->args[0] = 0;
	hcall(ABI_HC_READY);
}

/* End of an epoch, from CPU 0 once every CPU reached it: the host harvests
 * its dirty log now.  `pages` is the number of distinct workload pages any
 * CPU wrote in the epoch, cpu_pages[c] those CPU c wrote, `stores` the
 * stores made in it (only the standalone line reports it: the hypercall
 * carries epoch and pages, and the VMM counts stores itself). */
void hcall_sync(uint64_t epoch, uint64_t pages, uint64_t stores, const uint64_t *cpu_pages,
		uint32_t nr_cpus)
{
	struct abi_hcall_page *hp = my_page();
	if (standalone) {
		standalone_sync(epoch, pages, stores);
		return;
	}
	hp->args[0] = epoch;
	hp->args[1] = pages;
	hp->args[ABI_SYNC_NR_CPUS] = nr_cpus;
	memcpy(hp->buf, cpu_pages, nr_cpus * sizeof(uint64_t));
	hcall(ABI_HC_SYNC);
}

/* The host's word on whether a run it delimits by time goes on
 * (ABI_HC_REPLY_CONTINUE or ABI_HC_REPLY_STOP).  Standalone, no one says
 * stop: the run goes on until the machine is powered off. */
uint32_t hcall_reply(void)
{
	return standalone ? ABI_HC_REPLY_CONTINUE : inl(ABI_HCALL_PORT);
}

/* End of a round in a run the host delimits by time: the host's reply,
 * read after the call (see hcall_reply). */
uint32_t hcall_sync_reply(uint64_t round, uint64_t pages, uint64_t stores,
			  const uint64_t *cpu_pages, uint32_t nr_cpus)
{
	hcall_sync(round, pages, stores, cpu_pages, nr_cpus);
	return hcall_reply();
}

/* Where the anonymous workload publishes its progress (include/abi/hcall.h):
 * the page at ABI_PROGRESS_GPA, or standalone a counter no one reads. */
volatile struct abi_progress *hcall_progress(void)
{
	return standalone ? &standalone_progress : P2V(ABI_PROGRESS_GPA);
}

/* End of a file-world epoch: args as include/abi/pcache.h lays them out. */
void hcall_sync_args(const uint64_t *args)
{
	struct abi_hcall_page *hp = my_page();
	if (standalone)
		panic("the file world has no standalone mode");
	for (int i = 0; i < ABI_HCALL_NR_ARGS; i++)
		hp->args[i] = args[i];
	hcall(ABI_HC_SYNC);
}

/* Boot done; args[0] is the page-cache descriptor's GPA (0: no page cache). */
void hcall_ready_desc(uint64_t desc_gpa)
{
	struct abi_hcall_page *hp = my_page();
	if (standalone)
		panic("the file world has no standalone mode");
	hp->args[0] = desc_gpa;
	hcall(ABI_HC_READY);
}

/* The workload finished; status 0 means it ran to its end; check_failed is
 * what its own data check found wrong (anonymous workloads). */
void hcall_done(uint64_t status, uint64_t epochs, uint64_t check_failed)
{
	struct abi_hcall_page *hp = my_page();
	if (standalone)
		standalone_done(status, epochs, check_failed);
	hp->args[0] = status;
	hp->args[1] = epochs;
	hp->args[ABI_DONE_CHECK_FAILED] = check_failed;
	hcall(ABI_HC_DONE);
}

/* Send one formatted line to the host log (one exit, unlike the console). */
void klog(const char *fmt, ...)
{
	struct abi_hcall_page *hp = my_page();
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf_k(hp->buf, sizeof(hp->buf), fmt, ap);
	va_end(ap);
	hp->args[0] = n < (int)sizeof(hp->buf) ? (uint64_t)n : sizeof(hp->buf) - 1;
	if (standalone)
		standalone_log(hp->buf);
	else
		hcall(ABI_HC_LOG);
}

static void __attribute__((noreturn)) panic_send(int line)
{
	struct abi_hcall_page *hp = my_page();
	size_t len = strlen(hp->buf);
	hp->args[ABI_PANIC_LINE] = (uint64_t)line;
	hp->args[ABI_PANIC_LEN] = len;
	if (standalone)
		standalone_panic(hp->buf, hp->args);
	hcall(ABI_HC_PANIC);
	halt_forever(); /* the host never resumes a panicked guest */
}

/* Report a broken invariant at file:line and stop.  Never returns. */
void panic_at(const char *file, int line, const char *fmt, ...)
{
	struct abi_hcall_page *hp = my_page();
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
	struct abi_hcall_page *hp = my_page();
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
