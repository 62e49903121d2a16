/*
 * The VMM pieces that need no /dev/kvm:
 *
 *   - vmm/mem.h: mem_create's size checks and slot layout around the hole
 *     (one slot up to 3 GiB, two above), the GPA <-> RAM index translations
 *     at every slot edge, and mem_gpa_to_hva's refusal of ranges in the hole,
 *     past the end, across a slot end or built to overflow.  In particular
 *     GPA 4 GiB must map to host + 3 GiB: slot 1 is a window of the same
 *     mapping, and using its GPA as the host offset is the classic multi-slot
 *     bug.  mem_create only reserves address space (MAP_NORESERVE), so even
 *     the 4.5 GiB guests cost nothing;
 *   - vmm/boot.h: boot_max_wss and boot_check_image on the embedded guest;
 *   - vmm/hcall.h: hcall_read on a hypercall page written into fake guest
 *     RAM, as the untrusted guest would.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tests/lib/ds_test.h"
#include "abi/boot.h"
#include "abi/hcall.h"
#include "abi/layout.h"
#include "vmm/boot.h"
#include "vmm/hcall.h"
#include "vmm/mem.h"

#define MIB	     (1ULL << 20)
#define GIB	     (1ULL << 30)
#define PAGES(bytes) ((bytes) / ABI_PAGE_SIZE)

/* ---- mem_create -------------------------------------------------------- */

static void test_create_bad_sizes(void)
{
	static const uint64_t bad[] = {
	    0,
	    ABI_RAM_MIN - ABI_PAGE_SIZE, /* one page short */
	    ABI_RAM_MIN + 1,		 /* not 4 KiB multiples */
	    ABI_RAM_MIN + ABI_PAGE_SIZE / 2,
	    256 * MIB + 512,
	    ABI_RAM_MAX + ABI_PAGE_SIZE, /* one page too many */
	    UINT64_MAX,
	    UINT64_MAX - ABI_PAGE_SIZE + 1, /* a 4 KiB multiple, far too big */
	};
	struct guest_mem m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(mem_create(&m, bad[i]), -EINVAL);
		CU_ASSERT_PTR_NULL(m.host);
		mem_destroy(&m); /* harmless after a failure */
	}
}

static void test_create_min(void)
{
	struct guest_mem m;

	CU_ASSERT_EQUAL_FATAL(mem_create(&m, ABI_RAM_MIN), 0);
	CU_ASSERT_PTR_NOT_NULL(m.host);
	CU_ASSERT_EQUAL(m.ram_size, ABI_RAM_MIN);
	CU_ASSERT_EQUAL(m.nr_pages, PAGES(ABI_RAM_MIN));
	CU_ASSERT_EQUAL(m.nr_slots, 1);
	mem_destroy(&m);
	CU_ASSERT_PTR_NULL(m.host);
}

static void test_one_slot(void)
{
	struct guest_mem m;

	CU_ASSERT_EQUAL_FATAL(mem_create(&m, 256 * MIB), 0);
	CU_ASSERT_EQUAL(m.nr_pages, PAGES(256 * MIB));
	CU_ASSERT_EQUAL(m.nr_slots, 1);
	CU_ASSERT_EQUAL(m.slots[0].id, 0);
	CU_ASSERT_EQUAL(m.slots[0].gpa, 0);
	CU_ASSERT_EQUAL(m.slots[0].pages, PAGES(256 * MIB));
	CU_ASSERT_EQUAL(m.slots[0].first_page, 0);
	CU_ASSERT_PTR_EQUAL(mem_slot_by_id(&m, 0), &m.slots[0]);
	CU_ASSERT_PTR_NULL(mem_slot_by_id(&m, 1));

	/* Without a hole in range, GPA and RAM index agree. */
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, 0), 0);
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, 256 * MIB - 1), PAGES(256 * MIB) - 1);
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, 256 * MIB), -1);
	CU_ASSERT_EQUAL(mem_index_to_gpa(&m, PAGES(256 * MIB) - 1), 256 * MIB - ABI_PAGE_SIZE);
	CU_ASSERT_PTR_EQUAL(mem_gpa_to_hva(&m, 0x1234, 8), m.host + 0x1234);
	CU_ASSERT_PTR_EQUAL(mem_gpa_to_hva(&m, 0, 256 * MIB), m.host); /* all of RAM */
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, 0, 256 * MIB + 1));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, 256 * MIB, 1));
	mem_destroy(&m);
}

