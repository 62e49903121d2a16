/* SPDX-License-Identifier: MIT */
/* System-call wrappers, string functions and the log formatter. */
#include "ulib.h"

const char *wl_name;

void sys_exit(int status)
{
	syscall6(ABI_SYS_EXIT, status, 0, 0, 0, 0, 0);
	/* Not reached; if the kernel ever returns, an invalid opcode gets this
	 * process killed rather than running on into whatever follows. */
	for (;;)
		__asm__ volatile("ud2");
}

long sys_fork(void)
{
	return syscall6(ABI_SYS_FORK, 0, 0, 0, 0, 0, 0);
}

long sys_wait(int *status)
{
	return syscall6(ABI_SYS_WAIT, (long)status, 0, 0, 0, 0, 0);
}

long sys_yield(void)
{
	return syscall6(ABI_SYS_YIELD, 0, 0, 0, 0, 0, 0);
}

long sys_getpid(void)
{
	return syscall6(ABI_SYS_GETPID, 0, 0, 0, 0, 0, 0);
}

long sys_open(const char *name, int flags)
{
	return syscall6(ABI_SYS_OPEN, (long)name, flags, 0, 0, 0, 0);
}

long sys_close(int fd)
{
	return syscall6(ABI_SYS_CLOSE, fd, 0, 0, 0, 0, 0);
}

long sys_read(int fd, void *buf, uint64_t len)
{
	return syscall6(ABI_SYS_READ, fd, (long)buf, (long)len, 0, 0, 0);
}

long sys_write(int fd, const void *buf, uint64_t len)
{
	return syscall6(ABI_SYS_WRITE, fd, (long)buf, (long)len, 0, 0, 0);
}

long sys_pread(int fd, void *buf, uint64_t len, int64_t off)
{
	return syscall6(ABI_SYS_PREAD, fd, (long)buf, (long)len, off, 0, 0);
}

long sys_pwrite(int fd, const void *buf, uint64_t len, int64_t off)
{
	return syscall6(ABI_SYS_PWRITE, fd, (long)buf, (long)len, off, 0, 0);
}

long sys_lseek(int fd, int64_t off, int whence)
{
	return syscall6(ABI_SYS_LSEEK, fd, off, whence, 0, 0, 0);
}

long sys_fsync(int fd)
{
	return syscall6(ABI_SYS_FSYNC, fd, 0, 0, 0, 0, 0);
}

long sys_ftruncate(int fd, uint64_t len)
{
	return syscall6(ABI_SYS_FTRUNCATE, fd, (long)len, 0, 0, 0, 0);
}

long sys_mmap(void *addr, uint64_t len, int prot, int flags, int fd, int64_t off)
{
	return syscall6(ABI_SYS_MMAP, (long)addr, (long)len, prot, flags, fd, off);
}

long sys_munmap(void *addr, uint64_t len)
{
	return syscall6(ABI_SYS_MUNMAP, (long)addr, (long)len, 0, 0, 0, 0);
}

long sys_msync(void *addr, uint64_t len, int flags)
{
	return syscall6(ABI_SYS_MSYNC, (long)addr, (long)len, flags, 0, 0, 0);
}

long sys_epoch(uint64_t pages)
{
	return syscall6(ABI_SYS_EPOCH, (long)pages, 0, 0, 0, 0, 0);
}

long sys_log(const char *text, uint64_t len)
{
	return syscall6(ABI_SYS_LOG, (long)text, (long)len, 0, 0, 0, 0);
}

/*
 * rep movsb / rep stosb: a few instructions whatever the length, where a C
 * loop costs several per byte at the guest's emulated speed.  Written in
 * assembly also so the compiler cannot turn them back into calls to
 * themselves.
 */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	/* Overlapping with dst above src: copy backwards. */
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (size_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return p[i] < q[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* Output cursor of vsnprintf: counts every byte, stores those that fit. */
struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, int neg)
{
	char tmp[24];
	int i = 0;

	if (neg)
		put(o, '-');
	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i)
		put(o, tmp[--i]);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		int lng = 0;
		fmt++;
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);
			put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0);
			break;
		}
		case 'u':
			put_num(&o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, 0);
			break;
		case 'x':
			put_num(&o, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, 0);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uint64_t)va_arg(ap, void *), 16, 0);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				put(&o, *s);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--; /* a lone '%' at the end: stop at the NUL */
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void ulog(const char *fmt, ...)
{
	/* Static, not on the 32 KiB stack; each process has its own copy after fork. */
	static char line[256];
	va_list ap;

	size_t n = (size_t)snprintf(line, sizeof(line), "%s: ", wl_name ? wl_name : "user");
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n += (size_t)m;
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	/* Nothing useful to do if even logging fails. */
	sys_log(line, n);
}

int fail(const char *what, long r)
{
	ulog("%s failed: %ld", what, r);
	return 1;
}

int want(long got, long want_val, const char *what)
{
	if (got == want_val)
		return 0;
	ulog("%s returned %ld, expected %ld", what, got, want_val);
	return 1;
}
