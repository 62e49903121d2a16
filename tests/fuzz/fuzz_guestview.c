/*
 * libFuzzer target: the host's readers of what the guest kernel publishes
 * about its page cache in guest RAM (include/abi/pcache.h):
 * logger/guestview/pcview.c (pcview_attach, pcview_read,
 * pcview_index_entry) and logger/guestview/mirror.c (mirror_build), as a
 * session drives them: attach at READY, then two SYNCs, each a view read,
 * an index lookup and a mirror build, with one guest store between them.
 *
 * Input: a 64-byte header (struct fz_hdr), then guest RAM in RAM-index
 * order from GPA 0 (slot 0, then slot 1), cut at RAM's size; the rest of
 * RAM is zero.  RAM is small, two slots around the hole as mem_create()
 * lays it out, each between PROT_NONE guard pages, so a read outside RAM
 * faults:
 *
 *   slot 0  GPA [0, 256 KiB)                RAM index 0..63
 *   slot 1  GPA [4 GiB, 4 GiB + 16 KiB)     RAM index 65..68
 *
 * The guard page between the slots takes RAM index 64, which no GPA
 * names: the mirror has a frame for it that nothing may ever classify.
 *
 * Checked, beyond "no crash, no sanitizer report":
 *   - nothing under test stores into guest RAM: RAM is read-only while it
 *     runs;
 *   - only the documented return codes, and every -EPROTO leaves a
 *     non-empty, NUL-terminated reason;
 *   - a view read that succeeds holds what the SYNC arguments and the
 *     descriptor say: the counts as given, nr_dirty + nr_written within
 *     view_cap, the descriptor and the entries byte for byte as they lie
 *     in RAM, every entry's inode below ABI_FS_MAX_INODES and its GPA a
 *     page of RAM;
 *   - pcview_index_entry answers as its contract says, against an
 *     independent reading of the descriptor and the index: an entry read
 *     only from where the index really puts it, an entry past 2^64 or
 *     outside RAM refused;
 *   - the mirror's classes count every frame, the guard's frame stays
 *     kernel data, and its files and file frames name each other: every
 *     present entry it kept is a file frame naming that entry, and back;
 *     the index of the first file of the header's inode, wholly in RAM,
 *     is copied as it lies there, less the entries it refused;
 *   - errors_total is the sum of the builds' errors.
 * Under DS_FUZZ_SEEDS_INTACT (the seed replay) a seed must attach, read
 * both views and build both mirrors without a lie: the seeds start the
 * fuzzer on the success path, and a format change that breaks them is
 * caught.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "abi/layout.h"
#include "abi/pcache.h"
#include "logger/guestview/mirror.h"
#include "logger/guestview/pcview.h"
#include "vmm/mem.h"

#define PAGE	    4096
#define SLOT0_PAGES 64
#define SLOT1_GPA   ABI_HOLE_END
#define SLOT1_PAGES 4
#define SLOT0_BYTES (SLOT0_PAGES * PAGE)
#define SLOT1_BYTES (SLOT1_PAGES * PAGE)
#define RAM_BYTES   (SLOT0_BYTES + SLOT1_BYTES) /* what the input fills */
#define GAP_INDEX   SLOT0_PAGES			/* the guard between the slots */
#define NR_INDEX    (SLOT0_PAGES + 1 + SLOT1_PAGES)
/* Host layout: guard | slot 0 | guard | slot 1 | guard. */
#define HOST_SLOT0 PAGE
#define HOST_SLOT1 (HOST_SLOT0 + SLOT0_BYTES + PAGE)
#define HOST_BYTES (HOST_SLOT1 + SLOT1_BYTES + PAGE)

#define WHY_LEN 160 /* as logger/session.c passes */

struct fz_hdr {
	uint64_t desc_gpa; /* READY's args[ABI_READY_PC_DESC] */
	uint64_t sync[4];  /* SYNC's args[ABI_SYNC_VIEW_DIRTY .. ABI_SYNC_WB_ALL] */
	uint64_t index;	   /* pcview_index_entry's page */
	uint32_t ino;	   /* and inode */
	uint32_t extent;   /* mirror.extent_pages[ino] when ino is one (0: unknown) */
	uint32_t poke_off; /* the RAM byte (input order, modulo RAM) stored to between SYNCs */
	uint8_t poke_val;  /* and its new value */
	uint8_t pad[3];
};
_Static_assert(sizeof(struct fz_hdr) == 64, "fuzz_guestview header layout");

static struct {
	uint8_t *map; /* the whole host layout, guards included */
	struct guest_mem mem;
	FILE *report; /* /dev/null: the lies are formatted, not kept */
	bool intact;  /* DS_FUZZ_SEEDS_INTACT: the input is a seed */
} fz;

