/*
 * The few libc routines the kernel needs.  memset/memcpy use rep stos/movs:
 * on this platform's emulated CPU a string instruction costs a fraction of the
 * equivalent loop (see PLATFORM.md).  gcc may also emit calls to them.
 */
#include "defs.h"

/* Fill n bytes at dst with c. */
void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	if (((uint64_t)d | n) % 8 == 0) {
		uint64_t v = 0x0101010101010101ULL * (uint8_t)c;
		size_t q = n / 8;
		__asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
	} else {
		__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	}
	return dst;
}

/* Copy n bytes; the regions must not overlap. */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	if (((uint64_t)d | (uint64_t)src | n) % 8 == 0) {
		size_t q = n / 8;
		__asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(q) : : "memory");
	} else {
		__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	}
	return dst;
}

/* Length of a NUL-terminated string. */
size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}
