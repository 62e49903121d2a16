/*
 * QEMU's dirty-rate calculation through libvirt: start one calculation in
 * a given mode, wait for it, and read the result from the domain's
 * dirty-rate statistics.
 *
 * QEMU has three ways to measure (its calc-dirty-rate command):
 *   page-sampling  hash a sample of pages (512 per GiB) at the start and
 *                  the end; a page whose hash changed counts, scaled up;
 *   dirty-bitmap   KVM's dirty log over the window: distinct pages;
 *   dirty-ring     KVM's per-vCPU dirty rings over the window: the entries
 *                  harvested, per vCPU; needs the domain started with the
 *                  ring (virt_domain_cfg.ring_entries).
 */
#ifndef VIRT_VIRT_DIRTYRATE_H
#define VIRT_VIRT_DIRTYRATE_H

#include <libvirt/libvirt.h>
#include <signal.h>
#include <stdint.h>

enum virt_dr_mode {
	VIRT_DR_PAGE_SAMPLING,
	VIRT_DR_DIRTY_BITMAP,
	VIRT_DR_DIRTY_RING,
	VIRT_DR_NR,
};

#define VIRT_DR_MAX_VCPUS 64 /* per-vCPU rates kept; more are counted, not kept */
#define VIRT_DR_MAX_CALC_S 60

enum virt_dr_status {
	VIRT_DR_MEASURED,
	VIRT_DR_UNSUPPORTED, /* the host, QEMU or this domain cannot measure so */
	VIRT_DR_STALLED,     /* started, but no result came in time */
};

struct virt_dr_result {
	enum virt_dr_mode mode;
	enum virt_dr_status status;
	char why[256];	   /* unsupported or stalled: libvirt's or our reason */
	double mibs;	   /* QEMU's answer, MiB/s (its "megabytes_per_second") */
	uint64_t t0_ns;	   /* the window on the host clock: start accepted... */
	uint64_t t1_ns;	   /* ... + the calc time */
	uint64_t wait_ns;  /* from the start to the result */
	unsigned nr_vcpus; /* per-vCPU rates given (dirty-ring only) */
	double vcpu_mibs[VIRT_DR_MAX_VCPUS];
};

/* "page-sampling", "dirty-bitmap", "dirty-ring". */
const char *virt_dr_mode_name(enum virt_dr_mode m);

/* The mode named `s`; -EINVAL for none. */
int virt_dr_mode_parse(const char *s, enum virt_dr_mode *m);

/*
 * One calculation of `calc_s` seconds (1..VIRT_DR_MAX_CALC_S) in mode `m`
 * on running domain `d`.  Returns 0 with *r filled: MEASURED, UNSUPPORTED
 * (libvirt or QEMU refused the mode for this host or domain, or the mode
 * is dirty-bitmap and the domain runs under QEMU's emulator, where asking
 * would crash QEMU 7.2: r->why says why) or STALLED (no result calc_s +
 * 10 s after the start; r->why).
 * Returns -EINTR when *stop became non-zero (checked every 50 ms), -EIO
 * after one line when libvirt failed otherwise, -ENOENT when the domain
 * went away.
 */
int virt_dirtyrate_measure(virDomainPtr d, enum virt_dr_mode m, unsigned calc_s,
			   struct virt_dr_result *r, volatile sig_atomic_t *stop);

#endif
