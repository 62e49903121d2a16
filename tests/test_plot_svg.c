/*
 * The compare picture's SVG writer (logger/compare/plot_svg.h), on grids built by
 * hand and written to memory:
 *
 *   - a small two-file grid: a standalone, well-formed document (an in-test
 *     tag-balance checker, and xmllint too when installed) with the escaped
 *     title, the file names, the legend's counts, and each row's runs of one
 *     colour merged into one rect of the run's width;
 *   - every inconsistent grid is refused with -EINVAL before a byte is
 *     written, and a failed write is -EIO;
 *   - a 5000-page grid is binned: one column per 13 pages, each showing its
 *     most serious page, no bin straddling two files, and a small file;
 *   - plot_cell_name, in range and out.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/ds_test.h"
#include "logger/compare/plot_svg.h"

#define MISSED_FILL "fill=\"#D55E00\""
#define GUEST_FILL  "fill=\"#0072B2\""
#define HOST_FILL   "fill=\"#E69F00\""
#define BOTH_FILL   "fill=\"#009E73\""

enum { C = PLOT_CLEAN, B = PLOT_BOTH, G = PLOT_GUEST, H = PLOT_HOST, M = PLOT_MISSED };

static const struct plot_file small_files[] = {{"db", 5}, {"log", 3}};

/* 3 epochs x (db 5 | log 3): missed 5, both 3, guest 2, host 3, clean 11. */
static const uint8_t small_cells[] = {
    C, M, M, M, C, /**/ B, G, H, /* one missed run of 3 */
    B, B, C, H, H, /**/ M, C, C, /* runs of 2 */
    G, C, C, C, C, /**/ C, C, M,
};

static const struct plot_grid small = {
    .title = "db & log <1>",
    .files = small_files,
    .nr_files = 2,
    .cols = 8,
    .rows = 3,
    .cells = small_cells,
};

/* Write g to memory: the return value, the text in *out (to free) and its length. */
static int render(const struct plot_grid *g, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);
	int ret;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	ret = plot_svg_write(f, g);
	CU_ASSERT_EQUAL(fclose(f), 0);
	return ret;
}

static unsigned count_str(const char *s, const char *needle)
{
	unsigned n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* How many cell rects (inside <g id="cells">) have this fill. */
static unsigned count_cells(const char *svg, const char *fill)
{
	const char *start = strstr(svg, "<g id=\"cells\"");
	const char *end = start ? strstr(start, "</g>") : NULL;
	char *cells;
	unsigned n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(end);
	cells = strndup(start, end - start);
	n = count_str(cells, fill);
	free(cells);
	return n;
}

/*
 * A minimal well-formedness check: every start tag is closed in order or is
 * self-closing, "<?" and "<!--" are skipped, '&' starts an entity, and no
 * '<' hides inside a tag.
 */
static bool tags_balanced(const char *s)
{
	char stack[32][32];
	int depth = 0, roots = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '&') {
			size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz#0123456789");

			if (!n || p[1 + n] != ';')
				return false;
			continue;
		}
		if (*p != '<')
			continue;
		const char *end = strchr(p, '>');

		if (!end || memchr(p + 1, '<', end - p - 1))
			return false;
		if (!strncmp(p, "<?", 2) || !strncmp(p, "<!--", 4)) {
			p = end;
			continue;
		}
		bool closing = p[1] == '/', empty = end[-1] == '/';
		const char *name = p + 1 + closing;
		size_t n = strcspn(name, " \t\n/>");

		if (!n || n >= sizeof(stack[0]))
			return false;
		if (closing) {
			if (!depth || strlen(stack[depth - 1]) != n ||
			    strncmp(stack[depth - 1], name, n))
				return false;
			depth--;
		} else if (!empty) {
			if (depth == 0)
				roots++;
			if (depth == 32)
				return false;
			memcpy(stack[depth], name, n);
			stack[depth++][n] = '\0';
		} else if (depth == 0) {
			roots++;
		}
		p = end;
	}
	return depth == 0 && roots == 1;
}

/* The in-test checker always; xmllint as well when it is installed. */
static void assert_well_formed(const char *svg, size_t len)
{
	char path[] = "/tmp/test_plot_svg.XXXXXX", cmd[128];
	int fd;

	CU_ASSERT_TRUE(tags_balanced(svg));
	if (access("/usr/bin/xmllint", X_OK))
		return;
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, svg, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/xmllint --noout %s", path);
	CU_ASSERT_EQUAL(system(cmd), 0);
	unlink(path);
}

