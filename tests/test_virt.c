/*
 * virt/'s pure parts, without libvirt:
 *
 *   - virt_line_parse on every line the standalone guest prints, on text
 *     for people, and on malformed objects (negative, too large, a double,
 *     a missing member, a wrong type, an unknown workload, a cut object,
 *     trailing bytes, pages above stores, a line too long);
 *   - the replayed truth: seq's arithmetic, hotcold's refusals, and, the
 *     replay's oracle, a live cross-check against the guest itself: for
 *     random and hotcold, dirtyscope's VMM runs the guest and the replay
 *     must give every epoch exactly the distinct pages the guest counted
 *     ("workload-pages" in the JSON); a replay with the wrong seed must not;
 *   - the domain XML: names refused, specials escaped, the ring only when
 *     asked, the CPU model never "host";
 *   - the accuracy chart: refusals, a value 14x the rest inside the plot,
 *     escaped names, a failed write.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi/boot.h"
#include "abi/wlpick.h"
#include "tests/lib/ds_test.h"
#include "virt/virt_console.h"
#include "virt/virt_domain.h"
#include "virt/virt_line.h"
#include "virt/virt_plot.h"
#include "virt/virt_truth.h"

static int parse(const char *s, struct virt_line *l)
{
	return virt_line_parse(s, strlen(s), l);
}

static void test_lines(void)
{
	struct virt_line l;

	CU_ASSERT_EQUAL(parse("{\"boot\":\"pvh\",\"workload\":\"hotcold\",\"wss\":256,\"epochs\":3,"
			      "\"writes\":256,\"seed\":1,\"ram-mib\":127,\"tsc\":99}",
			      &l),
			0);
	CU_ASSERT_EQUAL(l.kind, VIRT_LINE_BOOT);
	CU_ASSERT_STRING_EQUAL(l.workload, "hotcold");
	CU_ASSERT_EQUAL(l.wss, 256);
	CU_ASSERT_EQUAL(l.tsc, 99);
	/* A seed is a whole uint64 on the guest's side: 2^63 and 2^64 - 2 parse. */
	CU_ASSERT_EQUAL(parse("{\"boot\":\"pvh\",\"workload\":\"seq\",\"wss\":1,\"epochs\":0,"
			      "\"writes\":1,\"seed\":9223372036854775808,\"ram-mib\":1,\"tsc\":1}",
			      &l),
			0);
	CU_ASSERT_EQUAL(l.seed, 1ULL << 63);
	CU_ASSERT_EQUAL(parse("{\"boot\":\"pvh\",\"workload\":\"seq\",\"wss\":1,\"epochs\":0,"
			      "\"writes\":1,\"seed\":18446744073709551614,\"ram-mib\":1,\"tsc\":1}",
			      &l),
			0);
	CU_ASSERT_EQUAL(l.seed, UINT64_MAX - 1);
	CU_ASSERT_EQUAL(parse("{\"ready\":true,\"tsc\":5}", &l), 0);
	CU_ASSERT_EQUAL(l.kind, VIRT_LINE_READY);
	CU_ASSERT_EQUAL(parse("{\"epoch\":2,\"pages\":40,\"stores\":96,\"tsc\":7}\r", &l), 0);
	CU_ASSERT_EQUAL(l.kind, VIRT_LINE_EPOCH);
	CU_ASSERT(l.epoch == 2 && l.pages == 40 && l.stores == 96);
	CU_ASSERT_EQUAL(parse("{\"done\":true,\"status\":0,\"epochs\":3,\"check\":\"failed\","
			      "\"tsc\":8}",
			      &l),
			0);
	CU_ASSERT(l.kind == VIRT_LINE_DONE && l.check_failed);
	CU_ASSERT_EQUAL(parse("dirtyscope guest: 127 MiB RAM", &l), 0);
	CU_ASSERT_EQUAL(l.kind, VIRT_LINE_OTHER);
	CU_ASSERT_EQUAL(parse("", &l), 0);

	static const char *const bad[] = {
	    "{\"epoch\":-1,\"pages\":0,\"stores\":0,\"tsc\":1}",
	    "{\"epoch\":1,\"pages\":0,\"stores\":18446744073709551616,\"tsc\":1}",
	    /* 2^64 - 1 cannot be told from a clamped overflow */
	    "{\"epoch\":1,\"pages\":0,\"stores\":18446744073709551615,\"tsc\":1}",
	    "{\"epoch\":1,\"pages\":0,\"stores\":-9223372036854775809,\"tsc\":1}",
	    "{\"epoch\":1,\"pages\":0,\"stores\":2.5,\"tsc\":1}",
	    "{\"epoch\":1,\"pages\":0,\"tsc\":1}",
	    "{\"epoch\":\"1\",\"pages\":0,\"stores\":0,\"tsc\":1}",
	    "{\"epoch\":1,\"pages\":9,\"stores\":3,\"tsc\":1}",
	    "{\"boot\":\"pvh\",\"workload\":\"db\",\"wss\":1,\"epochs\":1,\"writes\":1,\"seed\":1,"
	    "\"ram-mib\":1,\"tsc\":1}",
	    "{\"epoch\":2,\"pages\":40",
	    "{\"ready\":true,\"tsc\":5} trailing",
	    "{\"ready\":false,\"tsc\":5}",
	    "{\"something\":1}",
	    "[1,2]",
	    "{\"done\":true,\"status\":0,\"epochs\":3,\"check\":\"maybe\",\"tsc\":8}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse(bad[i], &l);
		DS_CHECK(ret == -EPROTO || (bad[i][0] == '[' && ret == 0 && !l.kind), "%s: %d",
			 bad[i], ret);
		CU_ASSERT_EQUAL(l.kind, VIRT_LINE_OTHER);
	}
	char big[VIRT_LINE_MAX + 2];
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	CU_ASSERT_EQUAL(virt_line_parse(big, sizeof(big), &l), -E2BIG);
}

