/*
 * userfaultfd async write-protect + PAGEMAP_SCAN (see uffd_track.h).
 *
 * Unpopulated pages.  Guest RAM is a MAP_NORESERVE anonymous mapping, mostly
 * never touched, and uffd-wp on anonymous memory only protects populated
 * PTEs unless UFFD_FEATURE_WP_UNPOPULATED is on.  Here it always is: Linux
 * turns it on with WP_ASYNC (6.18 hands it back from UFFDIO_API even when not
 * asked for), and with it an empty PTE, or an empty page table, counts as
 * written until something protects it (measured: PAGEMAP_SCAN over a fresh,
 * unprotected 64 MiB mapping with one page stored reported all 16384 pages).
 * So we ask for it explicitly and write-protect the whole range at open.
 * That puts a uffd-wp marker in every empty PTE, and a read of a never-touched
 * page then maps the zero page still protected: only writes are reported.
 * Costs: page tables for all of the range (one 4 KiB table per 2 MiB, 1/512
 * of its size), every harvest walks them all, and /proc/self/pagemap shows a
 * marker as swapped (PM_SWAP | PM_UFFD_WP), so a reader of pagemap looking for
 * populated pages sees all of them (docs/platform-notes.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "logger/dlog/uffd_track.h"

#define PAGE 4096ull

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

/*
 * A new userfaultfd.  The system call refuses kernel-mode faults to
 * unprivileged callers when vm.unprivileged_userfaultfd is 0; /dev/userfaultfd
 * is the way in for users given access to it.
 */
static int uffd_new(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 || errno != EPERM)
		return fd < 0 ? -errno : fd;
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -EPERM;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd < 0 ? -EPERM : fd;
}

int64_t uffd_regions_to_frames(const struct page_region *r, size_t n, uint64_t base,
			       uint64_t nr_pages, struct frameset *out)
{
	int64_t total = 0;
	uint64_t limit = nr_pages * PAGE;
	for (size_t i = 0; i < n; i++) {
		if (r[i].start < base || r[i].end <= r[i].start || (r[i].start - base) % PAGE ||
		    (r[i].end - base) % PAGE || r[i].end - base > limit)
			return -ERANGE;
		for (uint64_t p = (r[i].start - base) / PAGE; p < (r[i].end - base) / PAGE; p++) {
			if (out && frameset_add(out, p) < 0)
				return -ERANGE;
			total++;
		}
	}
	return total;
}

/* One PAGEMAP_SCAN pass over [base, base + nr_pages pages), walk by walk. */
static int64_t scan(struct uffd_track *t, uint64_t flags, struct frameset *out)
{
	uint64_t base = (uint64_t)(uintptr_t)t->base;
	uint64_t end = base + t->nr_pages * PAGE;
	int64_t total = 0;

	for (uint64_t chunk = base; chunk < end; chunk += (uint64_t)UFFD_TRACK_CHUNK * PAGE) {
		uint64_t chunk_end = end - chunk < (uint64_t)UFFD_TRACK_CHUNK * PAGE
					 ? end
					 : chunk + (uint64_t)UFFD_TRACK_CHUNK * PAGE;
		/* A walk stops early when vec fills; resume where it ended. */
		for (uint64_t start = chunk; start < chunk_end;) {
			struct pm_scan_arg a = {
			    .size = sizeof(a),
			    .flags = flags,
			    .start = start,
			    .end = chunk_end,
			    .vec = (uint64_t)(uintptr_t)t->vec,
			    .vec_len = UFFD_TRACK_VEC,
			    .category_mask = PAGE_IS_WRITTEN,
			    .return_mask = PAGE_IS_WRITTEN,
			};
			t->ioctls++;
			int n = ioctl(t->pagemap, PAGEMAP_SCAN, &a);
			if (n < 0) {
				int ret = -errno;
				log_err("PAGEMAP_SCAN of guest RAM pages %llu..%llu: %s",
					(unsigned long long)((start - base) / PAGE),
					(unsigned long long)((chunk_end - base) / PAGE),
					strerror(-ret));
				return ret;
			}
			int64_t got =
			    uffd_regions_to_frames(t->vec, (size_t)n, base, t->nr_pages, out);
			if (got < 0 || a.walk_end <= start || a.walk_end > chunk_end) {
				log_err("PAGEMAP_SCAN returned regions outside pages %llu..%llu",
					(unsigned long long)((start - base) / PAGE),
					(unsigned long long)((chunk_end - base) / PAGE));
				return -EIO;
			}
			total += got;
			start = a.walk_end;
		}
	}
	return total;
}

int64_t uffd_track_harvest(struct uffd_track *t, struct frameset *out)
{
	return scan(t, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, out);
}

int64_t uffd_track_peek(struct uffd_track *t, struct frameset *out)
{
	return scan(t, PM_SCAN_CHECK_WPASYNC, out);
}

