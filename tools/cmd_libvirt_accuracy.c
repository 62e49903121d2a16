/*
 * dirtyscope libvirt accuracy: QEMU's dirty-rate modes against the truth.
 *
 * The guest kernel runs standalone in a transient domain; each of QEMU's
 * modes measures it --repeat times.  Each measurement's window [t0, t1] on
 * the host's clock is set beside the truth of the same window: the guest
 * prints one line per epoch with its store count, the console thread
 * stamps each line on arrival, so the number of stores done by any moment
 * is known (interpolated inside an epoch, whose stores come at an even
 * pace), and the workload's page sequence, replayed on the host
 * (virt/virt_truth.h), turns the window's stores into its distinct pages.
 * The replay is itself checked: it must give every epoch the distinct
 * count the guest printed for it.
 *
 * dirty-bitmap cannot run on a domain with KVM's dirty ring and dirty-ring
 * needs one, so the modes run on two domains in turn.  Then dirtyscope's
 * own VMM runs the same workload and seed with the exact bitmap log and
 * epochs of the calc time: a third, independent answer for the truth.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abi/boot.h"
#include "logger/session.h"
#include "tools/cli.h"
#include "tools/libvirt_common.h"
#include "tools/runopts_out.h"
#include "util/esc.h"
#include "util/io.h"
#include "util/json.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/time.h"
#include "virt/virt_conn.h"
#include "virt/virt_console.h"
#include "virt/virt_dirtyrate.h"
#include "virt/virt_domain.h"
#include "virt/virt_plot.h"
#include "virt/virt_truth.h"

#define ACC_BOOT_TIMEOUT_NS (60ULL * 1000000000ULL)
/* After a window closes, the epoch line that brackets it must come within
 * this long (an epoch of the default workload takes under a second). */
#define ACC_LINE_TIMEOUT_NS (60ULL * 1000000000ULL)
#define ACC_MAX_REPEAT	    100
/* A domain whose console has carried not one byte this long after it was
 * resumed is started again, at most ACC_STARTS times in all.  The guest's
 * first line comes within a few seconds of its start; a domain that stays
 * silent has been seen now and then on this platform (docs/libvirt.md),
 * and a domain that printed nothing has measured nothing, so starting it
 * again loses nothing and changes no number. */
#define ACC_QUIET_NS (30ULL * 1000000000ULL)
#define ACC_STARTS   3

/* One measurement and the truth of its window. */
struct acc_window {
	double measured; /* QEMU, MiB/s */
	double truth;	 /* replayed, MiB/s */
	uint64_t from, to, distinct; /* the window's stores and their distinct pages */
	uint64_t t0_ns, t1_ns;
};

struct acc_mode {
	enum virt_dr_mode mode;
	bool wanted;
	enum virt_dr_status status;
	char why[256];
	unsigned n;
	struct acc_window win[ACC_MAX_REPEAT];
	double measured[ACC_MAX_REPEAT], truth[ACC_MAX_REPEAT]; /* for the chart */
};

struct acc {
	struct lv_workload w;
	unsigned calc_s, repeat, ring;
	const char *uri;
	char kernel[4096 + 64];
	struct acc_mode modes[VIRT_DR_NR];
	double exact[ACC_MAX_REPEAT + 1];
	unsigned nr_exact;
	uint64_t epochs_checked;
	unsigned restarts; /* domains started again after a silent console */
	pid_t pid;	   /* dirtyscope's, in the domains' names (not a child's) */
};

