/* Loading the guest kernel and describing the machine to it. */
#ifndef VMM_BOOT_H
#define VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>
#include "abi/boot.h"
#include "vmm/mem.h"

struct boot_workload {
	uint32_t workload; /* ABI_WL_* */
	uint32_t epochs;
	uint64_t wss_pages;
	uint64_t writes_per_epoch;
	uint64_t seed;
	uint64_t hot_pages;
	uint32_t hot_pct;
	uint32_t policy;      /* file workloads: ABI_POLICY_* */
	uint32_t flush_every; /* system calls between guest flusher runs */
	uint64_t cache_pages; /* guest page-cache limit; 0: as RAM allows */
	uint64_t sync_every;  /* stores per msync / appends per fsync */
	uint32_t flags;	      /* ABI_BOOT_F_*; tests only */
	uint32_t nr_cpus;     /* vCPUs, 1..ABI_MAX_CPUS; 0 means 1 */
	uint32_t share_pct;   /* anonymous workloads: writes to pages any CPU writes */
};

/* The guest kernel embedded in this binary (vmm/guest_image.S). */
extern const uint8_t guest_image[], guest_image_end[];

/*
 * Check an image's header: magic, and entries (ap_entry may be 0) and a load
 * end that fit below 1 GiB of RAM past ABI_KERNEL_GPA.  Returns 0 or
 * -ENOEXEC.
 */
int boot_check_image(const void *image, size_t len);

/*
 * Largest working set, in pages, that a guest with `ram_size` bytes can map
 * when running `image` on `cpus` CPUs: RAM past the kernel, minus
 * abi_workload_kernel_pages() and ABI_KERNEL_RESERVE_PAGES.  0 if nothing
 * fits.
 */
uint64_t boot_max_wss(uint64_t ram_size, const void *image, uint32_t cpus);

/*
 * Copy the image to ABI_KERNEL_GPA, build the boot page tables (direct map
 * of all RAM with 2 MiB pages, kernel map) and fill the boot parameters.
 * RAM must be fresh (zero).  On success *entry is the guest-virtual entry
 * point, *ap_entry the other CPUs' (0: the image has none) and *cr3 the
 * PML4's GPA.  Returns 0, -ENOEXEC or -E2BIG.
 */
int boot_load(struct guest_mem *m, const void *image, size_t len, const struct boot_workload *wl,
	      uint64_t *entry, uint64_t *ap_entry, uint64_t *cr3);

#endif
