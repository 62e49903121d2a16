/*
 * Probe: does userfaultfd async write-protection of the VMM's guest-RAM
 * mapping see the stores a KVM guest makes through KVM's own mapping of that
 * RAM?  Boots the real guest with a workload, harvests both KVM's dirty
 * bitmap (the reference: exact on this host, docs/platform-notes.md) and
 * PAGEMAP_SCAN's written pages at every hypercall, and prints per epoch how
 * many pages each saw and how many only one of them saw.
 *
 *   probe_uffd_kvm [before|after] [seq|random|hotcold] [wss] [epochs] [mem-MiB]
 *
 * before: register the RAM with userfaultfd before KVM_SET_USER_MEMORY_REGION
 * after:  register after the slots exist and the guest is loaded
 * Exit status 0 when every run completed (whatever it measured), 1 on error.
 * Not a CTest test: test_dlog_uffd asserts what this measures.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger/dlog/dlog.h"
#include "logger/dlog/uffd_track.h"
#include "tests/lib/ds_session.h"
#include "util/time.h"
#include "vmm/wlnames.h"

struct probe {
	struct vm *vm;
	struct dlog dlog;
	struct uffd_track *uffd;
	struct frameset kvm, host;
	uint64_t epoch;
	uint64_t tot_kvm, tot_host, tot_kvm_only, tot_host_only;
	uint64_t harvest_ns;
};

static int compare(struct probe *p, const char *what, uint64_t wl_pages)
{
	frameset_clear(&p->kvm);
	frameset_clear(&p->host);
	if (dlog_harvest(&p->dlog, &p->kvm) < 0)
		return -EIO;
	uint64_t t0 = time_now_ns();
	if (uffd_track_harvest(p->uffd, &p->host) < 0)
		return -EIO;
	p->harvest_ns += time_now_ns() - t0;
	uint64_t kvm_only = 0, host_only = 0;
	int64_t first_kvm_only = -1;
	for (uint64_t i = 0; i < p->kvm.count; i++)
		if (!frameset_test(&p->host, p->kvm.list[i])) {
			if (first_kvm_only < 0)
				first_kvm_only = (int64_t)p->kvm.list[i];
			kvm_only++;
		}
	for (uint64_t i = 0; i < p->host.count; i++)
		host_only += !frameset_test(&p->kvm, p->host.list[i]);
	printf("%-6s %3" PRIu64 ": workload %5" PRIu64 "  kvm-bitmap %5" PRIu64 "  uffd %5" PRIu64
	       "  kvm-only %5" PRIu64 "  uffd-only %5" PRIu64,
	       what, p->epoch, wl_pages, p->kvm.count, p->host.count, kvm_only, host_only);
	if (first_kvm_only >= 0)
		printf("  (first kvm-only gpa %#" PRIx64 ")",
		       mem_index_to_gpa(&p->vm->mem, (uint64_t)first_kvm_only));
	printf("\n");
	if (p->epoch) {
		p->tot_kvm += p->kvm.count;
		p->tot_host += p->host.count;
		p->tot_kvm_only += kvm_only;
		p->tot_host_only += host_only;
	}
	p->epoch++;
	return 0;
}

static int on_hcall(void *ctx, const struct hcall *hc)
{
	struct probe *p = ctx;
	switch (hc->nr) {
	case ABI_HC_READY:
		return compare(p, "boot", 0);
	case ABI_HC_SYNC:
		return compare(p, "epoch", hc->args[1]);
	case ABI_HC_DONE:
		return 1;
	}
	return -EPROTO;
}

static int run(int after, uint32_t wl, uint64_t wss, uint32_t epochs, uint64_t mem)
{
	struct vm vm;
	struct probe p = {.vm = &vm};
	struct dlog_config dc = ds_dlog_config();
	struct boot_workload bw = ds_anon_workload(wl, wss, epochs);
	int ret;

	p.uffd = malloc(sizeof(*p.uffd));
	if (!p.uffd)
		return -ENOMEM;
	p.uffd->uffd = p.uffd->pagemap = -1;
	ret = vm_create(&vm, "/dev/kvm", mem);
	if (ret)
		goto out_free;
	if (!after && (ret = uffd_track_open(p.uffd, vm.mem.host, vm.mem.nr_pages)))
		goto out_vm;
	if ((ret = dlog_init(&p.dlog, &dlog_mode_bitmap, &dc, &vm)))
		goto out_uffd;
	if ((ret = vm_register_memory(&vm, KVM_MEM_LOG_DIRTY_PAGES)))
		goto out_dlog;
	if ((ret = vm_load_guest(&vm, &bw)))
		goto out_dlog;
	if (after && (ret = uffd_track_open(p.uffd, vm.mem.host, vm.mem.nr_pages)))
		goto out_dlog;
	if ((ret = vm_create_vcpus(&vm)))
		goto out_dlog;
	if ((ret = frameset_init(&p.kvm, vm.mem.nr_pages)))
		goto out_dlog;
	if ((ret = frameset_init(&p.host, vm.mem.nr_pages)))
		goto out_kvm;
	/* Arm both: what loading the guest wrote is not part of the run. */
	if (dlog_harvest(&p.dlog, NULL) < 0 || uffd_track_harvest(p.uffd, NULL) < 0) {
		ret = -EIO;
		goto out_host;
	}
	/* Host-side control: a store through the VMM's pointer must be seen by
	 * uffd and not by KVM's log. */
	vm.mem.host[(vm.mem.nr_pages - 1) * 4096] = 1;
	compare(&p, "host", 1);
	p.epoch = 0;

	struct vm_handlers h = {.ctx = &p, .hcall = on_hcall};
	uint64_t t0 = time_now_ns();
	ret = vm_run(&vm, &h);
	printf("registered %s KVM_SET_USER_MEMORY_REGION: %s; epochs 1..%u: kvm-bitmap %" PRIu64
	       " pages, uffd %" PRIu64 ", kvm-only %" PRIu64 ", uffd-only %" PRIu64 "; %" PRIu64
	       " PAGEMAP_SCAN/WP ioctls, uffd harvest %.3f ms of %.1f ms run\n",
	       after ? "after" : "before", ret ? "run failed" : "run ok", epochs, p.tot_kvm,
	       p.tot_host, p.tot_kvm_only, p.tot_host_only, p.uffd->ioctls,
	       (double)p.harvest_ns / 1e6, (double)(time_now_ns() - t0) / 1e6);