int uffd_track_open(struct uffd_track *t, void *base, uint64_t nr_pages)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->uffd = t->pagemap = -1;
	t->base = base;
	t->nr_pages = nr_pages;

	ret = uffd_new();
	if (ret < 0) {
		log_err("userfaultfd: %s", strerror(-ret));
		return ret;
	}
	t->uffd = ret;

	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_TRACK_FEATURES};
	if (ioctl(t->uffd, UFFDIO_API, &api) < 0) {
		ret = -errno;
		log_err("UFFDIO_API with WP_ASYNC|WP_UNPOPULATED: %s", strerror(-ret));
		goto out_close;
	}
	struct uffdio_register reg = {
	    .range = {.start = (uint64_t)(uintptr_t)base, .len = nr_pages * PAGE},
	    .mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (ioctl(t->uffd, UFFDIO_REGISTER, &reg) < 0) {
		ret = -errno;
		log_err("UFFDIO_REGISTER (write-protect) of %llu pages: %s",
			(unsigned long long)nr_pages, strerror(-ret));
		goto out_close;
	}
	struct uffdio_writeprotect wp = {
	    .range = reg.range,
	    .mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	t->ioctls++;
	if (ioctl(t->uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
		ret = -errno;
		log_err("UFFDIO_WRITEPROTECT of %llu pages: %s", (unsigned long long)nr_pages,
			strerror(-ret));
		goto out_close;
	}
	t->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (t->pagemap < 0) {
		ret = -errno;
		log_err("/proc/self/pagemap: %s", strerror(-ret));
		goto out_close;
	}
	return 0;

out_close:
	uffd_track_close(t);
	return ret;
}

void uffd_track_close(struct uffd_track *t)
{
	/* Closing the userfaultfd unregisters the range; uffd-wp bits left in
	 * the page tables are ignored by a VMA that is no longer registered. */
	if (t->uffd >= 0)
		close(t->uffd);
	if (t->pagemap >= 0)
		close(t->pagemap);
	t->uffd = t->pagemap = -1;
}

int uffd_track_probe(char *why, size_t len)
{
	int fd = uffd_new();
	if (fd < 0) {
		if (fd == -EPERM)
			snprintf(why, len,
				 "userfaultfd refused (EPERM): needs CAP_SYS_PTRACE, "
				 "vm.unprivileged_userfaultfd=1 or access to /dev/userfaultfd");
		else
			snprintf(why, len, "userfaultfd: %s", strerror(-fd));
		return fd == -EPERM ? -EPERM : -EOPNOTSUPP;
	}
	/* features = 0 asks what the kernel has without requesting anything. */
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	int ok = ioctl(fd, UFFDIO_API, &api) == 0;
	int err = errno;
	close(fd);
	if (!ok) {
		snprintf(why, len, "UFFDIO_API: %s", strerror(err));
		return -EOPNOTSUPP;
	}
	if (!(api.features & UFFD_FEATURE_WP_ASYNC) ||
	    !(api.features & UFFD_FEATURE_WP_UNPOPULATED) ||
	    !(api.ioctls & (1ull << _UFFDIO_REGISTER))) {
		snprintf(why, len, "kernel lacks userfaultfd %s (needs Linux 6.7)",
			 !(api.features & UFFD_FEATURE_WP_ASYNC) ? "UFFD_FEATURE_WP_ASYNC"
								 : "UFFD_FEATURE_WP_UNPOPULATED");
		return -EOPNOTSUPP;
	}

	/* End to end on a scratch mapping: exactly the page written is reported. */
	uint8_t *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(why, len, "mmap of a scratch mapping: %s", strerror(errno));
		return -ENOMEM;
	}
	struct uffd_track *t = malloc(sizeof(*t));
	if (!t) {
		munmap(p, 4 * PAGE);
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	int ret = uffd_track_open(t, p, 4);
	if (ret) {
		snprintf(why, len, "userfaultfd write-protect registration failed: %s",
			 strerror(-ret));
		ret = -EOPNOTSUPP;
		goto out_unmap;
	}
	(void)*(volatile uint8_t *)(p + 1 * PAGE); /* a read is not a write */
	p[2 * PAGE] = 1;
	struct page_region r[4];
	struct pm_scan_arg a = {
	    .size = sizeof(a),
	    .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
	    .start = (uint64_t)(uintptr_t)p,
	    .end = (uint64_t)(uintptr_t)(p + 4 * PAGE),
	    .vec = (uint64_t)(uintptr_t)r,
	    .vec_len = 4,
	    .category_mask = PAGE_IS_WRITTEN,
	    .return_mask = PAGE_IS_WRITTEN,
	};
	int n = ioctl(t->pagemap, PAGEMAP_SCAN, &a);
	if (n < 0) {
		snprintf(why, len, "kernel lacks the PAGEMAP_SCAN ioctl (needs Linux 6.7): %s",
			 strerror(errno));
		ret = -EOPNOTSUPP;
	} else if (n != 1 || r[0].start != a.start + 2 * PAGE || r[0].end != r[0].start + PAGE) {
		snprintf(why, len, "PAGEMAP_SCAN did not report exactly the one page written");
		ret = -EOPNOTSUPP;
	}
	uffd_track_close(t);
out_unmap:
	free(t);
	munmap(p, 4 * PAGE);
	return ret;
}