static void test_hole_boundary(void)
{
	struct guest_mem m;

	/* Exactly 3 GiB still fits below the hole: one slot. */
	CU_ASSERT_EQUAL_FATAL(mem_create(&m, ABI_HOLE_START), 0);
	CU_ASSERT_EQUAL(m.nr_slots, 1);
	CU_ASSERT_EQUAL(m.slots[0].pages, PAGES(ABI_HOLE_START));
	mem_destroy(&m);

	/* One page more, and that page lives at 4 GiB in a slot of its own. */
	CU_ASSERT_EQUAL_FATAL(mem_create(&m, ABI_HOLE_START + ABI_PAGE_SIZE), 0);
	CU_ASSERT_EQUAL(m.nr_slots, 2);
	CU_ASSERT_EQUAL(m.slots[0].pages, PAGES(ABI_HOLE_START));
	CU_ASSERT_EQUAL(m.slots[1].gpa, ABI_HOLE_END);
	CU_ASSERT_EQUAL(m.slots[1].pages, 1);
	CU_ASSERT_EQUAL(m.slots[1].first_page, PAGES(ABI_HOLE_START));
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, ABI_HOLE_END), PAGES(ABI_HOLE_START));
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, ABI_HOLE_END + ABI_PAGE_SIZE), -1);
	mem_destroy(&m);
}

/* ---- a 4.5 GiB guest: two slots ---------------------------------------- */

#define BIG_RAM	    (4608 * MIB)
#define LOW_PAGES   PAGES(3 * GIB)	     /* 786432 */
#define HIGH_PAGES  PAGES(BIG_RAM - 3 * GIB) /* 393216 */
#define RAM_END_GPA (ABI_HOLE_END + BIG_RAM - 3 * GIB)

static void test_two_slots_layout(void)
{
	struct guest_mem m;

	CU_ASSERT_EQUAL_FATAL(mem_create(&m, BIG_RAM), 0);
	CU_ASSERT_EQUAL(m.nr_pages, PAGES(BIG_RAM));
	CU_ASSERT_EQUAL_FATAL(m.nr_slots, 2);
	CU_ASSERT_EQUAL(m.slots[0].id, 0);
	CU_ASSERT_EQUAL(m.slots[0].gpa, 0);
	CU_ASSERT_EQUAL(m.slots[0].pages, LOW_PAGES);
	CU_ASSERT_EQUAL(m.slots[0].first_page, 0);
	CU_ASSERT_EQUAL(m.slots[1].id, 1);
	CU_ASSERT_EQUAL(m.slots[1].gpa, ABI_HOLE_END);
	CU_ASSERT_EQUAL(m.slots[1].pages, HIGH_PAGES);
	CU_ASSERT_EQUAL(m.slots[1].first_page, LOW_PAGES);
	CU_ASSERT_EQUAL(m.slots[0].pages + m.slots[1].pages, m.nr_pages);
	CU_ASSERT_PTR_EQUAL(mem_slot_by_id(&m, 0), &m.slots[0]);
	CU_ASSERT_PTR_EQUAL(mem_slot_by_id(&m, 1), &m.slots[1]);
	CU_ASSERT_PTR_NULL(mem_slot_by_id(&m, 2));
	mem_destroy(&m);
}

static void check_round_trip(const struct guest_mem *m, uint64_t gpa, uint64_t idx)
{
	CU_ASSERT_EQUAL(mem_gpa_to_index(m, gpa), (int64_t)idx);
	CU_ASSERT_EQUAL(mem_index_to_gpa(m, idx), gpa);
	/* Any byte of the page has the page's index. */
	CU_ASSERT_EQUAL(mem_gpa_to_index(m, gpa + ABI_PAGE_SIZE - 1), (int64_t)idx);
}