/* The console's line assembly, fed as the reader thread feeds it, in
 * pieces of every size from 1 byte to the whole transcript. */
static void test_console_feed(void)
{
	char big[VIRT_LINE_MAX + 100];
	memset(big, 'x', sizeof(big));
	big[0] = '{';
	char text[2048 + sizeof(big)];
	int len = snprintf(text, sizeof(text),
			   "{\"boot\":\"pvh\",\"workload\":\"seq\",\"wss\":4,\"epochs\":2,"
			   "\"writes\":4,\"seed\":1,\"ram-mib\":127,\"tsc\":1}\r\n"
			   "dirtyscope guest: 127 MiB RAM\n"
			   "{\"ready\":true,\"tsc\":2}\n"
			   "{\"epoch\":1,\"pages\":4,\"stores\":4,\"tsc\":3}\n"
			   "{\"epoch\":1,\"pages\":9,\"stores\":4,\"tsc\":3}\n"
			   "%.*s\n"
			   "{\"epoch\":2,\"pages\":4,\"stores\":4,\"tsc\":4}\n"
			   "{\"done\":true,\"status\":0,\"epochs\":2,\"check\":\"ok\",\"tsc\":5}\n"
			   "{\"epoch\":3,\"pa",
			   (int)sizeof(big), big);
	CU_ASSERT_FATAL(len > 0 && (size_t)len < sizeof(text));
	for (size_t piece = 1; piece <= (size_t)len; piece = piece < 64 ? piece + 1 : piece * 2) {
		struct virt_console c;
		struct virt_console_rec *recs = NULL;
		virt_console_init(&c, NULL, NULL);
		uint64_t t = 1000;
		for (size_t off = 0; off < (size_t)len; off += piece, t++) {
			size_t n = (size_t)len - off < piece ? (size_t)len - off : piece;
			CU_ASSERT_EQUAL(virt_console_feed(&c, text + off, n, t), 0);
		}
		size_t nr = virt_console_copy(&c, &recs);
		/* boot, ready, epoch 1, epoch 2, done; the bad epoch and the
		 * over-long line are bad lines; the cut last line is not in. */
		DS_CHECK(nr == 5 && recs[0].line.kind == VIRT_LINE_BOOT &&
			     recs[1].line.kind == VIRT_LINE_READY &&
			     recs[2].line.kind == VIRT_LINE_EPOCH && recs[2].line.epoch == 1 &&
			     recs[3].line.kind == VIRT_LINE_EPOCH && recs[3].line.epoch == 2 &&
			     recs[4].line.kind == VIRT_LINE_DONE,
			 "pieces of %zu: %zu records", piece, nr);
		CU_ASSERT_EQUAL(c.bad_lines, 2);
		CU_ASSERT_EQUAL(virt_console_bytes(&c), (uint64_t)len);
		/* Each line carries the time of its first byte's piece. */
		for (size_t i = 1; i < nr; i++)
			CU_ASSERT(recs[i].t_ns >= recs[i - 1].t_ns);
		if (piece == 1)
			CU_ASSERT_EQUAL(recs[0].t_ns, 1000);
		free(recs);
		virt_console_close(&c);
	}
}

