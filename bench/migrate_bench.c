/*
 * bench_migrate: what a pre-copy live migration costs against what it
 * could cost on the same link, measured side by side in one run.
 *
 * 1. The link.  512 MiB through a unix stream socket (1 MiB writes, a
 *    reader process that discards), best of 5: the bytes per second this
 *    machine's transport can carry at all.  With --max-bandwidth the engine
 *    paces the rounds the guest runs through to the cap, but not the final
 *    round, sent with the guest stopped (as QEMU lifts its cap for its last
 *    stage).  So the pre-copy ideals (total time) use min(cap, measured),
 *    and the downtime ideal uses the measured link, cap or no cap.
 *
 * 2. The migrations.  The random workload with several working sets (so
 *    several rates of distinct dirtied pages), each migrated once per
 *    repeat through tests/ds_migrate.h: source and destination in their own
 *    processes, bitmap log on both ends, the default downtime limit and
 *    rounds, starting after epoch 1.  Each migration is checked: both ends
 *    hashed the same RAM, the destination ran the guest to its end with no
 *    lost page and the guest's own data check passed.  Reported, as ratios
 *    to ideals taken on the link measured in step 1:
 *      bytes     transferred / ideal_bytes, where ideal_bytes is the
 *                non-zero RAM plus the pages dirtied after their first copy
 *                (each counted once): what any pre-copy must send;
 *      total     the engine's total_ns / (ideal_bytes / min(cap, link)):
 *                total_ns runs from connect to GO about to be sent, and
 *                leaves out the harness's RAM hash at the switch-over;
 *      downtime  downtime / (bytes of the final round / link), the
 *                uncapped link, since the final round is not capped.
 *    Optionally one more point with auto-converge under a bandwidth cap
 *    (--throttle-point), reporting the highest throttle used.
 *
 * The downtime (the vCPU stopped to GO about to be sent, the harness's RAM
 * hash left out) is also shown in its parts (struct migrate_stats):
 * stopping the vCPU, the final round, the state and END, the destination
 * until its ACK.  They add up to the downtime, to the rounding.  The RAM
 * checksum that verifies the migration end to end is taken after GO (the
 * VERDICT record, docs/migration.md), so it is not downtime; the time from
 * GO to the destination's verdict is shown as verify-ms.  Neither the
 * harness's hash nor the RAM checksum faults in RAM the guest never
 * touched: both skip the pages the host never populated.
 *
 * The CSV's columns are tool-neutral, so that bench/qemu_migrate.py can put
 * QEMU's figures beside these.  Nothing is asserted except correctness: a
 * migration that fails its checks is reported FAILED and the exit code is 1.
 * See bench/README.md.
 *
 *   bench_migrate [--mem SIZE_MIB] [--max-bandwidth BYTES_PER_S] [--csv FILE]
 *                 [--repeat N] [--throttle-point] [--verbose]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/ds_migrate.h"
#include "tests/lib/ds_session.h"
#include "util/io.h"
#include "util/time.h"
#include "vmm/boot.h"

#define LINK_BYTES   (512ull << 20)
#define LINK_CHUNK   (1u << 20)
#define LINK_REPS    5
#define GUEST_PPS    12000.0 /* the random workload's stores per second, roughly */
#define EPOCH_RERUNS 3	     /* more epochs, at most this many times */
#define THROTTLE_BW  (8ull << 20)

static const uint64_t wss_points[] = {64, 512, 2048, 8192};

struct point {
	uint64_t wss;
	uint64_t cap; /* the engine's max_bandwidth, 0 none */
	bool throttle;
	double link;	/* bytes/s measured in step 1: the final round's ideal */
	double precopy; /* min(cap, link): the rounds' pace, the total's ideal */
};

struct result {
	struct point pt;
	uint32_t epochs;
	int reruns;
	bool ok;
	char why[448];
	double dirty_rate; /* distinct pages per second, pre-copy rounds */
	uint64_t rounds, transferred, ideal_bytes, final_bytes;
	uint32_t throttle_pct;
	double total_ms, downtime_ms;
	double pause_ms, final_ms, end_ms, ack_ms; /* the downtime's parts */
	double verify_ms;			   /* GO to the destination's verdict */
	double ideal_total_ms, ideal_downtime_ms;
	double bytes_ratio, total_ratio, downtime_ratio;
};

