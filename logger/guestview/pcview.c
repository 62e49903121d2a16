/*
 * The guest's page-cache view, read from guest RAM.  The guest may write
 * anything there at any time, so each read takes a snapshot first and
 * validates the snapshot, never the live memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger/guestview/pcview.h"

static int bad(char *why, size_t n, const char *what)
{
	snprintf(why, n, "page-cache view: %s", what);
	return -EPROTO;
}

static int read_desc(const struct guest_mem *m, uint64_t gpa, struct abi_pc_desc *d, char *why,
		     size_t n)
{
	const void *p = gpa % 8 ? NULL : mem_gpa_to_hva(m, gpa, sizeof(*d));
	if (!p)
		return bad(why, n, "descriptor outside guest RAM");
	memcpy(d, p, sizeof(*d));
	if (d->magic != ABI_PC_MAGIC || d->version != ABI_PC_VERSION)
		return bad(why, n, "descriptor has a bad magic or version");
	if (d->policy < ABI_POLICY_WP || d->policy > ABI_POLICY_LAST)
		return bad(why, n, "descriptor names an unknown policy");
	if (d->view_cap > PCVIEW_MAX_ENTRIES || d->nr_files > ABI_FS_MAX_INODES)
		return bad(why, n, "descriptor counts out of range");
	if (d->view_cap &&
	    !mem_gpa_to_hva(m, d->view_gpa, (uint64_t)d->view_cap * sizeof(struct abi_pc_view_ent)))
		return bad(why, n, "view buffer outside guest RAM");
	return 0;
}

int pcview_attach(struct pcview *v, const struct guest_mem *m, uint64_t desc_gpa, char *why,
		  size_t whylen)
{
	struct abi_pc_desc d;
	int ret = read_desc(m, desc_gpa, &d, why, whylen);
	if (ret)
		return ret;
	memset(v, 0, sizeof(*v));
	v->desc_gpa = desc_gpa;
	v->policy = d.policy;
	return 0;
}

int pcview_read(struct pcview *v, const struct guest_mem *m, const uint64_t *args, char *why,
		size_t whylen)
{
	struct abi_pc_desc d;
	int ret = read_desc(m, v->desc_gpa, &d, why, whylen);
	if (ret)
		return ret;
	if (d.policy != v->policy)
		return bad(why, whylen, "policy changed after boot");
	uint64_t nd = args[ABI_SYNC_VIEW_DIRTY], nw = args[ABI_SYNC_VIEW_WB];
	uint64_t td = args[ABI_SYNC_DIRTY_ALL], tw = args[ABI_SYNC_WB_ALL];
	if (nd > d.view_cap || nw > d.view_cap - nd)
		return bad(why, whylen, "more entries than the view buffer holds");
	if (td < nd || tw < nw)
		return bad(why, whylen, "totals smaller than the listed entries");
	if (nd + nw > v->cap) {
		void *p = realloc(v->ents, (nd + nw) * sizeof(*v->ents));
		if (!p)
			return -ENOMEM;
		v->ents = p;
		v->cap = nd + nw;
	}
	if (nd + nw)
		memcpy(v->ents, mem_gpa_to_hva(m, d.view_gpa, (nd + nw) * sizeof(*v->ents)),
		       (nd + nw) * sizeof(*v->ents));
	for (uint64_t i = 0; i < nd + nw; i++) {
		const struct abi_pc_view_ent *e = &v->ents[i];
		if (e->ino >= ABI_FS_MAX_INODES || e->gpa % ABI_PAGE_SIZE ||
		    mem_gpa_to_index(m, e->gpa) < 0) {
			snprintf(
			    why, whylen,
			    "page-cache view: entry %llu (inode %u page %u gpa %#llx) is invalid",
			    (unsigned long long)i, e->ino, e->index, (unsigned long long)e->gpa);
			return -EPROTO;
		}
	}
	v->desc = d;
	v->nr_dirty = nd;
	v->nr_written = nw;
	v->dirty_total = td;
	v->page_writes = tw;
	return 0;
}

int pcview_index_entry(const struct pcview *v, const struct guest_mem *m, uint32_t ino,
		       uint64_t index, uint64_t *entry, char *why, size_t whylen)
{
	struct abi_pc_desc d;
	int ret = read_desc(m, v->desc_gpa, &d, why, whylen);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < d.nr_files; i++) {
		const struct abi_pc_file *f = &d.files[i];
		if (f->ino != ino)
			continue;
		if (!f->index_gpa)
			return -ENOENT;
		if (index >= f->npages)
			return -ERANGE;
		/* index < npages, a 32-bit count, so index * 8 cannot
		 * wrap, but a published index_gpa near 2^64 makes the sum wrap
		 * to some low GPA, which would read an unrelated page. */
		const uint64_t *e = f->index_gpa > UINT64_MAX - index * 8
					? NULL
					: mem_gpa_to_hva(m, f->index_gpa + index * 8, 8);
		if (!e || f->index_gpa % 8)
			return bad(why, whylen, "index outside guest RAM");
		*entry = __atomic_load_n(e, __ATOMIC_RELAXED);
		return 0;
	}
	return -ENOENT;
}

void pcview_free(struct pcview *v)
{
	free(v->ents);
	v->ents = NULL;
	v->cap = 0;
}
