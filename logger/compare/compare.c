/*
 * Guest versus host dirty tracking (logger/compare/compare.h).  Per epoch, per file
 * page, one byte of scratch flags says who saw the page dirty; the counts,
 * the picture's cell and the pending bit all come from those flags.
 *
 * Pending: the host's memory of a store it saw that may not be on disk yet.
 * It is set when the KVM dirty set holds the page and cleared only once the
 * page is provably clean: not cached any more (eviction writes back), or
 * equal to the image with nothing dirty about it in the guest (flag, or a
 * PTE D bit).  Every page the guest calls dirty must be pending, or the host
 * lost a store: that is the "unexplained" count, which must stay zero under
 * every policy, and is how a host bug (a store no dirty log reported) would
 * show here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi/fs.h"
#include "logger/compare/compare.h"
#include "logger/output.h"
#include "util/json.h"
#include "logger/guestview/pcview.h"
#include "util/io.h"

/* Scratch flags per file page, for one epoch. */
#define PF_GDIRTY  0x01 /* the guest lists it dirty */
#define PF_GWROTE  0x02 /* the guest wrote it back in the epoch */
#define PF_HOST	   0x04 /* in the KVM dirty set */
#define PF_PTED	   0x08 /* a user PTE maps it with D set */
#define PF_MISSED  0x10
#define PF_DIFFERS 0x20 /* cached, uptodate, bytes differ from the image */
#define PF_CACHED  0x40 /* present and uptodate in the index */
#define PF_PENDING 0x80 /* carried across epochs: see the comment above */

#define UNEXPLAINED_PRINTED 8 /* per run; the count is exact */

struct compare_file {
	uint32_t ino;
	char name[ABI_FS_NAME_MAX + 1];
	uint32_t npages;
	uint64_t start_block;
	uint8_t *flags; /* npages: PF_* (PF_PENDING survives the epoch) */
	uint8_t *cells; /* rows x npages, enum plot_cell */
	uint16_t *ever; /* npages: EV_* of every epoch so far, for distinct totals */
	uint64_t first; /* epoch of cells' first row */
	uint64_t rows;
};

/* What a page was in at least one epoch: the summary counts each page once
 * per column (distinct), beside the per-epoch sums where a page dirty in
 * every epoch counts every time. */
enum {
	EV_GDIRTY = 1 << 0,
	EV_GWROTE = 1 << 1,
	EV_GUEST = 1 << 2,
	EV_HOST = 1 << 3,
	EV_PTED = 1 << 4,
	EV_BOTH = 1 << 5,
	EV_GONLY = 1 << 6,
	EV_HONLY = 1 << 7,
	EV_MISSED = 1 << 8,
};

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void say(const struct compare *c, const char *msg, const char *detail)
{
	if (c->cfg.report)
		fprintf(c->cfg.report, "dirtyscope: compare: %s%s%s\n", msg, detail ? ": " : "",
			detail ? detail : "");
}

static void compare_epoch(struct sink *s, const struct epoch_rec *e);
static void compare_summary(struct sink *s, const struct run_summary *r);

int compare_init(struct compare *c, const struct compare_config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	c->image_fd = open(cfg->image_path, O_RDONLY | O_CLOEXEC);
	if (c->image_fd < 0) {
		int err = -errno;
		say(c, cfg->image_path, strerror(errno));
		c->fail = DS_FAIL_USAGE;
		return err;
	}
	c->sink.epoch = compare_epoch;
	c->sink.summary = compare_summary;
	return 0;
}

void compare_free(struct compare *c)
{
	for (uint32_t i = 0; i < ABI_FS_MAX_INODES; i++) {
		if (!c->files[i])
			continue;
		free(c->files[i]->flags);
		free(c->files[i]->ever);
		free(c->files[i]->cells);
		free(c->files[i]);
	}
	if (c->mirror_ready)
		mirror_free(&c->mirror);
	free(c->ram_copy);
	free(c->img_copy);
	if (c->image_fd > 0)
		close(c->image_fd);
	memset(c, 0, sizeof(*c));
}

