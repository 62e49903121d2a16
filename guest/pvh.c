/*
 * The PVH path into the kernel (after guest/pvh.S): no dirtyscope VMM, so
 * the boot parameters the VMM would have written at ABI_BOOT_PARAMS_GPA are
 * made here, from the PVH start info: RAM from its memory map, the workload
 * from the kernel command line.  Then kmain runs as on the VMM's path.
 *
 * Command line (include/abi/pvh.h, docs/abi.md): space-separated words;
 * those starting "ds." are ours and must be known, others are ignored (a
 * loader or a person may add their own):
 *
 *   ds.workload=seq|random|hotcold   default seq
 *   ds.wss=PAGES                     default 512 (as `dirtyscope run`)
 *   ds.epochs=N                      default 10; 0: until powered off
 *   ds.writes=N                      page writes per epoch, default wss
 *   ds.seed=N                        default 1
 *   ds.hot-pages=N ds.hot-pct=N      hotcold, default wss/10 and 90
 *   ds.test=badcheck                 tests only: the data check must fail
 */
#include "defs.h"
#include "../include/abi/pvh.h"

void pvh_main(uint64_t start_info_pa) __attribute__((noreturn));
void kmain(const struct abi_boot_params *bp) __attribute__((noreturn));

extern char _end[];

static struct abi_boot_params params;
static char cmdline[512];

static int has_prefix(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

static int word_is(const char *w, const char *text)
{
	return has_prefix(w, text) && (w[strlen(text)] == ' ' || w[strlen(text)] == 0);
}

/* A decimal number ending the word at *w; panics on anything else, so that
 * a typo is never run as some other workload. */
static uint64_t number(const char *key, const char *w)
{
	uint64_t v = 0;
	const char *p = w;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');
		/* v * 10 + d must fit: every uint64 is a number here. */
		if (v > (~0ULL - d) / 10)
			panic("command line: %s: number too large", key);
		v = v * 10 + d;
	}
	if (p == w || (*p && *p != ' '))
		panic("command line: %s: not a number", key);
	return v;
}

/* Fill params' workload fields from the command line. */
static void parse_cmdline(const char *s)
{
	uint64_t hot_pages = 0, hot_pct = 90, writes = 0;
	params.workload = ABI_WL_SEQ;
	params.wss_pages = 512;
	params.nr_epochs = 10;
	params.seed = 1;
	params.nr_cpus = 1; /* under a PVH loader only the boot CPU runs */
	while (*s) {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		if (!has_prefix(w, "ds."))
			continue;
		if (has_prefix(w, "ds.workload=")) {
			const char *v = w + 12;
			if (word_is(v, "seq"))
				params.workload = ABI_WL_SEQ;
			else if (word_is(v, "random"))
				params.workload = ABI_WL_RANDOM;
			else if (word_is(v, "hotcold"))
				params.workload = ABI_WL_HOTCOLD;
			else
				panic("command line: ds.workload: seq, random or hotcold");
		} else if (has_prefix(w, "ds.wss=")) {
			params.wss_pages = number("ds.wss", w + 7);
		} else if (has_prefix(w, "ds.epochs=")) {
			uint64_t n = number("ds.epochs", w + 10);
			if (n > 0xffffffffULL)
				panic("command line: ds.epochs: too many");
			params.nr_epochs = (uint32_t)n;
		} else if (has_prefix(w, "ds.writes=")) {
			writes = number("ds.writes", w + 10);
		} else if (has_prefix(w, "ds.seed=")) {
			params.seed = number("ds.seed", w + 8);
		} else if (has_prefix(w, "ds.hot-pages=")) {
			hot_pages = number("ds.hot-pages", w + 13);
		} else if (has_prefix(w, "ds.hot-pct=")) {
			hot_pct = number("ds.hot-pct", w + 11);
		} else if (word_is(w, "ds.test=badcheck")) {
			params.flags |= ABI_BOOT_F_TEST_BAD_CHECK;
		} else {
			panic("command line: unknown key in '%s'", w);
		}
	}
	if (params.wss_pages == 0)
		panic("command line: ds.wss: at least one page");
	if (hot_pct > 100)
		panic("command line: ds.hot-pct: 0 to 100");
	params.writes_per_epoch = writes ? writes : params.wss_pages;
	if (params.workload == ABI_WL_HOTCOLD) {
		params.hot_pages = hot_pages ? hot_pages : params.wss_pages / 10;
		if (!params.hot_pages)
			params.hot_pages = 1;
		if (params.hot_pages > params.wss_pages)
			panic("command line: ds.hot-pages: more than ds.wss");
		params.hot_pct = (uint32_t)hot_pct;
	}
}

