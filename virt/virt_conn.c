/*
 * A connection to libvirt (virt_conn.h).
 */
#include <errno.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "virt/virt_conn.h"

/* libvirt's default handler prints every error to stderr; we print our own
 * line with the message instead. */
static void quiet(void *opaque, virErrorPtr err)
{
}

const char *virt_err(void)
{
	/* A copy: the error itself goes with the next libvirt call, and the
	 * caller's message is often built around another call's result. */
	static __thread char msg[1024];
	const virError *e = virGetLastError();
	snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "unknown error");
	return msg;
}

int virt_err_code(void)
{
	const virError *e = virGetLastError();
	return e ? e->code : VIR_ERR_OK;
}

/* The process that registered libvirt's event loop, and its loop. */
static pid_t events_pid;

static void *event_loop(void *arg)
{
	for (;;)
		if (virEventRunDefaultImpl() < 0)
			break;
	return NULL;
}

int virt_events_start(void)
{
	pid_t me = getpid();
	if (events_pid == me)
		return 0;
	/* A child forked from a process with a loop would inherit its state,
	 * locks included, but not its thread: not a case this code makes. */
	if (events_pid)
		return -EINVAL;
	if (virEventRegisterDefaultImpl() < 0) {
		log_err("libvirt's event loop: %s", virt_err());
		return -EIO;
	}
	pthread_t t;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int ret = pthread_create(&t, NULL, event_loop, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		log_err("libvirt's event loop thread: %s", strerror(ret));
		return -ret;
	}
	/* It runs until the process ends: nothing it serves outlives that. */
	pthread_detach(t);
	events_pid = me;
	return 0;
}

virConnectPtr virt_connect(const char *uri)
{
	if (!uri)
		uri = VIRT_DEFAULT_URI;
	virSetErrorFunc(NULL, quiet);
	virConnectPtr c = virConnectOpen(uri);
	if (!c)
		log_err("libvirt at %s: %s (is libvirtd running? as root: %s)", uri, virt_err(),
			VIRT_START_SCRIPT);
	return c;
}
