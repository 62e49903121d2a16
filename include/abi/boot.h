/* SPDX-License-Identifier: MIT */
/*
 * Boot ABI: the header at the start of the guest image, and the boot-parameters
 * page the VMM fills at ABI_BOOT_PARAMS_GPA before the first KVM_RUN.
 */
#ifndef ABI_BOOT_H
#define ABI_BOOT_H

#include "layout.h"

#define ABI_IMAGE_MAGIC	   0x45474d4953445344ULL /* "DSDSIMGE" little-endian */
#define ABI_BOOT_MAGIC	   0x544f4f4253445344ULL /* "DSDSBOOT" */
#define ABI_BOOT_VERSION   3
#define ABI_MAX_RAM_RANGES 4

/* Workload identifiers (boot_params.workload). */
#define ABI_WL_SEQ     1
#define ABI_WL_RANDOM  2
#define ABI_WL_HOTCOLD 3
/* File workloads: user programs in guest/user/ over the page cache. */
#define ABI_WL_DB      4 /* random stores into a MAP_SHARED file, periodic msync */
#define ABI_WL_LOG     5 /* write(2) appends, periodic fsync */
#define ABI_WL_SHARED2 6 /* two processes store into one shared file mapping */
#define ABI_WL_PRIVATE 7 /* MAP_PRIVATE stores that must never reach the file */
#define ABI_WL_FORKCOW 8 /* fork; parent and child store into anon + private pages */
#define ABI_WL_MIXED   9 /* write(2) and mmap stores on one file, checked coherent */
/* Test programs: misbehaving guests for the bad-input tests. */
#define ABI_WL_BADSYS 10 /* a user program making invalid system calls */
#define ABI_WL_BADBLK 11 /* the kernel submits hostile virtio descriptors */
/* boot_params.flags, for tests only.  NO_COW: fork shares private pages
 * writable, so forkcow's own check must fail.  BAD_CHECK: after its last
 * epoch the anonymous workload changes a page behind its own data check's
 * back, so the check must fail (standalone: ds.test=badcheck). */
#define ABI_BOOT_F_TEST_NO_COW	  1u
#define ABI_BOOT_F_TEST_BAD_CHECK 2u
/* TEST_IPI: with several CPUs, CPU 0 first sends every other CPU IPIs
 * through the in-kernel LAPIC (which the VMM then creates) and logs their
 * round trip, panicking when one never arrives (guest/ipi.c). */
#define ABI_BOOT_F_TEST_IPI 4u
/* TEST_STALE_TLB: under --policy noflush, a page cleaned while another CPU
 * runs a process that maps it keeps that mapping writable, as a stale TLB
 * entry on that CPU would, for as long as the mapping lives (guest/dirty.c):
 * the race the platform may hide, made certain. */
#define ABI_BOOT_F_TEST_STALE_TLB 8u
/* TEST_PREFAULT: at boot, before the first epoch, the guest stores a zero
 * into every page of RAM it has not handed out, so that every frame is
 * populated on the host and mapped in its page tables, as in a guest that
 * has run a while.  On nested paging KVM logs a page that was not mapped
 * at the guest's first access, read or write; with every frame mapped, a
 * device's later write into a frame (a disk read) reaches the dirty log
 * only if the device reports it, on every platform (guest/pmem.c). */
#define ABI_BOOT_F_TEST_PREFAULT 16u

#define ABI_WL_FIRST_FILE ABI_WL_DB
#define ABI_WL_LAST	  ABI_WL_BADBLK

#ifndef __ASSEMBLER__
#include <stdint.h>

/*
 * First bytes of the flat guest image (guest/entry.S emits it).  The VMM loads
 * the image at ABI_KERNEL_GPA and refuses it unless magic matches and
 * entry/load_end lie inside [ABI_KERNEL_GPA, RAM).
 */
struct abi_image_header {
	uint64_t magic;	   /* ABI_IMAGE_MAGIC */
	uint64_t entry;	   /* guest-virtual entry point */
	uint64_t load_end; /* GPA just past .bss (kernel image incl. stack) */
	/* Guest-virtual entry of the application processors (vCPUs 1 and up),
	 * which the VMM starts in long mode like vCPU 0, with the CPU number
	 * in RDI; 0 when the image cannot run them. */
	uint64_t ap_entry;
};
_Static_assert(sizeof(struct abi_image_header) == 32, "image header layout");

struct abi_ram_range {
	uint64_t base; /* GPA, page aligned */
	uint64_t size; /* bytes, page multiple */
};

/*
 * The boot-parameters page.  The VMM writes it once, before the guest runs;
 * the guest validates magic and version and panics on a mismatch.
 */
struct abi_boot_params {
	uint64_t magic;	  /* ABI_BOOT_MAGIC */
	uint32_t version; /* ABI_BOOT_VERSION */
	uint32_t nr_ranges;
	struct abi_ram_range ranges[ABI_MAX_RAM_RANGES]; /* usable RAM, ascending */
	uint64_t ram_size;				 /* total RAM bytes */
	uint32_t workload;				 /* ABI_WL_* */
	uint32_t nr_epochs;				 /* epochs to run */
	uint64_t wss_pages;				 /* working-set size in 4 KiB pages */
	uint64_t writes_per_epoch;			 /* page writes per epoch */
	uint64_t seed;
	uint64_t hot_pages; /* hotcold: size of the hot subset */
	uint32_t hot_pct;   /* hotcold: share of writes that go to it */
	uint32_t flags;	    /* ABI_BOOT_F_* */
	/* version 2: the file world (ABI_WL_DB and up) */
	uint32_t policy;      /* ABI_POLICY_* (pcache.h) */
	uint32_t flush_every; /* system calls between flusher runs; 0: never */
	uint64_t cache_pages; /* page-cache limit in pages; 0: as RAM allows */
	uint64_t sync_every;  /* db/shared2/mixed: stores per msync; log: appends per fsync */
	/* version 3: SMP */
	uint32_t nr_cpus;   /* vCPUs running, 1..ABI_MAX_CPUS; APs wait at ap_entry */
	uint32_t share_pct; /* anonymous workloads: share of each CPU's writes that go
			     * to pages over the whole working set rather than the
			     * CPU's own partition (0..100) */
};
_Static_assert(sizeof(struct abi_ram_range) == 16, "ram range layout");
_Static_assert(__builtin_offsetof(struct abi_boot_params, ranges) == 16, "boot params layout");
_Static_assert(__builtin_offsetof(struct abi_boot_params, ram_size) == 80, "boot params layout");
_Static_assert(__builtin_offsetof(struct abi_boot_params, wss_pages) == 96, "boot params layout");
_Static_assert(__builtin_offsetof(struct abi_boot_params, policy) == 136, "boot params layout");
_Static_assert(__builtin_offsetof(struct abi_boot_params, nr_cpus) == 160, "boot params layout");
_Static_assert(sizeof(struct abi_boot_params) == 168, "boot params layout");
_Static_assert(sizeof(struct abi_boot_params) <= ABI_PAGE_SIZE, "boot params fit a page");
#endif

#endif
