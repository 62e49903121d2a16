/*
 * A connection to libvirt (virt_conn.h).
 */
#include <libvirt/virterror.h>
#include <stddef.h>
#include <stdio.h>

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