static double mib(double bytes)
{
	return bytes / (1 << 20);
}

/* ---- 1. the link ------------------------------------------------------------ */

/* Bytes per second through one unix stream socket pair, writer here and a
 * reader process that discards; the reader's count coming back marks the
 * end, so every byte was read.  Returns 0 on failure. */
static double link_once(void)
{
	int sv[2];
	char *buf = malloc(LINK_CHUNK);

	if (!buf || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		free(buf);
		return 0;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		uint64_t got = 0;
		close(sv[0]);
		ssize_t n;
		while ((n = io_read_full(sv[1], buf, LINK_CHUNK)) > 0)
			got += (uint64_t)n;
		_exit(write(sv[1], &got, sizeof(got)) == sizeof(got) ? 0 : 1);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		free(buf);
		return 0;
	}
	/* Non-zero bytes, as the data pages of a migration are. */
	memset(buf, 0xa5, LINK_CHUNK);
	uint64_t t0 = time_now_ns(), sent = 0, got = 0;
	while (sent < LINK_BYTES && !io_send_full(sv[0], buf, LINK_CHUNK))
		sent += LINK_CHUNK;
	shutdown(sv[0], SHUT_WR);
	ssize_t n = read(sv[0], &got, sizeof(got));
	uint64_t dt = time_now_ns() - t0;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	free(buf);
	if (n != sizeof(got) || got != LINK_BYTES || sent != LINK_BYTES || !dt)
		return 0;
	return (double)LINK_BYTES * 1e9 / (double)dt;
}

/* ---- 2. one migration ----------------------------------------------------- */

/*
 * Epochs for a guest that should still run when the migration ends: epoch 1,
 * then about `secs` of stores at the workload's rate, at least 8 epochs.
 * The destination runs whatever is left, so too many only costs time.
 */
static uint32_t epochs_for(uint64_t wss, double secs)
{
	double e = 1 + secs * GUEST_PPS / (double)wss;
	return e < 8 ? 8 : e > 100000 ? 100000 : (uint32_t)(e + 0.5);
}

/* Seconds the migration should take, generously: round 0's non-zero pages
 * (the working set plus a few hundred pages of guest kernel, page tables
 * and stacks) twice over at the pre-copy rate (the cap, if lower than the
 * link), plus a second for round 0's scan of all RAM, the RAM checksum and
 * the start-up. */
static double expected_secs(const struct point *pt, uint64_t mem)
{
	double bw = pt->precopy;
	double data = (double)(pt->wss + 256) * 4096 * 2;
	double s = 1.0 + (double)mem / 4e9 + data / bw;
	/* Auto-converge raises the throttle every two rounds from 20% on: it
	 * takes some 20 rounds, while it slows the guest down. */
	if (pt->throttle)
		s *= 8;
	return s;
}

static bool workload_ended_first(const struct ds_mig_side *src)
{
	return src->reported && !src->mig.completed && src->ret == 0 &&
	       strstr(src->mig.failure, "stopped before the switch-over");
}

static int migrate_once(const struct point *pt, uint64_t mem, uint32_t epochs, bool verbose,
			struct ds_mig_side *src, struct ds_mig_side *dst)
{
	struct ds_mig_plan plan;

	memset(&plan, 0, sizeof(plan));
	ds_session_config(&plan.src, "bitmap", ABI_WL_RANDOM, mem, pt->wss, epochs, NULL);
	plan.src.workload_name = "random";
	plan.mig = (struct migrate_config){.after_epoch = 1,
					   .downtime_limit_ms = MIGRATE_DEFAULT_DOWNTIME_MS,
					   .max_rounds = MIGRATE_DEFAULT_MAX_ROUNDS,
					   .max_bandwidth = pt->cap,
					   .throttle_auto = pt->throttle,
					   /* A failure is a result here, not something to
					    * retry past. */
					   .retries = 0,
					   .quiet = !verbose};
	plan.recv_mode = "bitmap";
	plan.recv_verify = true;
	plan.receivers = 1;
	return ds_migrate_run(&plan, src, dst);
}

