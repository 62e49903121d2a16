/*
 * The page-cache mirror: what every guest frame is, as the host can tell
 * from outside.  Built at an epoch's end (the vCPU stopped) from what the
 * guest publishes (include/abi/pcache.h: the page-cache index, its processes'
 * page-table roots and VMAs, its free list), checked against what the
 * hardware itself uses (the page tables, walked with mmu/).
 *
 * The guest is untrusted.  Every published count, GPA and entry is checked;
 * a lie (an index entry outside RAM, two files claiming one frame, a free
 * list that loops or frees a mapped page, a CR3 that is not RAM) is counted,
 * reported and skipped, and never makes the host read outside guest RAM.
 * Where the guest's claim and the hardware disagree, the hardware wins: a
 * frame the CPU walks as a page table is a page table whatever the index
 * says.
 */
#ifndef LOGGER_MIRROR_H
#define LOGGER_MIRROR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "abi/pcache.h"
#include "mmu/mmu.h"
#include "vmm/mem.h"

/* Frame classes, in the order the outputs list them. */
enum mirror_class {
	MIRROR_FILE,	  /* a page-cache page, named by a valid index entry */
	MIRROR_PAGETABLE, /* a table page of the boot tables or a published process */
	MIRROR_KERNEL,	  /* none of the others: kernel image, heap, stacks, buffers */
	MIRROR_ANON,	  /* mapped in an anonymous VMA (stack, heap, program image) */
	MIRROR_COW,	  /* mapped in a MAP_PRIVATE file VMA: a private copy */
	MIRROR_FREE,	  /* on the guest's free list */
	MIRROR_CLASS_NR
};

/* mirror_frame.flags */
#define MIRROR_F_PTE_DIRTY 0x1 /* some user PTE maps the frame with D set */
#define MIRROR_F_PTE_W	   0x2 /* some user PTE maps the frame writable */
#define MIRROR_F_FREE_SEEN 0x4 /* visited by this build's free-list walk */

struct mirror_frame {
	uint8_t cls; /* enum mirror_class */
	uint8_t flags;
	uint16_t file;	/* file frames: slot in mirror.files */
	uint32_t index; /* file frames: page in the file */
};

struct mirror_file {
	uint32_t ino;
	uint32_t npages;
	uint64_t *entries; /* the index as read at the build (GPA | ABI_PCE_*) */
};

#define MIRROR_REPORTED_MAX 8 /* lies printed per run; the count is exact */

struct mirror {
	const struct guest_mem *mem;
	struct mmu mmu;
	struct mirror_frame *frames; /* per RAM index */
	struct mirror_file files[ABI_FS_MAX_INODES];
	uint32_t nr_files;
	uint64_t class_frames[MIRROR_CLASS_NR]; /* RAM frames of each class */
	uint64_t errors;			/* lies found by the last build */
	uint64_t errors_total;			/* and by every build */
	FILE *report;				/* where lies are printed, or NULL */
	/* Optional, set by the caller: each inode's extent in pages (0:
	 * unknown).  A published index of another length is a lie. */
	uint64_t extent_pages[ABI_FS_MAX_INODES];
	uint64_t work; /* what is left of this build's work budget */
	bool over_budget;
};

/*
 * Prepare a mirror of guest RAM `m`; lies are printed to `report` (NULL:
 * counted only).  Returns 0 or -ENOMEM.
 */
int mirror_init(struct mirror *mi, const struct guest_mem *m, FILE *report);

/*
 * Rebuild the mirror from the descriptor snapshot `d` (struct pcview's desc,
 * taken at the SYNC) and the guest memory it points to.  Never fails on what
 * the guest wrote: lies are counted in mi->errors and skipped.  Returns 0 or
 * -ENOMEM.
 */
int mirror_build(struct mirror *mi, const struct abi_pc_desc *d);

/* The frame at RAM index idx (idx < mem->nr_pages). */
static inline const struct mirror_frame *mirror_frame(const struct mirror *mi, uint64_t idx)
{
	return &mi->frames[idx];
}

/* The file slot of inode ino, or -1 when its index is not published. */
int mirror_file_slot(const struct mirror *mi, uint32_t ino);

/* Kebab-case class name ("file", "page-table", ...). */
const char *mirror_class_name(enum mirror_class c);

void mirror_free(struct mirror *mi);

#endif
