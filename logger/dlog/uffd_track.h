/*
 * Host-level write tracking of one anonymous mapping: userfaultfd
 * write-protection in asynchronous mode (UFFD_FEATURE_WP_ASYNC), harvested
 * with the PAGEMAP_SCAN ioctl on /proc/self/pagemap.
 *
 * In async mode a write to a write-protected page never reaches us as a
 * fault message: the kernel clears the page's uffd-wp bit and lets the write
 * proceed, so "written since protected" is simply "present without uffd-wp".
 * PAGEMAP_SCAN reports such pages as PAGE_IS_WRITTEN and, with
 * PM_SCAN_WP_MATCHING, write-protects them again in the same page-table walk,
 * so no write can fall between reading and re-arming.
 *
 * The tracking is of the host's page tables: it sees every store that goes
 * through them (the VMM's own, and kernel copies into the mapping such as
 * pread()).  Whether a KVM guest's stores are seen depends on how KVM maps
 * guest RAM on the host: see docs/platform-notes.md for what was measured.
 */
#ifndef LOGGER_UFFD_TRACK_H
#define LOGGER_UFFD_TRACK_H

#include <stddef.h>
#include <stdint.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>

#include "logger/dlog/frameset.h"

/* Newer than Debian 12's uapi headers (Linux 6.1): userfaultfd, Linux 6.4/6.7. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

/* PAGEMAP_SCAN, Linux 6.7 (include/uapi/linux/fs.h). */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN	  (1 << 1)
#define PAGE_IS_FILE	  (1 << 2)
#define PAGE_IS_PRESENT	  (1 << 3)
#define PAGE_IS_SWAPPED	  (1 << 4)
#define PAGE_IS_PFNZERO	  (1 << 5)
#define PAGE_IS_HUGE	  (1 << 6)

struct page_region {
	__u64 start; /* first byte */
	__u64 end;   /* one past the last byte */
	__u64 categories;
};

#define PM_SCAN_WP_MATCHING   (1 << 0) /* write-protect the pages matched */
#define PM_SCAN_CHECK_WPASYNC (1 << 1) /* fail on a page without async uffd-wp */

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end; /* out: where the walk stopped */
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_IOCTL_MAGIC 'f'
#define PAGEMAP_SCAN	    _IOWR(PAGEMAP_IOCTL_MAGIC, 16, struct pm_scan_arg)
#endif

/* Features every tracker asks UFFDIO_API for (see uffd_track_open). */
#define UFFD_TRACK_FEATURES (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)
#define UFFD_TRACK_VEC	    512	       /* output regions per PAGEMAP_SCAN */
#define UFFD_TRACK_CHUNK    (1u << 18) /* pages per PAGEMAP_SCAN: 1 GiB */

struct uffd_track {
	int uffd;      /* -1 when closed */
	int pagemap;   /* /proc/self/pagemap, -1 when closed */
	uint8_t *base; /* page-aligned start of the tracked mapping */
	uint64_t nr_pages;
	uint64_t ioctls; /* UFFDIO_WRITEPROTECT and PAGEMAP_SCAN calls made */
	struct page_region vec[UFFD_TRACK_VEC];
};

/*
 * Whether this kernel and process can track writes: a userfaultfd with
 * UFFD_TRACK_FEATURES, and PAGEMAP_SCAN.  Returns 0, or -EOPNOTSUPP (the
 * kernel lacks a feature) or -EPERM (userfaultfd refused), with a one-line
 * reason in why.  Creates and closes a scratch userfaultfd and mapping.
 */
int uffd_track_probe(char *why, size_t len);

/*
 * Start tracking nr_pages 4 KiB pages at base (page-aligned, one private
 * anonymous mapping or part of one): open a userfaultfd in async
 * write-protect mode, register the range with UFFDIO_REGISTER_MODE_WP and
 * write-protect all of it, including pages never touched
 * (UFFD_FEATURE_WP_UNPOPULATED), so the first harvest reports only what was
 * written after this call.  Returns 0 or -errno after one line naming the
 * call that failed; t is then closed.
 */
int uffd_track_open(struct uffd_track *t, void *base, uint64_t nr_pages);

/*
 * Add to out (NULL: discard) the index, counted in pages from base, of every
 * page written since it was last protected, and write-protect those pages
 * again atomically (PAGEMAP_SCAN with PM_SCAN_WP_MATCHING), one chunk of
 * UFFD_TRACK_CHUNK pages per walk.  Returns the pages reported, or -errno
 * after one line naming the ioctl that failed.
 */
int64_t uffd_track_harvest(struct uffd_track *t, struct frameset *out);

/*
 * Read-only look at which pages are written (no re-protection): same
 * output as uffd_track_harvest, for probes and tests.
 */
int64_t uffd_track_peek(struct uffd_track *t, struct frameset *out);

/* Stop tracking: unregister the range and close the descriptors.  Safe on a
 * closed tracker. */
void uffd_track_close(struct uffd_track *t);

/*
 * Convert PAGEMAP_SCAN output regions, byte addresses in [base, base +
 * nr_pages * 4 KiB), into page indexes counted from base, adding each to out
 * (NULL: count only).  A pure function.  Returns the pages covered, or
 * -ERANGE if a region is unaligned, empty, reversed or outside the range
 * (nothing after it is added).
 */
int64_t uffd_regions_to_frames(const struct page_region *r, size_t n, uint64_t base,
			       uint64_t nr_pages, struct frameset *out);

#endif