static void test_truth_seq(void)
{
	struct virt_truth t;
	struct virt_wl wl = {.workload = ABI_WL_SEQ, .wss = 100, .seed = 3};

	CU_ASSERT_EQUAL_FATAL(virt_truth_init(&t, &wl), 0);
	CU_ASSERT_EQUAL(virt_truth_distinct(&t, 0, 100), 100);
	CU_ASSERT_EQUAL(virt_truth_distinct(&t, 0, 250), 100);
	CU_ASSERT_EQUAL(virt_truth_distinct(&t, 5, 5), 0);
	CU_ASSERT_EQUAL(virt_truth_distinct(&t, 9, 5), 0);
	CU_ASSERT_EQUAL(virt_truth_distinct(&t, 97, 103), 6);
	CU_ASSERT_EQUAL(virt_truth_distinct(&t, 1000, 1050), 50);
	virt_truth_free(&t);

	struct virt_wl hc = {.workload = ABI_WL_HOTCOLD, .wss = 10, .hot_pages = 11};
	CU_ASSERT_EQUAL(virt_truth_init(&t, &hc), -EINVAL);
	hc.hot_pages = 0;
	CU_ASSERT_EQUAL(virt_truth_init(&t, &hc), -EINVAL);
	struct virt_wl none = {.workload = ABI_WL_DB, .wss = 10};
	CU_ASSERT_EQUAL(virt_truth_init(&t, &none), -EINVAL);
}

/* Distinct pages in stores [from, to) by brute force: the generator walked
 * from the start and a byte per page, nothing shared with the replay. */
static uint64_t brute_distinct(const struct virt_wl *wl, uint64_t from, uint64_t to)
{
	struct abi_wlpick p;
	unsigned char *seen = calloc(wl->wss, 1);
	uint64_t n = 0;
	abi_wlpick_init(&p, wl->workload, wl->wss, wl->hot_pages, wl->hot_pct, wl->seed);
	for (uint64_t k = 0; k < to; k++) {
		uint64_t page = abi_wlpick_next(&p);
		if (k >= from && !seen[page]++)
			n++;
	}
	free(seen);
	return n;
}

/* Several ranges in one replay, for every workload, against brute force;
 * ranges out of order and past the limit are refused. */
static void test_truth_ranges(void)
{
	static const struct virt_wl wls[] = {
	    {.workload = ABI_WL_SEQ, .wss = 97, .seed = 1},
	    {.workload = ABI_WL_RANDOM, .wss = 300, .seed = 7},
	    {.workload = ABI_WL_HOTCOLD, .wss = 500, .hot_pages = 50, .hot_pct = 80, .seed = 9},
	};
	for (size_t w = 0; w < sizeof(wls) / sizeof(wls[0]); w++) {
		struct virt_truth t;
		struct virt_range r[] = {{0, 40, 0},	{40, 41, 0},	{41, 41, 0},
					 {100, 700, 0}, {700, 1900, 0}, {5000, 5200, 0}};
		size_t nr = sizeof(r) / sizeof(r[0]);
		CU_ASSERT_EQUAL_FATAL(virt_truth_init(&t, &wls[w]), 0);
		CU_ASSERT_EQUAL(virt_truth_ranges(&t, r, nr), 0);
		for (size_t i = 0; i < nr; i++)
			CU_ASSERT_EQUAL(r[i].distinct, brute_distinct(&wls[w], r[i].from, r[i].to));
		/* A range that reaches back into the one before it. */
		struct virt_range back[] = {{0, 100, 0}, {99, 200, 0}};
		CU_ASSERT_EQUAL(virt_truth_ranges(&t, back, 2), -EINVAL);
		struct virt_range inside_out[] = {{10, 5, 0}};
		CU_ASSERT_EQUAL(virt_truth_ranges(&t, inside_out, 1), -EINVAL);
		/* A guest's claim past the limit is refused before any walk. */
		struct virt_range huge[] = {{0, 10, 0}, {10, VIRT_TRUTH_MAX_STORES + 1, 0}};
		huge[0].distinct = 12345;
		CU_ASSERT_EQUAL(virt_truth_ranges(&t, huge, 2), -E2BIG);
		CU_ASSERT_EQUAL(huge[0].distinct, 12345);
		CU_ASSERT_EQUAL(virt_truth_distinct(&t, 0, UINT64_MAX), 0);
		virt_truth_free(&t);
	}
}

