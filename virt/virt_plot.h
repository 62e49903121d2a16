/*
 * The accuracy chart (`dirtyscope libvirt accuracy --plot FILE`): for each of
 * QEMU's dirty-rate modes, the rate QEMU measured against the true rate of
 * the same windows, with the spread over the repeats; and dirtyscope's own
 * exact rate for the same workload as a reference line.
 */
#ifndef VIRT_VIRT_PLOT_H
#define VIRT_VIRT_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One mode's measurements, in MiB/s; arrays of `n` repeats. */
struct virt_plot_mode {
	const char *name;	 /* "page-sampling", ... */
	bool supported;		 /* false: drawn as "unsupported", no bars */
	const char *why;	 /* with !supported: a short reason, or NULL */
	size_t n;		 /* repeats measured (0 when unsupported) */
	const double *measured;	 /* QEMU's answer per repeat */
	const double *truth;	 /* the replayed truth of the same window */
};

struct virt_plot {
	const char *title;	 /* e.g. "seq, 4096 pages, 1 s windows" */
	size_t nr_modes;
	const struct virt_plot_mode *modes;
	double exact_mibs;	 /* dirtyscope's own bitmap log; < 0: none */
};

/*
 * Write the chart as a standalone SVG document.  The y axis starts at 0 and
 * covers every value drawn (a value far above the rest, such as a ring that
 * counts every store, still fits, and the axis says so in its labels).
 * Names are escaped for XML.  Returns 0, -EINVAL for a plot with no modes or
 * a negative or non-finite value, or -EIO when writing to `f` failed.
 */
int virt_plot_svg(FILE *f, const struct virt_plot *p);

#endif
