/* SPDX-License-Identifier: MIT */
/*
 * The guest page cache as the host may see it.
 *
 * At READY (file workloads) the guest passes, in hcall args[0], the GPA of a
 * struct abi_pc_desc.  The descriptor and everything it points to live in
 * guest RAM and are written only by the guest; the host reads them and must
 * validate every GPA and count (the guest is untrusted).
 *
 * Page-cache index: for every file (DSFS inode) the guest keeps a flat array
 * of `npages` 64-bit entries, one per page of the file's extent, at
 * index_gpa (physically contiguous).  An entry is 0 when the page is not
 * cached, else the GPA of the cached page OR'ed with ABI_PCE_* flags.  This
 * is the exact array the guest's page cache uses as its index (not a copy),
 * so reading it is reading the guest kernel's own state.
 *
 * Per-epoch view: at every SYNC the guest fills the view buffer (view_gpa,
 * view_cap entries) with the page-cache pages it considers dirty, then the
 * pages it wrote back during the epoch, and passes the counts:
 *   args[2] dirty entries listed   args[3] written-back pages listed
 *   args[4] dirty pages in total   args[5] page writes issued in the epoch
 * Each page written back in the epoch is listed once; args[5] counts every
 * write, so a page written twice counts twice there.  A dirty total above the
 * listed count means the buffer was too small: nothing is silently dropped.
 * Written-back entries follow the dirty ones.
 *
 * Version 2 adds what the host needs to classify every dirty frame, not just
 * the file pages (logger/guestview/mirror.c): before each SYNC the guest rewrites the
 * descriptor's tail with a snapshot of its live processes (page-table root
 * and VMAs), the head of its free-page list, and its page-fault counters.
 * The free list is linked through the free pages themselves: the first 8
 * bytes of each hold the GPA of the next (0 ends the list).
 *
 * Version 3 adds host writeback (`run --writeback host`, docs/hostwb.md).
 * The guest gives a buffer (hostwb_gpa: struct abi_pc_hostwb, then
 * hostwb_cap entries); when the host has committed an epoch's dirty file
 * pages to the image during a SYNC, it lists there, before resuming the
 * guest, the cached pages it wrote from guest RAM and sets `epoch` to that
 * SYNC's epoch.  This is the one place the host stores into guest RAM besides
 * the virtio-blk device.  The guest reads the list on return from the SYNC,
 * before any user instruction runs again, so each listed page still holds
 * the bytes the host wrote: it checks the entry (same inode, index and frame,
 * still up to date) and cleans the page under its policy as its own
 * writeback would, so its next msync or fsync skips it unless it is stored
 * to again.  Entries beyond hostwb_cap are not listed; those pages simply
 * stay dirty in the guest, which writes them itself: never wrong, only slower.
 */
#ifndef ABI_PCACHE_H
#define ABI_PCACHE_H

#include "fs.h"

#define ABI_PC_MAGIC   0x4548434143504453ULL /* "DSPCACHE" */
#define ABI_PC_VERSION 4

/* Index entry flags (low bits of a page-aligned GPA). */
#define ABI_PCE_PRESENT	  0x1ULL /* the entry holds a page */
#define ABI_PCE_UPTODATE  0x2ULL /* the page holds the file's data */
#define ABI_PCE_DIRTY	  0x4ULL /* the page flag: must be written back */
#define ABI_PCE_WRITEBACK 0x8ULL /* being written (only inside a writeback) */
#define ABI_PCE_FLAGS	  0xfffULL

/* Policies (boot_params.policy). */
#define ABI_POLICY_NONE	 0 /* anonymous workloads: no page cache */
#define ABI_POLICY_WP	 1 /* Linux: write-protect, write fault, page_mkclean */
#define ABI_POLICY_DBIT	 2 /* NetBSD UVM: D bits via pmap_clear_modify at putpages */
#define ABI_POLICY_SCAN	 3 /* periodic page-table scan moves D bits to page flags */
#define ABI_POLICY_LOSSY 4 /* writeback clears the flag but not the PTEs (the bug) */
/* wp without the remote TLB shootdown: a CPU with a stale writable
 * translation stores without a fault (the bug of a kernel that cleans a
 * page on one CPU only; guest/dirty.c). */
#define ABI_POLICY_NOFLUSH 5
#define ABI_POLICY_LAST	   ABI_POLICY_NOFLUSH

/* READY / SYNC argument slots for file workloads. */
#define ABI_READY_PC_DESC   0
#define ABI_SYNC_VIEW_DIRTY 2
#define ABI_SYNC_VIEW_WB    3
#define ABI_SYNC_DIRTY_ALL  4
#define ABI_SYNC_WB_ALL	    5