/*
 * The replay's oracle: the guest's own per-epoch distinct counts, from a
 * real run under dirtyscope's VMM.  Returns how many epochs agreed, or -1
 * when the run could not be read; *disagree counts the others.
 */
static int cross_check(const char *workload, uint64_t seed_replayed, int *disagree)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "%s run --workload %s --wss 1000 --writes 700 --epochs 4 --seed 7 --json - "
		 "2>/dev/null",
		 DIRTYSCOPE_BIN, workload);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	struct virt_truth t;
	struct virt_wl wl = {.workload = !strcmp(workload, "random") ? ABI_WL_RANDOM : ABI_WL_HOTCOLD,
			     .wss = 1000,
			     .hot_pages = 100, /* --hot-pages' default: wss/10 */
			     .hot_pct = 90,
			     .seed = seed_replayed};
	if (virt_truth_init(&t, &wl)) {
		pclose(p);
		return -1;
	}
	char line[8192];
	int agreed = 0;
	uint64_t stores = 0;
	*disagree = 0;
	while (fgets(line, sizeof(line), p)) {
		json_object *o = json_tokener_parse(line), *v;
		/* Epoch lines only: the summary has a workload-pages total. */
		if (o && json_object_object_get_ex(o, "epoch", NULL) &&
		    json_object_object_get_ex(o, "workload-pages", &v)) {
			uint64_t want = (uint64_t)json_object_get_int64(v);
			uint64_t got = virt_truth_distinct(&t, stores, stores + 700);
			stores += 700;
			if (got == want)
				agreed++;
			else
				(*disagree)++;
		}
		json_object_put(o);
	}
	virt_truth_free(&t);
	return pclose(p) == 0 ? agreed : -1;
}

static void test_truth_against_guest(void)
{
	if (access("/dev/kvm", R_OK | W_OK)) {
		printf("(no /dev/kvm: skipped) ");
		return;
	}
	int bad = 0;
	DS_CHECK(cross_check("random", 7, &bad) == 4 && bad == 0, "random: %d disagree", bad);
	DS_CHECK(cross_check("hotcold", 7, &bad) == 4 && bad == 0, "hotcold: %d disagree", bad);
	/* Teeth: 700 uniform picks over 1000 pages collide ~200 times; another
	 * seed cannot give the same four counts. */
	int agreed = cross_check("random", 8, &bad);
	DS_CHECK(agreed >= 0 && bad > 0, "a wrong seed agreed on all %d epochs", agreed);
}