/* The checks a migration must pass to count; why says which failed. */
static bool migration_ok(const struct ds_mig_side *src, const struct ds_mig_side *dst, char *why,
			 size_t len)
{
	if (!src->reported || !dst->reported)
		snprintf(why, len, "the %s process died",
			 !src->reported ? "source" : "destination");
	else if (!src->mig.completed)
		snprintf(why, len, "not completed: %s", src->mig.failure);
	else if (src->ret != 0 || !src->sum.migrated)
		snprintf(why, len, "source run returned %d", src->ret);
	else if (!src->hashed || !dst->hashed)
		snprintf(why, len, "RAM not hashed on the %s",
			 src->hashed ? "destination" : "source");
	else if (src->hash != dst->hash)
		snprintf(why, len, "RAM hash differs: source %#" PRIx64 ", destination %#" PRIx64,
			 src->hash, dst->hash);
	else if (!dst->resumed)
		snprintf(why, len, "the destination never resumed the guest");
	else if (!src->mig.verified || !dst->in.verified)
		snprintf(why, len, "RAM not verified after GO: %s",
			 src->mig.verify_failure[0] ? src->mig.verify_failure
						    : dst->in.verify_failure);
	else if (dst->sum.guest_check_failed)
		snprintf(why, len, "the guest's data check failed on the destination");
	else if (dst->ret != 0)
		snprintf(why, len, "destination run returned %d (%" PRIu64 " lost pages)", dst->ret,
			 dst->sum.lost_pages);
	else
		return true;
	return false;
}

/* Distinct pages dirtied per second over the rounds the guest ran in. */
static double dirty_rate(const struct migrate_stats *s)
{
	uint64_t pages = 0, ns = 0;
	for (uint64_t i = 0; i < s->nr_round; i++) {
		if (s->round[i].final)
			continue;
		pages += s->round[i].dirty_pages;
		ns += s->round[i].duration_ns;
	}
	return ns ? (double)pages * 1e9 / (double)ns : 0;
}

static void run_point(const struct point *pt, uint64_t mem, bool verbose, struct result *r)
{
	struct ds_mig_side src, dst;

	memset(r, 0, sizeof(*r));
	r->pt = *pt;
	r->epochs = epochs_for(pt->wss, expected_secs(pt, mem));
	for (;;) {
		if (migrate_once(pt, mem, r->epochs, verbose, &src, &dst)) {
			snprintf(r->why, sizeof(r->why), "the loopback harness failed to start");
			return;
		}
		/* The workload ended before the switch-over: a longer guest. */
		if (!workload_ended_first(&src) || r->reruns == EPOCH_RERUNS)
			break;
		r->reruns++;
		r->epochs *= 4;
	}
	r->ok = migration_ok(&src, &dst, r->why, sizeof(r->why));
	if (!src.mig.completed)
		return;

	const struct migrate_stats *s = &src.mig;
	r->dirty_rate = dirty_rate(s);
	r->rounds = s->rounds;
	r->transferred = s->transferred;
	r->ideal_bytes = s->ideal_bytes;
	r->final_bytes = s->final_bytes;
	r->throttle_pct = s->throttle_pct;
	/* total_ns: connect to GO about to be sent, without the harness's RAM
	 * hash (the engine keeps a test's on_switchover hook out of it). */
	r->total_ms = (double)s->total_ns / 1e6;
	r->downtime_ms = (double)s->downtime_ns / 1e6;
	r->pause_ms = (double)s->down_pause_ns / 1e6;
	r->final_ms = (double)s->down_final_ns / 1e6;
	r->end_ms = (double)s->down_end_ns / 1e6;
	r->ack_ms = (double)s->down_ack_ns / 1e6;
	r->verify_ms = (double)s->verify_ns / 1e6;
	/* Pre-copy is paced to the cap; the final round, with the guest
	 * stopped, is not, so its bytes' ideal is the uncapped link, in the
	 * total's ideal as in the downtime's. */
	double fin = (double)(s->final_bytes < s->ideal_bytes ? s->final_bytes : s->ideal_bytes);
	r->ideal_total_ms = (((double)s->ideal_bytes - fin) / pt->precopy + fin / pt->link) * 1e3;
	r->ideal_downtime_ms = (double)s->final_bytes / pt->link * 1e3;
	r->bytes_ratio = s->ideal_bytes ? (double)s->transferred / (double)s->ideal_bytes : 0;
	r->total_ratio = r->ideal_total_ms > 0 ? r->total_ms / r->ideal_total_ms : 0;
	/* A final round without a data page has no meaningful ideal (its few
	 * bytes of framing would make any downtime look enormous): n/a, < 0. */
	r->downtime_ratio = s->final_bytes >= 4096 && r->ideal_downtime_ms > 0
				? r->downtime_ms / r->ideal_downtime_ms
				: -1;
}

