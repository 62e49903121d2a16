/* SPDX-License-Identifier: MIT */
/*
 * The guest's system-call ABI, between its user programs (guest/user/) and
 * its kernel (guest/syscall.c).
 *
 * Gate: `int3` (opcode 0xCC) from ring 3, through a DPL-3 interrupt gate on
 * vector 3.  It is the one user->kernel transition that works both on real
 * hardware and on this project's development platform, where `int $N`,
 * `sysretq` and kernel I/O after `syscall` fail (see docs/platform-notes.md).
 *
 * Registers, as on Linux x86-64: rax = number; arguments in rdi, rsi, rdx,
 * r10, r8, r9; the result comes back in rax, a negative ABI_E* value on
 * error.  Every other register is preserved.
 */
#ifndef ABI_SYSCALL_H
#define ABI_SYSCALL_H

#define ABI_SYS_EXIT	  1  /* (status) never returns */
#define ABI_SYS_FORK	  2  /* () child pid / 0 in the child */
#define ABI_SYS_WAIT	  3  /* (int *status) pid of a reaped child */
#define ABI_SYS_YIELD	  4  /* () 0 */
#define ABI_SYS_GETPID	  5  /* () pid */
#define ABI_SYS_OPEN	  6  /* (const char *name, flags) fd */
#define ABI_SYS_CLOSE	  7  /* (fd) */
#define ABI_SYS_READ	  8  /* (fd, buf, len) bytes */
#define ABI_SYS_WRITE	  9  /* (fd, buf, len) bytes */
#define ABI_SYS_PREAD	  10 /* (fd, buf, len, off) bytes */
#define ABI_SYS_PWRITE	  11 /* (fd, buf, len, off) bytes */
#define ABI_SYS_LSEEK	  12 /* (fd, off, whence) new offset */
#define ABI_SYS_FSYNC	  13 /* (fd) */
#define ABI_SYS_FTRUNCATE 14 /* (fd, len) within the file's extent */
#define ABI_SYS_MMAP	  15 /* (addr hint, len, prot, flags, fd, off) address */
#define ABI_SYS_MUNMAP	  16 /* (addr, len) */
#define ABI_SYS_MSYNC	  17 /* (addr, len, flags) */
#define ABI_SYS_EPOCH	  18 /* (pages written) end of a workload epoch: host harvests */
#define ABI_SYS_LOG	  19 /* (const char *text, len) one line to the host log */
#define ABI_SYS_NR	  20

/* open flags (Linux values) */
#define ABI_O_RDONLY  0
#define ABI_O_WRONLY  1
#define ABI_O_RDWR    2
#define ABI_O_ACCMODE 3
#define ABI_O_CREAT   0100
#define ABI_O_APPEND  02000

/* lseek */
#define ABI_SEEK_SET 0
#define ABI_SEEK_CUR 1
#define ABI_SEEK_END 2

/* mmap, msync (Linux values) */
#define ABI_PROT_READ	  1
#define ABI_PROT_WRITE	  2
#define ABI_MAP_SHARED	  0x01
#define ABI_MAP_PRIVATE	  0x02
#define ABI_MAP_ANONYMOUS 0x20
#define ABI_MS_ASYNC	  1
#define ABI_MS_INVALIDATE 2
#define ABI_MS_SYNC	  4

/* errno values (Linux values); system calls return their negation */
#define ABI_EPERM	 1
#define ABI_ENOENT	 2
#define ABI_ESRCH	 3
#define ABI_EIO		 5
#define ABI_EBADF	 9
#define ABI_ECHILD	 10
#define ABI_ENOMEM	 12
#define ABI_EACCES	 13
#define ABI_EFAULT	 14
#define ABI_EEXIST	 17
#define ABI_EINVAL	 22
#define ABI_ENFILE	 23
#define ABI_EMFILE	 24
#define ABI_EFBIG	 27
#define ABI_ENOSPC	 28
#define ABI_ESPIPE	 29
#define ABI_ENAMETOOLONG 36
#define ABI_ENOSYS	 38

/* wait(): a process killed by the kernel (fault outside its mappings, bad
 * instruction) reports this status, like a shell's 128 + SIGSEGV. */
#define ABI_WAIT_KILLED 139

/* User address space. */
#define ABI_USER_TEXT	     0x400000ULL       /* the user program is loaded here */
#define ABI_USER_MMAP_BASE   0x100000000000ULL /* mmap() picks addresses upward from here */
#define ABI_USER_STACK_TOP   0x7ffffff00000ULL /* initial rsp; the stack grows down */
#define ABI_USER_STACK_PAGES 8
#define ABI_USER_TOP	     0x800000000000ULL /* canonical user half ends here */
#define ABI_MAX_FDS	     16
#define ABI_MAX_PROCS	     16

#define ABI_USER_MAGIC 0x5245535553445344ULL /* "DSDSUSER" */

#ifndef __ASSEMBLER__
#include <stdint.h>

/*
 * The user program is one flat binary (guest/user/, linked at ABI_USER_TEXT)
 * embedded in the kernel image.  It starts with this header.  The kernel maps
 * mem_len bytes at ABI_USER_TEXT: the first file_len come from the binary,
 * the rest (.bss) read as zero.
 */
struct abi_user_header {
	uint64_t magic;	   /* ABI_USER_MAGIC */
	uint64_t entry;	   /* user-virtual entry point */
	uint64_t file_len; /* bytes of the flat binary, header included */
	uint64_t mem_len;  /* bytes from ABI_USER_TEXT to the end of .bss */
	uint64_t text_len; /* bytes from ABI_USER_TEXT mapped read-only (header,
			    * .text, .rodata), a 4 KiB multiple; .data starts here */
	uint64_t reserved; /* 0 */
};

/*
 * What the first user process is told to do.  The kernel copies it to the
 * top of the user stack and enters the entry point with rdi pointing at it.
 */
struct abi_wl_args {
	uint32_t workload; /* ABI_WL_* (boot.h) */
	uint32_t epochs;
	uint64_t seed;
	uint64_t pages;	     /* file size in pages */
	uint64_t writes;     /* stores (or appends) per epoch */
	uint64_t sync_every; /* stores per msync, appends per fsync; 0: never */
	/* db: writer processes, one per CPU (0 means 1); writer k stores
	 * abi_wl_store(seed, k, writers, n, pages), so no two share a word. */
	uint32_t writers;
	uint32_t reserved; /* 0 */
};

_Static_assert(sizeof(struct abi_user_header) == 48, "user image header layout");
_Static_assert(sizeof(struct abi_wl_args) == 48, "workload arguments layout");
#endif

#endif
