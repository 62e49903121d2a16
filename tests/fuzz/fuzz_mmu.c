/*
 * libFuzzer target: the host-side page-table walker (mmu/walk.c) on
 * arbitrary fake guest RAM.  Input: a 32-byte header (CR3, VA range,
 * MAXPHYADDR, NXE), then guest RAM from GPA 0, whole 4 KiB pages.  Besides
 * surviving any tables, the walker must agree with mmu_translate: every
 * leaf mmu_walk_ex reports translates, through the same entries, to the
 * same page.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmu/mmu.h"

#define MAX_PAGES 64

struct ram {
	uint8_t *pages;
	uint64_t n;
};

static const void *ram_at(void *ctx, uint64_t gpa, uint64_t len)
{
	const struct ram *r = ctx;
	uint64_t size = r->n * 4096;
	if (gpa > size || len > size - gpa)
		return NULL;
	return r->pages + gpa;
}

struct check {
	const struct mmu *m;
	uint64_t cr3;
	uint64_t leaves;
};

static int on_leaf(void *ctx, const struct mmu_leaf *l)
{
	struct check *c = ctx;
	struct mmu_xlate x;

	if (mmu_translate(c->m, c->cr3, l->va, &x) != 0 || x.gpa != l->gpa || x.page_size != l->size ||
	    x.level != l->level || x.pte != l->pte || x.pte_gpa != l->pte_gpa ||
	    x.writable != l->writable || x.user != l->user || x.nx != l->nx ||
	    x.accessed != l->accessed || x.dirty != l->dirty)
		abort(); /* the walker and the translator disagree */
	return ++c->leaves >= 4096; /* enough: stop the walk (positive) */
}

static void on_bad(void *ctx, const struct mmu_fault *f)
{
	(void)mmu_reason_name(f->reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct {
		uint64_t cr3, va_lo, va_hi;
		uint8_t maxphyaddr, nxe, pad[6];
	} hdr;
	if (size < sizeof(hdr))
		return 0;
	memcpy(&hdr, data, sizeof(hdr));
	data += sizeof(hdr);
	size -= sizeof(hdr);

	struct ram r = {.n = size / 4096 > MAX_PAGES ? MAX_PAGES : size / 4096};
	r.pages = aligned_alloc(4096, r.n ? r.n * 4096 : 4096);
	memcpy(r.pages, data, r.n * 4096);
	struct mmu m = {.gpa_to_host = ram_at,
			.ctx = &r,
			/* Mostly valid (32..52), sometimes anything. */
			.maxphyaddr = hdr.maxphyaddr & 0x80 ? hdr.maxphyaddr : 32 + hdr.maxphyaddr % 21,
			.nxe = hdr.nxe & 1,
			.max_tables = 1024};

	struct mmu_xlate x;
	(void)mmu_translate(&m, hdr.cr3, hdr.va_lo, &x);
	struct check c = {.m = &m, .cr3 = hdr.cr3};
	struct mmu_walk_ops ops = {.leaf = on_leaf, .bad = on_bad, .ctx = &c};
	struct mmu_walk_stats st;
	(void)mmu_walk_ex(&m, hdr.cr3, hdr.va_lo, hdr.va_hi, &ops, &st);
	/* The whole address space too, when the fuzzed range is refused. */
	if (hdr.va_lo > hdr.va_hi && hdr.va_hi) {
		c.leaves = 0;
		(void)mmu_walk_ex(&m, hdr.cr3, 0, 0, &ops, &st);
	}
	free(r.pages);
	return 0;
}
