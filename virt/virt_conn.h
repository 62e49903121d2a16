/*
 * A connection to libvirt, and libvirt's errors as dirtyscope reports them.
 *
 * libvirt prints every error to stderr by default, which would give a user
 * two lines (libvirt's and ours) for one failure; the error handler is
 * silenced here, and each caller words the one line with the error's
 * message (virt_err).
 */
#ifndef VIRT_VIRT_CONN_H
#define VIRT_VIRT_CONN_H

#include <libvirt/libvirt.h>

/* The URI used when the user gives none: the system QEMU driver. */
#define VIRT_DEFAULT_URI "qemu:///system"

/* The script that starts libvirtd for dirtyscope (named in errors). */
#define VIRT_START_SCRIPT "scripts/libvirtd.sh start"

/*
 * Open `uri` (NULL: VIRT_DEFAULT_URI) read-write.  On failure prints one
 * line naming the URI and the script that starts libvirtd, and returns
 * NULL.  Silences libvirt's own error printing for the whole process.
 */
virConnectPtr virt_connect(const char *uri);

/*
 * Register libvirt's default event loop and run it on a thread of its own
 * (every signal blocked), once per process; a console's stream delivers
 * its data through it (virt_console.h).  Call it before virt_connect for
 * a connection whose consoles will be read: libvirt ties a connection to
 * the loop when it opens.  Never in a process forked from one that called
 * it (-EINVAL).  Returns 0, or -EIO/-errno after one line.
 */
int virt_events_start(void);

/* A copy of libvirt's last error message in this thread (or "unknown
 * error"), valid until this thread's next virt_err.  Call it before any
 * other libvirt function, virDomainGetName included: each one clears the
 * thread's last error. */
const char *virt_err(void);

/* libvirt's last error code in this thread (VIR_ERR_*), VIR_ERR_OK if none. */
int virt_err_code(void);

#endif
