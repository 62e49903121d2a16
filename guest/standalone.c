/*
 * Standalone mode: what the hypercalls become when a PVH loader such as QEMU
 * booted the kernel (guest/pvh.c) and there is no dirtyscope VMM to call.
 * hcall.c routes here; this file only prints and exits.
 *
 * Everything goes to COM1 as lines: JSON objects for what a program reads
 * (the boot line, one line per epoch, the end), plain "guest log:" and
 * "guest panic:" lines for people, as the VMM would print them.  The end is
 * a write to QEMU's isa-debug-exit port (include/abi/pvh.h), whose value
 * QEMU turns into its own exit status; without that device the write is
 * ignored and the kernel halts.
 */
#include "defs.h"
#include "x86.h"
#include "../include/abi/hcall.h"
#include "../include/abi/pvh.h"

static const char *const wl_names[] = {
    [ABI_WL_SEQ] = "seq",
    [ABI_WL_RANDOM] = "random",
    [ABI_WL_HOTCOLD] = "hotcold",
};

/* The workload's name for a standalone workload number (pvh.c's table). */
static const char *wl_name(uint32_t wl)
{
	return wl < sizeof(wl_names) / sizeof(wl_names[0]) && wl_names[wl] ? wl_names[wl] : "?";
}

/* End QEMU with status code * 2 + 1 (ABI_DEBUG_EXIT_*).  Never returns. */
static void __attribute__((noreturn)) standalone_exit(uint32_t code)
{
	outl(ABI_DEBUG_EXIT_PORT, code);
	halt_forever(); /* no debug-exit device: stay stopped */
}

/* The run's parameters, as the kernel took them from the command line. */
void standalone_boot_line(const struct abi_boot_params *bp)
{
	cprintf("{\"boot\":\"pvh\",\"workload\":\"%s\",\"wss\":%lu,\"epochs\":%u,"
		"\"writes\":%lu,\"seed\":%lu,\"ram-mib\":%lu,\"tsc\":%lu}\n",
		wl_name(bp->workload), bp->wss_pages, bp->nr_epochs, bp->writes_per_epoch, bp->seed,
		bp->ram_size >> 20, rdtsc());
}

/* READY: the workload is mapped and about to start. */
void standalone_ready(void)
{
	cprintf("{\"ready\":true,\"tsc\":%lu}\n", rdtsc());
}

/* SYNC: one line per epoch (per round with ds.epochs=0). */
void standalone_sync(uint64_t epoch, uint64_t pages, uint64_t stores)
{
	cprintf("{\"epoch\":%lu,\"pages\":%lu,\"stores\":%lu,\"tsc\":%lu}\n", epoch, pages, stores,
		rdtsc());
}

/* DONE: the last line, then QEMU's exit: OK, or CHECK when the workload's
 * own data check failed. */
void standalone_done(uint64_t status, uint64_t epochs, uint64_t check_failed)
{
	cprintf("{\"done\":true,\"status\":%lu,\"epochs\":%lu,\"check\":\"%s\",\"tsc\":%lu}\n",
		status, epochs, check_failed ? "failed" : "ok", rdtsc());
	standalone_exit(check_failed ? ABI_DEBUG_EXIT_CHECK
			: status     ? ABI_DEBUG_EXIT_PANIC
				     : ABI_DEBUG_EXIT_OK);
}

/* LOG: a line for people. */
void standalone_log(const char *text)
{
	cprintf("guest log: %s\n", text);
}

/* PANIC: the message and, for an exception, where it happened; then QEMU's
 * exit with PANIC.  `args` are the ABI_PANIC_* slots. */
void standalone_panic(const char *text, const uint64_t *args)
{
	cprintf("guest panic: %s\n", text);
	if (args[ABI_PANIC_VECTOR] != ABI_PANIC_NO_TRAP)
		cprintf("guest panic: rip %lx rsp %lx cr2 %lx\n", args[ABI_PANIC_RIP],
			args[ABI_PANIC_RSP], args[ABI_PANIC_CR2]);
	standalone_exit(ABI_DEBUG_EXIT_PANIC);
}
