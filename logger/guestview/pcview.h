/*
 * Reading what the guest kernel publishes about its page cache
 * (include/abi/pcache.h): the descriptor it names at READY and the per-epoch
 * view it fills before each SYNC.  Everything read is guest-written and
 * untrusted: every count, GPA and index is validated before use.
 */
#ifndef LOGGER_PCVIEW_H
#define LOGGER_PCVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "abi/layout.h"
#include "abi/pcache.h"
#include "vmm/mem.h"

#define PCVIEW_MAX_ENTRIES (1u << 20)

struct pcview {
	uint64_t desc_gpa;
	uint32_t policy;
	uint64_t nr_dirty;    /* dirty entries listed (ents[0 .. nr_dirty)) */
	uint64_t nr_written;  /* written-back entries listed, after the dirty ones */
	uint64_t dirty_total; /* dirty pages the guest counted (>= nr_dirty) */
	uint64_t page_writes; /* page writes the guest issued in the epoch */
	struct abi_pc_view_ent *ents;
	uint64_t cap;
	/* The descriptor as it stood at the last SYNC (pcview_read), checked
	 * only as far as the fields above need: its version-2 tail is for
	 * logger/guestview/mirror.c, which validates it. */
	struct abi_pc_desc desc;
};

/*
 * Check the descriptor at desc_gpa (READY).  Returns 0, or -EPROTO with a
 * one-line reason in why.
 */
int pcview_attach(struct pcview *v, const struct guest_mem *m, uint64_t desc_gpa, char *why,
		  size_t whylen);

/*
 * Copy and validate the epoch's view named by the SYNC arguments.  Returns 0,
 * -EPROTO (reason in why) or -ENOMEM.
 */
int pcview_read(struct pcview *v, const struct guest_mem *m, const uint64_t *args, char *why,
		size_t whylen);

/*
 * Read the guest's own page-cache index entry for page `index` of inode
 * `ino` (GPA | ABI_PCE_* flags, 0 when not cached) into *entry, through the
 * descriptor.  Returns 0, -ENOENT when the file's index is not published
 * (never opened), -ERANGE for an index past the file, or -EPROTO (reason in
 * why) when the descriptor or index lies outside guest RAM.
 */
int pcview_index_entry(const struct pcview *v, const struct guest_mem *m, uint32_t ino,
		       uint64_t index, uint64_t *entry, char *why, size_t whylen);

/* Free the copy. */
void pcview_free(struct pcview *v);

#endif