/* Read the image's metadata as it is now (the guest may have created files). */
static int read_meta(struct compare *c, struct abi_fs_meta *meta)
{
	struct stat st;
	if (fstat(c->image_fd, &st) ||
	    pread(c->image_fd, meta, sizeof(*meta), 0) != (ssize_t)sizeof(*meta))
		return -EIO;
	const char *why;
	if (abi_fs_check(meta, (uint64_t)st.st_size / ABI_FS_BLOCK, &why)) {
		say(c, "the image's metadata is invalid", why);
		return -EPROTO;
	}
	return 0;
}

/* The compare state of the mirror's file slot, created on first sight.
 * NULL (a lie counted) when the image does not agree with the index. */
static struct compare_file *file_for(struct compare *c, const struct abi_fs_meta *meta,
				     const struct mirror_file *mf, uint64_t *lies)
{
	struct compare_file *f = c->files[mf->ino];
	const struct abi_fs_inode *in = &meta->inodes[mf->ino];
	if (!(in->flags & ABI_FS_INODE_USED) || in->nr_blocks != mf->npages) {
		(*lies)++;
		if (c->cfg.report)
			fprintf(c->cfg.report,
				"dirtyscope: compare: inode %u: the index has %u pages, the "
				"image's extent %" PRIu64 "\n",
				mf->ino, mf->npages, (uint64_t)in->nr_blocks);
		return NULL;
	}
	if (f)
		return f->start_block == in->start_block ? f : NULL;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->flags = calloc(mf->npages, 1)) ||
	    !(f->ever = calloc(mf->npages, sizeof(*f->ever)))) {
		if (f)
			free(f->flags);
		free(f);
		c->error = -ENOMEM;
		return NULL;
	}
	f->ino = mf->ino;
	memcpy(f->name, in->name, sizeof(f->name));
	f->npages = mf->npages;
	f->start_block = in->start_block;
	f->first = c->epoch;
	c->files[mf->ino] = f;
	c->order[c->nr_files++] = mf->ino;
	return f;
}

/* Compare every cached page of f with the image: PF_CACHED, PF_DIFFERS. */
static int judge_bytes(struct compare *c, struct compare_file *f, const struct mirror_file *mf)
{
	const struct guest_mem *m = c->mirror.mem;
	if (f->npages > c->scratch_pages) {
		void *a = realloc(c->img_copy, (uint64_t)f->npages * ABI_PAGE_SIZE);
		if (!a)
			return -ENOMEM;
		c->img_copy = a;
		c->scratch_pages = f->npages;
	}
	uint64_t len = (uint64_t)f->npages * ABI_PAGE_SIZE;
	if (pread(c->image_fd, c->img_copy, len, (off_t)(f->start_block * ABI_FS_BLOCK)) !=
	    (ssize_t)len)
		return -EIO;
	for (uint32_t p = 0; p < f->npages; p++) {
		uint64_t e = mf->entries[p];
		if ((e & (ABI_PCE_PRESENT | ABI_PCE_UPTODATE)) !=
		    (ABI_PCE_PRESENT | ABI_PCE_UPTODATE))
			continue;
		/* mirror_build checked the frame is RAM and this page's. */
		const uint8_t *ram = mem_gpa_to_hva(m, e & ~ABI_PCE_FLAGS, ABI_PAGE_SIZE);
		f->flags[p] |= PF_CACHED;
		if (memcmp(ram, c->img_copy + (uint64_t)p * ABI_PAGE_SIZE, ABI_PAGE_SIZE))
			f->flags[p] |= PF_DIFFERS;
	}
	return 0;
}

/* Whether the policy still has something to write for a page: its flag, or
 * for the policies that harvest D bits (dbit, scan) a PTE's D bit.  wp and
 * lossy learn of stores only through write faults, so a D bit means nothing
 * to them: that is exactly lossy's bug. */
static bool policy_pending(uint32_t policy, uint64_t entry, uint8_t flags)
{
	if (entry & (ABI_PCE_DIRTY | ABI_PCE_WRITEBACK))
		return true;
	return (policy == ABI_POLICY_DBIT || policy == ABI_POLICY_SCAN) && (flags & PF_PTED);
}

