/*
 * The two KVM_GET_DIRTY_LOG modes.
 *
 * bitmap: KVM_GET_DIRTY_LOG returns a slot's bitmap and, in the same call,
 *         clears it and write-protects the pages again.
 * clear:  with KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_GET_DIRTY_LOG only
 *         reads; we re-protect with KVM_CLEAR_DIRTY_LOG, one chunk at a time
 *         and only for chunks with dirty pages, which is what makes the mode
 *         cheap for large, mostly clean guests.  With INITIALLY_SET, KVM
 *         starts with every bit set and write-protects lazily, chunk by chunk,
 *         as we clear: the first (discarded) harvest does that.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "util/time.h"
#include "logger/dlog/dlog.h"

static int alloc_bitmap(struct dlog *d)
{
	uint64_t max = 0;
	for (int i = 0; i < d->vm->mem.nr_slots; i++)
		if (d->vm->mem.slots[i].pages > max)
			max = d->vm->mem.slots[i].pages;
	d->bitmap = calloc((max + 63) / 64, 8);
	return d->bitmap ? 0 : -ENOMEM;
}

/* KVM_GET_DIRTY_LOG for one slot into d->bitmap, then collect its bits into
 * out.  Returns the number of dirty pages or -errno. */
static int64_t slot_collect(struct dlog *d, const struct mem_slot *s, struct frameset *out)
{
	struct kvm_dirty_log log = {.slot = s->id, .dirty_bitmap = d->bitmap};
	memset(d->bitmap, 0, (s->pages + 63) / 64 * 8);
	d->kvm_calls++;
	/* The test hook (vmm/kvm.h) fails the call the way KVM would. */
	int test_err = kvm_test_fail(KVM_TEST_GET_DIRTY_LOG);
	if (test_err)
		errno = test_err;
	if (test_err || ioctl(d->vm->kvm.vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
		int ret = -errno;
		log_err("KVM_GET_DIRTY_LOG slot %u: %s", s->id, strerror(-ret));
		return ret;
	}
	return harvest_bitmap(d->bitmap, s->pages, s->first_page, out);
}

static int bitmap_vm_created(struct dlog *d)
{
	return alloc_bitmap(d);
}

static int64_t bitmap_harvest(struct dlog *d, struct frameset *out)
{
	int64_t total = 0;
	for (int i = 0; i < d->vm->mem.nr_slots; i++) {
		int64_t n = slot_collect(d, &d->vm->mem.slots[i], out);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

static void bitmap_teardown(struct dlog *d)
{
	free(d->bitmap);
	d->bitmap = NULL;
}

static enum ds_fail bitmap_supported(const struct kvm *kvm, const struct dlog_config *cfg,
				     char *why, size_t len)
{
	return DS_FAIL_NONE; /* KVM_GET_DIRTY_LOG is part of the base API */
}

const struct dlog_mode dlog_mode_bitmap = {
    .name = "bitmap",
    .desc = "KVM_GET_DIRTY_LOG per slot (get, clear and re-protect in one call)",
    .kvm_log = true,
    .supported = bitmap_supported,
    .vm_created = bitmap_vm_created,
    .harvest = bitmap_harvest,
    .teardown = bitmap_teardown,
};

static enum ds_fail clear_supported(const struct kvm *kvm, const struct dlog_config *cfg, char *why,
				    size_t len)
{
	if (!(kvm_cap(kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) &
	      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		snprintf(why, len, "KVM lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
		return DS_FAIL_PLATFORM;
	}
	if (!cfg->clear_chunk_pages || cfg->clear_chunk_pages % 64) {
		snprintf(why, len, "clear chunk of %llu pages is not a positive multiple of 64",
			 (unsigned long long)cfg->clear_chunk_pages);
		return DS_FAIL_USAGE;
	}
	return DS_FAIL_NONE;
}

static int clear_vm_created(struct dlog *d)
{
	int caps = kvm_cap(&d->vm->kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	int ret = kvm_enable_cap(
	    &d->vm->kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
	    caps & (KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET));
	return ret ? ret : alloc_bitmap(d);
}

static int clear_chunk(struct dlog *d, const struct mem_slot *s, uint64_t first, uint64_t n)
{
	struct kvm_clear_dirty_log c = {
	    .slot = s->id,
	    .num_pages = (uint32_t)n,
	    .first_page = first,
	    .dirty_bitmap = d->bitmap + first / 64,
	};
	d->kvm_calls++;
	uint64_t t0 = time_now_ns();
	int r = ioctl(d->vm->kvm.vm_fd, KVM_CLEAR_DIRTY_LOG, &c);
	d->clear_ns += time_now_ns() - t0;
	if (r < 0) {
		int ret = -errno;
		log_err("KVM_CLEAR_DIRTY_LOG slot %u pages %llu+%llu: %s", s->id,
			(unsigned long long)first, (unsigned long long)n, strerror(-ret));
		return ret;
	}
	return 0;
}

static int64_t clear_harvest(struct dlog *d, struct frameset *out)
{
	int64_t total = 0;
	uint64_t chunk = d->cfg.clear_chunk_pages;
	for (int i = 0; i < d->vm->mem.nr_slots; i++) {
		const struct mem_slot *s = &d->vm->mem.slots[i];
		int64_t n = slot_collect(d, s, out);
		if (n < 0)
			return n;
		total += n;
		/* Re-protect only what was dirty: chunks with no bit set are
		 * already write-protected, so skip their ioctl. */
		for (uint64_t first = 0; n && first < s->pages; first += chunk) {
			uint64_t len = s->pages - first < chunk ? s->pages - first : chunk;
			if (harvest_bitmap(d->bitmap + first / 64, len, 0, NULL) == 0)
				continue;
			int ret = clear_chunk(d, s, first, len);
			if (ret)
				return ret;
		}
	}
	return total;
}

const struct dlog_mode dlog_mode_clear = {
    .name = "clear",
    .desc = "KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG in chunks (MANUAL_DIRTY_LOG_PROTECT2)",
    .kvm_log = true,
    .supported = clear_supported,
    .vm_created = clear_vm_created,
    .harvest = clear_harvest,
    .teardown = bitmap_teardown,
};
