/*
 * Guest RAM layout: slot 0 is [0, min(RAM, 3 GiB)); RAM beyond 3 GiB goes to
 * slot 1 at 4 GiB.  Both are windows of one host mapping, so slot 1's
 * userspace_addr is host + 3 GiB, not host + 4 GiB, and a slot-relative page
 * number must be offset by the slot's first RAM index, never by its GPA.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include "util/log.h"
#include "abi/layout.h"
#include "vmm/kvm.h"
#include "vmm/mem.h"

int mem_create(struct guest_mem *m, uint64_t ram_size)
{
	memset(m, 0, sizeof(*m));
	if (ram_size % ABI_PAGE_SIZE || ram_size < ABI_RAM_MIN || ram_size > ABI_RAM_MAX)
		return -EINVAL;
	/* NORESERVE: a 64 GiB guest costs only the pages it touches. */
	void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		int ret = -errno;
		log_err("mmap of %llu bytes of guest RAM failed", (unsigned long long)ram_size);
		return ret;
	}
	m->host = p;
	m->ram_size = ram_size;
	m->nr_pages = ram_size / ABI_PAGE_SIZE;

	uint64_t low = ram_size < ABI_HOLE_START ? ram_size : ABI_HOLE_START;
	m->slots[0] = (struct mem_slot){.id = 0, .gpa = 0, .pages = low / ABI_PAGE_SIZE};
	m->nr_slots = 1;
	if (ram_size > low) {
		m->slots[1] = (struct mem_slot){.id = 1,
						.gpa = ABI_HOLE_END,
						.pages = (ram_size - low) / ABI_PAGE_SIZE,
						.first_page = low / ABI_PAGE_SIZE};
		m->nr_slots = 2;
	}
	return 0;
}

int mem_register(const struct guest_mem *m, int vm_fd, uint32_t flags)
{
	for (int i = 0; i < m->nr_slots; i++) {
		const struct mem_slot *s = &m->slots[i];
		struct kvm_userspace_memory_region r = {
		    .slot = s->id,
		    .flags = flags,
		    .guest_phys_addr = s->gpa,
		    .memory_size = s->pages * ABI_PAGE_SIZE,
		    .userspace_addr = (uint64_t)(m->host + s->first_page * ABI_PAGE_SIZE),
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			int ret = -errno;
			log_err("KVM_SET_USER_MEMORY_REGION slot %u (gpa %#llx, %llu pages): %s",
				s->id, (unsigned long long)s->gpa, (unsigned long long)s->pages,
				strerror(errno));
			return ret;
		}
	}
	return 0;
}

void *mem_gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->nr_slots; i++) {
		const struct mem_slot *s = &m->slots[i];
		uint64_t size = s->pages * ABI_PAGE_SIZE;
		/* Written to be overflow-proof for any gpa/len the guest sends. */
		if (gpa >= s->gpa && gpa - s->gpa <= size && len <= size - (gpa - s->gpa))
			return m->host + s->first_page * ABI_PAGE_SIZE + (gpa - s->gpa);
	}
	return NULL;
}

int64_t mem_gpa_to_index(const struct guest_mem *m, uint64_t gpa)
{
	for (int i = 0; i < m->nr_slots; i++) {
		const struct mem_slot *s = &m->slots[i];
		if (gpa >= s->gpa && (gpa - s->gpa) / ABI_PAGE_SIZE < s->pages)
			return (int64_t)(s->first_page + (gpa - s->gpa) / ABI_PAGE_SIZE);
	}
	return -1;
}

uint64_t mem_index_to_gpa(const struct guest_mem *m, uint64_t idx)
{
	for (int i = m->nr_slots - 1; i >= 0; i--) {
		const struct mem_slot *s = &m->slots[i];
		if (idx >= s->first_page)
			return s->gpa + (idx - s->first_page) * ABI_PAGE_SIZE;
	}
	return 0; /* unreachable: slot 0 starts at index 0 */
}

const struct mem_slot *mem_slot_by_id(const struct guest_mem *m, uint32_t id)
{
	for (int i = 0; i < m->nr_slots; i++)
		if (m->slots[i].id == id)
			return &m->slots[i];
	return NULL;
}