static void test_two_slots_translation(void)
{
	struct guest_mem m;

	CU_ASSERT_EQUAL_FATAL(mem_create(&m, BIG_RAM), 0);
	check_round_trip(&m, 0, 0);
	check_round_trip(&m, ABI_HOLE_START - ABI_PAGE_SIZE, LOW_PAGES - 1); /* below the hole */
	check_round_trip(&m, ABI_HOLE_END, LOW_PAGES);			     /* first at 4 GiB */
	check_round_trip(&m, ABI_HOLE_END + ABI_PAGE_SIZE, LOW_PAGES + 1);
	check_round_trip(&m, RAM_END_GPA - ABI_PAGE_SIZE, PAGES(BIG_RAM) - 1); /* last of RAM */
	/* A sample of every 4097th index both ways. */
	for (uint64_t i = 0; i < m.nr_pages; i += 4097)
		CU_ASSERT_EQUAL(mem_gpa_to_index(&m, mem_index_to_gpa(&m, i)), (int64_t)i);

	/* The hole and beyond the end are not RAM. */
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, ABI_HOLE_START), -1);
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, ABI_HOLE_START + GIB / 2), -1);
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, ABI_HOLE_END - 1), -1);
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, RAM_END_GPA), -1);
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, UINT64_MAX), -1);
	/* ram_size as a GPA is not the end of RAM (5.5 GiB is): it is in slot 1. */
	CU_ASSERT_EQUAL(mem_gpa_to_index(&m, BIG_RAM), PAGES(BIG_RAM - GIB));
	mem_destroy(&m);
}

static void test_two_slots_hva(void)
{
	struct guest_mem m;

	CU_ASSERT_EQUAL_FATAL(mem_create(&m, BIG_RAM), 0);
	uint8_t *h = m.host;

	/*
	 * The multi-slot offset bug: GPA 4 GiB is RAM index 3 GiB / 4 KiB, so
	 * host + 3 GiB.  host + 4 GiB would be 1 GiB further into slot 1.
	 */
	CU_ASSERT_PTR_EQUAL(mem_gpa_to_hva(&m, ABI_HOLE_END, ABI_PAGE_SIZE), h + 3 * GIB);
	CU_ASSERT_PTR_EQUAL(mem_gpa_to_hva(&m, ABI_HOLE_END + 0x1234, 4), h + 3 * GIB + 0x1234);
	CU_ASSERT_PTR_EQUAL(mem_gpa_to_hva(&m, ABI_HOLE_START - ABI_PAGE_SIZE, ABI_PAGE_SIZE),
			    h + 3 * GIB - ABI_PAGE_SIZE);
	CU_ASSERT_PTR_EQUAL(mem_gpa_to_hva(&m, RAM_END_GPA - ABI_PAGE_SIZE, ABI_PAGE_SIZE),
			    h + BIG_RAM - ABI_PAGE_SIZE);
	/* Whole slots are fine. */
	CU_ASSERT_PTR_EQUAL(mem_gpa_to_hva(&m, 0, 3 * GIB), h);
	CU_ASSERT_PTR_EQUAL(mem_gpa_to_hva(&m, ABI_HOLE_END, BIG_RAM - 3 * GIB), h + 3 * GIB);

	/* Ranges crossing a slot's end, even by one byte. */
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_START - ABI_PAGE_SIZE, ABI_PAGE_SIZE + 1));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_START - 8, 2 * ABI_PAGE_SIZE));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, 0, 3 * GIB + 1));
	/* Host memory is contiguous across the hole, but the guest's is not. */
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_START - ABI_PAGE_SIZE, 2 * ABI_PAGE_SIZE));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, RAM_END_GPA - ABI_PAGE_SIZE, ABI_PAGE_SIZE + 1));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_END, BIG_RAM - 3 * GIB + 1));

	/* In the hole and past the end. */
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_START, 1));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_START + GIB / 2, ABI_PAGE_SIZE));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_END - 1, 1));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_END - 1, 2)); /* starts in the hole */
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, RAM_END_GPA, 1));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, RAM_END_GPA + GIB, ABI_PAGE_SIZE));

	/* Guest-chosen values that wrap gpa + len: a naive check passes them. */
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, UINT64_MAX - 10, UINT64_MAX));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, UINT64_MAX - 10, 20));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, UINT64_MAX, 1));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, 0x1000, UINT64_MAX));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, 0x1000, UINT64_MAX - 0xfff)); /* end wraps to 0 */
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_END, UINT64_MAX));
	CU_ASSERT_PTR_NULL(mem_gpa_to_hva(&m, ABI_HOLE_END, 0 - ABI_HOLE_END));

	/* The mapping is real: a store through slot 1 lands at host + 3 GiB. */
	uint8_t *p = mem_gpa_to_hva(&m, ABI_HOLE_END + 5, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	*p = 0x77;
	CU_ASSERT_EQUAL(h[3 * GIB + 5], 0x77);
	mem_destroy(&m);
}

