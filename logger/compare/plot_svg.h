/*
 * The compare picture: a heatmap of file pages (x) over epochs (y), each
 * cell coloured by who saw the page dirty in that epoch.  Written as plain
 * SVG text (see docs/compare.md for why no plotting library).
 */
#ifndef LOGGER_PLOT_SVG_H
#define LOGGER_PLOT_SVG_H

#include <stdint.h>
#include <stdio.h>

/* What one file page was in one epoch (a cell). */
enum plot_cell {
	PLOT_CLEAN,  /* nobody saw it dirty */
	PLOT_BOTH,   /* the guest's view and the host's KVM view */
	PLOT_GUEST,  /* the guest only (e.g. still dirty from an earlier epoch) */
	PLOT_HOST,   /* the host only (e.g. a store the guest has not noticed yet) */
	PLOT_MISSED, /* its bytes differ from the image and the guest will never write it */
	PLOT_CELL_NR
};

/* Kebab-case cell name ("clean", "both", "guest-only", "host-only", "missed"). */
const char *plot_cell_name(enum plot_cell c);

struct plot_file {
	const char *name; /* the file's name in the image */
	uint32_t npages;  /* its columns */
};

/*
 * The grid: rows are epochs 1..rows (top to bottom), columns are the files'
 * pages, the files side by side in `files` order.  cells[r * cols + c] is an
 * enum plot_cell; cols is the sum of the files' npages.
 */
struct plot_grid {
	const char *title; /* one line, e.g. "db, policy wp, log bitmap" */
	const struct plot_file *files;
	uint32_t nr_files;
	uint64_t cols, rows;
	const uint8_t *cells;
};

/*
 * Write the grid as a standalone SVG document to f.  Wide grids are binned:
 * one drawn column then stands for several pages and shows the most serious
 * cell among them (missed > guest-only > host-only > both > clean); the
 * legend says how many pages a column holds.  Returns 0, -EINVAL for an
 * inconsistent grid (cols not the sum of npages, a cell value out of range,
 * no rows), or the -errno of a failed write (-EIO when it is not known); f
 * is flushed.
 */
int plot_svg_write(FILE *f, const struct plot_grid *g);

#endif
