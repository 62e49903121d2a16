/*
 * Serial console on COM1 and a small printf.  The VMM's UART is always ready
 * to transmit, so console_putc does not poll the line-status register: each
 * poll would cost a VM exit, and every exit is expensive on this platform.
 * QEMU's 16550 is a real one: without its FIFO enabled it holds a single
 * character, and one written before the last has left would replace it, so
 * standalone (console_poll_ready) the kernel waits for the transmitter.
 */
#include <stdarg.h>
#include <stdbool.h>
#include "defs.h"
#include "x86.h"

#define UART_LSR      5	   /* line-status register, from the base port */
#define UART_LSR_THRE 0x20 /* transmit holding register empty */

static bool poll_ready;

/* Poll the line-status register before each character from now on (a
 * real UART, as QEMU's, rather than the VMM's). */
void console_poll_ready(void)
{
	poll_ready = true;
}

/* Write one character to the serial port. */
void console_putc(char c)
{
	if (poll_ready)
		while (!(inb(ABI_SERIAL_PORT + UART_LSR) & UART_LSR_THRE))
			;
	outb(ABI_SERIAL_PORT, (uint8_t)c);
}

struct fmtbuf {
	char *buf;
	size_t size, len;
};

static void fb_put(struct fmtbuf *fb, char c)
{
	if (fb->len + 1 < fb->size)
		fb->buf[fb->len] = c;
	fb->len++;
}

static void fb_num(struct fmtbuf *fb, uint64_t v, int base, int neg, int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width-- > n)
		fb_put(fb, pad);
	while (n)
		fb_put(fb, tmp[--n]);
}

/*
 * Format into buf (always NUL-terminated when size > 0).  Supports %s %c %d
 * %u %x %p %%, the '#' flag on %x, the l/ll length modifiers and a
 * zero-padded width.  Returns the
 * length the full output would have had.
 */
int vsnprintf_k(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmtbuf fb = {buf, size, 0};
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			fb_put(&fb, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0, alt = 0;
		if (*fmt == '#') {
			alt = 1;
			fmt++;
		}
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			fb_num(&fb, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
			fb_num(&fb, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, 0, width,
			       pad);
			break;
		case 'x':
			if (alt) {
				fb_put(&fb, '0');
				fb_put(&fb, 'x');
			}
			fb_num(&fb, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, 0, width,
			       pad);
			break;
		case 'p':
			fb_put(&fb, '0');
			fb_put(&fb, 'x');
			fb_num(&fb, (uint64_t)va_arg(ap, void *), 16, 0, 0, ' ');
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				fb_put(&fb, *s);
			break;
		}
		case 'c':
			fb_put(&fb, (char)va_arg(ap, int));
			break;
		case '%':
			fb_put(&fb, '%');
			break;
		default: /* unknown conversion: show it rather than guess */
			fb_put(&fb, '%');
			if (!*fmt)
				goto out;
			fb_put(&fb, *fmt);
		}
	}
out:
	if (size)
		buf[fb.len < size ? fb.len : size - 1] = 0;
	return (int)fb.len;
}

/* snprintf for the kernel: see vsnprintf_k. */
int snprintf_k(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf_k(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* printf to the serial console; lines longer than 256 bytes are cut. */
void cprintf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf_k(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		console_putc(*p);
}