/* ---- boot -------------------------------------------------------------- */

static uint64_t image_len(void)
{
	return (uint64_t)(guest_image_end - guest_image);
}

static uint64_t image_load_end(void)
{
	struct abi_image_header h;

	memcpy(&h, guest_image, sizeof(h));
	return h.load_end;
}

/* Pages past the kernel image that the guest can hand out. */
static uint64_t usable_pages(uint64_t ram)
{
	uint64_t low = ram < ABI_HOLE_START ? ram : ABI_HOLE_START;

	return PAGES(low - image_load_end()) + PAGES(ram - low);
}

static void check_wss_fits(uint64_t ram)
{
	uint64_t w = boot_max_wss(ram, guest_image, 1);
	uint64_t usable = usable_pages(ram);

	CU_ASSERT(w > 0);
	CU_ASSERT(w + abi_workload_kernel_pages(w, 1) + ABI_KERNEL_RESERVE_PAGES <= usable);
	/* And it is the largest: one more page (and its tables) does not fit. */
	CU_ASSERT(w + 1 + abi_workload_kernel_pages(w + 1, 1) + ABI_KERNEL_RESERVE_PAGES > usable);
}

static void test_max_wss(void)
{
	static const uint64_t rams[] = {
	    ABI_RAM_MIN, 64 * MIB, 256 * MIB, 1 * GIB, 3 * GIB, BIG_RAM, 64 * GIB, ABI_RAM_MAX,
	};
	uint64_t prev = 0;

	CU_ASSERT_FATAL(image_load_end() < ABI_RAM_MIN);
	for (size_t i = 0; i < sizeof(rams) / sizeof(rams[0]); i++) {
		uint64_t w = boot_max_wss(rams[i], guest_image, 1);

		check_wss_fits(rams[i]);
		CU_ASSERT(w > prev); /* grows with RAM */
		CU_ASSERT(w < PAGES(rams[i]));
		prev = w;
	}
	/* RAM above the hole counts: 4.5 GiB maps more than 3 GiB. */
	CU_ASSERT(boot_max_wss(BIG_RAM, guest_image, 1) - boot_max_wss(3 * GIB, guest_image, 1) >
		  HIGH_PAGES - HIGH_PAGES / 256);
}

static void test_max_wss_nothing_fits(void)
{
	/* An image (header only) that leaves just ABI_KERNEL_RESERVE_PAGES of
	 * a 16 MiB guest: no room for any working set. */
	struct abi_image_header h = {
	    .magic = ABI_IMAGE_MAGIC,
	    .entry = ABI_KERNEL_VBASE + ABI_KERNEL_GPA,
	    .load_end = ABI_RAM_MIN - ABI_KERNEL_RESERVE_PAGES * ABI_PAGE_SIZE,
	};

	CU_ASSERT_EQUAL(boot_max_wss(ABI_RAM_MIN, &h, 1), 0);
	/* Five more pages: still nothing, as mapping one page takes four
	 * page-table pages (PT, PD, PDPT, PML4) and a seen-bitmap page too. */
	h.load_end -= 5 * ABI_PAGE_SIZE;
	CU_ASSERT_EQUAL(boot_max_wss(ABI_RAM_MIN, &h, 1), 0);
	h.load_end -= 1 * ABI_PAGE_SIZE; /* 6 pages: 1 + 4 page-table + 1 bitmap */
	CU_ASSERT_EQUAL(boot_max_wss(ABI_RAM_MIN, &h, 1), 1);
}

