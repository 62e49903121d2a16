/*
 * The accuracy chart (virt_plot.h): per mode, two bars, the true rate and
 * QEMU's, each the mean of the repeats with a whisker from the smallest to
 * the largest and a dot per repeat; dirtyscope's exact rate as a dashed
 * line across.  Linear axis from 0 to a round number above everything
 * drawn, so a mode far off the truth shows how far.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/esc.h"
#include "util/io.h"
#include "virt/virt_plot.h"

/* Layout, in SVG units. */
#define P_LEFT	   70  /* room for the y labels */
#define P_TOP	   50  /* room for the title and the legend */
#define P_BOTTOM   60  /* room for the mode names */
#define P_RIGHT	   30
#define P_HEIGHT   300 /* the plot area */
#define P_GROUP	   170 /* one mode */
#define P_BAR	   44
#define P_TICKS	   5

static const char *const c_truth = "#4a90d9", *const c_measured = "#e8833a",
		  *const c_exact = "#2a9d4a";

static bool finite_nonneg(double v)
{
	return v == v && v >= 0 && v <= 1e15;
}

/* A round step (1, 2 or 5 times a power of ten) giving about P_TICKS ticks
 * up to at least `max`. */
static double nice_step(double max)
{
	double raw = max / P_TICKS, p = 1;
	while (p * 10 <= raw)
		p *= 10;
	while (p > raw && p > 1e-6)
		p /= 10;
	for (;;) {
		if (p >= raw)
			return p;
		if (2 * p >= raw)
			return 2 * p;
		if (5 * p >= raw)
			return 5 * p;
		p *= 10;
	}
}

static void mmm(const double *v, size_t n, double *mean, double *lo, double *hi)
{
	*mean = 0;
	*lo = *hi = v[0];
	for (size_t i = 0; i < n; i++) {
		*mean += v[i];
		*lo = v[i] < *lo ? v[i] : *lo;
		*hi = v[i] > *hi ? v[i] : *hi;
	}
	*mean /= (double)n;
}

/* One bar with its whisker and dots; x is its left edge. */
static void put_bar(FILE *f, double x, const double *v, size_t n, double top, double scale,
		    const char *colour)
{
	double mean, lo, hi, base = P_TOP + P_HEIGHT;
	mmm(v, n, &mean, &lo, &hi);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"/>\n", x,
		base - mean * scale, P_BAR, mean * scale, colour);
	double cx = x + P_BAR / 2.0;
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
		cx, base - lo * scale, cx, base - hi * scale);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"black\"/>\n", cx,
			base - v[i] * scale);
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%.1f</text>\n",
		cx, base - hi * scale - 6 < top ? top : base - hi * scale - 6, mean);
}

