/* The mode table and what all modes share. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "logger/dlog/dlog.h"
#include "util/strlist.h"

const struct dlog_mode *const dlog_modes[] = {
    &dlog_mode_bitmap, /* KVM's logs */
    &dlog_mode_clear,
    &dlog_mode_ring,
    &dlog_mode_uffd, /* the host's page tables */
    NULL,
};

const struct dlog_mode *dlog_find(const char *name)
{
	for (int i = 0; dlog_modes[i]; i++)
		if (!strcmp(dlog_modes[i]->name, name))
			return dlog_modes[i];
	return NULL;
}

struct dlog_config dlog_config_default(void)
{
	return (struct dlog_config){.ring_entries = DLOG_RING_ENTRIES,
				    .clear_chunk_pages = DLOG_CLEAR_CHUNK_PAGES,
				    .reaper_us = DLOG_REAPER_US};
}

const char *dlog_mode_list(bool kvm_log_only, const char *sep, const char *last, char *buf,
			   size_t len)
{
	const char *names[sizeof(dlog_modes) / sizeof(dlog_modes[0])];
	size_t n = 0;
	for (int i = 0; dlog_modes[i]; i++)
		if (dlog_modes[i]->kvm_log || !kvm_log_only)
			names[n++] = dlog_modes[i]->name;
	return strlist_join(buf, len, names, n, sep, last);
}

int dlog_init(struct dlog *d, const struct dlog_mode *mode, const struct dlog_config *cfg,
	      struct vm *vm)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->cfg = *cfg;
	d->vm = vm;
	for (int i = 0; i < vm->mem.nr_slots; i++) {
		const struct mem_slot *s = &vm->mem.slots[i];
		d->slots[s->id] = (struct harvest_slot){s->first_page, s->pages};
	}
	return mode->vm_created ? mode->vm_created(d) : 0;
}

int64_t dlog_harvest(struct dlog *d, struct frameset *out)
{
	return d->mode->harvest(d, out);
}

void dlog_teardown(struct dlog *d)
{
	if (d->mode && d->mode->teardown)
		d->mode->teardown(d);
	d->mode = NULL;
}
