/*
 * Guest RAM: one host mapping, split into KVM memory slots around the hole
 * below 4 GiB.  Three address spaces meet here, and mixing them up is how
 * VMMs have corrupted snapshots of multi-slot guests:
 *   GPA        guest-physical address (has the hole)
 *   RAM index  page number within the host mapping (dense, no hole); the
 *              dirty sets, the oracle's shadow copy and slot bitmaps use it
 *   slot page  page number within one KVM slot (what KVM's logs report)
 */
#ifndef VMM_MEM_H
#define VMM_MEM_H

#include <stdint.h>

#define MEM_MAX_SLOTS 2

struct mem_slot {
	uint32_t id;
	uint64_t gpa;	     /* first GPA */
	uint64_t pages;	     /* length in 4 KiB pages */
	uint64_t first_page; /* RAM index of its first page */
};

struct guest_mem {
	uint8_t *host;	   /* MAP_NORESERVE mapping of all RAM */
	uint64_t ram_size; /* bytes */
	uint64_t nr_pages; /* ram_size / 4 KiB */
	int nr_slots;
	struct mem_slot slots[MEM_MAX_SLOTS];
};

/*
 * Reserve `ram_size` bytes (a 4 KiB multiple within ABI_RAM_MIN..ABI_RAM_MAX)
 * and lay out the slots.  Returns 0, -EINVAL for a bad size, -ENOMEM.
 */
int mem_create(struct guest_mem *m, uint64_t ram_size);

/* Register every slot with KVM_SET_USER_MEMORY_REGION using `flags`. */
int mem_register(const struct guest_mem *m, int vm_fd, uint32_t flags);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one slot, else NULL.
 * Every access the guest asks for goes through this check. */
void *mem_gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* RAM index of gpa, or -1 when gpa is not RAM. */
int64_t mem_gpa_to_index(const struct guest_mem *m, uint64_t gpa);

/* GPA of RAM index idx (idx < nr_pages). */
uint64_t mem_index_to_gpa(const struct guest_mem *m, uint64_t idx);

/* Slot holding slot id `id`, or NULL. */
const struct mem_slot *mem_slot_by_id(const struct guest_mem *m, uint32_t id);

/* Unmap guest RAM. */
/*
 * Which of the RAM pages first .. first+count-1 may hold data: bit i of
 * `bits` (count bits, zeroed first) is set when page first+i is populated in
 * the host mapping (present or swapped out, from /proc/self/pagemap).  A
 * clear bit is a page nobody has touched (or that was discarded): it reads
 * as zero, so a scan can skip it without faulting it in.  The answer is a
 * snapshot: a caller that needs it to stay true must stop the guest or
 * track writes after it.  Returns 0, or -errno (pagemap unreadable), and
 * then callers must treat every page as populated.
 */
int mem_populated(const struct guest_mem *m, uint64_t first, uint64_t count, uint64_t *bits);

void mem_destroy(struct guest_mem *m);

#endif
