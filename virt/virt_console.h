/*
 * A standalone guest's serial console, read through libvirt while the
 * guest runs: libvirt's event loop (virt_events_start) hands the console
 * stream's data to a callback, which splits it into lines,
 * stamps each with the host's clock when its first byte arrived, and keeps
 * the guest's JSON objects (virt_line.h) for the measuring thread.
 *
 * The arrival stamp is what ties the guest's store counts to the host's
 * measuring windows: the guest prints an epoch's line as soon as the
 * epoch's last store is done, and the first byte reaches the host a
 * serial character later (docs/libvirt.md says how long that is here).
 */
#ifndef VIRT_VIRT_CONSOLE_H
#define VIRT_VIRT_CONSOLE_H

#include <libvirt/libvirt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virt/virt_line.h"

struct virt_console_rec {
	uint64_t t_ns; /* time_now_ns() when the line's first byte arrived */
	struct virt_line line;
};

/* Called on the event loop's thread for every complete line, object or text;
 * `raw` is the line as received (no newline), `r` its record (kind
 * VIRT_LINE_OTHER for text), `bad` non-zero when it claimed to be an object
 * and did not parse. */
typedef void (*virt_console_cb)(void *arg, const struct virt_console_rec *r, const char *raw,
				size_t n, int bad);

struct virt_console {
	virStreamPtr st;
	bool watching; /* the stream's callback was added */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock: the guest's objects in arrival order. */
	struct virt_console_rec *recs;
	size_t nr, cap;
	uint64_t bad_lines; /* objects that did not parse, lines too long */
	char first_bad[128]; /* the first of them, escaped */
	uint64_t bytes;	/* everything received, lines or not */
	bool eof;	/* the stream ended: the domain is gone */
	bool released;	/* libvirt let go of the callback: no call comes now */
	int err;	/* -errno that stopped the reader, 0 */
	virt_console_cb cb;
	void *cb_arg;
	/* The callback only: the line being assembled. */
	char line[VIRT_LINE_MAX + 1];
	size_t len;
	uint64_t t_line;
	bool too_long;
};

/* A console with no stream: its bytes come only through
 * virt_console_feed (what tests and the fuzz target use); close it with
 * virt_console_close.  virt_console_open starts with the same. */
void virt_console_init(struct virt_console *c, virt_console_cb cb, void *arg);

/*
 * The stream callback's work on `n` bytes received at `now` (time_now_ns):
 * split them into lines of at most VIRT_LINE_MAX bytes (a longer one is
 * kept as a bad line, never cut into pieces that could parse), parse each,
 * keep the guest's objects with the time their first byte arrived, count
 * the bytes.  Returns the console's error (-ENOMEM when the records could
 * not grow), 0 while it can go on.
 */
int virt_console_feed(struct virt_console *c, const char *buf, size_t n, uint64_t now);

/*
 * Open `d`'s console (forcing out another reader) as a non-blocking stream
 * whose data libvirt's event loop delivers: `conn` must have been opened
 * after virt_events_start.  No thread ever blocks in the stream, so
 * closing it can never wait on a receive that does not end (a blocking
 * reader did hang, now and then, when its domain was destroyed).  `cb` may
 * be NULL.  Returns 0, or -EIO after one line with libvirt's reason.
 */
int virt_console_open(struct virt_console *c, virConnectPtr conn, virDomainPtr d,
		      virt_console_cb cb, void *arg);

/*
 * Wait until an object of `kind` that arrived at or after `after_ns` is
 * kept; *idx receives its index in c->recs.  Returns 0; -ETIMEDOUT after
 * `timeout_ns`; -EPIPE when the stream ended first; -EINTR when *stop
 * became non-zero (checked every 100 ms); the reader's error.
 */
int virt_console_wait(struct virt_console *c, enum virt_line_kind kind, uint64_t after_ns,
		      uint64_t timeout_ns, volatile sig_atomic_t *stop, size_t *idx);

/* How many bytes the console has received so far: 0 tells a guest that
 * never printed (or a console that never carried anything) from a slow one. */
uint64_t virt_console_bytes(struct virt_console *c);

/* A copy of the records kept so far (malloc'd; the caller frees *out).
 * Returns how many, or 0 with *out NULL when none or out of memory. */
size_t virt_console_copy(struct virt_console *c, struct virt_console_rec **out);

/* Stop reading and free everything.  Destroy the domain first: the stream
 * then ends by itself, and what it still carried is kept. */
void virt_console_close(struct virt_console *c);

#endif