static void acc_usage(FILE *f)
{
	fprintf(f, "usage: dirtyscope libvirt accuracy [options]\n"
		   "\n"
		   "Boot the guest kernel standalone in transient domains and measure it with\n"
		   "each of QEMU's dirty-rate modes, --repeat times; set each answer beside the\n"
		   "true dirty rate of the same window, replayed from the guest's own counts;\n"
		   "then run the same workload under dirtyscope's VMM with the exact bitmap\n"
		   "log and epochs of the calc time.  Every domain is destroyed on exit.\n"
		   "\n"
		   "  --connect URI     libvirt URI (default %s)\n"
		   "  --workload W      seq, random or hotcold (default seq)\n"
		   "  --wss N           working set, pages (default 4096)\n"
		   "  --writes N        page stores per epoch (default: the working set)\n"
		   "  --seed N          the workload's seed (default 1)\n"
		   "  --hot-pages N --hot-pct P   hotcold's hot set (default wss/10, 90%%)\n"
		   "  --mem SIZE        guest RAM, 32M to 3G (default 128M)\n"
		   "  --mode M          page-sampling, dirty-bitmap, dirty-ring or all (default)\n"
		   "  --calc-time S     seconds per measurement, 1 to %d (default 1)\n"
		   "  --repeat N        measurements per mode, 1 to %d (default 3)\n"
		   "  --dirty-ring N    the ring domain's entries per vCPU (default 4096)\n"
		   "  --json FILE       JSON lines: one per mode, dirtyscope's, a summary\n"
		   "                    ('-': stdout instead of the table)\n"
		   "  --plot FILE       an SVG chart of measured against true rate per mode\n"
		   "  -h, --help        this text\n"
		   "\n",
		VIRT_DEFAULT_URI, VIRT_DR_MAX_CALC_S, ACC_MAX_REPEAT);
	static const struct cli_exit codes[] = {
	    {DS_EXIT_OK, NULL},
	    {DS_EXIT_CHECK, "the guest's data check failed, its console was garbled, or the "
			    "replayed workload disagrees with its counts"},
	    {DS_EXIT_USAGE, "bad option or value"},
	    {DS_EXIT_PLATFORM, "libvirtd unreachable; no guest kernel ELF file; no /dev/kvm; "
				"libvirtd offers no KVM"},
	    {DS_EXIT_FAILED, "a domain or the guest failed mid-way"},
	    {DS_EXIT_INTERRUPTED, "SIGINT or SIGTERM: the domains are destroyed"},
	    {-1, NULL}};
	cli_exit_status(f, codes);
}

/* The guest's progress as (arrival time, stores done), from its READY and
 * epoch lines.  Returns how many points, or -EPROTO after one line when the
 * epochs are not 1, 2, 3, ... (a line was lost: the counts cannot be
 * trusted). */
static long progress_points(const struct virt_console_rec *recs, size_t nr, uint64_t *t,
			    uint64_t *s)
{
	long n = 0;
	uint64_t stores = 0, next = 1;
	for (size_t i = 0; i < nr; i++) {
		const struct virt_line *l = &recs[i].line;
		if (l->kind == VIRT_LINE_READY && n == 0) {
			t[n] = recs[i].t_ns;
			s[n++] = 0;
		} else if (l->kind == VIRT_LINE_EPOCH && n > 0) {
			if (l->epoch != next || l->stores > UINT64_MAX - stores) {
				log_err("the guest's console skipped from epoch %llu to %llu: its "
					"counts cannot be trusted",
					(unsigned long long)next - 1, (unsigned long long)l->epoch);
				return -EPROTO;
			}
			next++;
			stores += l->stores;
			t[n] = recs[i].t_ns;
			s[n++] = stores;
		}
	}
	return n;
}

/* Stores done by time `at`, interpolated between the points around it;
 * -1 when `at` lies outside them. */
static double stores_at(const uint64_t *t, const uint64_t *s, long n, uint64_t at)
{
	for (long i = 0; i + 1 < n; i++)
		if (t[i] <= at && at <= t[i + 1]) {
			double f = t[i + 1] > t[i] ? (double)(at - t[i]) / (double)(t[i + 1] - t[i]) : 1;
			return (double)s[i] + f * (double)(s[i + 1] - s[i]);
		}
	return -1;
}

/*
 * The truth for every measured window of the modes run on one domain, and
 * the replay's check against every epoch the guest printed.  DS_FAIL_CHECK
 * after one line when the console or the replay disagree.
 */