/* ---- output ---------------------------------------------------------------- */

static const char *workload_label(const struct point *pt)
{
	return pt->throttle ? "random/auto-converge" : "random";
}

static void csv_header(FILE *f)
{
	fprintf(f, "tool,workload,wss_pages,dirty_pages_per_s,link_bytes_per_s,"
		   "max_bandwidth_bytes_per_s,rounds,total_ms,transferred_bytes,downtime_ms,"
		   "ideal_bytes,ideal_total_ms,ideal_downtime_ms,bytes_ratio,total_ratio,"
		   "downtime_ratio\n");
}

static void csv_row(FILE *f, const struct result *r)
{
	fprintf(f,
		"dirtyscope,%s,%" PRIu64 ",%.0f,%.0f,%" PRIu64 ",%" PRIu64 ",%.3f,%" PRIu64
		",%.3f,%" PRIu64 ",%.3f,%.3f,%.3f,%.3f,",
		workload_label(&r->pt), r->pt.wss, r->dirty_rate, r->pt.link, r->pt.cap, r->rounds,
		r->total_ms, r->transferred, r->downtime_ms, r->ideal_bytes, r->ideal_total_ms,
		r->ideal_downtime_ms, r->bytes_ratio, r->total_ratio);
	/* n/a (no data page in the final round): an empty field. */
	if (r->downtime_ratio >= 0)
		fprintf(f, "%.3f", r->downtime_ratio);
	fputc('\n', f);
}

static void table_header(void)
{
	printf("%-6s %6s %8s %6s %8s %8s %9s | %7s %5s %5s %5s %5s | %6s %7s %8s | %6s  %s\n",
	       "wss", "epochs", "dirty/s", "rounds", "total-ms", "sent-MiB", "ideal-MiB", "down-ms",
	       "stop", "final", "end", "ack", "bytes", "total", "downtime", "verify", "check");
}

