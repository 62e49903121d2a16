/* SPDX-License-Identifier: MIT */
/*
 * Guest -> host calls.  The guest fills its CPU's hypercall page
 * (abi_hcall_page_gpa() in layout.h), then writes the call number with a 32-bit `out` to
 * ABI_HCALL_PORT.  The vCPU exits with KVM_EXIT_IO; the VMM reads the page,
 * validates every field (the guest is untrusted) and resumes the guest.
 * Calls return nothing, with one exception below (SYNC in a run the host
 * delimits by time): the page is never written by the host.  (The host
 * stores into guest RAM only through the virtio-blk device and, with host
 * writeback, the page-cache message of include/abi/pcache.h; the logger adds
 * those pages to the epoch itself: docs/architecture.md.)
 */
#ifndef ABI_HCALL_H
#define ABI_HCALL_H

#include "layout.h"

/* Call numbers, written to ABI_HCALL_PORT. */
#define ABI_HC_READY 1 /* boot done, workload mapped; no arguments */
#define ABI_HC_SYNC  2 /* end of epoch: args[0] epoch, args[1] distinct pages written */
#define ABI_HC_LOG   3 /* args[0] length of the text in buf */
#define ABI_HC_DONE  4 /* args[0] status (0 ok), args[1] epochs run, args[2] bad pages */
#define ABI_HC_PANIC 5 /* args: see ABI_PANIC_*; buf: "file:line: message" */
#define ABI_HC_START_APS 6 /* CPU 0, before READY: start CPUs 1..nr_cpus-1; no arguments */
/*
 * ABI_HC_SYNC from CPU 0 speaks for every CPU: the CPUs meet at the end of
 * the epoch first, so no CPU stores while the host harvests.  args[1] is the
 * distinct pages any CPU wrote; args[ABI_SYNC_NR_CPUS] the number of CPUs
 * whose own distinct pages follow in buf, one uint64_t each (the boot
 * parameters' nr_cpus).  Only CPU 0 may SYNC, READY or be DONE.
 */
#define ABI_SYNC_NR_CPUS 2

/* ABI_HC_PANIC argument slots.  vector is ABI_PANIC_NO_TRAP for panic() calls,
 * else the exception vector, with the trap frame's error code, rip, rsp, cr2. */
#define ABI_PANIC_LINE	  0
#define ABI_PANIC_LEN	  1
#define ABI_PANIC_VECTOR  2
#define ABI_PANIC_ERR	  3
#define ABI_PANIC_RIP	  4
#define ABI_PANIC_RSP	  5
#define ABI_PANIC_CR2	  6
#define ABI_PANIC_NO_TRAP 0xffffffffffffffffULL

/* ABI_HC_DONE args[2]: nonzero when the anonymous workload's own data check
 * failed: its pages no longer hold what it last wrote (0 for the file world,
 * which the host checks through the image). */
#define ABI_DONE_CHECK_FAILED 2

/*
 * Epochs by the host's clock (run --epoch-ms): the boot parameters' nr_epochs
 * is 0 and the anonymous workload runs rounds of writes_per_epoch stores
 * until the host says stop.  After each round's ABI_HC_SYNC (args[0] the
 * round, from 1; args[1] its distinct pages) the guest reads a 32-bit `in`
 * from ABI_HCALL_PORT: the host's reply, one of these.  It also reads it
 * every ABI_PROGRESS_EVERY stores, so that a long round does not outlast
 * the run: once the host's last epoch has ended the reply is STOP, and
 * the guest ends its round there, SYNCs it and is done.  With nr_epochs > 0
 * nothing is read and each SYNC ends an epoch.
 */
#define ABI_HC_REPLY_CONTINUE 0
#define ABI_HC_REPLY_STOP     1

/*
 * What the anonymous workload has done so far, at ABI_PROGRESS_GPA: written
 * by the guest every ABI_PROGRESS_EVERY stores and at every round's end,
 * read by the host whenever it likes (an epoch the host closes by time
 * counts the stores in it; the progress line).  One store in
 * ABI_PROGRESS_EVERY keeps the counter's own cost in the dirty log small.
 * The host checks that it never goes back; the guest is untrusted.
 */
#define ABI_PROGRESS_EVERY 256

#ifndef __ASSEMBLER__
#include <stdint.h>
struct abi_progress {
	uint64_t stores; /* workload stores since boot */
	uint64_t rounds; /* rounds (or epochs) finished */
};
_Static_assert(sizeof(struct abi_progress) == 16, "progress layout");
_Static_assert((ABI_PROGRESS_EVERY & (ABI_PROGRESS_EVERY - 1)) == 0, "a power of two");
#endif

#define ABI_HCALL_NR_ARGS  8
#define ABI_HCALL_BUF_SIZE 1024

#ifndef __ASSEMBLER__
#include <stdint.h>

struct abi_hcall_page {
	uint64_t nr; /* copy of the call number, for debugging dumps */
	uint64_t args[ABI_HCALL_NR_ARGS];
	char buf[ABI_HCALL_BUF_SIZE];
};
_Static_assert(__builtin_offsetof(struct abi_hcall_page, args) == 8, "hcall page layout");
_Static_assert(__builtin_offsetof(struct abi_hcall_page, buf) == 72, "hcall page layout");
_Static_assert(sizeof(struct abi_hcall_page) <= ABI_PAGE_SIZE, "hcall page fits a page");
_Static_assert(ABI_MAX_CPUS * 8 <= ABI_HCALL_BUF_SIZE, "SYNC's per-CPU pages fit buf");
#endif

#endif