static enum ds_fail domain_truth(struct acc *a, struct virt_console *con, struct acc_mode **ms,
				 int nr_ms)
{
	struct virt_console_rec *recs = NULL;
	size_t nr = virt_console_copy(con, &recs);
	uint64_t *t = calloc(nr + 1, sizeof(*t)), *s = calloc(nr + 1, sizeof(*s));
	struct virt_truth tr;
	struct virt_range *ep = NULL, *wr = NULL;
	enum ds_fail fail = DS_FAIL_CHECK;
	struct virt_wl wl = {.workload = a->w.id,
			     .wss = a->w.wss,
			     .hot_pages = a->w.hot_pages,
			     .hot_pct = a->w.hot_pct,
			     .seed = a->w.seed};

	/* TEST HOOK: DIRTYSCOPE_TEST_REPLAY_SEED=N replays the workload with
	 * seed N instead of the guest's, a wrong truth that the check against
	 * the guest's own counts must notice (tests/test_libvirt.sh). */
	const char *hook = getenv("DIRTYSCOPE_TEST_REPLAY_SEED");
	if (hook && *hook)
		wl.seed = strtoull(hook, NULL, 10);
	if (!t || !s || virt_truth_init(&tr, &wl)) {
		log_err("out of memory for the truth");
		free(recs), free(t), free(s);
		return DS_FAIL_RUN;
	}
	if (con->bad_lines) {
		log_err("the guest's console held %llu line(s) that did not parse, the first: %s",
			(unsigned long long)con->bad_lines, con->first_bad);
		goto out;
	}
	long n = progress_points(recs, nr, t, s);
	if (n < 0)
		goto out;
	if (n > 0 && s[n - 1] > VIRT_TRUTH_MAX_STORES) {
		log_err("the guest's console claims %llu stores, more than the replay walks "
			"(%llu): its counts cannot be used",
			(unsigned long long)s[n - 1], (unsigned long long)VIRT_TRUTH_MAX_STORES);
		goto out;
	}
	/* The replay must agree with the guest on every epoch it printed:
	 * epoch i holds the stores s[i-1] to s[i]. */
	ep = calloc(n > 1 ? (size_t)n - 1 : 1, sizeof(*ep));
	size_t nw = 0;
	for (int m = 0; m < nr_ms; m++)
		nw += ms[m]->n;
	wr = calloc(nw ? nw : 1, sizeof(*wr));
	if (!ep || !wr) {
		log_err("out of memory for the truth");
		fail = DS_FAIL_RUN;
		goto out;
	}
	for (long i = 1; i < n; i++)
		ep[i - 1] = (struct virt_range){.from = s[i - 1], .to = s[i]};
	if (virt_truth_ranges(&tr, ep, n > 1 ? (size_t)n - 1 : 0)) {
		log_err("the guest's epochs do not replay"); /* not reached: sorted, capped */
		goto out;
	}
	for (long i = 1, seen = 0; i < n; i++) {
		uint64_t want = 0;
		for (size_t k = (size_t)seen; k < nr; k++)
			if (recs[k].line.kind == VIRT_LINE_EPOCH) {
				want = recs[k].line.pages;
				seen = (long)k + 1;
				break;
			}
		if (ep[i - 1].distinct != want) {
			log_err("epoch %ld: the guest wrote %llu distinct pages, the replay of its "
				"workload gives %llu: the truth cannot be trusted",
				i, (unsigned long long)want, (unsigned long long)ep[i - 1].distinct);
			goto out;
		}
		a->epochs_checked++;
	}
	/* The windows, in the order they were measured: one after the other,
	 * each closed by an epoch line before the next began. */
	nw = 0;
	for (int m = 0; m < nr_ms; m++)
		for (unsigned k = 0; k < ms[m]->n; k++) {
			struct acc_window *wi = &ms[m]->win[k];
			double f = stores_at(t, s, n, wi->t0_ns), g = stores_at(t, s, n, wi->t1_ns);
			if (f < 0 || g < 0) {
				log_err("a %s window lies outside the guest's epochs",
					virt_dr_mode_name(ms[m]->mode));
				goto out;
			}
			wi->from = (uint64_t)(f + 0.5);
			wi->to = (uint64_t)(g + 0.5);
			wr[nw++] = (struct virt_range){.from = wi->from, .to = wi->to};
		}
	if (virt_truth_ranges(&tr, wr, nw)) {
		log_err("the measured windows overlap in the guest's stores");
		goto out;
	}
	nw = 0;
	for (int m = 0; m < nr_ms; m++)
		for (unsigned k = 0; k < ms[m]->n; k++) {
			struct acc_window *wi = &ms[m]->win[k];
			wi->distinct = wr[nw++].distinct;
			wi->truth = (double)wi->distinct * 4096.0 / (1 << 20) /
				    ((double)(wi->t1_ns - wi->t0_ns) / 1e9);
			ms[m]->truth[k] = wi->truth;
		}
	fail = DS_FAIL_NONE;
out:
	virt_truth_free(&tr);
	free(recs), free(t), free(s), free(ep), free(wr);
	return fail;
}

/* Boot one domain (ring: QEMU's dirty ring or the bitmap), measure the modes
 * `ms` on it, and work out their truth. */
