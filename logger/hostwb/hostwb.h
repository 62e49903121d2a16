/*
 * Host writeback (`run --writeback host[:N]`, docs/hostwb.md): the host, not
 * the guest, keeps the disk image current.  At the end of every N-th epoch,
 * with the vCPU stopped, it takes the guest's dirty file pages as the host
 * sees them (KVM's dirty log, mapped to file pages by the page-cache mirror)
 * and commits them, with whatever the guest itself wrote through virtio-blk
 * since the last commit, to the image as one journal transaction
 * (logger/hostwb/journal.h).  The image therefore always equals the guest's file
 * content as of some committed epoch, whenever the host dies.
 *
 * To make that true the guest's own virtio-blk writes must not reach the
 * image between commits: they wait in a staging area (host memory, one bit
 * and one 4 KiB slot per image block) that the device reads through, and go
 * into the next transaction.  A guest FLUSH is answered at once; what it
 * flushed becomes durable with that transaction.
 *
 * After a commit at a SYNC the host tells the guest which cached pages it
 * wrote (include/abi/pcache.h, version 3) so its own writeback can skip them.
 */
#ifndef LOGGER_HOSTWB_H
#define LOGGER_HOSTWB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/fs.h"
#include "logger/dlog/frameset.h"
#include "logger/hostwb/journal.h"
#include "logger/guestview/mirror.h"
#include "logger/guestview/pcview.h"
#include "util/report.h"
#include "vmm/mem.h"
#include "vmm/virtio_blk.h"

/* Host writeback's figures: one commit's, or the run's. */
struct hostwb_stats {
	uint64_t commits;
	uint64_t pages;		/* file pages written from guest RAM */
	uint64_t staged_blocks; /* blocks the guest wrote itself, committed */
	uint64_t blocks;	/* image blocks written (pages + staged, each once) */
	uint64_t extents;	/* runs of adjacent blocks: one journal extent each */
	uint64_t unbacked;	/* dirty file pages the guest's index no longer holds */
	uint64_t deferred;	/* pages of files not yet in the disk's metadata */
	uint64_t listed;	/* pages told to the guest */
	uint64_t flushes;	/* guest FLUSH requests answered from staging */
	uint64_t mismatches;	/* verify: cached pages that differ from the image */
	uint64_t gather_ns;	/* mapping dirty frames to blocks (vCPU stopped) */
	uint64_t commit_ns;	/* journal_commit, checkpoints included */
	uint64_t host_cleaned;	/* run: pages the guest cleaned on the host's word */
};

struct hostwb_config {
	uint32_t interval;	   /* commit at every `interval`-th epoch end (>= 1) */
	bool verify;		   /* after each commit, check the image against guest RAM */
	uint64_t checkpoint_bytes; /* journal size that triggers a checkpoint; 0: the default */
	/* NULL: the journal is IMAGE.journal beside the image.  Else the image
	 * has no name (a temporary one), and the journal is made without a
	 * name too, in this directory (journal_open_unnamed). */
	const char *journal_dir;
	uint64_t test_skip_block; /* tests only: image block + 1 never written (0: none) */
	/* TEST HOOK: raise SIGINT inside the commit of this epoch (0: none),
	 * where hostwb holds it pending until the commit is done.  Only
	 * tests/test_stop.c sets it, through DIRTYSCOPE_TEST_STOP_IN_COMMIT. */
	uint64_t test_stop_in_commit;
};

/* A file page written from guest RAM, for the message to the guest. */
struct hostwb_written {
	uint32_t ino, index;
	uint64_t gpa;
};

struct hostwb {
	struct hostwb_config cfg;
	const struct guest_mem *mem;
	struct virtio_blk *blk;
	int image_fd;
	uint64_t image_blocks;
	struct journal j;
	bool journal_open;
	struct mirror mi;
	bool mirror_built;
	struct abi_pc_desc desc; /* as published at the last SYNC */
	/* Staging: guest writes since the last commit. */
	uint8_t *stage;	      /* image_blocks * 4 KiB, MAP_NORESERVE */
	uint64_t *stage_bits; /* one bit per image block */
	uint64_t *stage_list; /* staged blocks, in staging order */
	uint64_t nr_staged;
	/* Dirty file pages since the last commit, per inode: one bit per page. */
	uint64_t *pending[ABI_FS_MAX_INODES];
	uint32_t pending_npages[ABI_FS_MAX_INODES];
	uint64_t epochs_since; /* epochs since the last commit */
	/* A commit's working set. */
	const void **src;  /* per image block: the bytes to write, or NULL */
	uint64_t *touched; /* blocks with src set */
	uint64_t nr_touched;
	struct journal_extent *ext;
	const void **pages;		/* the extents' page pointers, in block order */
	struct hostwb_written *written; /* pages written from guest RAM */
	uint64_t nr_written, written_cap;
	/* The message owed to the guest after a commit at a SYNC. */
	bool post_due;
	uint64_t post_epoch;
	struct hostwb_stats stats, last;
	/* Its figures in the outputs (hostwb_report.c): the epoch's commit,
	 * the run's totals. */
	struct report_ext report;
};

/*
 * Start host writeback on the image that `blk` serves (image_path names it
 * for the journal): recover whatever a previous run left, open the journal
 * (with cfg->journal_dir, a new unnamed one there instead), and route the
 * device's data through staging.  `mem` and `blk` must outlive
 * hw.  Returns 0 or -errno with a one-line reason in why.
 */
int hostwb_open(struct hostwb *hw, const struct hostwb_config *cfg, const struct guest_mem *mem,
		struct virtio_blk *blk, const char *image_path, char *why, size_t whylen);

/*
 * The end of epoch `epoch`, the vCPU stopped, its dirty log already
 * harvested (and so re-armed) into `dirty`.  `view` holds the descriptor the
 * guest published at this SYNC, or is NULL at the end of the run (then the
 * last epoch's mirror classifies the frames, every page re-checked against
 * the live index).  Commits when the interval is due or `final`, with SIGINT
 * and SIGTERM blocked for the commit (util/sigmask.h): one that comes
 * meanwhile is handled once the commit is done.  Returns 1
 * after a commit, 0 when none was due, or -errno (why says what failed; the
 * image still holds the last committed epoch).
 */
int hostwb_epoch(struct hostwb *hw, uint64_t epoch, const struct frameset *dirty,
		 const struct pcview *view, bool final, char *why, size_t whylen);

/*
 * After a commit at a SYNC: list the pages written from guest RAM in the
 * guest's message buffer (named by `view`'s descriptor).  Every byte the
 * host stores into guest RAM is reported through dirty(ctx, gpa, len), as
 * the device's DMA is, since KVM's dirty log cannot see host stores.
 */
void hostwb_post(struct hostwb *hw, const struct pcview *view,
		 void (*dirty)(void *ctx, uint64_t gpa, uint64_t len), void *ctx);

/*
 * Checkpoint the journal (with `checkpoint`; SIGINT and SIGTERM blocked, as
 * for a commit) so the image alone is current and durable, then release
 * everything.  Returns 0 or -errno with why.
 */
int hostwb_close(struct hostwb *hw, bool checkpoint, char *why, size_t whylen);

/* Set hw->report: the last commit's figures for the epoch rows, the run's
 * for the summary.  hostwb_open calls it. */
void hostwb_report_init(struct hostwb *hw);

#endif
