/* SPDX-License-Identifier: MIT */
/*
 * The user programs' whole C library: system-call wrappers over the `int3`
 * gate (include/abi/syscall.h), a few string functions and a log formatter.
 * Freestanding: no libc headers but <stdint.h>, <stddef.h>, <stdarg.h>.
 */
#ifndef USER_ULIB_H
#define USER_ULIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/syscall.h"
#include "abi/wlfile.h"

/*
 * The one system-call helper.  The kernel preserves every register but rax,
 * so only rax is an output; "memory" because the kernel reads and writes
 * user buffers (and stores through mappings must be ordered around msync).
 */
static inline long syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("int3"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "memory", "cc");
	return ret;
}

/* System calls: the result, or a negative ABI_E* value. */
void sys_exit(int status) __attribute__((noreturn));
long sys_fork(void);
long sys_wait(int *status);
long sys_yield(void);
long sys_getpid(void);
long sys_open(const char *name, int flags);
long sys_close(int fd);
long sys_read(int fd, void *buf, uint64_t len);
long sys_write(int fd, const void *buf, uint64_t len);
long sys_pread(int fd, void *buf, uint64_t len, int64_t off);
long sys_pwrite(int fd, const void *buf, uint64_t len, int64_t off);
long sys_lseek(int fd, int64_t off, int whence);
long sys_fsync(int fd);
long sys_ftruncate(int fd, uint64_t len);
long sys_mmap(void *addr, uint64_t len, int prot, int flags, int fd, int64_t off);
long sys_munmap(void *addr, uint64_t len);
long sys_msync(void *addr, uint64_t len, int flags);
long sys_epoch(uint64_t pages);
long sys_log(const char *text, uint64_t len);

/* The compiler may emit calls to these for struct copies and zeroing. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* printf subset: %s %c %d %u %x %p, with l/ll/z; %%; no width or flags. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One line to the host log through ABI_SYS_LOG, prefixed by "<workload>: ". */
void ulog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Set by main: the running workload's name, for log lines. */
extern const char *wl_name;

/* Log "<what> failed: <r>" and return 1: `return fail("mmap", r);`. */
int fail(const char *what, long r);
/* Return 0 if got == want, else log both and return 1. */
int want(long got, long want_val, const char *what);

/* The workloads (wl_*.c): 0 on success, 1 after logging what failed. */
int wl_db(const struct abi_wl_args *a);
int wl_log(const struct abi_wl_args *a);
int wl_mixed(const struct abi_wl_args *a);
int wl_private(const struct abi_wl_args *a);
int wl_shared2(const struct abi_wl_args *a);
int wl_forkcow(const struct abi_wl_args *a);
int wl_badsys(const struct abi_wl_args *a);

/* wl_private.c, shared with forkcow: the initial words through pwrite + fsync,
 * and the check that the file still holds exactly them. */
int init_content_write(int fd, const struct abi_wl_args *a);
int init_content_check(int fd, const struct abi_wl_args *a);

/* A word of a mapping; volatile because another process, the kernel's
 * writeback and pread/pwrite see the same page. */
static inline volatile uint64_t *map_word(uint8_t *map, const struct abi_wl_store *s)
{
	return (volatile uint64_t *)(map + abi_wl_store_offset(s));
}

#endif
