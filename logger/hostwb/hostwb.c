/*
 * Host writeback (logger/hostwb/hostwb.h, docs/hostwb.md).
 *
 * A commit, the vCPU stopped:
 *   1. the session has harvested the epoch's dirty log, which re-arms it
 *      (KVM_CLEAR_DIRTY_LOG, the bitmap fetch-and-clear, the ring reset, the
 *      uffd re-protect).  That comes before any byte is copied: a store that
 *      lands after the harvest is logged again and written with the next
 *      commit.  Copying first and re-arming after would lose a store that
 *      raced the copy, with no trace in any log.  The vCPU is stopped here,
 *      so nothing races today; the order is what keeps this correct once
 *      the copy runs beside the guest;
 *   2. the mirror maps each dirty frame to a file page (inode, index); the
 *      page joins that inode's pending set until a commit;
 *   3. at a commit every pending page is looked up again in the guest's own
 *      index: only a page the index still holds, present and up to date, is
 *      written, from the frame the index names now.  A page the guest
 *      dropped since (written back and evicted) is in staging or the image
 *      already;
 *   4. the pages' image blocks come from the disk's metadata (as the device
 *      serves it, staging included): a page outside its file's extent, or of
 *      a file the disk does not list yet, is never written;
 *   5. guest RAM wins over staging for a block both hold: a cached,
 *      up-to-date page is the newest copy of its block;
 *   6. blocks are sorted and runs of adjacent blocks become one journal
 *      extent, written with one pwritev.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"
#include "util/io.h"
#include "util/sigmask.h"
#include "util/time.h"
#include "fs/dsfs.h"
#include "logger/hostwb/hostwb.h"

#define BLOCK		   ABI_FS_BLOCK
#define MISMATCHES_PRINTED 8

static int fail(char *why, size_t n, int err, const char *what)
{
	snprintf(why, n, "host writeback: %s: %s", what, strerror(-err));
	return err;
}

static bool bit_test(const uint64_t *b, uint64_t i)
{
	return b[i / 64] >> (i % 64) & 1;
}

static void bit_set(uint64_t *b, uint64_t i)
{
	b[i / 64] |= 1ULL << (i % 64);
}

static void bit_clear(uint64_t *b, uint64_t i)
{
	b[i / 64] &= ~(1ULL << (i % 64));
}

/* ---- staging: the device's view of the disk between commits ---------- */

/*
 * The device reads through staging: a staged block comes from there, every
 * other run of blocks straight from the image, which the journal keeps
 * current in place after each commit.
 */