int virt_plot_svg(FILE *f, const struct virt_plot *p)
{
	double max = 0;

	if (!f || !p || !p->nr_modes || !p->modes)
		return -EINVAL;
	if (p->exact_mibs == p->exact_mibs && p->exact_mibs > max)
		max = p->exact_mibs;
	if (!(p->exact_mibs < 0) && !finite_nonneg(p->exact_mibs))
		return -EINVAL;
	for (size_t m = 0; m < p->nr_modes; m++) {
		const struct virt_plot_mode *pm = &p->modes[m];
		if (!pm->name || (pm->supported && pm->n && (!pm->measured || !pm->truth)))
			return -EINVAL;
		for (size_t i = 0; pm->supported && i < pm->n; i++) {
			if (!finite_nonneg(pm->measured[i]) || !finite_nonneg(pm->truth[i]))
				return -EINVAL;
			max = pm->measured[i] > max ? pm->measured[i] : max;
			max = pm->truth[i] > max ? pm->truth[i] : max;
		}
	}
	double step = nice_step(max > 0 ? max : 1), ymax = step;
	while (ymax < max)
		ymax += step;
	double scale = P_HEIGHT / ymax;
	int w = P_LEFT + (int)p->nr_modes * P_GROUP + P_RIGHT, h = P_TOP + P_HEIGHT + P_BOTTOM;
	double base = P_TOP + P_HEIGHT;

	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		"<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">",
		w, h, w, h);
	if (p->title)
		esc_put_xml(f, p->title, strlen(p->title));
	fputs("</text>\n", f);
	/* Legend. */
	fprintf(f,
		"<rect x=\"%d\" y=\"28\" width=\"12\" height=\"12\" fill=\"%s\"/>"
		"<text x=\"%d\" y=\"38\" font-size=\"11\">truth (replayed)</text>\n"
		"<rect x=\"%d\" y=\"28\" width=\"12\" height=\"12\" fill=\"%s\"/>"
		"<text x=\"%d\" y=\"38\" font-size=\"11\">QEMU measured</text>\n",
		P_LEFT, c_truth, P_LEFT + 16, P_LEFT + 120, c_measured, P_LEFT + 136);
	if (p->exact_mibs >= 0)
		fprintf(f,
			"<line x1=\"%d\" y1=\"34\" x2=\"%d\" y2=\"34\" stroke=\"%s\" "
			"stroke-width=\"2\" stroke-dasharray=\"6,4\"/>"
			"<text x=\"%d\" y=\"38\" font-size=\"11\">dirtyscope exact (bitmap)</text>\n",
			P_LEFT + 230, P_LEFT + 256, c_exact, P_LEFT + 262);
	/* Axes and ticks. */
	fprintf(f,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>\n"
		"<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>\n",
		P_LEFT, P_TOP, P_LEFT, base, P_LEFT, base, w - P_RIGHT, base);
	for (double y = 0; y <= ymax + step / 2; y += step) {
		double py = base - y * scale;
		fprintf(f,
			"<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
			"<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n",
			P_LEFT + 1, py, w - P_RIGHT, py, P_LEFT - 6, py + 4, y);
	}
	fprintf(f,
		"<text x=\"14\" y=\"%.1f\" font-size=\"11\" transform=\"rotate(-90 14 %.1f)\" "
		"text-anchor=\"middle\">MiB/s</text>\n",
		base - P_HEIGHT / 2.0, base - P_HEIGHT / 2.0);
	/* The modes. */
	for (size_t m = 0; m < p->nr_modes; m++) {
		const struct virt_plot_mode *pm = &p->modes[m];
		double gx = P_LEFT + (double)m * P_GROUP, cx = gx + P_GROUP / 2.0;
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">",
			cx, base + 20);
		esc_put_xml(f, pm->name, strlen(pm->name));
		fputs("</text>\n", f);
		if (!pm->supported || pm->n == 0) {
			fprintf(f,
				"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" "
				"fill=\"#888888\">%s</text>\n",
				cx, base - 20, pm->supported ? "no measurement" : "unsupported");
			if (pm->why) {
				fprintf(f,
					"<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" "
					"text-anchor=\"middle\" fill=\"#888888\">",
					cx, base + 36);
				size_t n = strlen(pm->why);
				esc_put_xml(f, pm->why, n > 28 ? 28 : n);
				fputs(strlen(pm->why) > 28 ? "...</text>\n" : "</text>\n", f);
			}
			continue;
		}
		put_bar(f, cx - P_BAR - 4, pm->truth, pm->n, P_TOP, scale, c_truth);
		put_bar(f, cx + 4, pm->measured, pm->n, P_TOP, scale, c_measured);
	}
	if (p->exact_mibs >= 0)
		fprintf(f,
			"<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n",
			P_LEFT, base - p->exact_mibs * scale, w - P_RIGHT, base - p->exact_mibs * scale,
			c_exact);
	fputs("</svg>\n", f);
	int ret = io_flush(f);
	if (ret)
		return -EIO;
	return ferror(f) ? -EIO : 0;
}
