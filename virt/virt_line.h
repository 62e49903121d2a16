/*
 * The guest kernel's lines on its serial console in standalone mode
 * (guest/standalone.c, docs/abi.md), parsed on the host.
 *
 * The console is untrusted input: a guest prints what it likes, and a line
 * may arrive cut, doubled or garbled.  A line that is not one of the
 * guest's JSON objects is not an error (the guest also prints lines for
 * people); a JSON object that is malformed, or whose numbers do not fit,
 * is.  Nothing here trusts a length or a value it has not checked.
 */
#ifndef VIRT_VIRT_LINE_H
#define VIRT_VIRT_LINE_H

#include <stddef.h>
#include <stdint.h>

/* Longest line kept; the guest's own are under 200 bytes. */
#define VIRT_LINE_MAX 1024

enum virt_line_kind {
	VIRT_LINE_OTHER = 0, /* not one of the guest's objects: text for people */
	VIRT_LINE_BOOT,	     /* {"boot":"pvh","workload":...}: the run's parameters */
	VIRT_LINE_READY,     /* {"ready":true,...}: the workload starts */
	VIRT_LINE_EPOCH,     /* {"epoch":N,"pages":N,"stores":N,"tsc":N} */
	VIRT_LINE_DONE,	     /* {"done":true,"status":N,"epochs":N,"check":"ok"|"failed",...} */
};

struct virt_line {
	enum virt_line_kind kind;
	uint64_t tsc; /* every object's stamp */
	/* BOOT */
	char workload[16]; /* "seq", "random" or "hotcold" */
	uint64_t wss, epochs, writes, seed, ram_mib;
	/* EPOCH */
	uint64_t epoch, pages, stores;
	/* DONE */
	uint64_t status;
	int check_failed;
};

/*
 * Parse one line of `n` bytes (no newline; need not be NUL-terminated).
 * Returns 0 with *out filled (kind VIRT_LINE_OTHER for text that is not a
 * JSON object), or -EPROTO for an object that claims to be one of the
 * guest's (it starts with '{') but is malformed, lacks a member its kind
 * requires, or holds a value out of range; -E2BIG for a line over
 * VIRT_LINE_MAX.  *out is zeroed first whatever the result.
 */
int virt_line_parse(const char *s, size_t n, struct virt_line *out);

#endif