static int stage_read(void *ctx, void *buf, uint64_t len, uint64_t off)
{
	struct hostwb *hw = ctx;
	uint8_t *p = buf;
	while (len) {
		uint64_t b = off / BLOCK, in = off % BLOCK;
		uint64_t n = BLOCK - in < len ? BLOCK - in : len;
		if (bit_test(hw->stage_bits, b)) {
			memcpy(p, hw->stage + off, n);
		} else {
			/* Extend over the following unstaged blocks: one pread. */
			while (n < len && !bit_test(hw->stage_bits, (off + n) / BLOCK))
				n += BLOCK < len - n ? BLOCK : len - n;
			int ret = io_pread_full(hw->image_fd, p, n, off);
			if (ret)
				return ret;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int stage_write(void *ctx, const void *buf, uint64_t len, uint64_t off)
{
	struct hostwb *hw = ctx;
	const uint8_t *p = buf;
	while (len) {
		uint64_t b = off / BLOCK, in = off % BLOCK;
		uint64_t n = BLOCK - in < len ? BLOCK - in : len;
		if (!bit_test(hw->stage_bits, b)) {
			/* A partial write keeps the rest of the block as it is. */
			if (n < BLOCK) {
				int ret = io_pread_full(hw->image_fd, hw->stage + b * BLOCK, BLOCK,
							b * BLOCK);
				if (ret)
					return ret;
			}
			bit_set(hw->stage_bits, b);
			hw->stage_list[hw->nr_staged++] = b;
		}
		memcpy(hw->stage + off, p, n);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* FLUSH: what the guest wrote is in staging and becomes durable with the
 * next commit; there is nothing to sync before it. */
static int stage_flush(void *ctx)
{
	struct hostwb *hw = ctx;
	hw->stats.flushes++;
	return 0;
}

/* ---- open / close ------------------------------------------------------ */

int hostwb_open(struct hostwb *hw, const struct hostwb_config *cfg, const struct guest_mem *mem,
		struct virtio_blk *blk, const char *image_path, char *why, size_t whylen)
{
	int ret;

	memset(hw, 0, sizeof(*hw));
	hostwb_report_init(hw);
	hw->cfg = *cfg;
	if (!hw->cfg.interval)
		hw->cfg.interval = 1;
	hw->mem = mem;
	hw->blk = blk;
	hw->image_fd = blk->fd;
	hw->image_blocks = blk->size / BLOCK;

	/* The journal is tied to the image by its identity, so that it can
	 * never be replayed onto another (docs/journal.md): an image without
	 * one cannot have a journal. */
	uint8_t uuid[16];
	if ((ret = dsfs_identity(hw->image_fd, uuid))) {
		snprintf(why, whylen, "%s: cannot read the image: %s", image_path, strerror(-ret));
		return ret;
	}
	if (dsfs_uuid_null(uuid)) {
		snprintf(why, whylen,
			 "%s: host writeback needs an image with an identity; this one was made "
			 "by an older mkimage: make it again with dirtyscope mkimage",
			 image_path);
		return -EPROTO;
	}
	if (cfg->journal_dir)
		ret = journal_open_unnamed(&hw->j, cfg->journal_dir, hw->image_fd, why, whylen);
	else
		ret = journal_open(&hw->j, image_path, hw->image_fd, why, whylen);
	if (ret)
		return ret;
	hw->journal_open = true;
	if (cfg->checkpoint_bytes)
		hw->j.checkpoint_bytes = cfg->checkpoint_bytes;

	ret = -ENOMEM;
	uint64_t nb = hw->image_blocks;
	hw->stage = mmap(NULL, nb * BLOCK, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hw->stage == MAP_FAILED) {
		hw->stage = NULL;
		goto fail;
	}
	hw->stage_bits = calloc((nb + 63) / 64, 8);
	hw->stage_list = calloc(nb, sizeof(*hw->stage_list));
	hw->src = calloc(nb, sizeof(*hw->src));
	hw->touched = calloc(nb, sizeof(*hw->touched));
	hw->ext = calloc(nb, sizeof(*hw->ext));
	hw->pages = calloc(nb, sizeof(*hw->pages));
	if (!hw->stage_bits || !hw->stage_list || !hw->src || !hw->touched || !hw->ext ||
	    !hw->pages)
		goto fail;
	ret = mirror_init(&hw->mi, mem, stderr);
	if (ret)
		goto fail;

	struct virtio_blk_backend be = {
	    .read = stage_read, .write = stage_write, .flush = stage_flush, .ctx = hw};
	virtio_blk_set_backend(blk, &be);
	return 0;

fail:
	snprintf(why, whylen, "host writeback: %s", strerror(-ret));
	hostwb_close(hw, false, NULL, 0);
	return ret;
}

int hostwb_close(struct hostwb *hw, bool checkpoint, char *why, size_t whylen)
{
	int ret = 0;
	if (hw->blk && hw->blk->backend.ctx == hw)
		virtio_blk_set_backend(hw->blk, NULL);
	if (hw->journal_open) {
		if (checkpoint) {
			sigset_t old;
			uint64_t t0 = time_now_ns();
			sigmask_block_stop(&old); /* see hostwb_epoch */
			ret = journal_checkpoint(&hw->j, why, whylen);
			sigmask_restore(&old);
			hw->stats.commit_ns += time_now_ns() - t0;
		}
		journal_close(&hw->j);
		hw->journal_open = false;
	}
	if (hw->mi.frames)
		mirror_free(&hw->mi);
	if (hw->stage)
		munmap(hw->stage, hw->image_blocks * BLOCK);
	hw->stage = NULL;
	for (int i = 0; i < ABI_FS_MAX_INODES; i++) {
		free(hw->pending[i]);
		hw->pending[i] = NULL;
	}
	free(hw->stage_bits);
	free(hw->stage_list);
	free(hw->src);
	free(hw->touched);
	free(hw->ext);
	free(hw->pages);
	free(hw->written);
	hw->stage_bits = hw->stage_list = hw->touched = NULL;
	hw->src = hw->pages = NULL;
	hw->ext = NULL;
	hw->written = NULL;
	return ret;
}

/* ---- an epoch --------------------------------------------------------- */

/* The disk's metadata as the guest would read it now (staging included). */
static int read_meta(struct hostwb *hw, struct abi_fs_meta *meta, bool *valid)
{
	int ret = stage_read(hw, meta, sizeof(*meta), 0);
	if (ret)
		return ret;
	const char *why;
	*valid = !abi_fs_check(meta, hw->image_blocks, &why);
	return 0;
}

/* Step 2: add the epoch's dirty file frames to their inodes' pending sets. */
static int mark_pending(struct hostwb *hw, const struct frameset *dirty)
{
	for (uint64_t k = 0; k < dirty->count; k++) {
		const struct mirror_frame *f = mirror_frame(&hw->mi, dirty->list[k]);
		if (f->cls != MIRROR_FILE)
			continue;
		const struct mirror_file *mf = &hw->mi.files[f->file];
		uint32_t ino = mf->ino;
		if (!hw->pending[ino]) {
			hw->pending[ino] = calloc((mf->npages + 63) / 64, 8);
			if (!hw->pending[ino])
				return -ENOMEM;
			hw->pending_npages[ino] = mf->npages;
		}
		if (f->index < hw->pending_npages[ino])
			bit_set(hw->pending[ino], f->index);
	}
	return 0;
}

static void touch(struct hostwb *hw, uint64_t b, const void *bytes)
{
	if (!hw->src[b])
		hw->touched[hw->nr_touched++] = b;
	hw->src[b] = bytes;
}

static int note_written(struct hostwb *hw, uint32_t ino, uint32_t index, uint64_t gpa)
{
	if (hw->nr_written == hw->written_cap) {
		uint64_t cap = hw->written_cap ? 2 * hw->written_cap : 1024;
		void *p = realloc(hw->written, cap * sizeof(*hw->written));
		if (!p)
			return -ENOMEM;
		hw->written = p;
		hw->written_cap = cap;
	}
	hw->written[hw->nr_written++] = (struct hostwb_written){ino, index, gpa};
	return 0;
}

/* The guest's live index of a published file, or NULL. */
static const uint64_t *live_index(const struct hostwb *hw, const struct abi_pc_desc *d,
				  uint32_t ino, uint32_t *npages)
{
	uint32_t nf = d->nr_files < ABI_FS_MAX_INODES ? d->nr_files : ABI_FS_MAX_INODES;
	for (uint32_t i = 0; i < nf; i++) {
		const struct abi_pc_file *f = &d->files[i];
		if (f->ino != ino || !f->index_gpa || f->index_gpa % 8)
			continue;
		*npages = f->npages;
		return mem_gpa_to_hva(hw->mem, f->index_gpa, (uint64_t)f->npages * 8);
	}
	return NULL;
}

/* Steps 3 and 4 for one inode's pending pages. */
static int gather_inode(struct hostwb *hw, const struct abi_pc_desc *d,
			const struct abi_fs_meta *meta, bool meta_valid, uint32_t ino)
{
	uint64_t *pend = hw->pending[ino];
	uint32_t np = hw->pending_npages[ino], inp = 0;
	uint64_t words = (np + 63) / 64;
	const struct abi_fs_inode *in = &meta->inodes[ino];
	const uint64_t *index = live_index(hw, d, ino, &inp);
	if (!meta_valid || !(in->flags & ABI_FS_INODE_USED) || in->nr_blocks != np || inp != np ||
	    !index) {
		/* The disk does not say where the file lives (yet): its pages
		 * stay pending for a later commit. */
		for (uint64_t w = 0; w < words; w++)
			hw->last.deferred += (uint64_t)__builtin_popcountll(pend[w]);
		return 0;
	}
	for (uint64_t w = 0; w < words; w++) {
		for (; pend[w]; pend[w] &= pend[w] - 1) {
			uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(pend[w]);
			uint64_t e = __atomic_load_n(&index[i], __ATOMIC_RELAXED);
			uint64_t gpa = e & ~ABI_PCE_FLAGS;
			const void *bytes = NULL;
			if ((e & (ABI_PCE_PRESENT | ABI_PCE_UPTODATE)) ==
			    (ABI_PCE_PRESENT | ABI_PCE_UPTODATE))
				bytes = mem_gpa_to_hva(hw->mem, gpa, BLOCK);
			if (!bytes) {
				hw->last.unbacked++;
				continue;
			}
			/* abi_fs_check bounds every extent by the image. */
			uint64_t b = in->start_block + i;
			if (hw->cfg.test_skip_block && b + 1 == hw->cfg.test_skip_block)
				continue;
			touch(hw, b, bytes);
			int ret = note_written(hw, ino, (uint32_t)i, gpa);
			if (ret)
				return ret;
			hw->last.pages++;
		}
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Step 6: sorted blocks into extents of adjacent blocks. */
static size_t build_extents(struct hostwb *hw)
{
	qsort(hw->touched, hw->nr_touched, sizeof(*hw->touched), cmp_u64);
	size_t n = 0;
	for (uint64_t k = 0; k < hw->nr_touched; k++) {
		uint64_t b = hw->touched[k];
		hw->pages[k] = hw->src[b];
		if (n && hw->ext[n - 1].block + hw->ext[n - 1].nr_blocks == b) {
			hw->ext[n - 1].nr_blocks++;
			continue;
		}
		hw->ext[n++] = (struct journal_extent){b, 1, &hw->pages[k]};
	}
	return n;
}

/* --verify: every cached, up-to-date page of a file the disk lists now
 * equals its image block.  Returns the pages that differ. */
static uint64_t verify_image(struct hostwb *hw, const struct abi_pc_desc *d,
			     const struct abi_fs_meta *meta, uint64_t epoch)
{
	uint8_t buf[BLOCK];
	uint64_t bad = 0;
	for (uint32_t ino = 0; ino < ABI_FS_MAX_INODES; ino++) {
		const struct abi_fs_inode *in = &meta->inodes[ino];
		uint32_t np = 0;
		const uint64_t *index = live_index(hw, d, ino, &np);
		if (!index || !(in->flags & ABI_FS_INODE_USED) || in->nr_blocks != np)
			continue;
		for (uint64_t i = 0; i < np; i++) {
			uint64_t e = index[i];
			if ((e & (ABI_PCE_PRESENT | ABI_PCE_UPTODATE)) !=
			    (ABI_PCE_PRESENT | ABI_PCE_UPTODATE))
				continue;
			const void *ram = mem_gpa_to_hva(hw->mem, e & ~ABI_PCE_FLAGS, BLOCK);
			if (!ram)
				continue;
			if (!io_pread_full(hw->image_fd, buf, BLOCK,
					   (in->start_block + i) * BLOCK) &&
			    !memcmp(buf, ram, BLOCK))
				continue;
			if (hw->stats.mismatches + bad < MISMATCHES_PRINTED)
				log_err("host writeback: epoch %" PRIu64 ": inode %u page %" PRIu64
					" differs from the image",
					epoch, ino, i);
			bad++;
		}
	}
	return bad;
}

int hostwb_epoch(struct hostwb *hw, uint64_t epoch, const struct frameset *dirty,
		 const struct pcview *view, bool final, char *why, size_t whylen)
{
	struct abi_fs_meta meta;
	bool meta_valid;
	int ret;

	uint64_t t0 = time_now_ns();
	memset(&hw->last, 0, sizeof(hw->last));
	hw->post_due = false;
	ret = read_meta(hw, &meta, &meta_valid);
	if (ret)
		return fail(why, whylen, ret, "reading the disk's metadata");
	if (view) {
		/* The image bounds what the mirror copies of each index. */
		for (int i = 0; i < ABI_FS_MAX_INODES; i++)
			hw->mi.extent_pages[i] =
			    meta_valid && meta.inodes[i].flags & ABI_FS_INODE_USED
				? meta.inodes[i].nr_blocks
				: 0;
		hw->desc = view->desc;
		ret = mirror_build(&hw->mi, &hw->desc);
		if (ret)
			return fail(why, whylen, ret, "building the mirror");
		hw->mirror_built = true;
	}
	if (hw->mirror_built && (ret = mark_pending(hw, dirty)))
		return fail(why, whylen, ret, "pending pages");
	if (++hw->epochs_since < hw->cfg.interval && !final)
		return 0;

	/* Staged blocks first, so guest RAM overrides them (step 5). */
	hw->nr_touched = 0;
	hw->nr_written = 0;
	for (uint64_t k = 0; k < hw->nr_staged; k++) {
		uint64_t b = hw->stage_list[k];
		if (hw->cfg.test_skip_block && b + 1 == hw->cfg.test_skip_block)
			continue;
		touch(hw, b, hw->stage + b * BLOCK);
		hw->last.staged_blocks++;
	}
	const struct abi_pc_desc *d = &hw->desc;
	for (uint32_t ino = 0; ino < ABI_FS_MAX_INODES; ino++)
		if (hw->pending[ino] && (ret = gather_inode(hw, d, &meta, meta_valid, ino)))
			return fail(why, whylen, ret, "gathering pages");
	size_t n = build_extents(hw);
	hw->last.blocks = hw->nr_touched;
	hw->last.extents = n;
	uint64_t t1 = time_now_ns();
	hw->last.gather_ns = t1 - t0;
	/* SIGINT and SIGTERM wait until the commit is done: their handler only
	 * stops the run loop, but run in the middle of the journal's fdatasync
	 * it could make it fail with EINTR, which leaves the journal in doubt
	 * (broken until reopened) and the stop no longer clean.  Pending, the
	 * signal is handled right after, and the run stops at a committed
	 * epoch, which the session then checkpoints. */
	sigset_t old;
	sigmask_block_stop(&old);
	if (hw->cfg.test_stop_in_commit && epoch == hw->cfg.test_stop_in_commit)
		raise(SIGINT);
	ret = journal_commit(&hw->j, epoch, hw->ext, n, why, whylen);
	sigmask_restore(&old);
	hw->last.commit_ns = time_now_ns() - t1;
	for (uint64_t k = 0; k < hw->nr_touched; k++)
		hw->src[hw->touched[k]] = NULL;
	if (ret)
		return ret;
	for (uint64_t k = 0; k < hw->nr_staged; k++)
		bit_clear(hw->stage_bits, hw->stage_list[k]);
	hw->nr_staged = 0;
	hw->epochs_since = 0;
	hw->last.commits = 1;
	if (hw->cfg.verify)
		hw->last.mismatches = verify_image(hw, d, &meta, epoch);

	struct hostwb_stats *s = &hw->stats, *l = &hw->last;
	s->commits++;
	s->pages += l->pages;
	s->staged_blocks += l->staged_blocks;
	s->blocks += l->blocks;
	s->extents += l->extents;
	s->unbacked += l->unbacked;
	s->deferred += l->deferred;
	s->mismatches += l->mismatches;
	s->gather_ns += l->gather_ns;
	s->commit_ns += l->commit_ns;
	hw->post_due = !final && view;
	hw->post_epoch = epoch;
	return 1;
}

void hostwb_post(struct hostwb *hw, const struct pcview *view,
		 void (*dirty)(void *ctx, uint64_t gpa, uint64_t len), void *ctx)
{
	if (!hw->post_due)
		return;
	hw->post_due = false;
	const struct abi_pc_desc *d = &view->desc;
	uint64_t cap = d->hostwb_cap;
	if (cap > PCVIEW_MAX_ENTRIES)
		cap = PCVIEW_MAX_ENTRIES;
	uint64_t len = sizeof(struct abi_pc_hostwb) + cap * sizeof(struct abi_pc_view_ent);
	/* The whole buffer must be RAM, or nothing is written: the guest is
	 * told nothing, and simply writes its dirty pages itself. */
	struct abi_pc_hostwb *m =
	    d->hostwb_gpa % 8 ? NULL : mem_gpa_to_hva(hw->mem, d->hostwb_gpa, len);
	if (!m)
		return;
	uint64_t n = hw->nr_written < cap ? hw->nr_written : cap;
	for (uint64_t k = 0; k < n; k++)
		m->ents[k] = (struct abi_pc_view_ent){hw->written[k].ino, hw->written[k].index,
						      hw->written[k].gpa};
	m->listed = n;
	m->written = hw->nr_written;
	m->reserved = 0;
	m->epoch = hw->post_epoch;
	hw->last.listed = n;
	hw->stats.listed += n;
	dirty(ctx, d->hostwb_gpa, sizeof(*m) + n * sizeof(struct abi_pc_view_ent));
}
