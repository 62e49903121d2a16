/*
 * The standalone guest's console, read on a thread (virt_console.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/esc.h"
#include "util/log.h"
#include "util/time.h"
#include "virt/virt_conn.h"
#include "virt/virt_console.h"

/* Keep one finished line: parse it, hand it to the callback, and store the
 * guest's objects.  Called on the reader thread. */
static void finish_line(struct virt_console *c)
{
	struct virt_console_rec r = {.t_ns = c->t_line};
	size_t n = c->len;
	int ret;

	while (n && c->line[n - 1] == '\r')
		n--;
	c->line[n] = '\0';
	ret = c->too_long ? -E2BIG : virt_line_parse(c->line, n, &r.line);
	if (c->cb)
		c->cb(c->cb_arg, &r, c->line, n, ret != 0);
	pthread_mutex_lock(&c->lock);
	if (ret) {
		if (c->bad_lines++ == 0)
			esc_str(c->first_bad, sizeof(c->first_bad), c->line, false);
	} else if (r.line.kind != VIRT_LINE_OTHER) {
		if (c->nr == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 256;
			void *p = realloc(c->recs, cap * sizeof(*c->recs));
			if (!p) {
				c->err = -ENOMEM;
				goto out;
			}
			c->recs = p;
			c->cap = cap;
		}
		c->recs[c->nr++] = r;
		pthread_cond_broadcast(&c->cond);
	}
out:
	pthread_mutex_unlock(&c->lock);
	c->len = 0;
	c->too_long = false;
}

int virt_console_feed(struct virt_console *c, const char *buf, size_t n, uint64_t now)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			finish_line(c);
			continue;
		}
		if (c->len == 0 && !c->too_long)
			c->t_line = now;
		if (c->len < VIRT_LINE_MAX)
			c->line[c->len++] = buf[i];
		else
			c->too_long = true;
	}
	pthread_mutex_lock(&c->lock);
	c->bytes += (uint64_t)n;
	int err = c->err;
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* The stream's callback, on the event loop's thread: take everything the
 * stream holds now, stamped as it is taken. */
static void on_stream(virStreamPtr st, int events, void *opaque)
{
	struct virt_console *c = opaque;
	char buf[4096];

	for (;;) {
		int n = virStreamRecv(st, buf, sizeof(buf));
		if (n == -2)
			return; /* nothing more for now */
		/* 0: the domain is gone; -1: a stream aborted or a domain
		 * destroyed under it: the end, not a failure of the run. */
		if (n <= 0 || virt_console_feed(c, buf, (size_t)n, time_now_ns()))
			break;
	}
	virStreamEventRemoveCallback(st);
	pthread_mutex_lock(&c->lock);
	c->eof = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* On the event loop's thread, which alone calls on_stream: so on_stream is
 * not running now, and once its callback is removed here it never runs
 * again.  (libvirt's free function for the callback is no such signal: it
 * never came when the callback was removed from another thread.) */
static void on_release(int timer, void *opaque)
{
	struct virt_console *c = opaque;
	virEventRemoveTimeout(timer);
	/* An error when on_stream removed it at the stream's end. */
	virStreamEventRemoveCallback(c->st);
	pthread_mutex_lock(&c->lock);
	c->released = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void virt_console_init(struct virt_console *c, virt_console_cb cb, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->cb = cb;
	c->cb_arg = arg;
	pthread_mutex_init(&c->lock, NULL);
	time_cond_init(&c->cond);
}

int virt_console_open(struct virt_console *c, virConnectPtr conn, virDomainPtr d,
		      virt_console_cb cb, void *arg)
{
	virt_console_init(c, cb, arg);
	const char *name = virDomainGetName(d);
	c->st = virStreamNew(conn, VIR_STREAM_NONBLOCK);
	if (!c->st || virDomainOpenConsole(d, NULL, c->st, VIR_DOMAIN_CONSOLE_FORCE) < 0) {
		log_err("domain %s: opening its console: %s", name, virt_err());
		goto fail;
	}
	if (virStreamEventAddCallback(c->st,
				      VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR |
					  VIR_STREAM_EVENT_HANGUP,
				      on_stream, c, NULL) < 0) {
		log_err("domain %s: watching its console: %s", name, virt_err());
		goto fail;
	}
	c->watching = true;
	return 0;
fail:
	if (c->st) {
		virStreamAbort(c->st);
		virStreamFree(c->st);
		c->st = NULL;
	}
	return -EIO;
}

int virt_console_wait(struct virt_console *c, enum virt_line_kind kind, uint64_t after_ns,
		      uint64_t timeout_ns, volatile sig_atomic_t *stop, size_t *idx)
{
	uint64_t start = time_now_ns();
	uint64_t end = timeout_ns > UINT64_MAX - start ? UINT64_MAX : start + timeout_ns;
	size_t from = 0;
	int ret = -ETIMEDOUT;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		for (; from < c->nr; from++)
			if (c->recs[from].line.kind == kind && c->recs[from].t_ns >= after_ns) {
				*idx = from;
				ret = 0;
				goto out;
			}
		if (c->err && c->err != -EAGAIN) {
			ret = c->err;
			break;
		}
		if (c->eof) {
			ret = -EPIPE;
			break;
		}
		if (stop && *stop) {
			ret = -EINTR;
			break;
		}
		uint64_t now = time_now_ns();
		if (now >= end)
			break;
		/* Wake at least every 100 ms to look at *stop. */
		uint64_t wake = now + (end - now < 100000000ULL ? end - now : 100000000ULL);
		time_cond_wait_until(&c->cond, &c->lock, wake);
	}
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

uint64_t virt_console_bytes(struct virt_console *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t n = c->bytes;
	pthread_mutex_unlock(&c->lock);
	return n;
}

size_t virt_console_copy(struct virt_console *c, struct virt_console_rec **out)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->nr;
	*out = n ? malloc(n * sizeof(**out)) : NULL;
	if (*out)
		memcpy(*out, c->recs, n * sizeof(**out));
	else
		n = 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void virt_console_close(struct virt_console *c)
{
	if (c->watching) {
		/* A destroyed domain ends the stream by itself, with whatever
		 * it still carried; give that a moment. */
		size_t idx;
		virt_console_wait(c, VIRT_LINE_OTHER, UINT64_MAX, 2000000000ULL, NULL, &idx);
		/* Then no more calls, removed on the loop's own thread, before
		 * the stream and `c` go.  The loop runs on a thread of its
		 * own, which a new timer wakes: the release comes. */
		if (virEventAddTimeout(0, on_release, c, NULL) < 0) {
			log_err("console: libvirt's event loop took no timer; its stream is left open");
			return;
		}
		pthread_mutex_lock(&c->lock);
		while (!c->released)
			pthread_cond_wait(&c->cond, &c->lock);
		pthread_mutex_unlock(&c->lock);
	}
	if (c->st) {
		virStreamAbort(c->st);
		virStreamFree(c->st);
	}
	free(c->recs);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	memset(c, 0, sizeof(*c));
}