static enum ds_fail run_domain(struct acc *a, unsigned ring, struct acc_mode **ms, int nr_ms,
			       int seq)
{
	char name[VIRT_NAME_MAX + 1], cmdline[512];
	struct virt_console con;
	bool con_open = false;
	enum ds_fail fail = DS_FAIL_RUN;
	size_t idx;
	int ret;

	snprintf(name, sizeof(name), "dirtyscope-accuracy-%d-%d", (int)a->pid, seq);
	lv_cmdline(&a->w, cmdline, sizeof(cmdline));
	struct virt_domain_cfg cfg = {.name = name,
				      .kernel = a->kernel,
				      .cmdline = cmdline,
				      .mem_mib = a->w.mem_mib,
				      .ring_entries = ring};
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;
	/* TEST HOOK: DIRTYSCOPE_TEST_SILENT_START=S leaves the first domain
	 * paused (a guest that prints nothing) and gives up on its silence
	 * after S seconds, so that the restart below can be tested. */
	const char *hook = getenv("DIRTYSCOPE_TEST_SILENT_START");
	uint64_t quiet_ns = hook && *hook ? strtoull(hook, NULL, 10) * 1000000000ULL : ACC_QUIET_NS;
	/* The console's data comes through libvirt's event loop (this is the
	 * domain's own process: the loop starts here, not in the parent). */
	if (virt_events_start())
		return DS_FAIL_RUN;
	for (unsigned start = 1;; start++) {
		/* SIGINT while the last start was being taken down. */
		if (lv_stop) {
			ret = -EINTR;
			break;
		}
		/* A connection of its own for each domain: its console stream
		 * and its auto-destroy end with it, and nothing of an earlier
		 * domain's stream can linger in the next one's. */
		if (!(conn = virt_connect(a->uri)))
			return DS_FAIL_PLATFORM;
		if (!(dom = virt_domain_start_paused(conn, &cfg, 0)))
			goto out;
		if (virt_console_open(&con, conn, dom, NULL, NULL))
			goto out;
		con_open = true;
		bool silent = hook && *hook && seq == 1 && start == 1;
		if (!silent && virDomainResume(dom) < 0) {
			log_err("domain %s: resuming: %s", name, virt_err());
			goto out;
		}
		virDomainInfo i0 = {0}, i1 = {0};
		virDomainGetInfo(dom, &i0);
		ret = virt_console_wait(&con, VIRT_LINE_READY, 0, quiet_ns, &lv_stop, &idx);
		if (ret != -ETIMEDOUT || virt_console_bytes(&con) > 0 || start == ACC_STARTS)
			break;
		/* Not an error (nothing has failed yet): a progress line, with
		 * what tells a guest that ran unheard from one that did not run:
		 * the domain's state and the CPU time its QEMU used meanwhile
		 * (libvirt counts the whole process: a spinning guest's vCPU
		 * shows as nearly the whole wait, an idle QEMU as next to 0). */
		virDomainGetInfo(dom, &i1);
		log_info("dirtyscope: domain %s: its console carried nothing in %llu s (domain %s, "
			 "QEMU used %.1f s of CPU meanwhile); starting it again (%u of %u)",
			 name, (unsigned long long)(quiet_ns / 1000000000ULL),
			 i1.state == VIR_DOMAIN_RUNNING	 ? "running"
			 : i1.state == VIR_DOMAIN_PAUSED ? "paused"
							 : "in another state",
			 i1.cpuTime >= i0.cpuTime ? (double)(i1.cpuTime - i0.cpuTime) / 1e9 : 0.0,
			 start + 1, ACC_STARTS);
		a->restarts++;
		virt_domain_destroy(dom);
		dom = NULL;
		virt_console_close(&con);
		con_open = false;
		virConnectClose(conn);
		conn = NULL;
	}
	/* A guest that printed something is slow, not silent: it gets the
	 * first epoch's full time, as one that printed its ready line. */
	if (ret == -ETIMEDOUT && virt_console_bytes(&con) > 0)
		ret = 0;
	/* The first epoch's line: the workload runs at its steady pace. */
	if (!ret)
		ret = virt_console_wait(&con, VIRT_LINE_EPOCH, 0, ACC_BOOT_TIMEOUT_NS, &lv_stop,
					&idx);
	for (int m = 0; !ret && m < nr_ms; m++) {
		struct acc_mode *am = ms[m];
		am->status = VIRT_DR_MEASURED;
		for (unsigned k = 0; k < a->repeat; k++) {
			struct virt_dr_result r;
			if ((ret = virt_dirtyrate_measure(dom, am->mode, a->calc_s, &r, &lv_stop)))
				break;
			if (r.status != VIRT_DR_MEASURED) {
				am->status = r.status;
				snprintf(am->why, sizeof(am->why), "%s", r.why);
				break;
			}
			/* A line after the window closes it for the truth. */
			if ((ret = virt_console_wait(&con, VIRT_LINE_EPOCH, r.t1_ns,
						     ACC_LINE_TIMEOUT_NS, &lv_stop, &idx)))
				break;
			am->win[k] = (struct acc_window){
			    .measured = r.mibs, .t0_ns = r.t0_ns, .t1_ns = r.t1_ns};
			am->measured[k] = r.mibs;
			am->n = k + 1;
		}
	}
	if (ret) {
		if (ret == -EINTR)
			fail = DS_FAIL_INTERRUPTED;
		else if (ret == -EPIPE)
			log_err("domain %s: the guest ended (it panicked?)", name);
		else if (ret == -ETIMEDOUT && virt_console_bytes(&con) == 0)
			log_err("domain %s: its console carried nothing in %llu s, %u starts in a row",
				name, (unsigned long long)(quiet_ns / 1000000000ULL), ACC_STARTS);
		else if (ret == -ETIMEDOUT)
			log_err("domain %s: the guest printed no epoch line in %llu s", name,
				(unsigned long long)(ACC_BOOT_TIMEOUT_NS / 1000000000ULL));
		else if (ret == -ENOENT)
			log_err("domain %s went away", name);
		goto out;
	}
	/* The stream ends with the domain: every line is in. */
	virt_domain_destroy(dom);
	dom = NULL;
	fail = domain_truth(a, &con, ms, nr_ms);
out:
	if (dom)
		virt_domain_destroy(dom);
	if (con_open)
		virt_console_close(&con);
	if (conn)
		virConnectClose(conn);
	return fail;
}

