/*
 * The compare picture (logger/compare/plot_svg.h) as plain SVG 1.1 text.
 *
 * Why no plotting library: the picture is a grid of coloured rectangles and
 * a few labels, a page of fprintf.  Plain SVG needs no dependency, is text
 * (it diffs, and a test can grep it) and every browser shows it.  Debian's
 * plotting libraries (cairo, gnuplot) would add a heavy dependency for a
 * grid of rectangles.
 *
 * Layout, top to bottom: the title; each file's name above its block of
 * columns; the grid (epochs down, file pages across, a thin line between
 * files) with the "epoch" axis on its left and the "file page" axis below;
 * the legend with each class's cell count.  Clean cells are one grey
 * background rect, and each row's runs of one colour are merged into one
 * <rect>, so the file stays small.  A grid wider than MAX_DCOLS columns is
 * binned, each file separately so that no drawn column straddles two files.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "logger/compare/plot_svg.h"
#include "util/esc.h"
#include "util/io.h"

typedef unsigned long long u64; /* as in the kernel: printed with %llu */

#define MAX_W	  800 /* the grid's width at most, px (give or take a file) */
#define MAX_H	  400
#define MAX_DCOLS (MAX_W / 2) /* drawn columns are at least 2 px wide */
#define ML	  64	      /* left margin: the epoch axis */
#define MT	  52	      /* top margin: the title and the file names */
#define MR	  16
#define MB	  64 /* below the grid: the page axis and the legend */
#define CHAR_W	  7  /* a generous width of one character at 11 px */

static const char *const names[PLOT_CELL_NR] = {"clean", "both", "guest-only", "host-only",
						"missed"};
static const char *const colours[PLOT_CELL_NR] = {"#EEEEEE", "#009E73", "#0072B2", "#E69F00",
						  "#D55E00"};
/* How serious a cell is: missed > guest-only > host-only > both > clean. */
static const uint8_t rank[PLOT_CELL_NR] = {0, 1, 3, 2, 4};

const char *plot_cell_name(enum plot_cell c)
{
	return (unsigned)c < PLOT_CELL_NR ? names[c] : "unknown";
}

struct layout {
	u64 ppc;      /* pages per drawn column */
	u64 dcols;    /* drawn columns */
	u64 cw, ch;   /* a cell's width and height, px */
	u64 gw, gh;   /* the grid's */
	u64 legend_w; /* the legend's */
};

