/* SPDX-License-Identifier: MIT */
/*
 * The guest-physical and guest-virtual memory map, shared by the guest kernel
 * and the VMM.  Fixed-width types only, no libc; usable from assembly.
 *
 * Guest-physical map (GPA):
 *
 *   start          end             what                          written by
 *   0x0000_0000    0x0000_1000     unused                         -
 *   0x0000_1000    0x0000_2000     boot parameters (boot.h)       VMM, before boot
 *   0x0000_2000    0x0000_3000     hypercall page (hcall.h)       guest
 *   0x0000_3000    0x0000_4000     progress counters (hcall.h)    guest
 *   0x0000_4000    0x0000_b000     hypercall pages of CPUs 1..7   guest
 *   0x0001_0000    0x0002_0000-ish boot page tables: PML4,        VMM, before boot
 *                                  direct-map PDPT, kernel PDPT,
 *                                  one PD per GiB of GPA space
 *   0x0020_0000    image end       kernel image (.text .data      VMM loads it,
 *                                  .bss incl. boot stack)         guest runs it
 *   image end      3 GiB           RAM, handed out by the guest's page allocator
 *   3 GiB          4 GiB           hole (no RAM; the virtio-blk registers at
 *                                  ABI_VIRTIO_BLK_GPA, see virtio.h)
 *   4 GiB          4 GiB + rest    RAM above the hole, when RAM > 3 GiB
 *
 * Guest-virtual map:
 *
 *   0x0000_0000_4000_0000  workload region, 4 KiB pages built by the guest
 *   0xffff_8000_0000_0000  direct map of all guest-physical memory (2 MiB
 *                          pages, built by the VMM): va = DMAP_BASE + gpa
 *   0xffff_ffff_8000_0000  kernel text/data: va = KERNEL_VBASE + gpa, first GiB
 *
 * The VMM maps all of RAM with one host mapping and splits it into KVM memory
 * slots at the hole, so RAM index (offset into the host mapping / 4 KiB) and
 * GPA differ above the hole: see vmm/mem.c.
 */
#ifndef ABI_LAYOUT_H
#define ABI_LAYOUT_H

#define ABI_PAGE_SHIFT 12
#define ABI_PAGE_SIZE  0x1000
#define ABI_HUGE_SIZE  0x200000 /* 2 MiB, the direct map's page size */

#define ABI_BOOT_PARAMS_GPA 0x1000
#define ABI_HCALL_PAGE_GPA  0x2000
#define ABI_PROGRESS_GPA    0x3000
#define ABI_AP_HCALL_GPA    0x4000 /* CPU c >= 1: its page at + (c - 1) pages */
/* vCPUs a guest may have: the VMM creates 1..ABI_MAX_CPUS, the guest keeps
 * per-CPU state for as many. */
#define ABI_MAX_CPUS 8
#define ABI_BOOT_PT_GPA	    0x10000 /* PML4; PDPTs and PDs follow it */
#define ABI_BOOT_PT_END	    0x200000
#define ABI_KERNEL_GPA	    0x200000

#define ABI_HOLE_START 0xC0000000ULL  /* 3 GiB */
#define ABI_HOLE_END   0x100000000ULL /* 4 GiB */

/* RAM sizes the VMM accepts.  The upper bound keeps the boot PDs (one page per
 * GiB of GPA space) below the kernel image. */
#define ABI_RAM_MIN (16ULL << 20)
#define ABI_RAM_MAX (256ULL << 30)

#define ABI_DMAP_BASE	  0xffff800000000000ULL
#define ABI_KERNEL_VBASE  0xffffffff80000000ULL
#define ABI_WORKLOAD_BASE 0x40000000ULL

/* Port I/O used by the guest. */
#define ABI_SERIAL_PORT 0x3f8 /* COM1, 8 ports */
#define ABI_HCALL_PORT	0x500 /* 32-bit out: the hypercall number */

#ifndef __ASSEMBLER__
#include <stdint.h>

_Static_assert(ABI_AP_HCALL_GPA + (ABI_MAX_CPUS - 1) * ABI_PAGE_SIZE <= ABI_BOOT_PT_GPA,
	       "the CPUs' hypercall pages fit below the boot page tables");

/* Each CPU makes its hypercalls through a page of its own, so that two CPUs
 * calling at once never mix their arguments: CPU 0's is ABI_HCALL_PAGE_GPA,
 * the others' follow ABI_AP_HCALL_GPA. */
static inline uint64_t abi_hcall_page_gpa(uint32_t cpu)
{
	return cpu == 0 ? ABI_HCALL_PAGE_GPA
			: ABI_AP_HCALL_GPA + (uint64_t)(cpu - 1) * ABI_PAGE_SIZE;
}

/* Page-table pages the guest needs to map `pages` 4 KiB pages contiguously at
 * ABI_WORKLOAD_BASE (PTs, PDs, PDPT, plus its own PML4). */
static inline uint64_t abi_workload_pt_pages(uint64_t pages)
{
	uint64_t pt = (pages + 511) / 512;
	uint64_t pd = (pt + 511) / 512;
	uint64_t pdpt = (pd + 511) / 512;
	return pt + pd + pdpt + 1;
}

/* Kernel pages a workload of `pages` pages costs on `cpus` CPUs: its page
 * tables and the per-epoch "seen" bitmaps (one bit per page): one per CPU,
 * and with several CPUs one more for the pages any of them wrote.  The VMM
 * uses the same formula to refuse a --wss the guest could not map. */
static inline uint64_t abi_workload_kernel_pages(uint64_t pages, uint64_t cpus)
{
	uint64_t bitmaps = cpus + (cpus > 1);
	return abi_workload_pt_pages(pages) + bitmaps * ((pages + 32767) / 32768);
}

/* Pages the guest kernel keeps for itself beyond its image and
 * abi_workload_kernel_pages() (spare pages for later kernel allocations). */
#define ABI_KERNEL_RESERVE_PAGES 64ULL
#endif

#endif
