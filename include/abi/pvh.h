/* SPDX-License-Identifier: MIT */
/*
 * Standalone boot: the guest kernel as a PVH kernel that QEMU (or any loader
 * of the x86/HVM direct boot ABI) starts without dirtyscope's VMM.
 *
 * The loader finds the 32-bit physical entry point in an ELF note (name
 * "Xen", type ABI_PVH_NOTE_PHYS32_ENTRY) of guest.elf, loads the ELF's
 * segments at their physical addresses and enters in 32-bit protected mode,
 * paging off, with %ebx the physical address of struct abi_pvh_start_info.
 * The layouts below are Xen's (public/arch-x86/hvm/start_info.h), written
 * out here from its documentation so the ABI has no outside header.
 *
 * Standalone, there is no hypercall port: the kernel takes its workload from
 * the command line (ds.workload= ds.wss= ds.epochs= ds.seed= ds.writes=
 * ds.hot-pages= ds.hot-pct= ds.test=), prints one JSON line per epoch on COM1 and
 * leaves through QEMU's isa-debug-exit device.  See docs/abi.md.
 */
#ifndef ABI_PVH_H
#define ABI_PVH_H

#define ABI_PVH_NOTE_PHYS32_ENTRY 18	     /* XEN_ELFNOTE_PHYS32_ENTRY */
#define ABI_PVH_START_MAGIC	  0x336ec578 /* XEN_HVM_START_MAGIC_VALUE */
#define ABI_PVH_MEMMAP_RAM	  1	     /* XEN_HVM_MEMMAP_TYPE_RAM */

/*
 * QEMU's isa-debug-exit device (-device isa-debug-exit,iobase=0xf4,iosize=4):
 * a write of v ends QEMU with exit status v * 2 + 1, so status 0 can never
 * mean success and a standalone run's verdict reads 1, 3 or 5.
 */
#define ABI_DEBUG_EXIT_PORT  0xf4
#define ABI_DEBUG_EXIT_OK    0 /* the workload ran to its end: QEMU exits 1 */
#define ABI_DEBUG_EXIT_CHECK 1 /* its own data check failed: QEMU exits 3 */
#define ABI_DEBUG_EXIT_PANIC 2 /* bad command line, panic, exception: QEMU exits 5 */

/* The kernel maps this much of guest-physical memory at its PVH entry, in
 * the direct map and (for the switch to long mode) identity mapped: all the
 * RAM a loader puts below 4 GiB.  RAM above it is left unused standalone. */
#define ABI_PVH_MAPPED_GIB 4

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Version 1 of the start info (version 0 lacks the memory map). */
struct abi_pvh_start_info {
	uint32_t magic; /* ABI_PVH_START_MAGIC */
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr; /* NUL-terminated ASCII, 0 when absent */
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version 1: memmap_entries abi_pvh_memmap_entry */
	uint32_t memmap_entries;
	uint32_t reserved;
};
_Static_assert(__builtin_offsetof(struct abi_pvh_start_info, cmdline_paddr) == 24,
	       "PVH start info layout");
_Static_assert(__builtin_offsetof(struct abi_pvh_start_info, memmap_paddr) == 40,
	       "PVH start info layout");
_Static_assert(sizeof(struct abi_pvh_start_info) == 56, "PVH start info layout");

struct abi_pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* ABI_PVH_MEMMAP_RAM: usable RAM; anything else: not ours */
	uint32_t reserved;
};
_Static_assert(sizeof(struct abi_pvh_memmap_entry) == 24, "PVH memory map layout");
#endif

#endif