/* The loader's structure at pa, len bytes, through the direct map; it must
 * lie in what pvh.S mapped (the start info's addresses are 64-bit). */
static const void *loader_ptr(uint64_t pa, uint64_t len, const char *what)
{
	const uint64_t mapped = (uint64_t)ABI_PVH_MAPPED_GIB << 30;
	if (pa >= mapped || len > mapped - pa)
		panic("PVH %s at %lx+%lx lies above %u GiB", what, pa, len, ABI_PVH_MAPPED_GIB);
	return P2V(pa);
}

/* Usable RAM from the memory map: RAM entries, past the kernel image and
 * below what pvh.S mapped, page aligned, at most ABI_MAX_RAM_RANGES. */
static void take_memmap(const struct abi_pvh_start_info *si)
{
	const uint64_t kernel_end = (uint64_t)_end - ABI_KERNEL_VBASE;
	const uint64_t mapped = (uint64_t)ABI_PVH_MAPPED_GIB << 30;
	if (si->version < 1 || !si->memmap_paddr || !si->memmap_entries)
		panic("PVH start info version %u has no memory map", si->version);
	const struct abi_pvh_memmap_entry *e =
	    loader_ptr(si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(*e), "memory map");
	for (uint32_t i = 0; i < si->memmap_entries; i++, e++) {
		if (e->type != ABI_PVH_MEMMAP_RAM || e->addr + e->size < e->addr)
			continue;
		params.ram_size += e->size;
		uint64_t base = e->addr, end = e->addr + e->size;
		base = base < kernel_end ? kernel_end : base;
		end = end > mapped ? mapped : end;
		base = (base + ABI_PAGE_SIZE - 1) & ~(uint64_t)(ABI_PAGE_SIZE - 1);
		end &= ~(uint64_t)(ABI_PAGE_SIZE - 1);
		if (base >= end || params.nr_ranges == ABI_MAX_RAM_RANGES)
			continue;
		params.ranges[params.nr_ranges++] = (struct abi_ram_range){base, end - base};
	}
	if (!params.nr_ranges)
		panic("PVH memory map: no RAM past the kernel below %u GiB", ABI_PVH_MAPPED_GIB);
}

/*
 * Entry from pvh.S, in long mode on the kernel's addresses, with the direct
 * map of the first ABI_PVH_MAPPED_GIB GiB.  Turns the kernel standalone,
 * makes its boot parameters and joins the VMM's path at kmain.
 */
void pvh_main(uint64_t start_info_pa)
{
	hcall_standalone();
	const struct abi_pvh_start_info *si = loader_ptr(start_info_pa, sizeof(*si), "start info");
	if (si->magic != ABI_PVH_START_MAGIC)
		panic("PVH start info: bad magic %x", si->magic);
	/* A bounded copy: the loader's string ends only at its NUL.  Longer
	 * command lines are cut (a word cut in two then fails to parse). */
	if (si->cmdline_paddr) {
		const char *c = loader_ptr(si->cmdline_paddr, sizeof(cmdline), "command line");
		for (size_t n = 0; n < sizeof(cmdline) - 1 && c[n]; n++)
			cmdline[n] = c[n];
	}
	params.magic = ABI_BOOT_MAGIC;
	params.version = ABI_BOOT_VERSION;
	parse_cmdline(cmdline);
	take_memmap(si);
	uint64_t free = 0;
	for (uint32_t i = 0; i < params.nr_ranges; i++)
		free += params.ranges[i].size / ABI_PAGE_SIZE;
	/* The VMM refuses a --wss that cannot fit (vmm/boot.c); so do we,
	 * before the page allocator runs dry in the middle of mapping it. */
	uint64_t wss = params.wss_pages;
	if (wss > free || wss + abi_workload_kernel_pages(wss, 1) + ABI_KERNEL_RESERVE_PAGES > free)
		panic("command line: ds.wss=%lu does not fit %lu free pages", params.wss_pages,
		      free);
	standalone_boot_line(&params);
	kmain(&params);
}