static enum plot_cell cell_of(uint8_t fl)
{
	bool g = fl & (PF_GDIRTY | PF_GWROTE), h = fl & PF_HOST;
	if (fl & PF_MISSED)
		return PLOT_MISSED;
	if (g && h)
		return PLOT_BOTH;
	return g ? PLOT_GUEST : h ? PLOT_HOST : PLOT_CLEAN;
}

/* Mark the guest's view: pages it lists dirty, then those it wrote back. */
static void mark_view(struct compare *c, const struct pcview *v, uint64_t *lies)
{
	for (uint64_t i = 0; i < v->nr_dirty + v->nr_written; i++) {
		const struct abi_pc_view_ent *e = &v->ents[i];
		struct compare_file *f = e->ino < ABI_FS_MAX_INODES ? c->files[e->ino] : NULL;
		if (!f || e->index >= f->npages) {
			(*lies)++;
			continue;
		}
		f->flags[e->index] |= i < v->nr_dirty ? PF_GDIRTY : PF_GWROTE;
	}
}

/* Judge one epoch.  Returns 0 or -errno (host-side failure). */
static int judge(struct compare *c, const struct epoch_rec *e, struct compare_counts *k)
{
	struct mirror *mi = &c->mirror;
	const struct abi_pc_desc *d = &e->view->desc;
	struct abi_fs_meta meta;
	int ret = read_meta(c, &meta);
	if (ret)
		return ret;
	/* The image bounds what the mirror copies of each published index. */
	for (uint32_t i = 0; i < ABI_FS_MAX_INODES; i++)
		mi->extent_pages[i] =
		    meta.inodes[i].flags & ABI_FS_INODE_USED ? meta.inodes[i].nr_blocks : 0;
	ret = mirror_build(mi, d);
	if (ret)
		return ret;
	k->mirror_errors = mi->errors;

	/* The files the mirror knows, with this epoch's flags reset. */
	int slot_of[ABI_FS_MAX_INODES];
	for (uint32_t i = 0; i < ABI_FS_MAX_INODES; i++) {
		slot_of[i] = -1;
		if (c->files[i])
			for (uint32_t p = 0; p < c->files[i]->npages; p++)
				c->files[i]->flags[p] &= PF_PENDING;
	}
	for (uint32_t s = 0; s < mi->nr_files; s++) {
		struct compare_file *f = file_for(c, &meta, &mi->files[s], &k->mirror_errors);
		if (c->error)
			return c->error;
		if (!f)
			continue;
		slot_of[f->ino] = (int)s;
		/* PTE D bits of the pages the index maps (mirror frames agree). */
		for (uint32_t p = 0; p < f->npages; p++) {
			uint64_t en = mi->files[s].entries[p];
			int64_t idx = (en & ABI_PCE_PRESENT)
					  ? mem_gpa_to_index(mi->mem, en & ~ABI_PCE_FLAGS)
					  : -1;
			if (idx >= 0 && (mi->frames[idx].flags & MIRROR_F_PTE_DIRTY))
				f->flags[p] |= PF_PTED;
		}
		ret = judge_bytes(c, f, &mi->files[s]);
		if (ret)
			return ret;
	}
	mark_view(c, e->view, &k->mirror_errors);

	/* The host's view: every dirty frame, by class. */
	k->host_frames = e->dirty->count;
	for (uint64_t i = 0; i < e->dirty->count; i++) {
		const struct mirror_frame *fr = mirror_frame(mi, e->dirty->list[i]);
		if (fr->cls != MIRROR_FILE) {
			k->host_only[fr->cls]++;
			continue;
		}
		struct compare_file *f = c->files[mi->files[fr->file].ino];
		if (f && slot_of[f->ino] == (int)fr->file)
			f->flags[fr->index] |= PF_HOST;
	}

	/* Per page: counts, missed, pending, the picture's cell. */
	for (uint32_t n = 0; n < c->nr_files; n++) {
		struct compare_file *f = c->files[c->order[n]];
		int s = slot_of[f->ino];
		uint8_t *row = realloc(f->cells, (f->rows + 1) * f->npages);
		if (!row)
			return -ENOMEM;
		f->cells = row;
		row += f->rows++ * f->npages;
		for (uint32_t p = 0; p < f->npages; p++) {
			uint8_t fl = f->flags[p];
			uint64_t en = s >= 0 ? c->mirror.files[s].entries[p] : 0;
			if ((fl & PF_DIFFERS) && !policy_pending(c->cfg.policy, en, fl)) {
				fl |= PF_MISSED;
				if (c->missed_listed < COMPARE_MISSED_LISTED)
					c->missed[c->missed_listed++] =
					    (struct compare_page){f->ino, p, en & ~ABI_PCE_FLAGS};
			}
			if (fl & PF_HOST)
				fl |= PF_PENDING;
			if ((fl & PF_GDIRTY) && !(fl & PF_PENDING)) {
				k->unexplained++;
				if (c->unexplained_printed++ < UNEXPLAINED_PRINTED && c->cfg.report)
					fprintf(c->cfg.report,
						"dirtyscope: compare: epoch %" PRIu64
						": the guest calls %s page %u dirty, but no "
						"dirty log saw it written\n",
						c->epoch, f->name, p);
			}
			if (!(fl & PF_CACHED) ||
			    (!(fl & (PF_DIFFERS | PF_GDIRTY | PF_PTED)) && !(en & ABI_PCE_DIRTY)))
				fl &= (uint8_t)~PF_PENDING;
			f->flags[p] = fl;

			bool g = fl & (PF_GDIRTY | PF_GWROTE), h = fl & PF_HOST;
			k->guest_dirty += !!(fl & PF_GDIRTY);
			k->guest_written += !!(fl & PF_GWROTE);
			k->guest += g;
			k->host += h;
			k->pte_dirty += !!(fl & PF_PTED);
			k->both += g && h;
			k->guest_only += g && !h;
			k->host_only[MIRROR_FILE] += h && !g;
			k->missed += !!(fl & PF_MISSED);
			f->ever[p] |=
			    (uint16_t)((fl & PF_GDIRTY ? EV_GDIRTY : 0) |
				       (fl & PF_GWROTE ? EV_GWROTE : 0) | (g ? EV_GUEST : 0) |
				       (h ? EV_HOST : 0) | (fl & PF_PTED ? EV_PTED : 0) |
				       (g && h ? EV_BOTH : 0) | (g && !h ? EV_GONLY : 0) |
				       (h && !g ? EV_HONLY : 0) | (fl & PF_MISSED ? EV_MISSED : 0));
			row[p] = (uint8_t)cell_of(fl);
		}
	}
	return 0;
}