void mem_destroy(struct guest_mem *m)
{
	if (m->host)
		munmap(m->host, m->ram_size);
	m->host = NULL;
}

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)

/*
 * PAGEMAP_SCAN (Linux 6.7) from <linux/fs.h>, spelled out because the
 * build's kernel headers may predate it; the ABI is fixed.
 */
#define DS_PAGEMAP_SCAN	   _IOWR('f', 16, struct ds_pm_scan_arg)
#define DS_PAGE_IS_PRESENT (1ULL << 3)
#define DS_PAGE_IS_SWAPPED (1ULL << 4)
#define DS_SCAN_REGIONS	   256

struct ds_page_region {
	uint64_t start, end, categories;
};

struct ds_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

/* Set bits first .. first+n-1 (bit 0 is bits[0]'s lowest). */
static void set_bits(uint64_t *bits, uint64_t first, uint64_t n)
{
	for (uint64_t i = first; i < first + n;) {
		if (i % 64 == 0 && first + n - i >= 64) {
			bits[i / 64] = ~0ULL;
			i += 64;
		} else {
			bits[i / 64] |= 1ULL << (i % 64);
			i++;
		}
	}
}

/*
 * The kernel's populated ranges, not one entry per page: its walk skips
 * page tables that were never allocated, so the cost follows the
 * populated RAM, not the size of the mapping (reading 8 GiB of mostly
 * untouched RAM's entries one by one took 100-190 ms).  Returns 0,
 * -ENOTTY or -EINVAL from a kernel without it, or another -errno.
 */
static int populated_scan(int fd, uintptr_t base, uint64_t count, uint64_t *bits)
{
	struct ds_page_region reg[DS_SCAN_REGIONS];
	uint64_t end = base + count * ABI_PAGE_SIZE;
	struct ds_pm_scan_arg a = {
	    .size = sizeof(a),
	    .start = base,
	    .end = end,
	    .vec = (uint64_t)(uintptr_t)reg,
	    .vec_len = DS_SCAN_REGIONS,
	    .category_anyof_mask = DS_PAGE_IS_PRESENT | DS_PAGE_IS_SWAPPED,
	    .return_mask = DS_PAGE_IS_PRESENT | DS_PAGE_IS_SWAPPED,
	};

	while (a.start < end) {
		int got = ioctl(fd, DS_PAGEMAP_SCAN, &a);
		if (got < 0)
			return -errno;
		for (int k = 0; k < got; k++)
			set_bits(bits, (reg[k].start - base) / ABI_PAGE_SIZE,
				 (reg[k].end - reg[k].start) / ABI_PAGE_SIZE);
		/* A full vector stops the walk early: go on from where it
		 * stopped. */
		if (a.walk_end <= a.start)
			return -EIO;
		a.start = a.walk_end;
	}
	return 0;
}

int mem_populated(const struct guest_mem *m, uint64_t first, uint64_t count, uint64_t *bits)
{
	uint64_t ent[512];

	if (count > m->nr_pages || first > m->nr_pages - count)
		return -EINVAL;
	memset(bits, 0, (count + 63) / 64 * 8);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uintptr_t base = (uintptr_t)m->host + first * ABI_PAGE_SIZE;
	int ret = populated_scan(fd, base, count, bits);
	if (ret != -ENOTTY && ret != -EINVAL) {
		close(fd);
		return ret;
	}
	/* An older kernel: one 8-byte entry per host page of the mapping, by
	 * virtual address. */
	memset(bits, 0, (count + 63) / 64 * 8);
	uint64_t vpage = base / ABI_PAGE_SIZE;
	for (uint64_t i = 0; i < count;) {
		uint64_t n = count - i < 512 ? count - i : 512;
		ssize_t got = pread(fd, ent, n * 8, (off_t)((vpage + i) * 8));
		if (got != (ssize_t)(n * 8)) {
			ret = got < 0 ? -errno : -EIO;
			close(fd);
			return ret;
		}
		for (uint64_t k = 0; k < n; k++)
			if (ent[k] & (PM_PRESENT | PM_SWAPPED))
				bits[(i + k) / 64] |= 1ULL << ((i + k) % 64);
		i += n;
	}
	close(fd);
	return 0;
}