/*
 * run_domain in a child process, its results handed back through memory
 * shared with this one.  Why a process per domain: a domain started by a
 * process that had already run one was seen to stay silent now and then
 * (docs/platform-notes.md), while the first domain of a process never was;
 * a child of its own gives every domain the first domain's conditions.  The
 * child's connection is its own too, so a child that dies takes its
 * auto-destroyed domain with it.  SIGINT and SIGTERM reach the child from
 * the terminal, or from here when only this process got them.
 */
static enum ds_fail run_domain_apart(struct acc *a, unsigned ring, const enum virt_dr_mode *modes,
				     int nr_ms, int seq)
{
	struct shared {
		struct acc a;
		enum ds_fail fail;
	} *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct acc_mode *ms[VIRT_DR_NR];
	int st = 0;

	if (sh == MAP_FAILED) {
		log_err("memory for the domain's results: %s", strerror(errno));
		return DS_FAIL_RUN;
	}
	sh->a = *a;
	sh->fail = DS_FAIL_RUN; /* what a child that dies without a word means */
	for (int m = 0; m < nr_ms; m++)
		ms[m] = &sh->a.modes[modes[m]];
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		log_err("starting the process for domain %d: %s", seq, strerror(errno));
		munmap(sh, sizeof(*sh));
		return DS_FAIL_RUN;
	}
	if (pid == 0) {
		sh->fail = run_domain(&sh->a, ring, ms, nr_ms, seq);
		_exit(0);
	}
	bool forwarded = false;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			log_err("waiting for the process of domain %d: %s", seq, strerror(errno));
			st = -1;
			break;
		}
		if (lv_stop && !forwarded) {
			kill(pid, SIGTERM);
			forwarded = true;
		}
		time_sleep_ns(20000000ULL);
	}
	enum ds_fail fail = sh->fail;
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (st != -1)
			log_err("the process measuring domain %d ended by signal %d", seq,
				WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		fail = DS_FAIL_RUN;
	}
	*a = sh->a;
	munmap(sh, sizeof(*sh));
	return fail;
}

/* dirtyscope's own VMM: epochs of the calc time, exact bitmap log. */
struct exact_sink {
	struct sink s;
	struct acc *a;
};

static void exact_epoch(struct sink *s, const struct epoch_rec *e)
{
	struct acc *a = ((struct exact_sink *)s)->a;
	/* The first epoch holds the guest's start; the rest are steady. */
	if (e->epoch >= 2 && a->nr_exact < ACC_MAX_REPEAT + 1)
		a->exact[a->nr_exact++] = epoch_dirty_rate(e->dirty_pages, e->epoch_ns);
}

static enum ds_fail run_exact(struct acc *a)
{
	enum ds_fail fail = DS_FAIL_NONE;
	struct exact_sink sink = {.s = {.epoch = exact_epoch}, .a = a};
	struct session_config cfg = {
	    .kvm_path = "/dev/kvm",
	    .mode = &dlog_mode_bitmap,
	    .dlog = dlog_config_default(),
	    .workload_name = a->w.name,
	    .wl = {.workload = a->w.id,
		   .epochs = a->repeat + 1,
		   .wss_pages = a->w.wss,
		   .writes_per_epoch = a->w.writes,
		   .seed = a->w.seed,
		   .hot_pages = a->w.hot_pages,
		   .hot_pct = (uint32_t)a->w.hot_pct},
	    .mem_bytes = a->w.mem_mib << 20,
	    .epoch_ms = a->calc_s * 1000,
	    .sinks = {&sink.s},
	    .nr_sinks = 1,
	    .fail = &fail,
	};
	struct run_summary sum;
	int ret = session_run(&cfg, &sum);
	if (ret && fail == DS_FAIL_NONE)
		fail = ret == 1 ? DS_FAIL_CHECK : DS_FAIL_RUN;
	return fail;
}