static void add_counts(struct compare_counts *t, const struct compare_counts *k)
{
	uint64_t *a = (uint64_t *)t;
	const uint64_t *b = (const uint64_t *)k;
	size_t n = offsetof(struct compare_counts, stats) / sizeof(uint64_t);
	for (size_t i = 0; i < n; i++)
		a[i] += b[i];
	for (int s = 0; s < VSTAT_NR; s++)
		t->stats[s] = t->stats[s] == UINT64_MAX || k->stats[s] == UINT64_MAX
				  ? UINT64_MAX
				  : t->stats[s] + k->stats[s];
}

static void table_header(FILE *f)
{
	fprintf(f, "%46s%33s\n", "file pages: guest view vs host KVM view |",
		"other host-dirty frames");
	fprintf(f, "%5s%6s%6s%6s%7s%7s%6s%7s%6s%6s%6s%6s%5s\n", "epoch", "dirty", "wrote", "both",
		"g-only", "h-only", "pte-D", "missed", "ptbl", "kern", "anon", "cow", "free");
}

static void table_row(FILE *f, const char *label, const struct compare_counts *k)
{
	fprintf(f,
		"%5s%6" PRIu64 "%6" PRIu64 "%6" PRIu64 "%7" PRIu64 "%7" PRIu64 "%6" PRIu64
		"%7" PRIu64 "%6" PRIu64 "%6" PRIu64 "%6" PRIu64 "%6" PRIu64 "%5" PRIu64 "\n",
		label, k->guest_dirty, k->guest_written, k->both, k->guest_only,
		k->host_only[MIRROR_FILE], k->pte_dirty, k->missed, k->host_only[MIRROR_PAGETABLE],
		k->host_only[MIRROR_KERNEL], k->host_only[MIRROR_ANON], k->host_only[MIRROR_COW],
		k->host_only[MIRROR_FREE]);
}