static void test_checker_teeth(void)
{
	/* A checker that accepts everything would make the tests below blind. */
	CU_ASSERT_TRUE(tags_balanced("<?xml?>\n<svg><g><rect/></g><text>a &amp; b</text></svg>\n"));
	CU_ASSERT_FALSE(tags_balanced("<svg><g></svg>"));
	CU_ASSERT_FALSE(tags_balanced("<svg><text>a < b</text></svg>"));
	CU_ASSERT_FALSE(tags_balanced("<svg><text>a & b</text></svg>"));
	CU_ASSERT_FALSE(tags_balanced("<svg/><svg/>"));
}

static void test_small_document(void)
{
	char *svg = NULL;
	size_t len = 0;

	CU_ASSERT_EQUAL_FATAL(render(&small, &svg, &len), 0);
	CU_ASSERT_EQUAL(strlen(svg), len);
	CU_ASSERT_EQUAL(strncmp(svg, "<?xml", 5), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "viewBox=\"0 0 "));
	CU_ASSERT_FATAL(len > 7);
	CU_ASSERT_STRING_EQUAL(svg + len - 7, "</svg>\n");
	assert_well_formed(svg, len);
	/* The title, escaped; its raw '<' must not reach the document. */
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">db &amp; log &lt;1&gt;</text>"));
	CU_ASSERT_PTR_NULL(strstr(svg, "<1>"));
	/* The file names, the axes and the legend's counts. */
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">db</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">log</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">epoch</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">file page</text>"));
	for (int e = 1; e <= 3; e++) {
		char label[16];

		snprintf(label, sizeof(label), ">%d</text>", e);
		CU_ASSERT_PTR_NOT_NULL(strstr(svg, label));
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">missed (5)</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">both (3)</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">guest-only (2)</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">host-only (3)</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">clean (11)</text>"));
	CU_ASSERT_PTR_NULL(strstr(svg, "pages</text>")); /* not binned */
	/* One separator (black; the page ticks are grey) between the two files. */
	CU_ASSERT_EQUAL(count_str(svg, "stroke=\"#000\""), 1);
	/* Page ticks for each file, from page 0. */
	CU_ASSERT_EQUAL(count_str(svg, "text-anchor=\"middle\">0</text>"), 2);
	free(svg);
}

static void test_runs_merged(void)
{
	char *svg = NULL;
	size_t len = 0;

	CU_ASSERT_EQUAL_FATAL(render(&small, &svg, &len), 0);
	/* 8 columns: 16 px cells.  5 missed cells, in 3 runs: 3 rects. */
	CU_ASSERT_EQUAL(count_cells(svg, MISSED_FILL), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "width=\"48\" height=\"16\" " MISSED_FILL));
	CU_ASSERT_EQUAL(count_str(svg, "width=\"48\""), 1);
	/* Row 2's both run and host run, 2 cells each. */
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "width=\"32\" height=\"16\" " BOTH_FILL));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "width=\"32\" height=\"16\" " HOST_FILL));
	/* The background and 9 runs; no rect for a clean cell. */
	CU_ASSERT_EQUAL(count_cells(svg, "<rect"), 10);
	CU_ASSERT_EQUAL(count_cells(svg, "fill=\"#EEEEEE\""), 1);
	free(svg);
}

/* Expect -EINVAL and not a byte written. */
static void expect_einval(const struct plot_grid *g)
{
	char *svg = NULL;
	size_t len = 0;

	CU_ASSERT_EQUAL(render(g, &svg, &len), -EINVAL);
	CU_ASSERT_EQUAL(len, 0);
	free(svg);
}

static void test_invalid(void)
{
	static const struct plot_file empty_file[] = {{"empty", 0}};
	uint8_t bad_cells[sizeof(small_cells)];
	struct plot_grid g;

	expect_einval(NULL);
	g = small, g.rows = 0;
	expect_einval(&g);
	g = small, g.cols = 0, g.files = empty_file, g.nr_files = 1;
	expect_einval(&g); /* cols 0, even though it is the sum of npages */
	g = small, g.cols = 7;
	expect_einval(&g);
	g = small, g.cols = 9;
	expect_einval(&g);
	g = small, g.nr_files = 0;
	expect_einval(&g);
	g = small, g.nr_files = 1;
	expect_einval(&g); /* 5 pages, not 8 */
	g = small, g.cells = NULL;
	expect_einval(&g);
	memcpy(bad_cells, small_cells, sizeof(bad_cells));
	bad_cells[sizeof(bad_cells) - 1] = PLOT_CELL_NR; /* the last cell */
	g = small, g.cells = bad_cells;
	expect_einval(&g);
	bad_cells[sizeof(bad_cells) - 1] = 0xff;
	expect_einval(&g);
	CU_ASSERT_EQUAL(plot_svg_write(NULL, &small), -EINVAL);
}