static void test_check_image(void)
{
	uint64_t len = image_len();
	uint8_t *copy = malloc(len);

	CU_ASSERT_FATAL(len >= sizeof(struct abi_image_header));
	CU_ASSERT_EQUAL(boot_check_image(guest_image, len), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);

	memcpy(copy, guest_image, len);
	CU_ASSERT_EQUAL(boot_check_image(copy, len), 0);
	copy[0] ^= 0x01; /* magic */
	CU_ASSERT_EQUAL(boot_check_image(copy, len), -ENOEXEC);
	memcpy(copy, guest_image, len);
	copy[7] = 0;
	CU_ASSERT_EQUAL(boot_check_image(copy, len), -ENOEXEC);

	/* Shorter than the header: nothing to read the magic from. */
	memcpy(copy, guest_image, len);
	CU_ASSERT_EQUAL(boot_check_image(copy, sizeof(struct abi_image_header) - 1), -ENOEXEC);
	CU_ASSERT_EQUAL(boot_check_image(copy, 8), -ENOEXEC);
	CU_ASSERT_EQUAL(boot_check_image(copy, 0), -ENOEXEC);
	free(copy);
}

/* ---- hypercalls -------------------------------------------------------- */

/* 16 MiB of fake guest RAM and its hypercall page, as the guest sees it. */
static struct abi_hcall_page *hcall_page(struct guest_mem *m)
{
	CU_ASSERT_EQUAL_FATAL(mem_create(m, 16 * MIB), 0);
	return mem_gpa_to_hva(m, ABI_HCALL_PAGE_GPA, sizeof(struct abi_hcall_page));
}

static void test_hcall_sync(void)
{
	struct guest_mem m;
	struct abi_hcall_page *pg = hcall_page(&m);
	struct hcall hc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	pg->nr = ABI_HC_SYNC;
	for (int i = 0; i < ABI_HCALL_NR_ARGS; i++)
		pg->args[i] = 0x1000 + i;
	pg->args[0] = 7;     /* epoch */
	pg->args[1] = 12345; /* distinct pages written */
	memset(&hc, 0, sizeof(hc));
	strcpy(hc.text, "stale"); /* hcall_read starts from a clean struct */
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_SYNC, &hc), 0);
	CU_ASSERT_EQUAL(hc.nr, ABI_HC_SYNC);
	CU_ASSERT_EQUAL(hc.args[0], 7);
	CU_ASSERT_EQUAL(hc.args[1], 12345);
	for (int i = 2; i < ABI_HCALL_NR_ARGS; i++)
		CU_ASSERT_EQUAL(hc.args[i], 0x1000 + (uint64_t)i);
	CU_ASSERT_EQUAL(hc.text[0], '\0'); /* no text for SYNC */

	/* A snapshot: the guest rewriting the page afterwards changes nothing. */
	pg->args[0] = 8;
	CU_ASSERT_EQUAL(hc.args[0], 7);

	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_READY, &hc), 0);
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_DONE, &hc), 0);
	CU_ASSERT_EQUAL(hc.nr, ABI_HC_DONE);
	CU_ASSERT_EQUAL(hc.args[0], 8);

	/* Each vCPU calls through its own page; SYNC's per-CPU pages come
	 * from buf; a vCPU past ABI_MAX_CPUS has none. */
	struct abi_hcall_page *ap = mem_gpa_to_hva(&m, abi_hcall_page_gpa(3), sizeof(*ap));
	CU_ASSERT_PTR_NOT_NULL_FATAL(ap);
	CU_ASSERT_EQUAL(abi_hcall_page_gpa(3), ABI_AP_HCALL_GPA + 2 * ABI_PAGE_SIZE);
	ap->args[0] = 99;
	uint64_t words[ABI_MAX_CPUS] = {5, 6, 7};
	memcpy(ap->buf, words, sizeof(words));
	CU_ASSERT_EQUAL(hcall_read(&m, 3, ABI_HC_SYNC, &hc), 0);
	CU_ASSERT_EQUAL(hc.cpu, 3);
	CU_ASSERT_EQUAL(hc.args[0], 99);
	CU_ASSERT(memcmp(hc.cpu_pages, words, sizeof(words)) == 0);
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_SYNC, &hc), 0);
	CU_ASSERT_EQUAL(hc.args[0], 8);
	CU_ASSERT_EQUAL(hcall_read(&m, ABI_MAX_CPUS, ABI_HC_SYNC, &hc), -EINVAL);
	mem_destroy(&m);
}