out_host:
	frameset_free(&p.host);
out_kvm:
	frameset_free(&p.kvm);
out_dlog:
	dlog_teardown(&p.dlog);
out_uffd:
	uffd_track_close(p.uffd);
out_vm:
	vm_destroy(&vm);
out_free:
	free(p.uffd);
	return ret;
}

int main(int argc, char **argv)
{
	const char *when = argc > 1 ? argv[1] : "both";
	const char *wl_name = argc > 2 ? argv[2] : "seq";
	uint64_t wss = argc > 3 ? strtoull(argv[3], NULL, 0) : 256;
	uint32_t epochs = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 0) : 3;
	uint64_t mem = (argc > 5 ? strtoull(argv[5], NULL, 0) : 256) << 20;
	const struct wl_name *w = wl_find(wl_name);
	if (!w || w->kind != WL_ANON) {
		char anon[64];
		fprintf(stderr, "probe_uffd_kvm: workload %s: one of %s\n", wl_name,
			wl_list(WL_ANON, ", ", " or ", anon, sizeof(anon)));
		return 2;
	}
	uint32_t wl = w->id;
	char why[160];
	int ret = uffd_track_probe(why, sizeof(why));
	if (ret) {
		printf("uffd tracking unavailable: %s\n", why);
		return 1;
	}
	int failed = 0;
	if (strcmp(when, "after"))
		failed |= run(0, wl, wss, epochs, mem) != 0;
	if (strcmp(when, "before"))
		failed |= run(1, wl, wss, epochs, mem) != 0;
	return failed;
}