static void test_write_error(void)
{
	FILE *f = fopen("/dev/null", "r"); /* writes fail */

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(plot_svg_write(f, &small), -EIO);
	fclose(f);
}

static void test_wide_binned(void)
{
	enum { NP = 5000 };
	static const struct plot_file big[] = {{"big", NP}};
	static uint8_t cells[2 * NP];
	struct plot_grid g = {"wide", big, 1, NP, 2, cells};
	char *svg = NULL;
	size_t len = 0;

	/* ceil(5000 / 400) = 13 pages a column; page 4321 is in 4316..4328. */
	cells[NP + 4320] = B;
	cells[NP + 4321] = M;
	cells[NP + 4322] = H;
	/* Row 1: guest-only beats host-only within one bin (91..103). */
	cells[100] = H;
	cells[101] = G;
	CU_ASSERT_EQUAL_FATAL(render(&g, &svg, &len), 0);
	assert_well_formed(svg, len);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "1 column = 13 pages"));
	CU_ASSERT_EQUAL(count_cells(svg, MISSED_FILL), 1);
	CU_ASSERT_EQUAL(count_cells(svg, GUEST_FILL), 1);
	CU_ASSERT_EQUAL(count_cells(svg, HOST_FILL), 0);
	CU_ASSERT_EQUAL(count_cells(svg, BOTH_FILL), 0);
	/* 385 columns of 2 px; the missed one is column 4321 / 13 = 332. */
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "width=\"2\" height=\"16\" " MISSED_FILL));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "width=\"770\" height=\"32\" fill=\"#EEEEEE\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">missed (1)</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">clean (9995)</text>"));
	CU_ASSERT(len < 200 * 1024);
	free(svg);
}

static void test_bins_per_file(void)
{
	/*
	 * 451 + 449 pages, 3 a column.  Binned over the concatenation, pages
	 * 450 (a's last) and 451 (b's first) would share a column and the
	 * guest-only page would vanish under the missed one.
	 */
	static const struct plot_file files[] = {{"a", 451}, {"b", 449}};
	static uint8_t cells[900];
	struct plot_grid g = {"per file", files, 2, 900, 1, cells};
	char *svg = NULL;
	size_t len = 0;

	cells[450] = M;
	cells[451] = G;
	CU_ASSERT_EQUAL_FATAL(render(&g, &svg, &len), 0);
	assert_well_formed(svg, len);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "1 column = 3 pages"));
	CU_ASSERT_EQUAL(count_cells(svg, MISSED_FILL), 1);
	CU_ASSERT_EQUAL(count_cells(svg, GUEST_FILL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">a</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">b</text>"));
	free(svg);
}

static void test_many_epochs(void)
{
	/* 100 rows of 4 px: not every epoch can be labelled. */
	static const struct plot_file files[] = {{"f", 4}};
	static uint8_t cells[100 * 4];
	struct plot_grid g = {"tall", files, 1, 4, 100, cells};
	char *svg = NULL;
	size_t len = 0;

	CU_ASSERT_EQUAL_FATAL(render(&g, &svg, &len), 0);
	assert_well_formed(svg, len);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "text-anchor=\"end\">1</text>"));
	CU_ASSERT(count_str(svg, "text-anchor=\"end\">") <= 40);
	CU_ASSERT(count_str(svg, "text-anchor=\"end\">") >= 10);
	free(svg);
}

static void test_cell_names(void)
{
	CU_ASSERT_STRING_EQUAL(plot_cell_name(PLOT_CLEAN), "clean");
	CU_ASSERT_STRING_EQUAL(plot_cell_name(PLOT_BOTH), "both");
	CU_ASSERT_STRING_EQUAL(plot_cell_name(PLOT_GUEST), "guest-only");
	CU_ASSERT_STRING_EQUAL(plot_cell_name(PLOT_HOST), "host-only");
	CU_ASSERT_STRING_EQUAL(plot_cell_name(PLOT_MISSED), "missed");
	CU_ASSERT_STRING_EQUAL(plot_cell_name(PLOT_CELL_NR), "unknown");
	CU_ASSERT_STRING_EQUAL(plot_cell_name((enum plot_cell) - 1), "unknown");
}

static const struct ds_case cases[] = {
    {"tag-balance checker rejects broken XML", test_checker_teeth},
    {"small grid: document, title, names, counts", test_small_document},
    {"runs of one colour merged", test_runs_merged},
    {"inconsistent grids: -EINVAL, nothing written", test_invalid},
    {"write error: -EIO", test_write_error},
    {"5000 pages binned 13 a column", test_wide_binned},
    {"bins do not straddle files", test_bins_per_file},
    {"100 epochs: every k-th labelled", test_many_epochs},
    {"cell names", test_cell_names},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("plot_svg", cases);
}
