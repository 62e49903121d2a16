/*
 * uffd: host-level tracking of the VMM's guest-RAM mapping, not KVM's log.
 * userfaultfd write-protects the mapping in async mode and PAGEMAP_SCAN
 * reports and re-protects the written pages (logger/dlog/uffd_track.c).
 *
 * Why it sees the guest: KVM maps guest RAM by faulting the host page in
 * through the VMM's page tables (get_user_pages with FOLL_WRITE for a write),
 * and every re-protection goes through the mm's MMU notifiers, which make KVM
 * drop its mappings of the range.  The guest's next store to a protected page
 * therefore takes a host write fault, which in async mode clears the page's
 * uffd-wp bit.  Measured on kvm_pvm, Linux 6.18: exactly KVM's dirty bitmap,
 * every epoch (docs/platform-notes.md, tests/probe_uffd_kvm.c).  It also sees
 * the virtio-blk device's stores into guest RAM, which KVM's log misses.
 *
 * Registration happens when the VM is created, before
 * KVM_SET_USER_MEMORY_REGION: KVM never holds a mapping of guest RAM made
 * before the range was write-protected.  Registering after the slots exist
 * (guest loaded, not yet run) measured the same, and every harvest already
 * re-protects pages KVM maps writable: seq rewrites the same pages each
 * epoch, and every epoch is caught.  Loading the guest image counts as
 * written; the session's arming harvest discards it.
 *
 * Cost: every harvest walks the host page tables of all of RAM (about 0.5 ms
 * per GiB here), and its re-protection invalidates KVM's mappings of each
 * scanned chunk, so the guest refaults pages it only reads as well.  The
 * uffd-wp markers in never-touched PTEs look "swapped" in /proc/self/pagemap,
 * so --verify's oracle compares all of RAM instead of the populated part.
 *
 * The session registers its slots with KVM_MEM_LOG_DIRTY_PAGES whatever the
 * mode; KVM's own log then runs unharvested alongside (all measurements
 * above were made so).
 */
#include <errno.h>
#include <stdlib.h>

#include "util/log.h"
#include "logger/dlog/dlog.h"
#include "logger/dlog/uffd_track.h"

static enum ds_fail uffd_supported(const struct kvm *kvm, const struct dlog_config *cfg, char *why,
				   size_t len)
{
	/* The probe only asks the kernel for what the mode needs. */
	return uffd_track_probe(why, len) ? DS_FAIL_PLATFORM : DS_FAIL_NONE;
}

static int uffd_vm_created(struct dlog *d)
{
	struct uffd_track *t = malloc(sizeof(*t));
	if (!t) {
		log_err("uffd: no memory for the tracker");
		return -ENOMEM;
	}
	/* The mapping's page index is the RAM index (vmm/mem.h), so the
	 * tracker's output needs no translation. */
	int ret = uffd_track_open(t, d->vm->mem.host, d->vm->mem.nr_pages);
	if (ret) {
		free(t);
		return ret;
	}
	d->uffd = t;
	d->kvm_calls += t->ioctls;
	return 0;
}

static int64_t uffd_harvest(struct dlog *d, struct frameset *out)
{
	uint64_t before = d->uffd->ioctls;
	int64_t n = uffd_track_harvest(d->uffd, out);
	d->kvm_calls += d->uffd->ioctls - before;
	return n;
}

static void uffd_teardown(struct dlog *d)
{
	if (d->uffd) {
		uffd_track_close(d->uffd);
		free(d->uffd);
	}
	d->uffd = NULL;
}

const struct dlog_mode dlog_mode_uffd = {
    .name = "uffd",
    .desc = "host userfaultfd async write-protect of guest RAM, PAGEMAP_SCAN (not KVM's log)",
    .supported = uffd_supported,
    .vm_created = uffd_vm_created,
    .harvest = uffd_harvest,
    .teardown = uffd_teardown,
};
