/*
 * Guest boot.  The VMM builds the page tables the guest starts on, so the
 * guest can enter 64-bit mode directly (KVM_SET_SREGS) and never spends its
 * slow emulated instructions on an identity map of all RAM.
 *
 *   PML4[256] -> direct-map PDPT -> one PD per GiB of GPA space (2 MiB pages)
 *   PML4[511] -> kernel PDPT, entry 510 -> the PD of GiB 0 (kernel image)
 *
 * Leaf and intermediate entries carry A (and leaves D) from the start, as
 * Linux does for kernel mappings, so the guest's kernel accesses never make
 * the MMU write page tables: those writes would be dirty pages no workload
 * asked for.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util/log.h"
#include "abi/layout.h"
#include "vmm/boot.h"
#include "vmm/kvm.h"

#define PT_P  0x001ULL
#define PT_W  0x002ULL
#define PT_A  0x020ULL
#define PT_D  0x040ULL
#define PT_PS 0x080ULL

#define GIB (1ULL << 30)

/* Whether a guest-virtual entry point lies in the loaded image. */
static bool in_text(uint64_t va, size_t len)
{
	return va >= ABI_KERNEL_VBASE + ABI_KERNEL_GPA && va < ABI_KERNEL_VBASE + GIB &&
	       va - ABI_KERNEL_VBASE < ABI_KERNEL_GPA + len;
}

int boot_check_image(const void *image, size_t len)
{
	struct abi_image_header h;
	if (len < sizeof(h))
		return -ENOEXEC;
	memcpy(&h, image, sizeof(h));
	if (h.magic != ABI_IMAGE_MAGIC || h.load_end < ABI_KERNEL_GPA + len || h.load_end > GIB ||
	    h.load_end % ABI_PAGE_SIZE || !in_text(h.entry, len) ||
	    (h.ap_entry && !in_text(h.ap_entry, len)))
		return -ENOEXEC;
	return 0;
}

static uint64_t load_end(const void *image)
{
	return ((const struct abi_image_header *)image)->load_end;
}

/* Usable RAM ranges: everything past the kernel, split at the hole. */
static uint32_t ram_ranges(uint64_t ram_size, uint64_t kernel_end, struct abi_ram_range *r)
{
	uint64_t low = ram_size < ABI_HOLE_START ? ram_size : ABI_HOLE_START;
	uint32_t n = 0;
	if (kernel_end < low)
		r[n++] = (struct abi_ram_range){kernel_end, low - kernel_end};
	if (ram_size > low)
		r[n++] = (struct abi_ram_range){ABI_HOLE_END, ram_size - low};
	return n;
}

uint64_t boot_max_wss(uint64_t ram_size, const void *image, uint32_t cpus)
{
	struct abi_ram_range r[ABI_MAX_RAM_RANGES];
	uint32_t n = ram_ranges(ram_size, load_end(image), r);
	uint64_t pages = 0;
	for (uint32_t i = 0; i < n; i++)
		pages += r[i].size / ABI_PAGE_SIZE;
	if (pages <= ABI_KERNEL_RESERVE_PAGES)
		return 0;
	pages -= ABI_KERNEL_RESERVE_PAGES;
	/* Largest w with w + kernel_pages(w) <= pages.  kernel_pages(w) > w / 512,
	 * so no w above pages * 512 / 513 fits: start there and step down. */
	uint64_t w = pages - pages / 513;
	while (w && w + abi_workload_kernel_pages(w, cpus) > pages)
		w--;
	return w;
}

static void *gpa(struct guest_mem *m, uint64_t a)
{
	return mem_gpa_to_hva(m, a, ABI_PAGE_SIZE);
}

static int build_page_tables(struct guest_mem *m)
{
	uint64_t *pml4 = gpa(m, ABI_BOOT_PT_GPA);
	uint64_t *pdpt_dmap = gpa(m, ABI_BOOT_PT_GPA + 0x1000);
	uint64_t *pdpt_kern = gpa(m, ABI_BOOT_PT_GPA + 0x2000);
	uint64_t pd_gpa = ABI_BOOT_PT_GPA + 0x3000;
	uint64_t top =
	    m->slots[m->nr_slots - 1].gpa + m->slots[m->nr_slots - 1].pages * ABI_PAGE_SIZE;

	pml4[256] = (ABI_BOOT_PT_GPA + 0x1000) | PT_P | PT_W | PT_A;
	pml4[511] = (ABI_BOOT_PT_GPA + 0x2000) | PT_P | PT_W | PT_A;
	for (uint64_t g = 0; g * GIB < top; g++) {
		/* Map only 2 MiB pages that hold RAM: the hole stays unmapped, so
		 * a stray guest access faults in the guest instead of exiting. */
		uint64_t *pd = NULL;
		for (uint64_t j = 0; j < 512; j++) {
			uint64_t a = g * GIB + j * ABI_HUGE_SIZE;
			if (mem_gpa_to_index(m, a) < 0)
				continue;
			if (!pd) {
				if (pd_gpa >= ABI_BOOT_PT_END)
					return -E2BIG;
				pd = gpa(m, pd_gpa);
				pdpt_dmap[g] = pd_gpa | PT_P | PT_W | PT_A;
				pd_gpa += 0x1000;
			}
			pd[j] = a | PT_P | PT_W | PT_A | PT_D | PT_PS;
		}
	}
	pdpt_kern[510] = pdpt_dmap[0];
	return 0;
}

int boot_load(struct guest_mem *m, const void *image, size_t len, const struct boot_workload *wl,
	      uint64_t *entry, uint64_t *ap_entry, uint64_t *cr3)
{
	int ret = boot_check_image(image, len);
	if (ret) {
		log_err("guest image: bad header");
		return ret;
	}
	uint64_t end = load_end(image);
	if (end > m->ram_size || end > ABI_HOLE_START) {
		log_err("guest image needs %llu bytes of RAM", (unsigned long long)end);
		return -E2BIG;
	}
	memcpy(gpa(m, ABI_KERNEL_GPA), image, len);
	ret = build_page_tables(m);
	if (ret) {
		log_err("boot page tables do not fit below the kernel");
		return ret;
	}

	struct abi_boot_params *bp = gpa(m, ABI_BOOT_PARAMS_GPA);
	bp->magic = ABI_BOOT_MAGIC;
	bp->version = ABI_BOOT_VERSION;
	bp->nr_ranges = ram_ranges(m->ram_size, end, bp->ranges);
	bp->ram_size = m->ram_size;
	bp->workload = wl->workload;
	bp->nr_epochs = wl->epochs;
	bp->wss_pages = wl->wss_pages;
	bp->writes_per_epoch = wl->writes_per_epoch;
	bp->seed = wl->seed;
	bp->hot_pages = wl->hot_pages;
	bp->hot_pct = wl->hot_pct;
	bp->policy = wl->policy;
	bp->flush_every = wl->flush_every;
	bp->cache_pages = wl->cache_pages;
	bp->sync_every = wl->sync_every;
	bp->flags = wl->flags;
	bp->nr_cpus = wl->nr_cpus ? wl->nr_cpus : 1;
	bp->share_pct = wl->share_pct;

	*entry = ((const struct abi_image_header *)image)->entry;
	*ap_entry = ((const struct abi_image_header *)image)->ap_entry;
	*cr3 = ABI_BOOT_PT_GPA;
	return 0;
}