static void json_counts(FILE *f, const struct compare_counts *k)
{
	fprintf(f,
		"\"guest-dirty-pages\":%" PRIu64 ",\"guest-written-pages\":%" PRIu64
		",\"guest-pages\":%" PRIu64 ",\"host-pages\":%" PRIu64
		",\"pte-dirty-pages\":%" PRIu64 ",\"both-pages\":%" PRIu64
		",\"guest-only-pages\":%" PRIu64 ",\"host-only\":{",
		k->guest_dirty, k->guest_written, k->guest, k->host, k->pte_dirty, k->both,
		k->guest_only);
	for (int i = 0; i < MIRROR_CLASS_NR; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", mirror_class_name(i),
			k->host_only[i]);
	fprintf(f,
		"},\"host-dirty-frames\":%" PRIu64 ",\"missed-pages\":%" PRIu64
		",\"unexplained-pages\":%" PRIu64 ",\"mirror-errors\":%" PRIu64
		",\"guest-faults\":%" PRIu64 ",\"guest-write-faults\":%" PRIu64
		",\"guest-tlb-shootdowns\":%" PRIu64
		",\"guest-instructions\":null,\"harvest-us\":%.1f",
		k->host_frames, k->missed, k->unexplained, k->mirror_errors, k->guest_faults,
		k->guest_write_faults, k->guest_shootdowns, us(k->harvest_ns));
	for (int s = 0; s < VSTAT_NR; s++)
		if (k->stats[s] != UINT64_MAX)
			fprintf(f, ",\"%s\":%" PRIu64, vstat_json_names[s], k->stats[s]);
}

static void json_names(const struct compare *c, FILE *f)
{
	fprintf(f, "\"mode\":");
	json_string(f, c->cfg.mode_name);
	fprintf(f, ",\"workload\":");
	json_string(f, c->cfg.workload_name);
	fprintf(f, ",\"policy\":");
	json_string(f, c->cfg.policy_name);
}

static void compare_epoch(struct sink *s, const struct epoch_rec *e)
{
	struct compare *c = (struct compare *)((char *)s - offsetof(struct compare, sink));
	if (c->error)
		return;
	if (!e->file_world || !e->view) {
		say(c, "not a file workload: nothing to compare", NULL);
		c->error = -EINVAL;
		c->fail = DS_FAIL_USAGE;
		return;
	}
	if (!c->mirror_ready) {
		if ((c->error = mirror_init(&c->mirror, e->mem, c->cfg.report))) {
			c->fail = DS_FAIL_RUN;
			return;
		}
		c->mirror_ready = true;
	}
	struct compare_counts k = {0};
	c->epoch = e->epoch;
	c->missed_listed = 0;
	int ret = judge(c, e, &k);
	if (ret) {
		if (ret != -EPROTO)
			say(c, "cannot judge the epoch", strerror(-ret));
		c->error = ret;
		c->fail = DS_FAIL_RUN; /* mid-run: the image, the view or memory failed */
		return;
	}
	const struct abi_pc_desc *d = &e->view->desc;
	k.guest_faults = d->faults - c->prev_faults;
	k.guest_write_faults = d->write_faults - c->prev_write_faults;
	k.guest_shootdowns = d->tlb_shootdowns - c->prev_shootdowns;
	c->prev_faults = d->faults;
	c->prev_write_faults = d->write_faults;
	c->prev_shootdowns = d->tlb_shootdowns;
	k.harvest_ns = e->harvest_ns;
	memcpy(k.stats, e->stats, sizeof(k.stats));
	c->last = k;
	c->epochs++;
	add_counts(&c->total, &k);

	if (c->cfg.table) {
		char label[24];
		if (c->epochs == 1)
			table_header(c->cfg.table);
		snprintf(label, sizeof(label), "%" PRIu64, e->epoch);
		table_row(c->cfg.table, label, &k);
		io_flush(c->cfg.table);
	}
	if (c->cfg.json) {
		FILE *f = c->cfg.json;
		fprintf(f, "{\"epoch\":%" PRIu64 ",", e->epoch);
		json_names(c, f);
		fprintf(f, ",");
		json_counts(f, &k);
		fprintf(f, ",\"missed\":[");
		for (uint64_t i = 0; i < c->missed_listed; i++)
			fprintf(f, "%s{\"ino\":%u,\"page\":%u,\"gpa\":%" PRIu64 "}", i ? "," : "",
				c->missed[i].ino, c->missed[i].index, c->missed[i].gpa);
		fprintf(f, "],\"missed-truncated\":%s}\n",
			c->missed_listed < k.missed ? "true" : "false");
		io_flush(f);
	}
	if (c->on_epoch)
		c->on_epoch(c->on_epoch_ctx, c, e);
}