static void test_hcall_log(void)
{
	struct guest_mem m;
	struct abi_hcall_page *pg = hcall_page(&m);
	struct hcall hc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	memset(pg->buf, 'x', sizeof(pg->buf)); /* must not leak past the length */
	memcpy(pg->buf, "hello, world", 12);
	pg->args[0] = 5;
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_LOG, &hc), 0);
	CU_ASSERT_STRING_EQUAL(hc.text, "hello");

	pg->args[0] = 0;
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_LOG, &hc), 0);
	CU_ASSERT_STRING_EQUAL(hc.text, "");

	/* The longest text leaves room for the NUL. */
	pg->args[0] = ABI_HCALL_BUF_SIZE - 1;
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_LOG, &hc), 0);
	CU_ASSERT_EQUAL(hc.text[ABI_HCALL_BUF_SIZE - 2], 'x');
	CU_ASSERT_EQUAL(hc.text[ABI_HCALL_BUF_SIZE - 1], '\0');
	mem_destroy(&m);
}

static void test_hcall_log_too_long(void)
{
	struct guest_mem m;
	struct abi_hcall_page *pg = hcall_page(&m);
	struct hcall hc;

	/* The guest is untrusted: a length that would overrun text[] is refused. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	memset(pg->buf, 'a', sizeof(pg->buf));
	pg->args[0] = ABI_HCALL_BUF_SIZE;
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_LOG, &hc), -EINVAL);
	pg->args[0] = UINT64_MAX;
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_LOG, &hc), -EINVAL);
	pg->args[0] = 1ULL << 32; /* would be 0 if truncated to 32 bits */
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_LOG, &hc), -EINVAL);

	/* Same for PANIC, whose length is args[ABI_PANIC_LEN]. */
	pg->args[ABI_PANIC_LEN] = ABI_HCALL_BUF_SIZE;
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_PANIC, &hc), -EINVAL);
	mem_destroy(&m);
}

static void test_hcall_log_unprintable(void)
{
	static const char raw[] = {'o',	 'k',	     '\n',	 '\t', 0,   0x1b,
				   0x7f, (char)0x80, (char)0xff, '~',  ' ', 0x1f};
	struct guest_mem m;
	struct abi_hcall_page *pg = hcall_page(&m);
	struct hcall hc;

	/* Guest text goes to the user's terminal: no control sequences. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	memcpy(pg->buf, raw, sizeof(raw));
	pg->buf[sizeof(raw)] = 'Z'; /* past the length */
	pg->args[0] = sizeof(raw);
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_LOG, &hc), 0);
	CU_ASSERT_STRING_EQUAL(hc.text, "ok???????~ ?");
	CU_ASSERT_EQUAL(hc.text[sizeof(raw)], '\0');
	mem_destroy(&m);
}

static void test_hcall_panic(void)
{
	struct guest_mem m;
	struct abi_hcall_page *pg = hcall_page(&m);
	struct hcall hc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	memcpy(pg->buf, "vm.c: out of memory\n", 20);
	pg->args[ABI_PANIC_LINE] = 42;
	pg->args[ABI_PANIC_LEN] = 19;
	pg->args[ABI_PANIC_VECTOR] = ABI_PANIC_NO_TRAP;
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_PANIC, &hc), 0);
	CU_ASSERT_STRING_EQUAL(hc.text, "vm.c: out of memory");
	CU_ASSERT_EQUAL(hc.args[ABI_PANIC_LINE], 42);
	CU_ASSERT_EQUAL(hc.args[ABI_PANIC_VECTOR], ABI_PANIC_NO_TRAP);
	mem_destroy(&m);
}