static void stats(const double *v, unsigned n, double *mean, double *lo, double *hi)
{
	*mean = 0;
	*lo = n ? v[0] : 0;
	*hi = *lo;
	for (unsigned i = 0; i < n; i++) {
		*mean += v[i];
		*lo = v[i] < *lo ? v[i] : *lo;
		*hi = v[i] > *hi ? v[i] : *hi;
	}
	*mean = n ? *mean / n : 0;
}

static const char *status_name(enum virt_dr_status s)
{
	return s == VIRT_DR_MEASURED ? "measured" : s == VIRT_DR_UNSUPPORTED ? "unsupported" : "stalled";
}

static void put_json(FILE *f, const struct acc *a)
{
	for (int m = 0; m < VIRT_DR_NR; m++) {
		const struct acc_mode *am = &a->modes[m];
		double tm, tl, th, mm, ml, mh;
		if (!am->wanted)
			continue;
		fprintf(f, "{\"mode\":\"%s\",\"status\":\"%s\"", virt_dr_mode_name(am->mode),
			status_name(am->status));
		if (am->status != VIRT_DR_MEASURED) {
			fprintf(f, ",\"reason\":");
			json_string(f, am->why);
		}
		stats(am->truth, am->n, &tm, &tl, &th);
		stats(am->measured, am->n, &mm, &ml, &mh);
		if (am->n)
			fprintf(f,
				",\"truth-mibs\":%.2f,\"measured-mibs\":%.2f,\"measured-min-mibs\":%."
				"2f,\"measured-max-mibs\":%.2f,\"error-pct\":%.1f",
				tm, mm, ml, mh, tm > 0 ? (mm / tm - 1) * 100 : 0);
		fprintf(f, ",\"windows\":[");
		for (unsigned k = 0; k < am->n; k++) {
			const struct acc_window *w = &am->win[k];
			fprintf(f,
				"%s{\"truth-mibs\":%.2f,\"measured-mibs\":%.0f,\"stores\":%llu,"
				"\"distinct-pages\":%llu,\"window-ms\":%.1f}",
				k ? "," : "", w->truth, w->measured,
				(unsigned long long)(w->to - w->from), (unsigned long long)w->distinct,
				(double)(w->t1_ns - w->t0_ns) / 1e6);
		}
		fprintf(f, "]}\n");
	}
	double em, el, eh;
	stats(a->exact, a->nr_exact, &em, &el, &eh);
	fprintf(f, "{\"dirtyscope\":\"bitmap\",\"exact-mibs\":%.2f,\"epochs\":[", em);
	for (unsigned k = 0; k < a->nr_exact; k++)
		fprintf(f, "%s%.2f", k ? "," : "", a->exact[k]);
	fprintf(f, "]}\n");
	double all = 0;
	unsigned nall = 0;
	for (int m = 0; m < VIRT_DR_NR; m++)
		for (unsigned k = 0; k < a->modes[m].n; k++, nall++)
			all += a->modes[m].truth[k];
	all = nall ? all / nall : 0;
	fprintf(f, "{\"summary\":true,\"workload\":\"%s\",\"wss\":%llu,\"writes\":%llu,\"seed\":%llu,"
		   "\"mem-mib\":%llu,\"calc-time-s\":%u,\"repeat\":%u,\"truth-mibs\":%.2f,"
		   "\"exact-mibs\":%.2f,\"truth-vs-exact-pct\":%.1f,\"epochs-checked\":%llu,"
		   "\"domain-restarts\":%u}\n",
		a->w.name, (unsigned long long)a->w.wss, (unsigned long long)a->w.writes,
		(unsigned long long)a->w.seed, (unsigned long long)a->w.mem_mib, a->calc_s, a->repeat,
		all, em, em > 0 ? (all / em - 1) * 100 : 0, (unsigned long long)a->epochs_checked,
		a->restarts);
}

