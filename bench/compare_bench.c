/*
 * bench_compare: what each guest dirty-tracking policy costs the guest, and
 * what each host log mode costs the host, measured side by side in one run
 * with `dirtyscope compare`'s machinery (logger/compare/compare.c).
 *
 * For every policy x log mode it runs the same file workload (same seed,
 * same stores) and reports, per page the guest wrote back: guest page
 * faults, write faults, KVM exits and KVM page faults (binary stats), plus
 * harvest time per epoch and the missed pages; then each policy's guest
 * faults and exits as a ratio to wp's in the same mode.  With VCPUS above 1
 * the guest runs on that many CPUs (db with a writer each) and each row also
 * gives the TLB shootdowns per page written back (noflush sends none).
 * Nothing is asserted: see bench/README.md.
 *
 *   bench_compare [WORKLOAD [PAGES [EPOCHS [WRITES [VCPUS]]]]]   (default db 64 4 64 1)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi/wlfile.h"
#include "fs/dsfs.h"
#include "logger/compare/compare.h"
#include "logger/session.h"
#include "vmm/wlnames.h"

/* Every policy (vmm/wlnames.h), under these logs: KVM's own, whole-slot and
 * chunked, and the host's page tables. */
#define MAX_POLICIES 8
static const struct dlog_mode *const modes[] = {&dlog_mode_bitmap, &dlog_mode_clear,
						&dlog_mode_uffd};

struct cell {
	int ret;
	struct compare_counts t;
	uint64_t page_writes, epochs;
};

/* The file workload called name, or 0. */
static uint32_t workload_id(const char *name)
{
	const struct wl_name *w = wl_find(name);
	return w && w->kind == WL_FILE ? w->id : 0;
}

static int run_one(const char *image, uint32_t wl, const char *wlname, uint32_t policy,
		   const struct dlog_mode *mode, uint64_t pages, uint32_t epochs, uint64_t writes,
		   uint32_t vcpus, struct cell *out)
{
	struct dsfs_file_spec f = {.capacity = pages * 4096};
	char why[256];
	const char *file = abi_wl_file_name(wl); /* shared2's is "shared" */
	snprintf(f.name, sizeof(f.name), "%s", file ? file : "");
	f.size = wl == ABI_WL_LOG ? 0 : f.capacity;
	if (dsfs_mkimage(image, (1 + pages) * 4096, &f, 1, why, sizeof(why))) {
		fprintf(stderr, "bench_compare: mkimage: %s\n", why);
		return -EIO;
	}
	struct compare cmp;
	struct compare_config cc = {.image_path = image,
				    .policy = policy,
				    .policy_name = policy_name_of(policy),
				    .mode_name = mode->name,
				    .workload_name = wlname,
				    .report = stderr};
	int ret = compare_init(&cmp, &cc);
	if (ret)
		return ret;
	struct run_summary sum;
	struct session_config cfg = {
	    .kvm_path = "/dev/kvm",
	    .mode = mode,
	    .dlog = dlog_config_default(),
	    .workload_name = wlname,
	    .wl = {.workload = wl,
		   .epochs = epochs,
		   .wss_pages = pages,
		   .writes_per_epoch = writes,
		   .seed = 1,
		   .policy = policy,
		   .flush_every = 200,
		   .sync_every = (uint32_t)(writes / 3),
		   .nr_cpus = vcpus},
	    .image_path = image,
	    .policy_name = policy_name_of(policy),
	    .mem_bytes = 256ull << 20,
	    .sinks = {&cmp.sink},
	    .nr_sinks = 1,
	};
	out->ret = session_run(&cfg, &sum);
	out->t = cmp.total;
	out->page_writes = sum.guest_page_writes;
	out->epochs = cmp.epochs;
	if (cmp.error)
		out->ret = cmp.error;
	compare_free(&cmp);
	unlink(image);
	return 0;
}

static double per(uint64_t n, uint64_t d)
{
	return d ? (double)n / (double)d : 0.0;
}

int main(int argc, char **argv)
{
	const char *wlname = argc > 1 ? argv[1] : "db";
	uint64_t pages = argc > 2 ? strtoull(argv[2], NULL, 0) : 64;
	uint32_t epochs = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 4;
	uint64_t writes = argc > 4 ? strtoull(argv[4], NULL, 0) : 64;
	uint32_t vcpus = argc > 5 ? (uint32_t)strtoul(argv[5], NULL, 0) : 1;
	uint32_t wl = workload_id(wlname);
	if (!wl || !pages || !epochs || !writes || !vcpus || vcpus > ABI_MAX_CPUS) {
		char files[128];
		fprintf(stderr,
			"usage: bench_compare [%s [PAGES [EPOCHS [WRITES [VCPUS 1..8]]]]]\n",
			wl_list(WL_FILE, "|", "|", files, sizeof(files)));
		return 2;
	}
	char image[] = "/tmp/bench_compare-XXXXXX";
	int fd = mkstemp(image);
	if (fd < 0) {
		perror("bench_compare: mkstemp");
		return 1;
	}
	close(fd);

	struct cell cells[MAX_POLICIES][3];
	printf("bench_compare: %s, %llu-page file, %u epochs x %llu stores, msync every %llu, "
	       "%u vCPU%s\n",
	       wlname, (unsigned long long)pages, epochs, (unsigned long long)writes,
	       (unsigned long long)writes / 3, vcpus, vcpus == 1 ? "" : "s");
	printf("%-7s %-6s %7s %8s %8s %8s %8s %9s %7s %6s %6s\n", "policy", "log", "writes",
	       "faults/w", "wfault/w", "exits/w", "pf/w", "harvest-us", "missed", "vs-wp", "tlb/w");
	for (int p = 0; policy_names[p].name && p < MAX_POLICIES; p++)
		for (int m = 0; m < 3; m++) {
			struct cell *c = &cells[p][m];
			if (run_one(image, wl, wlname, policy_names[p].id, modes[m], pages, epochs,
				    writes, vcpus, c) ||
			    c->ret < 0) {
				printf("%-7s %-6s failed (%d)\n", policy_names[p].name,
				       modes[m]->name, c->ret);
				c->ret = -1;
				continue;
			}
			const struct compare_counts *t = &c->t;
			struct cell *wp = &cells[0][m];
			/* Guest cost relative to wp in the same mode: faults and
			 * exits per page written back. */
			double ratio = wp->ret >= 0 && per(t->stats[VSTAT_EXITS], c->page_writes)
					   ? per(t->stats[VSTAT_EXITS], c->page_writes) /
						 per(wp->t.stats[VSTAT_EXITS], wp->page_writes)
					   : 0;
			printf("%-7s %-6s %7llu %8.2f %8.2f %8.2f %8.2f %9.1f %7llu %6.2f %6.2f\n",
			       policy_names[p].name, modes[m]->name,
			       (unsigned long long)c->page_writes,
			       per(t->guest_faults, c->page_writes),
			       per(t->guest_write_faults, c->page_writes),
			       per(t->stats[VSTAT_EXITS], c->page_writes),
			       per(t->stats[VSTAT_PF_TAKEN], c->page_writes),
			       per(t->harvest_ns, c->epochs * 1000), (unsigned long long)t->missed,
			       ratio, per(t->guest_shootdowns, c->page_writes));
		}
	printf("per page written back (w); harvest-us per epoch; vs-wp: exits per page\n"
	       "written back relative to wp under the same log mode (lossy writes fewer\n"
	       "pages because it loses the rest: see missed); tlb/w: TLB shootdowns per\n"
	       "page written back (several vCPUs).\n");
	return 0;
}