/* The file-page columns counted once per page over the whole run (the
 * frame columns and the costs stay zero: they are sums only). */
static void distinct_counts(const struct compare *c, struct compare_counts *d)
{
	memset(d, 0, sizeof(*d));
	for (uint32_t n = 0; n < c->nr_files; n++) {
		const struct compare_file *f = c->files[c->order[n]];
		for (uint32_t p = 0; p < f->npages; p++) {
			uint16_t ev = f->ever[p];
			d->guest_dirty += !!(ev & EV_GDIRTY);
			d->guest_written += !!(ev & EV_GWROTE);
			d->guest += !!(ev & EV_GUEST);
			d->host += !!(ev & EV_HOST);
			d->pte_dirty += !!(ev & EV_PTED);
			d->both += !!(ev & EV_BOTH);
			d->guest_only += !!(ev & EV_GONLY);
			d->host_only[MIRROR_FILE] += !!(ev & EV_HONLY);
			d->missed += !!(ev & EV_MISSED);
		}
	}
}

/* The distinct row under the total: file-page columns only. */
static void table_distinct_row(FILE *f, const struct compare_counts *d)
{
	fprintf(f,
		"%5s%6" PRIu64 "%6" PRIu64 "%6" PRIu64 "%7" PRIu64 "%7" PRIu64 "%6" PRIu64
		"%7" PRIu64 "%6s%6s%6s%6s%5s\n",
		"pages", d->guest_dirty, d->guest_written, d->both, d->guest_only,
		d->host_only[MIRROR_FILE], d->pte_dirty, d->missed, "-", "-", "-", "-", "-");
}

static void json_distinct(FILE *f, const struct compare_counts *d)
{
	fprintf(f,
		",\"distinct\":{\"guest-dirty-pages\":%" PRIu64 ",\"guest-written-pages\":%" PRIu64
		",\"guest-pages\":%" PRIu64 ",\"host-pages\":%" PRIu64
		",\"pte-dirty-pages\":%" PRIu64 ",\"both-pages\":%" PRIu64
		",\"guest-only-pages\":%" PRIu64 ",\"host-only-file-pages\":%" PRIu64
		",\"missed-pages\":%" PRIu64 "}",
		d->guest_dirty, d->guest_written, d->guest, d->host, d->pte_dirty, d->both,
		d->guest_only, d->host_only[MIRROR_FILE], d->missed);
}