static void table_row(const struct result *r)
{
	char tag[16];
	snprintf(tag, sizeof(tag), "%" PRIu64 "%s", r->pt.wss, r->pt.throttle ? "*" : "");
	if (!r->rounds) {
		printf("%-6s %6u FAILED: %s", tag, r->epochs, r->why);
		if (r->reruns)
			printf(" (after %d reruns with more epochs)", r->reruns);
		printf("\n");
		return;
	}
	/* The parts add up to the downtime: it ends as GO is about to be sent. */
	char dr[16];
	if (r->downtime_ratio < 0)
		snprintf(dr, sizeof(dr), "n/a");
	else
		snprintf(dr, sizeof(dr), "%.1f", r->downtime_ratio);
	printf("%-6s %6u %8.0f %6" PRIu64 " %8.1f %8.2f %9.2f | %7.1f %5.1f %5.1f %5.1f %5.1f | "
	       "%6.2f %7.1f %8s | %6.1f  %s",
	       tag, r->epochs, r->dirty_rate, r->rounds, r->total_ms, mib((double)r->transferred),
	       mib((double)r->ideal_bytes), r->downtime_ms, r->pause_ms, r->final_ms, r->end_ms,
	       r->ack_ms, r->bytes_ratio, r->total_ratio, dr, r->verify_ms,
	       r->ok ? "ok" : "FAILED");
	if (r->pt.throttle)
		printf(" (throttle up to %u%%)", r->throttle_pct);
	if (r->reruns)
		printf(" (reran %d time%s with more epochs)", r->reruns, r->reruns > 1 ? "s" : "");
	printf("\n");
	if (!r->ok)
		printf("       %s\n", r->why);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- main ------------------------------------------------------------------ */

/* A decimal number, with an optional K, M or G (binary) suffix if `suffix`. */
static int parse_num(const char *s, bool suffix, uint64_t *out)
{
	char *end;
	errno = 0;
	uint64_t v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-' || (!suffix && *end))
		return -1;
	int shift = 0;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (shift && end[1])
		return -1;
	if (v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_migrate [--mem SIZE_MIB] [--max-bandwidth BYTES_PER_S] [--csv "
		   "FILE]\n"
		   "                     [--repeat N] [--throttle-point] [--verbose]\n"
		   "  --mem SIZE_MIB          guest RAM in MiB (default 256)\n"
		   "  --max-bandwidth BYTES   cap the stream, bytes/s, K/M/G suffixes (default "
		   "none)\n"
		   "  --csv FILE              also write the results as CSV\n"
		   "  --repeat N              migrate every point N times (default 1)\n"
		   "  --throttle-point        add a point with auto-converge under an 8 MiB/s "
		   "cap\n"
		   "  --verbose               the engine's per-round lines on stderr\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"mem", required_argument, NULL, 'm'},
	    {"max-bandwidth", required_argument, NULL, 'b'},
	    {"csv", required_argument, NULL, 'c'},
	    {"repeat", required_argument, NULL, 'r'},
	    {"throttle-point", no_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t mem_mib = 256, cap = 0, repeat = 1;
	const char *csv_path = NULL;
	bool verbose = false, throttle_point = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (parse_num(optarg, false, &mem_mib) || mem_mib < (ABI_RAM_MIN >> 20) ||
			    mem_mib > (ABI_RAM_MAX >> 20) || (mem_mib << 20) % ABI_PAGE_SIZE) {
				fprintf(stderr, "bench_migrate: --mem %s: MiB, 16..262144\n",
					optarg);
				return 2;
			}
			break;
		case 'b':
			if (parse_num(optarg, true, &cap) || !cap) {
				fprintf(stderr,
					"bench_migrate: --max-bandwidth %s: bytes per second, "
					"e.g. 64M\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			csv_path = optarg;
			break;
		case 'r':
			if (parse_num(optarg, false, &repeat) || !repeat || repeat > 100) {
				fprintf(stderr, "bench_migrate: --repeat %s: 1..100\n", optarg);
				return 2;
			}
			break;
		case 't':
			throttle_point = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	uint64_t mem = mem_mib << 20;
	uint64_t max_wss = boot_max_wss(mem, guest_image, 1);

	FILE *csv = NULL;
	if (csv_path) {
		csv = fopen(csv_path, "w");
		if (!csv) {
			fprintf(stderr, "bench_migrate: %s: %s\n", csv_path, strerror(errno));
			return 2;
		}
		csv_header(csv);
	}

	/* 1. The link. */
	double best = 0, worst = 0;
	for (int i = 0; i < LINK_REPS; i++) {
		double bw = link_once();
		if (bw <= 0) {
			fprintf(stderr, "bench_migrate: the link measurement failed\n");
			return 1;
		}
		best = bw > best ? bw : best;
		worst = !i || bw < worst ? bw : worst;
	}
	/* Pre-copy goes at most at the cap; the final round at the link. */
	double precopy = cap && (double)cap < best ? (double)cap : best;
	printf("bench_migrate: %" PRIu64 " MiB guest, random workload, bitmap log on both "
	       "ends, migration after epoch 1,\n"
	       "downtime limit %d ms, at most %d rounds, %" PRIu64 " migration%s per point\n",
	       mem_mib, MIGRATE_DEFAULT_DOWNTIME_MS, MIGRATE_DEFAULT_MAX_ROUNDS, repeat,
	       repeat > 1 ? "s" : "");
	printf("link: unix stream socket, %llu MiB in 1 MiB writes, best of %d: %.1f MiB/s "
	       "(slowest %.1f)\n",
	       LINK_BYTES >> 20, LINK_REPS, mib(best), mib(worst));
	if (cap)
		printf("cap: --max-bandwidth %.1f MiB/s on the rounds the guest runs through; the "
		       "total's ideal uses\n"
		       "%.1f MiB/s, the downtime's the measured link (the final round is not "
		       "capped)\n",
		       mib((double)cap), mib(precopy));
	else
		printf("no cap; the ideals use the measured link\n");
	printf("\n");

	/* 2. The migrations. */
	struct point pts[8];
	int npts = 0;
	for (size_t i = 0; i < sizeof(wss_points) / sizeof(wss_points[0]); i++) {
		if (wss_points[i] > max_wss) {
			printf("wss %" PRIu64 ": skipped, a %" PRIu64
			       " MiB guest maps at most %" PRIu64 " pages\n",
			       wss_points[i], mem_mib, max_wss);
			continue;
		}
		pts[npts++] = (struct point){
		    .wss = wss_points[i], .cap = cap, .link = best, .precopy = precopy};
	}
	if (throttle_point && npts) {
		uint64_t tcap = cap && cap < THROTTLE_BW ? cap : THROTTLE_BW;
		pts[npts] = pts[npts - 1];
		pts[npts].cap = tcap;
		pts[npts].throttle = true;
		pts[npts].precopy = (double)tcap < best ? (double)tcap : best;
		npts++;
	}
	if (!npts) {
		fprintf(stderr, "bench_migrate: no working set fits %" PRIu64 " MiB\n", mem_mib);
		return 2;
	}

	printf("total-ms: the engine's total, connect to GO (the harness's RAM hash left out).  "
	       "The downtime's parts\n"
	       "(ms): stop the vCPU, final round, state and END, destination until its ACK; "
	       "verify: GO to the\n"
	       "destination's verdict on the source's RAM checksum (after GO: not downtime).\n"
	       "Ratios to the ideal: bytes = sent / ideal bytes, total = total-ms / (ideal bytes "
	       "less the final\n"
	       "round's at the pre-copy link + the final round's at the link), downtime = "
	       "downtime / (final\n"
	       "round's bytes / link), n/a without a data page; the pre-copy link is the cap if "
	       "lower\n");
	table_header();
	int failed = 0;
	struct result *res = calloc((size_t)npts * repeat, sizeof(*res));
	if (!res)
		return 1;
	for (int p = 0; p < npts; p++) {
		for (uint64_t k = 0; k < repeat; k++) {
			struct result *r = &res[(uint64_t)p * repeat + k];
			run_point(&pts[p], mem, verbose, r);
			table_row(r);
			fflush(stdout);
			if (!r->ok)
				failed++;
			if (csv && r->ok)
				csv_row(csv, r);
		}
	}
	if (throttle_point)
		printf(
		    "* auto-converge (--throttle auto) under a %.1f MiB/s cap; its total's ideal "
		    "uses that cap\n",
		    mib(pts[npts - 1].precopy));

	if (repeat > 1) {
		/* Over the migrations that passed their checks. */
		printf("\nmedians of the good migrations\n%-6s %4s %8s %7s %8s %9s\n", "wss", "n",
		       "dirty/s", "bytes", "total", "downtime");
		double *v = calloc(repeat * 4, sizeof(*v));
		for (int p = 0; v && p < npts; p++) {
			const struct result *r = &res[(uint64_t)p * repeat];
			int n = 0;
			for (uint64_t k = 0; k < repeat; k++) {
				if (!r[k].ok)
					continue;
				v[n] = r[k].dirty_rate;
				v[repeat + n] = r[k].bytes_ratio;
				v[2 * repeat + n] = r[k].total_ratio;
				v[3 * repeat + n] = r[k].downtime_ratio;
				n++;
			}
			if (!n)
				continue;
			printf("%-5" PRIu64 "%s %4d %8.0f %7.2f %8.2f %9.1f\n", pts[p].wss,
			       pts[p].throttle ? "*" : " ", n, median(v, n), median(v + repeat, n),
			       median(v + 2 * repeat, n), median(v + 3 * repeat, n));
		}
		free(v);
	}
	free(res);
	if (csv && fclose(csv)) {
		fprintf(stderr, "bench_migrate: %s: %s\n", csv_path, strerror(errno));
		return 1;
	}
	if (failed) {
		printf("\n%d migration%s FAILED\n", failed, failed > 1 ? "s" : "");
		return 1;
	}
	return 0;
}