static u64 clamp(u64 v, u64 lo, u64 hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static u64 div_up(u64 a, u64 b)
{
	return a / b + (a % b != 0);
}

static unsigned digits(u64 v)
{
	return snprintf(NULL, 0, "%llu", v);
}

/* Check the grid and count its cells by class; 0 or -EINVAL. */
static int check_grid(const struct plot_grid *g, u64 count[PLOT_CELL_NR])
{
	u64 sum = 0;

	if (!g || !g->rows || !g->cols || !g->nr_files || !g->files || !g->cells)
		return -EINVAL;
	for (uint32_t i = 0; i < g->nr_files; i++)
		sum += g->files[i].npages;
	if (sum != g->cols || g->rows > UINT64_MAX / g->cols)
		return -EINVAL;
	memset(count, 0, PLOT_CELL_NR * sizeof(*count));
	for (u64 i = 0; i < g->rows * g->cols; i++) {
		if (g->cells[i] >= PLOT_CELL_NR)
			return -EINVAL;
		count[g->cells[i]]++;
	}
	return 0;
}

/* A legend entry's width: a swatch, "name (count)" and a gap. */
static u64 entry_w(int c, u64 n)
{
	return 32 + (strlen(names[c]) + 3 + digits(n)) * CHAR_W;
}

static void lay_out(const struct plot_grid *g, const u64 count[PLOT_CELL_NR], struct layout *l)
{
	l->ppc = g->cols > MAX_DCOLS ? div_up(g->cols, MAX_DCOLS) : 1;
	l->dcols = 0;
	for (uint32_t i = 0; i < g->nr_files; i++)
		l->dcols += div_up(g->files[i].npages, l->ppc);
	l->cw = clamp(MAX_W / l->dcols, 2, 16);
	l->ch = clamp(MAX_H / g->rows, 4, 16);
	l->gw = l->dcols * l->cw;
	l->gh = g->rows * l->ch;
	l->legend_w = l->ppc > 1 ? (17 + digits(l->ppc)) * CHAR_W : 0; /* 1 column = N pages */
	for (int c = 0; c < PLOT_CELL_NR; c++)
		l->legend_w += entry_w(c, count[c]);
}

/* The most serious cell of row r among pages [p, p + n). */
static uint8_t bin_cell(const struct plot_grid *g, u64 r, u64 p, u64 n)
{
	const uint8_t *c = g->cells + r * g->cols + p;
	uint8_t best = PLOT_CLEAN;

	for (u64 i = 0; i < n; i++)
		if (rank[c[i]] > rank[best])
			best = c[i];
	return best;
}

static void put_rect(FILE *f, u64 x, u64 y, u64 w, u64 h, uint8_t c)
{
	fprintf(f, "<rect x=\"%llu\" y=\"%llu\" width=\"%llu\" height=\"%llu\" fill=\"%s\"/>\n", x,
		y, w, h, colours[c]);
}

static void put_line(FILE *f, u64 x1, u64 y1, u64 x2, u64 y2, const char *colour)
{
	fprintf(f, "<line x1=\"%llu\" y1=\"%llu\" x2=\"%llu\" y2=\"%llu\" stroke=\"%s\"/>\n", x1,
		y1, x2, y2, colour);
}

/* The cells: the clean background, then each row's runs of one colour. */
static void put_cells(FILE *f, const struct plot_grid *g, const struct layout *l)
{
	fputs("<g id=\"cells\" shape-rendering=\"crispEdges\">\n", f);
	put_rect(f, ML, MT, l->gw, l->gh, PLOT_CLEAN);
	for (u64 r = 0; r < g->rows; r++) {
		u64 y = MT + r * l->ch, x = ML, run_x = ML, p = 0;
		uint8_t run = PLOT_CLEAN;

		for (uint32_t i = 0; i < g->nr_files; p += g->files[i++].npages) {
			u64 end = p + g->files[i].npages;

			for (u64 q = p; q < end; q += l->ppc, x += l->cw) {
				uint8_t c = bin_cell(g, r, q, end - q < l->ppc ? end - q : l->ppc);

				if (c == run)
					continue;
				if (run != PLOT_CLEAN)
					put_rect(f, run_x, y, x - run_x, l->ch, run);
				run = c;
				run_x = x;
			}
		}
		if (run != PLOT_CLEAN)
			put_rect(f, run_x, y, x - run_x, l->ch, run);
	}
	fputs("</g>\n", f);
}

/* File names, separators (black) and page ticks (grey), file by file. */
static void put_files(FILE *f, const struct plot_grid *g, const struct layout *l)
{
	u64 x0 = ML, last = 0; /* the right end of the last page label */

	for (uint32_t i = 0; i < g->nr_files; i++) {
		const char *name = g->files[i].name ? g->files[i].name : "";
		u64 np = g->files[i].npages, fw = div_up(np, l->ppc) * l->cw;
		u64 lw = digits(np ? np - 1 : 0) * 6 + 24, step = 1;
		size_t len = strlen(name), room = fw > 4 ? (fw - 4) / CHAR_W : 0;

		if (i)
			put_line(f, x0, MT - 16, x0, MT + l->gh, "#000");
		if (len <= room || room >= 3) { /* the name, or its start and ".." */
			fprintf(f, "<text x=\"%llu\" y=\"%d\" font-size=\"11\">", x0 + 2, MT - 6);
			esc_put_xml(f, name, len <= room ? len : room - 2);
			fputs(len <= room ? "</text>\n" : "..</text>\n", f);
		}
		/* Labels on a 1-2-5 step of pages, at least lw px apart. */
		for (int m = 0; step * l->cw < lw * l->ppc && step < np; m++)
			step = m % 3 == 1 ? step / 2 * 5 : step * 2;
		for (u64 q = 0; q < np; q += step) {
			u64 x = x0 + q / l->ppc * l->cw + l->cw / 2, w = digits(q) * 6;

			if (x < last + w / 2 + 6) /* would overlap the last file's */
				continue;
			put_line(f, x, MT + l->gh, x, MT + l->gh + 3, "#666");
			fprintf(f,
				"<text x=\"%llu\" y=\"%llu\" font-size=\"9\" "
				"text-anchor=\"middle\">%llu</text>\n",
				x, MT + l->gh + 14, q);
			last = x + w / 2;
		}
		x0 += fw;
	}
}

static void put_axes(FILE *f, const struct plot_grid *g, const struct layout *l)
{
	/* Every epoch while rows are 10 px or more (40 rows or fewer), else every k-th. */
	u64 k = div_up(10, l->ch);

	for (u64 r = 0; r < g->rows; r += k)
		fprintf(
		    f,
		    "<text x=\"%d\" y=\"%llu\" font-size=\"9\" text-anchor=\"end\">%llu</text>\n",
		    ML - 4, MT + r * l->ch + l->ch / 2 + 3, r + 1);
	fprintf(f,
		"<text transform=\"translate(20 %llu) rotate(-90)\" font-size=\"11\" "
		"text-anchor=\"middle\">epoch</text>\n"
		"<text x=\"%llu\" y=\"%llu\" font-size=\"11\" text-anchor=\"middle\">file "
		"page</text>\n",
		MT + l->gh / 2, ML + l->gw / 2, MT + l->gh + 30);
}

static void put_legend(FILE *f, const u64 count[PLOT_CELL_NR], const struct layout *l)
{
	u64 x = ML, y = MT + l->gh + 52;

	for (int c = 0; c < PLOT_CELL_NR; x += entry_w(c, count[c]), c++)
		fprintf(f,
			"<rect x=\"%llu\" y=\"%llu\" width=\"12\" height=\"12\" fill=\"%s\" "
			"stroke=\"#999\"/>\n"
			"<text x=\"%llu\" y=\"%llu\" font-size=\"11\">%s (%llu)</text>\n",
			x, y - 10, colours[c], x + 16, y, names[c], count[c]);
	if (l->ppc > 1)
		fprintf(
		    f,
		    "<text x=\"%llu\" y=\"%llu\" font-size=\"11\">1 column = %llu pages</text>\n",
		    x, y, l->ppc);
}

int plot_svg_write(FILE *f, const struct plot_grid *g)
{
	u64 count[PLOT_CELL_NR], w, h;
	struct layout l;

	if (!f || check_grid(g, count))
		return -EINVAL;
	lay_out(g, count, &l);
	w = ML + (l.gw > l.legend_w ? l.gw : l.legend_w) + MR;
	h = MT + l.gh + MB;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%llu\" "
		"height=\"%llu\" viewBox=\"0 0 %llu %llu\" font-family=\"sans-serif\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		"<text x=\"8\" y=\"20\" font-size=\"14\" font-weight=\"bold\">",
		w, h, w, h);
	esc_put_xml(f, g->title ? g->title : "", g->title ? strlen(g->title) : 0);
	fputs("</text>\n", f);
	put_cells(f, g, &l);
	put_files(f, g, &l);
	put_axes(f, g, &l);
	put_legend(f, count, &l);
	fputs("</svg>\n", f);
	/* Flushed here so that a failed write says why (io_flush). */
	int ret = io_flush(f);
	if (ret)
		return ret;
	return ferror(f) ? -(io_stream_errno(f) ?: EIO) : 0;
}