static void put_table(FILE *f, const struct acc *a)
{
	fprintf(f, " %-14s %-11s %10s %12s %17s %8s\n", "mode", "status", "truth MiB/s",
		"QEMU MiB/s", "QEMU min..max", "error");
	for (int m = 0; m < VIRT_DR_NR; m++) {
		const struct acc_mode *am = &a->modes[m];
		double tm, tl, th, mm, ml, mh;
		if (!am->wanted)
			continue;
		if (am->status != VIRT_DR_MEASURED) {
			char why[160];
			fprintf(f, " %-14s %-11s %s\n", virt_dr_mode_name(am->mode),
				status_name(am->status), esc_str(why, sizeof(why), am->why, true));
			continue;
		}
		stats(am->truth, am->n, &tm, &tl, &th);
		stats(am->measured, am->n, &mm, &ml, &mh);
		char range[40];
		snprintf(range, sizeof(range), "%.0f..%.0f", ml, mh);
		fprintf(f, " %-14s %-11s %10.1f %12.1f %17s %+7.0f%%\n",
			virt_dr_mode_name(am->mode), "measured", tm, mm, range,
			tm > 0 ? (mm / tm - 1) * 100 : 0);
	}
	double em, el, eh;
	stats(a->exact, a->nr_exact, &em, &el, &eh);
	fprintf(f,
		"dirtyscope's own VMM, exact bitmap log, %u epochs of %u s: %.1f MiB/s "
		"(%.1f..%.1f)\n",
		a->nr_exact, a->calc_s, em, el, eh);
	fprintf(f, "truth: the guest's own store counts (%llu epochs checked against the "
		   "replayed workload)\n",
		(unsigned long long)a->epochs_checked);
}

static enum ds_fail write_plot(const struct acc *a, const char *path)
{
	struct out_file pf = {0};
	enum ds_fail fail = out_file_open(&pf, "--plot", path);
	if (fail)
		return fail;
	struct virt_plot_mode pm[VIRT_DR_NR];
	size_t n = 0;
	for (int m = 0; m < VIRT_DR_NR; m++) {
		const struct acc_mode *am = &a->modes[m];
		if (!am->wanted)
			continue;
		pm[n++] = (struct virt_plot_mode){.name = virt_dr_mode_name(am->mode),
						   .supported = am->status == VIRT_DR_MEASURED,
						   .why = am->status == VIRT_DR_MEASURED ? NULL : am->why,
						   .n = am->n,
						   .measured = am->measured,
						   .truth = am->truth};
	}
	double em, el, eh;
	stats(a->exact, a->nr_exact, &em, &el, &eh);
	char title[160];
	snprintf(title, sizeof(title), "%s, %llu pages, %u s windows, %u repeats", a->w.name,
		 (unsigned long long)a->w.wss, a->calc_s, a->repeat);
	struct virt_plot p = {.title = title,
			      .nr_modes = n,
			      .modes = pm,
			      .exact_mibs = a->nr_exact ? em : -1};
	int ret = virt_plot_svg(pf.f, &p);
	if (ret)
		log_err("--plot %s: %s", path, ret == -EIO ? "write failed" : "nothing to draw");
	enum ds_fail f2 = out_file_close(&pf, ret == 0);
	return ret ? DS_FAIL_IO : f2;
}