static void test_domain_xml(void)
{
	char xml[8192];
	struct virt_domain_cfg cfg = {.name = "ds-1",
				      .kernel = "/a&b/<k>'\".elf",
				      .cmdline = "ds.wss=1 x<y",
				      .mem_mib = 128};

	CU_ASSERT_EQUAL(virt_domain_xml(&cfg, xml, sizeof(xml)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<kernel>/a&amp;b/&lt;k&gt;&apos;&quot;.elf</kernel>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<cmdline>ds.wss=1 x&lt;y</cmdline>"));
	CU_ASSERT_PTR_NULL(strstr(xml, "dirty-ring"));
	CU_ASSERT_PTR_NULL(strstr(xml, "'host"));
	CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<model fallback='allow'>qemu64</model>"));
	cfg.ring_entries = 4096;
	CU_ASSERT_EQUAL(virt_domain_xml(&cfg, xml, sizeof(xml)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<dirty-ring state='on' size='4096'/>"));
	cfg.ring_entries = 3000;
	CU_ASSERT_EQUAL(virt_domain_xml(&cfg, xml, sizeof(xml)), -EINVAL);
	cfg.ring_entries = 0;
	CU_ASSERT_EQUAL(virt_domain_xml(&cfg, xml, 100), -ENAMETOOLONG);
	static const char *const names[] = {"", "a b", "a/b", "<x>", "a'b"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cfg.name = names[i];
		DS_CHECK(virt_domain_xml(&cfg, xml, sizeof(xml)) == -EINVAL, "name '%s'", names[i]);
	}
	char longname[VIRT_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CU_ASSERT_FALSE(virt_name_ok(longname));
	longname[VIRT_NAME_MAX] = '\0';
	CU_ASSERT_TRUE(virt_name_ok(longname));
}

static int render(const struct virt_plot *p, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	int ret = virt_plot_svg(f, p);
	fclose(f);
	return ret;
}

static void test_plot(void)
{
	const double t[] = {16, 16.1, 15.9}, m1[] = {12, 18, 9}, m2[] = {16, 16, 16},
		     ring[] = {223, 230, 219}, nan[] = {0.0 / 0.0, 1, 1}, neg[] = {-1, 1, 1};
	struct virt_plot_mode modes[] = {
	    {.name = "page-sampling", .supported = true, .n = 3, .measured = m1, .truth = t},
	    {.name = "dirty-bitmap", .supported = true, .n = 3, .measured = m2, .truth = t},
	    {.name = "dirty-ring", .supported = true, .n = 3, .measured = ring, .truth = t},
	    {.name = "<odd & mode>", .supported = false, .why = "needs \"the ring\" <enabled>"},
	};
	struct virt_plot p = {.title = "seq & <co>", .nr_modes = 4, .modes = modes, .exact_mibs = 16};
	char *svg = NULL;

	CU_ASSERT_EQUAL(render(&p, &svg), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "seq &amp; &lt;co&gt;"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "&lt;odd &amp; mode&gt;"));
	CU_ASSERT_PTR_NULL(strstr(svg, "<odd"));
	CU_ASSERT_PTR_NOT_NULL(strstr(svg, "unsupported"));
	/* Every bar's top lies inside the plot area (y >= its top margin,
	 * 50): the 14x ring too. */
	for (const char *s = svg; (s = strstr(s, "<rect x=")); s++) {
		double y = -1;
		const char *yp = strstr(s, " y=\"");
		if (yp && sscanf(yp, " y=\"%lf\"", &y) == 1 && !strstr(s, "width=\"12\"") &&
		    strncmp(s, "<rect width", 11))
			DS_CHECK(y >= 28, "a rect at y=%g is above the plot", y);
	}
	char tmp[] = "/tmp/test_virt.XXXXXX.svg";
	int fd = mkstemps(tmp, 4);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, svg, strlen(svg)), (ssize_t)strlen(svg));
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' %s", tmp);
	DS_CHECK(system(cmd) == 0, "the chart is not well-formed XML");
	unlink(tmp);
	free(svg);

	modes[0].measured = nan;
	CU_ASSERT_EQUAL(render(&p, &svg), -EINVAL);
	free(svg);
	modes[0].measured = neg;
	CU_ASSERT_EQUAL(render(&p, &svg), -EINVAL);
	free(svg);
	modes[0].measured = m1;
	p.nr_modes = 0;
	CU_ASSERT_EQUAL(render(&p, &svg), -EINVAL);
	free(svg);
	p.nr_modes = 4;
	FILE *full = fopen("/dev/full", "w");
	if (full) {
		CU_ASSERT_EQUAL(virt_plot_svg(full, &p), -EIO);
		fclose(full);
	}
}

static const struct ds_case cases[] = {
    {"guest lines", test_lines},
    {"console: lines assembled from pieces of any size", test_console_feed},
    {"truth: seq and refusals", test_truth_seq},
    {"truth: ranges in one replay, against brute force; refusals", test_truth_ranges},
    {"truth: the replay against the guest", test_truth_against_guest},
    {"domain XML", test_domain_xml},
    {"accuracy chart", test_plot},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("virt", cases);
}
