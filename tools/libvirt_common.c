/*
 * What the `dirtyscope libvirt` subcommands share (libvirt_common.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "abi/boot.h"
#include "tools/cli.h"
#include "tools/guestkernel.h"
#include "tools/libvirt_common.h"
#include "util/log.h"
#include "util/parse.h"
#include "vmm/vm.h"
#include "virt/virt_dirtyrate.h"
#include "vmm/wlnames.h"

/* RAM the standalone guest keeps for itself and the firmware's holes,
 * beyond its working set (measured: the guest's page tables, its seen
 * bitmap and the BIOS areas of -machine pc take under 4 MiB). */
#define LV_RAM_RESERVE_MIB 8
#define LV_MEM_MIN_MIB	   32
/* The standalone guest uses RAM below 4 GiB only; above the PCI hole
 * (3 GiB) QEMU puts the rest beyond 4 GiB. */
#define LV_MEM_MAX_MIB 3072

volatile sig_atomic_t lv_stop;

static void on_stop(int sig)
{
	lv_stop = 1;
	vm_request_stop();
}

void lv_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void lv_workload_default(struct lv_workload *w, uint64_t wss)
{
	*w = (struct lv_workload){
	    .name = "seq", .id = ABI_WL_SEQ, .wss = wss, .seed = 1, .hot_pct = 90, .mem_mib = 128};
}

int lv_workload_opt(struct lv_workload *w, const char *opt, const char *arg)
{
	uint64_t v;

	if (!strcmp(opt, "workload")) {
		const struct wl_name *n = wl_find(arg);
		if (!n || n->kind != WL_ANON) {
			char list[128];
			usage_error("--workload: %s (under libvirt the guest runs its anonymous "
				    "workloads only)",
				    wl_list(WL_ANON, ", ", " or ", list, sizeof(list)));
			return -1;
		}
		w->name = n->name;
		w->id = n->id;
	} else if (!strcmp(opt, "mem")) {
		if (parse_size(arg, &v) || v % (1 << 20) || v >> 20 < LV_MEM_MIN_MIB ||
		    v >> 20 > LV_MEM_MAX_MIB) {
			usage_error("--mem: a whole number of MiB from %d MiB to %d MiB, e.g. 128M",
				    LV_MEM_MIN_MIB, LV_MEM_MAX_MIB);
			return -1;
		}
		w->mem_mib = v >> 20;
	} else {
		static const struct {
			const char *name;
			uint64_t min, max;
			size_t off;
		} nums[] = {
		    {"wss", 1, 1 << 20, offsetof(struct lv_workload, wss)},
		    {"writes", 1, UINT32_MAX, offsetof(struct lv_workload, writes)},
		    /* UINT64_MAX is what the guest-line parser cannot tell
		     * from an overflow (virt/virt_line.c). */
		    {"seed", 0, UINT64_MAX - 1, offsetof(struct lv_workload, seed)},
		    {"hot-pages", 1, 1 << 20, offsetof(struct lv_workload, hot_pages)},
		    {"hot-pct", 0, 100, offsetof(struct lv_workload, hot_pct)},
		};
		size_t i;
		for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
			if (!strcmp(opt, nums[i].name))
				break;
		if (i == sizeof(nums) / sizeof(nums[0]))
			return 0;
		if (parse_u64(arg, nums[i].min, nums[i].max, &v)) {
			usage_error("--%s: a number from %llu to %llu", opt,
				    (unsigned long long)nums[i].min, (unsigned long long)nums[i].max);
			return -1;
		}
		*(uint64_t *)((char *)w + nums[i].off) = v;
	}
	return 1;
}

enum ds_fail lv_workload_check(struct lv_workload *w)
{
	uint64_t fit = (w->mem_mib - LV_RAM_RESERVE_MIB) * 256;

	if (w->wss > fit)
		return usage_error("--wss %llu: %llu MiB of guest RAM holds at most %llu pages "
				   "(raise --mem)",
				   (unsigned long long)w->wss, (unsigned long long)w->mem_mib,
				   (unsigned long long)fit);
	if (!w->writes)
		w->writes = w->wss;
	if (w->id == ABI_WL_HOTCOLD) {
		/* The guest's default (guest/pvh.c): a tenth of the set. */
		if (!w->hot_pages)
			w->hot_pages = w->wss / 10 ? w->wss / 10 : 1;
		if (w->hot_pages > w->wss)
			return usage_error("--hot-pages: at most --wss (%llu)",
					   (unsigned long long)w->wss);
	}
	return DS_FAIL_NONE;
}

void lv_cmdline(const struct lv_workload *w, char *buf, size_t len)
{
	int n = snprintf(buf, len, "ds.workload=%s ds.wss=%llu ds.writes=%llu ds.seed=%llu ds.epochs=%llu",
			 w->name, (unsigned long long)w->wss, (unsigned long long)w->writes,
			 (unsigned long long)w->seed, (unsigned long long)w->epochs);
	if (w->id == ABI_WL_HOTCOLD && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " ds.hot-pages=%llu ds.hot-pct=%llu",
			 (unsigned long long)w->hot_pages, (unsigned long long)w->hot_pct);
}

enum ds_fail lv_kernel(char *buf, size_t len)
{
	static struct guest_kernel g; /* large: not on the stack */

	guestkernel_find(&g);
	if (!g.elf[0]) {
		log_err("no guest kernel ELF file beside %s (dirtyscope info names where it is "
			"looked for)",
			g.self);
		return DS_FAIL_PLATFORM;
	}
	if (strlen(g.elf) >= len) {
		log_err("the guest kernel's path is too long: %s", g.elf);
		return DS_FAIL_PLATFORM;
	}
	snprintf(buf, len, "%s", g.elf);
	return DS_FAIL_NONE;
}

int lv_parse_calc_time(const char *arg, unsigned *out)
{
	uint64_t v;
	if (parse_u64(arg, 1, VIRT_DR_MAX_CALC_S, &v)) {
		usage_error("--calc-time: whole seconds from 1 to %d", VIRT_DR_MAX_CALC_S);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}
