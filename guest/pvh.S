/*
 * PVH entry: how QEMU (-kernel guest.elf) starts this kernel without
 * dirtyscope's VMM.  See include/abi/pvh.h and docs/abi.md.
 *
 * The loader puts the ELF's segments at their physical addresses (the
 * linker script's AT()s: GPA = va - KERNEL_VBASE, the same place the VMM
 * loads the flat image) and jumps to pvh_start in 32-bit protected mode,
 * paging off, %ebx = the start info's physical address.  Until paging is
 * on, every address used here is physical: PA(symbol).
 *
 * pvh_start builds what the VMM otherwise builds host-side (vmm/boot.c):
 *
 *   PML4[0]   -> low PDPT   (identity map, only for the jump to long mode)
 *   PML4[256] -> low PDPT   (the direct map: DMAP_BASE + GPA)
 *   PML4[511] -> kernel PDPT, entry 510 -> the PD of GiB 0 (KERNEL_VBASE + GPA)
 *   low PDPT[0..3] -> four PDs of 2 MiB pages covering GPA 0..4 GiB
 *
 * with A and D preset as the VMM does, so that kernel accesses never make
 * the MMU write page tables.  The tables live in .bss (the loader zeroes it:
 * the ELF segment's memsz beyond filesz), and filling 2048 PD entries is
 * about 15,000 instructions, some 15 ms on an emulated CPU.  It then enables
 * PAE and long mode, far-jumps into 64-bit code, moves to the kernel's own
 * addresses, drops the identity map and calls pvh_main(start info) in
 * guest/pvh.c, which joins the VMM's path at kmain.
 */
#include "../include/abi/pvh.h"

#define KERNEL_VBASE 0xffffffff80000000
#define PA(x)	     ((x) - KERNEL_VBASE)

#define PT_TABLE 0x23 /* P | W | A: an intermediate entry */
#define PT_LEAF	 0xe3 /* P | W | A | D | PS: a 2 MiB page */
#define SEL_CODE64 0x08
#define SEL_DATA   0x10

#define CR0_PE	 0x00000001
#define CR0_WP	 0x00010000
#define CR0_PG	 0x80000000
#define CR4_PAE	 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100

/*
 * The note QEMU's loader looks for: in a PT_NOTE segment, 4-byte aligned
 * (QEMU pads the name to the segment's alignment, so 4 is the only safe
 * one), descriptor = the 32-bit physical entry point.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4				/* name size: "Xen\0" */
	.long 4				/* descriptor size */
	.long ABI_PVH_NOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long PA(pvh_start)

	.text
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	mov %ebx, %esi			/* start info: kept in esi (then rsi) */
	lgdt PA(pvh_gdt_desc)
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs

	/* 2048 leaves: 2 MiB pages for GPA 0 .. 4 GiB (all below 4 GiB,
	 * so each entry's high half is 0, written anyway). */
	mov $PA(pvh_pd), %edi
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $PT_LEAF, %eax
	mov %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	inc %ecx
	cmp $512 * ABI_PVH_MAPPED_GIB, %ecx
	jb 1b

	/* The low PDPT names the four PDs; the kernel PDPT reuses GiB 0's. */
	mov $PA(pvh_pdpt_low), %edi
	mov $PA(pvh_pd) + PT_TABLE, %eax
	xor %ecx, %ecx
2:	mov %eax, (%edi,%ecx,8)
	add $4096, %eax
	inc %ecx
	cmp $ABI_PVH_MAPPED_GIB, %ecx
	jb 2b
	movl $PA(pvh_pd) + PT_TABLE, PA(pvh_pdpt_kernel) + 510 * 8

	mov $PA(pvh_pml4), %edi
	movl $PA(pvh_pdpt_low) + PT_TABLE, 0(%edi)
	movl $PA(pvh_pdpt_low) + PT_TABLE, 256 * 8(%edi)
	movl $PA(pvh_pdpt_kernel) + PT_TABLE, 511 * 8(%edi)

	/* Long mode: PAE, the PML4, EFER.LME, then paging (with WP, as the
	 * VMM sets it: the kernel must fault on its own read-only PTEs). */
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov %edi, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $CR0_PG | CR0_WP | CR0_PE, %eax
	mov %eax, %cr0
	ljmp $SEL_CODE64, $PA(pvh_long)

	.code64
pvh_long:
	/* Still at the identity map: move to the kernel's addresses. */
	movabs $pvh_high, %rax
	jmp *%rax
pvh_high:
	/* The GDT by its kernel address, before the identity map goes, so a
	 * segment load never reads through a mapping that is gone. */
	lgdt pvh_gdt_desc64(%rip)
	movq $0, pvh_pml4(%rip)
	mov %cr3, %rax
	mov %rax, %cr3
	lea boot_stack_top(%rip), %rsp
	xor %ebp, %ebp
	mov %esi, %edi
	call pvh_main
3:	cli
	hlt
	jmp 3b

	.section .rodata
	.balign 8
/* Accessed bits preset: loading a selector then never writes the GDT. */
pvh_gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x08: kernel code, 64-bit */
	.quad 0x00cf93000000ffff	/* 0x10: kernel data */
pvh_gdt_end:
pvh_gdt_desc:
	.word pvh_gdt_end - pvh_gdt - 1
	.long PA(pvh_gdt)
	.balign 8
pvh_gdt_desc64:
	.word pvh_gdt_end - pvh_gdt - 1
	.quad pvh_gdt

	.bss
	.balign 4096
pvh_pml4:
	.skip 4096
pvh_pdpt_low:
	.skip 4096
pvh_pdpt_kernel:
	.skip 4096
pvh_pd:
	.skip 4096 * ABI_PVH_MAPPED_GIB
	.section .note.GNU-stack, "", @progbits