static void setup(void)
{
	fz.map = mmap(NULL, HOST_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fz.report = fopen("/dev/null", "w");
	if (fz.map == MAP_FAILED || !fz.report)
		abort();
	/* As mem_create lays out RAM, but with a guard page between the slots
	 * in the host mapping too; first_page counts it, so the RAM index
	 * space (and nr_pages, which sizes the mirror) has one page more
	 * than the slots. */
	fz.mem.host = fz.map + HOST_SLOT0;
	fz.mem.nr_pages = NR_INDEX;
	fz.mem.ram_size = (uint64_t)NR_INDEX * PAGE;
	fz.mem.nr_slots = 2;
	fz.mem.slots[0] = (struct mem_slot){0, 0, SLOT0_PAGES, 0};
	fz.mem.slots[1] = (struct mem_slot){1, SLOT1_GPA, SLOT1_PAGES, GAP_INDEX + 1};
	fz.intact = getenv("DS_FUZZ_SEEDS_INTACT") != NULL;
}

static void ram_protect(int prot)
{
	if (mprotect(fz.map + HOST_SLOT0, SLOT0_BYTES, prot) ||
	    mprotect(fz.map + HOST_SLOT1, SLOT1_BYTES, prot))
		abort();
}

/* Host offset (into fz.map) of [gpa, gpa+len) when it lies wholly inside
 * one slot, else -1.  Independent of mem_gpa_to_hva on purpose. */
static int64_t host_off(uint64_t gpa, uint64_t len)
{
	if (gpa < SLOT0_BYTES && len <= SLOT0_BYTES - gpa)
		return HOST_SLOT0 + (int64_t)gpa;
	if (gpa >= SLOT1_GPA && gpa - SLOT1_GPA < SLOT1_BYTES &&
	    len <= SLOT1_BYTES - (gpa - SLOT1_GPA))
		return HOST_SLOT1 + (int64_t)(gpa - SLOT1_GPA);
	return -1;
}

/* RAM index of gpa, or -1; independent of mem_gpa_to_index. */
static int64_t index_of(uint64_t gpa)
{
	if (gpa < SLOT0_BYTES)
		return (int64_t)(gpa / PAGE);
	if (gpa >= SLOT1_GPA && gpa - SLOT1_GPA < SLOT1_BYTES)
		return GAP_INDEX + 1 + (int64_t)((gpa - SLOT1_GPA) / PAGE);
	return -1;
}

/* Host offset of byte `off` of the input's RAM (off < RAM_BYTES). */
static uint64_t input_off(uint64_t off)
{
	return off < SLOT0_BYTES ? HOST_SLOT0 + off : HOST_SLOT1 + (off - SLOT0_BYTES);
}

static uint64_t ram_u64(int64_t off)
{
	uint64_t v;
	memcpy(&v, fz.map + off, sizeof(v));
	return v;
}

/* A refusal must say why: non-empty and NUL-terminated within the buffer
 * (filled with 'x' before the call). */
static void check_why(const char *why)
{
	if (!why[0] || !memchr(why, 0, WHY_LEN))
		abort();
}

/* A view pcview_read accepted. */
static void check_view(const struct pcview *v, const uint64_t *args)
{
	const struct abi_pc_desc *d = &v->desc;
	uint64_t nd = args[ABI_SYNC_VIEW_DIRTY], nw = args[ABI_SYNC_VIEW_WB];

	if (v->nr_dirty != nd || v->nr_written != nw ||
	    v->dirty_total != args[ABI_SYNC_DIRTY_ALL] || v->page_writes != args[ABI_SYNC_WB_ALL] ||
	    v->dirty_total < nd || v->page_writes < nw)
		abort();
	if (d->magic != ABI_PC_MAGIC || d->version != ABI_PC_VERSION || d->policy != v->policy ||
	    d->view_cap > PCVIEW_MAX_ENTRIES || d->nr_files > ABI_FS_MAX_INODES ||
	    nd > d->view_cap || nw > d->view_cap - nd || v->cap < nd + nw)
		abort();
	/* Nothing changed RAM since the read: the snapshot is what lies there. */
	int64_t off = host_off(v->desc_gpa, sizeof(*d));
	if (off < 0 || memcmp(d, fz.map + off, sizeof(*d)))
		abort();
	if (!(nd + nw))
		return;
	off = host_off(d->view_gpa, (nd + nw) * sizeof(*v->ents));
	if (off < 0 || memcmp(v->ents, fz.map + off, (nd + nw) * sizeof(*v->ents)))
		abort();
	for (uint64_t i = 0; i < nd + nw; i++)
		if (v->ents[i].ino >= ABI_FS_MAX_INODES || v->ents[i].gpa % PAGE ||
		    host_off(v->ents[i].gpa, PAGE) < 0)
			abort();
}

/* The first file entry of inode ino, as pcview_index_entry looks it up. */
static const struct abi_pc_file *first_file(const struct abi_pc_desc *d, uint32_t ino)
{
	for (uint32_t i = 0; i < d->nr_files; i++)
		if (d->files[i].ino == ino)
			return &d->files[i];
	return NULL;
}

/* pcview_index_entry's answer for a descriptor pcview_read accepted. */
static void check_index_entry(const struct abi_pc_desc *d, const struct fz_hdr *h, int ret,
			      uint64_t entry)
{
	const struct abi_pc_file *f = first_file(d, h->ino);
	int want = 0;
	int64_t off = -1;
	uint64_t gpa;

	if (!f || !f->index_gpa)
		want = -ENOENT;
	else if (h->index >= f->npages)
		want = -ERANGE;
	else if (__builtin_add_overflow(f->index_gpa, h->index * 8, &gpa) || f->index_gpa % 8 ||
		 (off = host_off(gpa, 8)) < 0)
		want = -EPROTO; /* the entry lies outside guest RAM */
	/* An entry in RAM of an index that is not wholly in RAM may be
	 * refused too: "the index lies outside guest RAM" either way. */
	if (!want && ret == -EPROTO && host_off(f->index_gpa, (uint64_t)f->npages * 8) < 0)
		return;
	if (ret != want || (!ret && entry != ram_u64(off)))
		abort();
}

#define KNOWN_PCE (ABI_PCE_PRESENT | ABI_PCE_UPTODATE | ABI_PCE_DIRTY | ABI_PCE_WRITEBACK)

/* A mirror mirror_build returned 0 for. */
static void check_mirror(const struct mirror *mi)
{
	uint64_t n[MIRROR_CLASS_NR] = {0};

	for (uint64_t i = 0; i < NR_INDEX; i++) {
		const struct mirror_frame *f = mirror_frame(mi, i);
		if (f->cls >= MIRROR_CLASS_NR)
			abort();
		n[f->cls]++;
		if (i == GAP_INDEX && (f->cls != MIRROR_KERNEL || f->flags))
			abort(); /* no GPA names it */
		if (f->cls == MIRROR_FREE && !(f->flags & MIRROR_F_FREE_SEEN))
			abort();
		if (f->cls != MIRROR_FILE)
			continue;
		if (f->file >= mi->nr_files || f->index >= mi->files[f->file].npages)
			abort();
		uint64_t e = mi->files[f->file].entries[f->index];
		if (!(e & ABI_PCE_PRESENT) || index_of(e & ~ABI_PCE_FLAGS) != (int64_t)i)
			abort();
	}
	uint64_t sum = 0;
	for (int c = 0; c < MIRROR_CLASS_NR; c++) {
		if (mi->class_frames[c] != n[c])
			abort();
		sum += mi->class_frames[c];
	}
	if (sum != NR_INDEX || mi->nr_files > ABI_FS_MAX_INODES || mi->errors > mi->errors_total)
		abort();

	for (uint32_t s = 0; s < mi->nr_files; s++) {
		const struct mirror_file *mf = &mi->files[s];
		if (mf->ino >= ABI_FS_MAX_INODES || mirror_file_slot(mi, mf->ino) != (int)s ||
		    !mf->npages || !mf->entries ||
		    (mi->extent_pages[mf->ino] && mf->npages != mi->extent_pages[mf->ino]))
			abort();
		for (uint32_t p = 0; p < mf->npages; p++) {
			uint64_t e = mf->entries[p];
			if (!(e & ABI_PCE_PRESENT))
				continue;
			int64_t i = index_of(e & ~ABI_PCE_FLAGS);
			const struct mirror_frame *f = i < 0 ? NULL : mirror_frame(mi, (uint64_t)i);
			if (!f || (e & ABI_PCE_FLAGS & ~KNOWN_PCE) || f->cls != MIRROR_FILE ||
			    f->file != s || f->index != p)
				abort();
		}
	}
}

/* The mirror's copy of the index pcview_index_entry reads, when the
 * mirror must have taken that file: the first of its inode, opened,
 * of the known extent and wholly in RAM. */
static void check_mirror_index(const struct mirror *mi, const struct abi_pc_desc *d, uint32_t ino)
{
	const struct abi_pc_file *f = first_file(d, ino);
	if (!f || ino >= ABI_FS_MAX_INODES || !f->index_gpa || !f->npages || f->index_gpa % 8 ||
	    (mi->extent_pages[ino] && f->npages != mi->extent_pages[ino]))
		return;
	int64_t off = host_off(f->index_gpa, (uint64_t)f->npages * 8);
	if (off < 0)
		return;
	int s = mirror_file_slot(mi, ino);
	if (s < 0 || mi->files[s].npages != f->npages)
		abort();
	for (uint32_t p = 0; p < f->npages; p++) {
		uint64_t e = ram_u64(off + 8 * (int64_t)p), kept = mi->files[s].entries[p];
		/* A refused entry is zeroed; only present ones are judged. */
		if (kept != e && (kept || !(e & ABI_PCE_PRESENT)))
			abort();
	}
}

/* One SYNC: read the view, look up the header's index entry, build the
 * mirror from the view's descriptor.  *errors adds up the builds' lies. */
static void sync_once(struct pcview *v, struct mirror *mi, const struct fz_hdr *h, uint64_t *errors)
{
	uint64_t args[6] = {0};
	char why[WHY_LEN];

	args[ABI_SYNC_VIEW_DIRTY] = h->sync[0];
	args[ABI_SYNC_VIEW_WB] = h->sync[1];
	args[ABI_SYNC_DIRTY_ALL] = h->sync[2];
	args[ABI_SYNC_WB_ALL] = h->sync[3];
	memset(why, 'x', sizeof(why));
	int read = pcview_read(v, &fz.mem, args, why, sizeof(why));
	if (read == -EPROTO)
		check_why(why);
	else if (read && read != -ENOMEM)
		abort();
	else if (!read)
		check_view(v, args);

	uint64_t entry = 0;
	memset(why, 'x', sizeof(why));
	int ret = pcview_index_entry(v, &fz.mem, h->ino, h->index, &entry, why, sizeof(why));
	if (ret == -EPROTO)
		check_why(why);
	else if (ret && ret != -ENOENT && ret != -ERANGE)
		abort();
	if (read) {
		if (fz.intact)
			abort(); /* a seed's view must read */
		return;
	}
	/* RAM is as pcview_read found it, so the descriptor that
	 * pcview_index_entry read again is v->desc. */
	check_index_entry(&v->desc, h, ret, entry);

	ret = mirror_build(mi, &v->desc);
	*errors += mi->errors; /* this build's, even when it ran out of memory */
	if (ret == -ENOMEM)
		return;
	if (ret || (fz.intact && mi->errors))
		abort(); /* and a seed is an honest guest */
	check_mirror(mi);
	check_mirror_index(mi, &v->desc, h->ino);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_hdr h;
	struct pcview v;
	struct mirror mi;
	char why[WHY_LEN];

	if (size < sizeof(h))
		return 0;
	if (!fz.map)
		setup();
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	size = size < RAM_BYTES ? size : RAM_BYTES;

	ram_protect(PROT_READ | PROT_WRITE);
	memset(fz.map + HOST_SLOT0, 0, SLOT0_BYTES);
	memset(fz.map + HOST_SLOT1, 0, SLOT1_BYTES);
	memcpy(fz.map + HOST_SLOT0, data, size < SLOT0_BYTES ? size : SLOT0_BYTES);
	if (size > SLOT0_BYTES)
		memcpy(fz.map + HOST_SLOT1, data + SLOT0_BYTES, size - SLOT0_BYTES);
	ram_protect(PROT_READ); /* the host only ever reads what the guest publishes */

	memset(&v, 0, sizeof(v));
	memset(why, 'x', sizeof(why));
	int ret = pcview_attach(&v, &fz.mem, h.desc_gpa, why, sizeof(why));
	if (ret) {
		if (ret != -EPROTO || fz.intact)
			abort();
		check_why(why);
		return 0;
	}
	if (v.desc_gpa != h.desc_gpa || v.policy < ABI_POLICY_WP || v.policy > ABI_POLICY_LAST ||
	    v.ents || v.cap || v.nr_dirty || v.nr_written)
		abort();

	ret = mirror_init(&mi, &fz.mem, fz.report);
	if (ret) {
		if (ret != -ENOMEM)
			abort();
		return 0;
	}
	if (h.ino < ABI_FS_MAX_INODES)
		mi.extent_pages[h.ino] = h.extent;
	uint64_t errors = 0;
	sync_once(&v, &mi, &h, &errors);
	/* The guest runs between SYNCs: one store, then the next SYNC. */
	ram_protect(PROT_READ | PROT_WRITE);
	fz.map[input_off(h.poke_off % RAM_BYTES)] = h.poke_val;
	ram_protect(PROT_READ);
	sync_once(&v, &mi, &h, &errors);
	if (mi.errors_total != errors)
		abort();

	mirror_free(&mi);
	pcview_free(&v);
	if (v.ents || v.cap)
		abort();
	return 0;
}
