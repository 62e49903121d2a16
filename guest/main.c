/*
 * Kernel entry (from entry.S or pvh.c): set up segmentation and traps, take
 * RAM from the boot parameters, map the workload, and run it.
 */
#include "../include/abi/syscall.h"
#include "../include/abi/wlfile.h"
#include "defs.h"
#include "fs.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

void kmain(const struct abi_boot_params *bp) __attribute__((noreturn));

/*
 * The file world: mount the disk, start the other CPUs (each runs the
 * scheduler, proc.c), start the user program as process 1 and schedule
 * until it exits, then write back everything (an unmount) and report its
 * exit status.
 */
static void __attribute__((noreturn)) file_world(const struct abi_boot_params *bp)
{
	uvm_init();
	pc_init(bp);
	fs_mount();
	smp_start(bp, rcr3(), proc_ap_sched);
	struct abi_wl_args a = {
	    .workload = bp->workload,
	    .epochs = bp->nr_epochs,
	    .seed = bp->seed,
	    .pages = bp->wss_pages,
	    .writes = bp->writes_per_epoch,
	    .sync_every = bp->sync_every,
	    .writers = abi_wl_writers(bp->workload, bp->nr_cpus),
	};
	proc_start_init(&a);
	hcall_ready_desc(pc_desc_gpa());
	int status = proc_run_all();
	if (bp->nr_cpus > 1)
		klog("tlb: %lu shootdowns, %lu IPIs", tlb_shootdowns, tlb_ipis);
	if (bp->flags & ABI_BOOT_F_TEST_STALE_TLB)
		klog("stale-tlb test hook: %lu mappings left stale", dirty_stale_mappings);
	if (pc_flush_all()) {
		klog("final writeback failed");
		status = status ? status : 1;
	}
	hcall_done((uint64_t)status, syscall_epochs(), 0);
	halt_forever();
}

/*
 * The kernel proper, from either entry: the VMM's (entry.S, bp = the page
 * the VMM wrote at ABI_BOOT_PARAMS_GPA) or a PVH loader's (pvh.c, bp made
 * from the start info and the command line).
 */
void kmain(const struct abi_boot_params *bp)
{
	gdt_init(0);
	idt_init();
	if (bp->magic != ABI_BOOT_MAGIC || bp->version != ABI_BOOT_VERSION)
		panic("boot parameters: bad magic or version %u", bp->version);
	cprintf("dirtyscope guest: %lu MiB RAM, wss %lu pages\n", bp->ram_size >> 20,
		bp->wss_pages);
	pmem_init(bp);
	if (bp->workload == ABI_WL_BADBLK) {
		/* The virtio-blk selftest (guest/virtio.c): hostile requests
		 * against the VMM's device, no workload. */
		int status = blk_init() ? 255 : blk_selftest_hostile();
		hcall_ready();
		hcall_done((uint64_t)status, 0, 0);
		halt_forever();
	}
	if (bp->workload >= ABI_WL_FIRST_FILE && bp->workload <= ABI_WL_LAST) {
		file_world(bp);
	}

	uint64_t *pml4 = vm_new_space();
	vm_map_fresh(pml4, ABI_WORKLOAD_BASE, bp->wss_pages);
	lcr3(V2P(pml4));

	/* The other CPUs start in it; READY is the workload's to send. */
	uint64_t rounds;
	uint64_t bad = workload_run(bp, ABI_WORKLOAD_BASE, V2P(pml4), &rounds);
	hcall_done(0, rounds, bad);
	halt_forever();
}
