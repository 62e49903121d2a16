/*
 * Transient libvirt domains that run dirtyscope's guest kernel standalone
 * (direct kernel boot through its PVH note), and looking domains up.
 *
 * A transient domain exists only while it runs: destroying it leaves
 * nothing behind in libvirt, which is what a measuring tool that may be
 * interrupted wants.
 */
#ifndef VIRT_VIRT_DOMAIN_H
#define VIRT_VIRT_DOMAIN_H

#include <libvirt/libvirt.h>
#include <stddef.h>
#include <stdint.h>

/* Domain names dirtyscope creates: letters, digits, '-', '_' and '.'. */
#define VIRT_NAME_MAX 64

struct virt_domain_cfg {
	const char *name;    /* checked by virt_name_ok */
	const char *kernel;  /* the guest kernel's ELF file, an absolute path */
	const char *cmdline; /* the ds.* parameters (guest/pvh.c) */
	uint64_t mem_mib;    /* guest RAM */
	/* QEMU's KVM dirty ring, entries per vCPU (a power of two, 1024 to
	 * 65536), or 0 for the bitmap.  A domain has one or the other, and
	 * QEMU's dirty-rate modes follow: dirty-ring needs it, dirty-bitmap
	 * cannot run with it. */
	unsigned ring_entries;
	/* QEMU's emulator (libvirt's domain type 'qemu', TCG) instead of KVM:
	 * for a libvirtd whose host has no KVM.  No dirty ring then. */
	int tcg;
};

/* Whether `name` is one dirtyscope may give a domain (1..VIRT_NAME_MAX
 * characters of the set above), so it never needs quoting anywhere. */
int virt_name_ok(const char *name);

/*
 * The domain XML for `cfg` into buf (NUL-terminated).  The CPU model is
 * QEMU's qemu64 with libvirt's host check off: `host` aborts QEMU on a
 * kvm_pvm host, and the guest needs nothing qemu64 lacks.  The serial port
 * is a pty with a console, read through virt_console.  Returns 0, -EINVAL
 * for a bad name or parameters, -ENAMETOOLONG when buf is too small.
 */
int virt_domain_xml(const struct virt_domain_cfg *cfg, char *buf, size_t len);

/*
 * Create the transient domain of `cfg`, paused (so that its console can be
 * opened before the guest prints its first line).  Unless `keep`, libvirt
 * destroys it when this connection closes, so that a dirtyscope that dies,
 * even by SIGKILL, leaves no domain behind.  NULL after printing one line
 * with libvirt's reason.
 */
virDomainPtr virt_domain_start_paused(virConnectPtr c, const struct virt_domain_cfg *cfg, int keep);

/*
 * Whether libvirtd's QEMU can run x86_64 domains under KVM there (its
 * domain capabilities for type 'kvm'): 1 yes, 0 no (only QEMU's emulator,
 * type 'qemu'), -EIO after one line when it cannot tell either.
 */
int virt_host_kvm(virConnectPtr c);

/* One line: libvirtd at c's URI offers no KVM, and `why` that matters. */
void virt_log_no_kvm(virConnectPtr c, const char *why);

/*
 * Whether running domain `d` is a KVM one (type 'kvm' in its XML): 1 yes,
 * 0 no (QEMU's emulator, or another hypervisor), -ENOENT when it went
 * away, -EIO when libvirt failed otherwise.
 */
int virt_domain_kvm(virDomainPtr d);

/* Destroy and free `d` (NULL: nothing).  A domain already gone is not an
 * error.  Returns 0, or -EIO after printing libvirt's reason. */
int virt_domain_destroy(virDomainPtr d);

/*
 * Look up a running domain by name, UUID or id (as virsh does).  NULL when
 * there is none, after one line naming it and the URI; *missing says
 * whether it was simply not found (a usage error) rather than libvirt
 * failing.
 */
virDomainPtr virt_domain_lookup(virConnectPtr c, const char *name, int *missing);

#endif
