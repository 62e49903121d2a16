/*
 * bench_smp: what several vCPUs cost, side by side in one run.  For 1, 2, 4
 * and 8 vCPUs and each of KVM's logs (bitmap, clear, ring with the reaper
 * thread, ring without it) it runs the same anonymous workload (random,
 * same seed, the same writes split between the vCPUs) and reports:
 *
 *   harvest    the session's harvest time per epoch and per dirty page
 *   guest      KVM exits per dirty page (the guest's cost of being logged:
 *              write-protect faults, ring-full exits), from binary stats
 *   reaper     passes that found entries, how many of them the thread ran,
 *              and its lag: the most entries one pass found, as a share of
 *              one vCPU's ring (1.0 would mean a ring filled between passes)
 *   ratios     ring's harvest per page and exits per page over bitmap's at
 *              the same vCPU count, and each log's exits per page over its
 *              own at one vCPU
 *
 * Nothing is asserted: see bench/README.md.  Needs /dev/kvm (here: the
 * emulated KVM host, scripts/kvmhost.sh, whose figures are the emulator's).
 *
 *   bench_smp [WSS [EPOCHS]]   (default 4096 4)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/boot.h"
#include "logger/session.h"

struct col {
	const char *name;
	const struct dlog_mode *mode;
	uint32_t reaper_us;
};

static const struct col cols[] = {
    {"bitmap", &dlog_mode_bitmap, 0},
    {"clear", &dlog_mode_clear, 0},
    {"ring+reaper", &dlog_mode_ring, 1000},
    {"ring", &dlog_mode_ring, 0},
};
#define NR_COLS (sizeof(cols) / sizeof(cols[0]))
static const uint32_t vcpus[] = {1, 2, 4, 8};
#define NR_VCPUS (sizeof(vcpus) / sizeof(vcpus[0]))

struct cell {
	int ret;
	struct run_summary sum;
};

static int run_one(const struct col *c, uint32_t n, uint64_t wss, uint32_t epochs, struct cell *out)
{
	struct session_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.kvm_path = "/dev/kvm";
	cfg.mode = c->mode;
	cfg.dlog = dlog_config_default();
	cfg.dlog.reaper_us = c->reaper_us;
	cfg.workload_name = "random";
	cfg.wl = (struct boot_workload){.workload = ABI_WL_RANDOM,
					.epochs = epochs,
					.wss_pages = wss,
					.writes_per_epoch = wss,
					.seed = 42,
					.nr_cpus = n};
	cfg.mem_bytes = 256ull << 20;
	out->ret = session_run(&cfg, &out->sum);
	return out->ret;
}

static double per(double a, double b)
{
	return b > 0 ? a / b : 0;
}

int main(int argc, char **argv)
{
	uint64_t wss = argc > 1 ? strtoull(argv[1], NULL, 0) : 4096;
	uint32_t epochs = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 4;
	static struct cell cells[NR_VCPUS][NR_COLS];

	if (wss < 8 || epochs == 0) {
		fprintf(stderr, "usage: bench_smp [WSS >= 8 [EPOCHS >= 1]]\n");
		return 2;
	}
	printf("bench_smp: random, wss %llu, %u epochs, the writes split between the vCPUs\n\n",
	       (unsigned long long)wss, epochs);
	printf("%5s %-12s %8s %10s %12s %10s %9s %8s %8s %9s\n", "vcpus", "log", "dirty",
	       "harvest-us", "harvest-ns/pg", "exits/pg", "ring-full", "passes", "thread",
	       "lag/ring");
	for (size_t v = 0; v < NR_VCPUS; v++) {
		for (size_t c = 0; c < NR_COLS; c++) {
			struct cell *x = &cells[v][c];
			if (run_one(&cols[c], vcpus[v], wss, epochs, x)) {
				printf("%5u %-12s failed (%d)\n", vcpus[v], cols[c].name, x->ret);
				continue;
			}
			const struct run_summary *s = &x->sum;
			double pages = (double)s->dirty_pages;
			double lag = cols[c].mode == &dlog_mode_ring
					 ? per((double)s->reaper_max_pass,
					       (double)vcpus[v] * DLOG_RING_ENTRIES)
					 : 0;
			printf("%5u %-12s %8llu %10.1f %12.1f %10.3f %9llu %8llu %8llu %9.3f\n",
			       vcpus[v], cols[c].name, (unsigned long long)s->dirty_pages,
			       (double)s->harvest_ns / 1e3 / (double)s->epochs,
			       per((double)s->harvest_ns, pages),
			       per((double)s->stats[VSTAT_EXITS], pages),
			       (unsigned long long)s->ring_full_exits,
			       (unsigned long long)s->reaper_passes,
			       (unsigned long long)s->reaper_thread_passes, lag);
		}
	}
	printf("\nratios (same run): ring over bitmap at each vCPU count; exits per page over "
	       "the same log's at 1 vCPU\n");
	printf("%5s %-12s %16s %14s %16s\n", "vcpus", "log", "harvest/pg:bitmap", "exits/pg:bitmap",
	       "exits/pg:1 vCPU");
	for (size_t v = 0; v < NR_VCPUS; v++) {
		const struct run_summary *b = &cells[v][0].sum;
		for (size_t c = 0; c < NR_COLS; c++) {
			const struct run_summary *s = &cells[v][c].sum, *one = &cells[0][c].sum;
			if (cells[v][c].ret || cells[v][0].ret || cells[0][c].ret)
				continue;
			double hp = per((double)s->harvest_ns, (double)s->dirty_pages);
			double hb = per((double)b->harvest_ns, (double)b->dirty_pages);
			double ep = per((double)s->stats[VSTAT_EXITS], (double)s->dirty_pages);
			double eb = per((double)b->stats[VSTAT_EXITS], (double)b->dirty_pages);
			double e1 = per((double)one->stats[VSTAT_EXITS], (double)one->dirty_pages);
			printf("%5u %-12s %16.2f %14.2f %16.2f\n", vcpus[v], cols[c].name,
			       per(hp, hb), per(ep, eb), per(ep, e1));
		}
	}
	return 0;
}