static void compare_summary(struct sink *s, const struct run_summary *r)
{
	struct compare *c = (struct compare *)((char *)s - offsetof(struct compare, sink));
	const struct compare_counts *t = &c->total;
	struct compare_counts d;
	if (c->error || !r->completed)
		return;
	distinct_counts(c, &d);
	if (c->cfg.table) {
		FILE *f = c->cfg.table;
		uint64_t other = t->host_frames - t->host;
		table_row(f, "total", t);
		table_distinct_row(f, &d);
		fprintf(f,
			"%s/%s/%s, %" PRIu64 " epoch%s, distinct file pages: guest view %" PRIu64
			", host %" PRIu64 ", both %" PRIu64 ",\n  guest-only %" PRIu64
			", host-only %" PRIu64 ", missed %" PRIu64
			"; summed over epochs: missed %" PRIu64 ",\n  host-only %" PRIu64
			" file pages + %" PRIu64 " other frames, unexplained %" PRIu64 "\n",
			c->cfg.workload_name, c->cfg.policy_name, c->cfg.mode_name, c->epochs,
			c->epochs == 1 ? "" : "s", d.guest, d.host, d.both, d.guest_only,
			d.host_only[MIRROR_FILE], d.missed, t->missed, t->host_only[MIRROR_FILE],
			other, t->unexplained);
		fprintf(f,
			"costs: guest faults %" PRIu64 " (write %" PRIu64 "), guest page writes "
			"%" PRIu64 ",\n  ",
			t->guest_faults, t->guest_write_faults, r->guest_page_writes);
		if (r->vcpu.nr > 1)
			fprintf(f, "TLB shootdowns %" PRIu64 ", ", t->guest_shootdowns);
		fprintf(f, "harvest %.1f us", us(t->harvest_ns));
		if (t->stats[VSTAT_EXITS] != UINT64_MAX)
			fprintf(f,
				", KVM exits %" PRIu64 ", pf-taken %" PRIu64 ", pf-fixed %" PRIu64,
				t->stats[VSTAT_EXITS], t->stats[VSTAT_PF_TAKEN],
				t->stats[VSTAT_PF_FIXED]);
		fprintf(f, "\n");
		if (t->mirror_errors)
			fprintf(f, "mirror: %" PRIu64 " guest lies found and skipped\n",
				t->mirror_errors);
		io_flush(f);
	}
	if (c->cfg.json) {
		FILE *f = c->cfg.json;
		fprintf(f, "{\"summary\":true,");
		json_names(c, f);
		fprintf(f, ",\"epochs\":%" PRIu64 ",", c->epochs);
		json_counts(f, t);
		json_distinct(f, &d);
		fprintf(f,
			",\"guest-page-writes\":%" PRIu64 ",\"device-dirty-pages\":%" PRIu64
			",\"total-time-ms\":%.1f}\n",
			r->guest_page_writes, r->device_dirty_pages, (double)r->total_ns / 1e6);
		io_flush(f);
	}
}

enum plot_cell compare_cell(const struct compare *c, uint32_t ino, uint32_t index, uint64_t epoch)
{
	const struct compare_file *f = ino < ABI_FS_MAX_INODES ? c->files[ino] : NULL;
	if (!f || index >= f->npages || epoch < f->first || epoch - f->first >= f->rows)
		return PLOT_CLEAN;
	return (enum plot_cell)f->cells[(epoch - f->first) * f->npages + index];
}

int compare_plot(const struct compare *c, FILE *out)
{
	if (!c->nr_files || !c->epochs)
		return -EINVAL;
	struct plot_file pf[ABI_FS_MAX_INODES];
	uint64_t cols = 0, first = UINT64_MAX, last = 0;
	for (uint32_t n = 0; n < c->nr_files; n++) {
		const struct compare_file *f = c->files[c->order[n]];
		pf[n] = (struct plot_file){.name = f->name, .npages = f->npages};
		cols += f->npages;
		if (f->first < first)
			first = f->first;
		if (f->first + f->rows - 1 > last)
			last = f->first + f->rows - 1;
	}
	uint64_t rows = last - first + 1;
	uint8_t *cells = malloc(rows * cols);
	if (!cells)
		return -ENOMEM;
	for (uint64_t r = 0; r < rows; r++) {
		uint64_t col = 0;
		for (uint32_t n = 0; n < c->nr_files; n++) {
			const struct compare_file *f = c->files[c->order[n]];
			for (uint32_t p = 0; p < f->npages; p++)
				cells[r * cols + col++] =
				    (uint8_t)compare_cell(c, f->ino, p, first + r);
		}
	}
	char title[160];
	snprintf(title, sizeof(title), "%s, policy %s, log %s: who saw each file page dirty",
		 c->cfg.workload_name, c->cfg.policy_name, c->cfg.mode_name);
	struct plot_grid g = {.title = title,
			      .files = pf,
			      .nr_files = c->nr_files,
			      .cols = cols,
			      .rows = rows,
			      .cells = cells};
	int ret = plot_svg_write(out, &g);
	free(cells);
	return ret;
}
