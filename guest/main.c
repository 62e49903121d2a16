/*
 * Kernel entry (from entry.S): set up segmentation and traps, take RAM from
 * the boot parameters, map the workload, and run it.
 */
#include "defs.h"
#include "x86.h"

void kmain(void) __attribute__((noreturn));

void kmain(void)
{
	const struct abi_boot_params *bp = P2V(ABI_BOOT_PARAMS_GPA);

	gdt_init();
	idt_init();
	if (bp->magic != ABI_BOOT_MAGIC || bp->version != ABI_BOOT_VERSION)
		panic("boot parameters: bad magic or version %u", bp->version);
	cprintf("dirtyscope guest: %lu MiB RAM, wss %lu pages\n", bp->ram_size >> 20,
		bp->wss_pages);
	pmem_init(bp);

	uint64_t *pml4 = vm_new_space();
	vm_map_fresh(pml4, ABI_WORKLOAD_BASE, bp->wss_pages);
	lcr3(V2P(pml4));
	hcall_ready();

	workload_run(bp, ABI_WORKLOAD_BASE);
	hcall_done(0, bp->nr_epochs);
	halt_forever();
}
