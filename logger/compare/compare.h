/*
 * Guest versus host dirty tracking, side by side (dirtyscope compare).
 *
 * A sink: at each epoch's end, with the vCPU stopped, it rebuilds the
 * page-cache mirror (logger/guestview/mirror.h) and sets three views of the guest's
 * file pages next to each other:
 *   guest  the pages the guest's page cache calls dirty, and those it wrote
 *          back during the epoch (its published view)
 *   host   the epoch's KVM dirty set, mapped through the mirror
 *   pte-D  file pages some user PTE maps with D set (mmu/ walk, read-only)
 * and judges each cached page against the disk image: a page whose bytes in
 * guest RAM differ from the image while the guest's policy has nothing
 * pending for it is *missed*: no later msync, fsync or flusher will write it.
 * docs/compare.md defines every count.
 */
#ifndef LOGGER_COMPARE_H
#define LOGGER_COMPARE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "logger/epoch.h"
#include "logger/guestview/mirror.h"
#include "logger/compare/plot_svg.h"
#include "util/fail.h"

struct compare_config {
	const char *image_path; /* the run's disk image, read-only here */
	uint32_t policy;	/* ABI_POLICY_* the guest runs */
	const char *policy_name, *mode_name, *workload_name;
	FILE *table;  /* the human table, or NULL */
	FILE *json;   /* JSON lines, or NULL */
	FILE *report; /* lies, unexplained pages, failures (stderr), or NULL */
};

struct compare_counts {
	uint64_t guest_dirty;	/* file pages the guest calls dirty at the epoch's end */
	uint64_t guest_written; /* file pages it wrote back during the epoch */
	uint64_t guest;		/* either: the guest's view */
	uint64_t host;		/* file pages in the KVM dirty set */
	uint64_t pte_dirty;	/* file pages a user PTE maps with D set */
	uint64_t both;		/* in the guest's view and the host's */
	uint64_t guest_only;
	uint64_t host_only[MIRROR_CLASS_NR]; /* [MIRROR_FILE]: file pages; others: frames */
	uint64_t host_frames;		     /* every frame in the KVM dirty set */
	uint64_t missed;
	uint64_t unexplained; /* guest-dirty pages the host never saw dirty since written */
	uint64_t mirror_errors;
	uint64_t guest_faults, guest_write_faults;
	uint64_t guest_shootdowns; /* TLB shootdowns the guest sent (several vCPUs) */
	uint64_t harvest_ns;
	uint64_t stats[VSTAT_NR]; /* KVM vCPU counters; UINT64_MAX: absent */
};

#define COMPARE_MISSED_LISTED 32 /* missed pages carried per epoch; the count is exact */

struct compare_page {
	uint32_t ino, index;
	uint64_t gpa;
};

struct compare_file; /* per inode seen: extent, pending bits, picture rows */

struct compare {
	struct compare_config cfg;
	struct sink sink; /* give &c->sink to the session */
	struct mirror mirror;
	bool mirror_ready;
	int image_fd;
	struct compare_file *files[ABI_FS_MAX_INODES]; /* by inode */
	uint32_t order[ABI_FS_MAX_INODES];	       /* inodes in order of first sight */
	uint32_t nr_files;
	uint64_t epochs;
	uint8_t *ram_copy, *img_copy; /* scratch for one file's pages */
	uint64_t scratch_pages;
	uint64_t prev_faults, prev_write_faults, prev_shootdowns;
	uint64_t unexplained_printed;
	/* The last epoch, for callers that look closer (the tests). */
	uint64_t epoch;
	struct compare_counts last;
	struct compare_page missed[COMPARE_MISSED_LISTED];
	uint64_t missed_listed;
	struct compare_counts total;
	int error;	   /* first host-side failure (-errno); the run's output is then void */
	enum ds_fail fail; /* what error was (util/fail.h): the run, or its input */
	/* Optional, called after each epoch is judged (vCPU still stopped). */
	void (*on_epoch)(void *ctx, const struct compare *c, const struct epoch_rec *e);
	void *on_epoch_ctx;
};

/*
 * Set up a comparison of a run on the image at cfg->image_path (opened
 * read-only).  Returns 0, or -errno with a message printed to cfg->report
 * and c->fail DS_FAIL_USAGE (the image cannot be opened).
 */
int compare_init(struct compare *c, const struct compare_config *cfg);

/*
 * Write the picture (file pages x epochs) of every epoch judged so far to f
 * as SVG.  Returns 0, -EINVAL when there is nothing to draw, -ENOMEM, or
 * the -errno of a failed write (plot_svg_write).
 */
int compare_plot(const struct compare *c, FILE *f);

/* The cell a page got in epoch `epoch` (1-based), for tests; PLOT_CLEAN for
 * pages or epochs not seen. */
enum plot_cell compare_cell(const struct compare *c, uint32_t ino, uint32_t index, uint64_t epoch);

void compare_free(struct compare *c);

#endif