static void test_hcall_unknown(void)
{
	struct guest_mem m;
	struct abi_hcall_page *pg = hcall_page(&m);
	struct hcall hc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	CU_ASSERT_EQUAL(hcall_read(&m, 0, 0, &hc), -EINVAL);
	CU_ASSERT_EQUAL(hcall_read(&m, 0, ABI_HC_START_APS + 1, &hc), -EINVAL);
	CU_ASSERT_EQUAL(hcall_read(&m, 0, UINT32_MAX, &hc), -EINVAL);
	CU_ASSERT_STRING_EQUAL(hcall_name(ABI_HC_SYNC), "sync");
	CU_ASSERT_STRING_EQUAL(hcall_name(ABI_HC_LOG), "log");
	CU_ASSERT_STRING_EQUAL(hcall_name(0), "unknown");
	CU_ASSERT_STRING_EQUAL(hcall_name(UINT32_MAX), "unknown");
	mem_destroy(&m);
}

/* mem_populated: untouched pages are clear, written ones set, discarded
 * ones clear again; a range past RAM is refused. */
static void test_populated(void)
{
	struct guest_mem m;
	uint64_t bits[4];
	CU_ASSERT_FATAL(mem_create(&m, 16ULL << 20) == 0);
	CU_ASSERT_EQUAL_FATAL(mem_populated(&m, 0, 256, bits), 0);
	CU_ASSERT(bits[0] == 0 && bits[1] == 0 && bits[2] == 0 && bits[3] == 0);
	m.host[5 * 4096] = 1;
	m.host[200 * 4096 + 17] = 1;
	(void)*(volatile uint8_t *)(m.host + 70 * 4096); /* a read maps the zero page */
	CU_ASSERT_EQUAL_FATAL(mem_populated(&m, 0, 256, bits), 0);
	CU_ASSERT(bits[0] == 1ULL << 5);
	CU_ASSERT(bits[3] == 1ULL << (200 - 192));
	printf("\n    after a read of page 70: bit %s", bits[1] >> 6 & 1 ? "set" : "clear");
	/* An offset range sees the same pages shifted. */
	CU_ASSERT_EQUAL_FATAL(mem_populated(&m, 4, 8, bits), 0);
	CU_ASSERT(bits[0] == 1ULL << 1);
	madvise(m.host + 5 * 4096, 4096, MADV_DONTNEED);
	CU_ASSERT_EQUAL_FATAL(mem_populated(&m, 0, 64, bits), 0);
	CU_ASSERT(bits[0] == 0);
	CU_ASSERT_EQUAL(mem_populated(&m, m.nr_pages - 1, 2, bits), -EINVAL);
	mem_destroy(&m);
}

static const struct ds_case cases[] = {
    {"populated pages from pagemap", test_populated},
    {"mem_create rejects bad sizes", test_create_bad_sizes},
    {"mem_create minimum size", test_create_min},
    {"256 MiB: one slot", test_one_slot},
    {"3 GiB and 3 GiB + 4 KiB", test_hole_boundary},
    {"4.5 GiB: two slots", test_two_slots_layout},
    {"4.5 GiB: GPA <-> index", test_two_slots_translation},
    {"4.5 GiB: GPA -> HVA", test_two_slots_hva},
    {"boot_max_wss", test_max_wss},
    {"boot_max_wss: nothing fits", test_max_wss_nothing_fits},
    {"boot_check_image", test_check_image},
    {"hcall SYNC, READY, DONE", test_hcall_sync},
    {"hcall LOG", test_hcall_log},
    {"hcall LOG too long", test_hcall_log_too_long},
    {"hcall LOG unprintable", test_hcall_log_unprintable},
    {"hcall PANIC", test_hcall_panic},
    {"hcall unknown", test_hcall_unknown},
    {NULL, NULL},
};

int main(void)
{
	return ds_run_suite("mem", cases);
}
