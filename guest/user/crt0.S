/* SPDX-License-Identifier: MIT */
/*
 * The user program's image header and entry point.
 *
 * The header comes first in the flat binary (user.ld puts .head at
 * ABI_USER_TEXT): the kernel checks the magic, maps mem_len bytes at
 * ABI_USER_TEXT (file_len from the image, the rest zero) and enters `entry`
 * in ring 3 with rdi = the struct abi_wl_args it copied to the top of the
 * user stack.
 */
#include "abi/syscall.h"

	.section .head, "a"
	.globl user_header
user_header:
	.quad ABI_USER_MAGIC
	.quad _start
	.quad _file_end - ABI_USER_TEXT /* file_len: bytes of user.bin */
	.quad _end - ABI_USER_TEXT	/* mem_len: through the end of .bss */
	.quad _text_end - ABI_USER_TEXT /* text_len: read-only, page multiple */
	.quad 0				/* reserved */

	.text
	.globl _start
	.type _start, @function
_start:
	xor %ebp, %ebp		/* the outermost frame, for backtraces */
	and $-16, %rsp		/* the SysV ABI wants rsp 16-aligned at a call */
	call main		/* main(rdi = struct abi_wl_args *) */
	movslq %eax, %rdi
	mov $ABI_SYS_EXIT, %eax
	int3
	ud2			/* exit returned: let the kernel kill us */
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