#ifndef __ASSEMBLER__
#include <stdint.h>

struct abi_pc_file {
	uint32_t ino;	    /* index into the DSFS inode table */
	uint32_t npages;    /* entries in the index: the extent's blocks */
	uint64_t index_gpa; /* 0 while the file has never been opened */
};

/* VMA kinds (abi_pc_vma.kind), the guest kernel's own VMA_* values. */
#define ABI_PC_VMA_ANON	   1 /* private anonymous: stack, MAP_ANONYMOUS, program image */
#define ABI_PC_VMA_SHARED  2 /* MAP_SHARED file: stores reach the page cache */
#define ABI_PC_VMA_PRIVATE 3 /* MAP_PRIVATE file: copy on write from the page cache */

#define ABI_PC_MAX_VMAS 16

struct abi_pc_vma {
	uint64_t start, end; /* page aligned, [start, end), user half */
	uint32_t kind;	     /* ABI_PC_VMA_* */
	uint32_t ino;	     /* file VMAs */
	uint64_t pgoff;	     /* file page mapped at start */
};

struct abi_pc_proc {
	uint32_t pid;
	uint32_t nvma;
	uint64_t cr3; /* GPA of its PML4 */
	struct abi_pc_vma vmas[ABI_PC_MAX_VMAS];
};

struct abi_pc_desc {
	uint64_t magic;	  /* ABI_PC_MAGIC */
	uint32_t version; /* ABI_PC_VERSION */
	uint32_t policy;  /* ABI_POLICY_* */
	uint64_t view_gpa;
	uint32_t view_cap; /* entries */
	uint32_t nr_files; /* valid entries in files[] */
	struct abi_pc_file files[ABI_FS_MAX_INODES];
	/* Version 2, rewritten before every SYNC. */
	uint64_t procs_gpa; /* struct abi_pc_proc[procs_cap] */
	uint32_t procs_cap;
	uint32_t nr_procs;     /* live processes listed at this SYNC */
	uint64_t free_head;    /* GPA of the first free page, 0 when none */
	uint64_t nr_free;      /* pages on the free list */
	uint64_t faults;       /* user page faults the kernel handled since boot */
	uint64_t write_faults; /* of which made a shared file page writable */
	/* Version 3. */
	uint64_t hostwb_gpa;   /* struct abi_pc_hostwb + hostwb_cap entries */
	uint32_t hostwb_cap;   /* entries */
	uint32_t reserved3;    /* 0 */
	uint64_t host_cleaned; /* dirty pages the guest cleaned on the host's word, since boot */
	/* Version 4: TLB shootdowns since boot (guest/tlb.c), and the IPIs
	 * they sent; 0 with one CPU. */
	uint64_t tlb_shootdowns;
	uint64_t tlb_ipis;
};

struct abi_pc_view_ent {
	uint32_t ino;
	uint32_t index; /* page index in the file */
	uint64_t gpa;	/* the cached page */
};

/* The host writeback message (version 3), written by the host. */
struct abi_pc_hostwb {
	uint64_t epoch;	  /* the SYNC whose snapshot the host wrote; 0: nothing posted */
	uint64_t listed;  /* valid entries in ents[] (<= hostwb_cap) */
	uint64_t written; /* pages written from guest RAM, listed or not */
	uint64_t reserved;
	struct abi_pc_view_ent ents[];
};

_Static_assert(sizeof(struct abi_pc_file) == 16, "page-cache file layout");
_Static_assert(__builtin_offsetof(struct abi_pc_desc, files) == 32, "page-cache descriptor layout");
_Static_assert(__builtin_offsetof(struct abi_pc_desc, procs_gpa) == 1040, "descriptor v2 layout");
_Static_assert(__builtin_offsetof(struct abi_pc_desc, hostwb_gpa) == 1088, "descriptor v3 layout");
_Static_assert(sizeof(struct abi_pc_desc) == 1128, "descriptor v4 layout");
_Static_assert(sizeof(struct abi_pc_hostwb) == 32, "host writeback message layout");
_Static_assert(sizeof(struct abi_pc_vma) == 32, "page-cache VMA layout");
_Static_assert(sizeof(struct abi_pc_proc) == 16 + 32 * ABI_PC_MAX_VMAS, "process layout");
_Static_assert(sizeof(struct abi_pc_desc) <= 4096, "page-cache descriptor fits a page");
_Static_assert(sizeof(struct abi_pc_view_ent) == 16, "page-cache view entry layout");
#endif

#endif