enum ds_fail cmd_libvirt_accuracy(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"connect", required_argument, NULL, 'c'},	 {"workload", required_argument, NULL, 'W'},
	    {"wss", required_argument, NULL, 'W'},	 {"writes", required_argument, NULL, 'W'},
	    {"seed", required_argument, NULL, 'W'},	 {"hot-pages", required_argument, NULL, 'W'},
	    {"hot-pct", required_argument, NULL, 'W'},	 {"mem", required_argument, NULL, 'W'},
	    {"mode", required_argument, NULL, 'm'},	 {"calc-time", required_argument, NULL, 't'},
	    {"repeat", required_argument, NULL, 'r'},	 {"dirty-ring", required_argument, NULL, 'R'},
	    {"json", required_argument, NULL, 'j'},	 {"plot", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},		 {NULL, 0, NULL, 0}};
	static struct acc a; /* large: not on the stack */
	const char *json_path = NULL, *plot_path = NULL;
	struct out_file json = {0};
	enum ds_fail fail;
	virConnectPtr conn = NULL;
	uint64_t v;
	int c, li, any_mode = 0;

	memset(&a, 0, sizeof(a));
	lv_workload_default(&a.w, 4096);
	a.calc_s = 1;
	a.repeat = 3;
	a.ring = 4096;
	for (int m = 0; m < VIRT_DR_NR; m++)
		a.modes[m].mode = (enum virt_dr_mode)m;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 'c':
			a.uri = optarg;
			break;
		case 'W':
			if (lv_workload_opt(&a.w, opts[li].name, optarg) < 0)
				return DS_FAIL_USAGE;
			break;
		case 'm': {
			enum virt_dr_mode m;
			if (!strcmp(optarg, "all")) {
				for (int i = 0; i < VIRT_DR_NR; i++)
					a.modes[i].wanted = true;
			} else if (!virt_dr_mode_parse(optarg, &m)) {
				a.modes[m].wanted = true;
			} else {
				return usage_error("--mode: page-sampling, dirty-bitmap, dirty-ring or all");
			}
			any_mode = 1;
			break;
		}
		case 't':
			if (lv_parse_calc_time(optarg, &a.calc_s))
				return DS_FAIL_USAGE;
			break;
		case 'r':
			if (parse_u64(optarg, 1, ACC_MAX_REPEAT, &v))
				return usage_error("--repeat: a number from 1 to %d", ACC_MAX_REPEAT);
			a.repeat = (unsigned)v;
			break;
		case 'R':
			if (parse_u64(optarg, 1024, 65536, &v) || (v & (v - 1)))
				return usage_error("--dirty-ring: a power of two from 1024 to 65536");
			a.ring = (unsigned)v;
			break;
		case 'j':
			json_path = optarg;
			break;
		case 'p':
			plot_path = optarg;
			break;
		case 'h':
			acc_usage(stdout);
			return DS_FAIL_NONE;
		default:
			acc_usage(stderr);
			return DS_FAIL_USAGE;
		}
	}
	if (optind != argc)
		return usage_error("libvirt accuracy: unexpected argument '%s'", argv[optind]);
	if (!any_mode)
		for (int i = 0; i < VIRT_DR_NR; i++)
			a.modes[i].wanted = true;
	if ((fail = lv_workload_check(&a.w)) || (fail = lv_kernel(a.kernel, sizeof(a.kernel))))
		return fail;
	/* dirtyscope's own VMM runs last: a host where it cannot is told so
	 * before a domain has run for nothing. */
	int kfd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kfd < 0) {
		log_err("accuracy runs dirtyscope's own VMM beside QEMU: cannot open /dev/kvm: %s",
			strerror(errno));
		return DS_FAIL_PLATFORM;
	}
	close(kfd);
	if (json_path && (fail = out_file_open(&json, "--json", json_path)))
		return fail;
	lv_catch_signals();
	if (!(conn = virt_connect(a.uri))) {
		fail = DS_FAIL_PLATFORM;
		goto out;
	}
	/* QEMU's modes under KVM, as the users' domains run: an emulated
	 * domain has no dirty log to measure with (virt_dirtyrate.h). */
	int kvm = virt_host_kvm(conn);
	if (kvm <= 0) {
		if (!kvm)
			virt_log_no_kvm(conn, "accuracy measures QEMU's modes under KVM");
		fail = DS_FAIL_PLATFORM;
		goto out;
	}
	/* The bitmap domain's modes, then the ring domain's. */
	enum virt_dr_mode on_bitmap[2], on_ring[1];
	int nb = 0, nr = 0;
	if (a.modes[VIRT_DR_PAGE_SAMPLING].wanted)
		on_bitmap[nb++] = VIRT_DR_PAGE_SAMPLING;
	if (a.modes[VIRT_DR_DIRTY_BITMAP].wanted)
		on_bitmap[nb++] = VIRT_DR_DIRTY_BITMAP;
	if (a.modes[VIRT_DR_DIRTY_RING].wanted)
		on_ring[nr++] = VIRT_DR_DIRTY_RING;
	/* libvirtd answers: each domain then gets a process and a connection
	 * of its own, and this process keeps none open across the fork. */
	virConnectClose(conn);
	conn = NULL;
	a.pid = getpid();
	if (nb && (fail = run_domain_apart(&a, 0, on_bitmap, nb, 1)))
		goto out;
	if (nr && (fail = run_domain_apart(&a, a.ring, on_ring, nr, 2)))
		goto out;
	if ((fail = run_exact(&a)))
		goto out;
	if (json.f)
		put_json(json.f, &a);
	if (json.f != stdout)
		put_table(stdout, &a);
	if (plot_path)
		fail = write_plot(&a, plot_path);
out:
	if (fail == DS_FAIL_INTERRUPTED)
		log_err("interrupted: the domains dirtyscope started are destroyed");
	if (conn)
		virConnectClose(conn);
	if (json_path) {
		enum ds_fail f2 = out_file_close(&json, fail == DS_FAIL_NONE);
		if (fail == DS_FAIL_NONE)
			fail = f2;
	}
	return fail;
}
