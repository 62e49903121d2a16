/*
 * The binary stats file: a header, then descriptors (each followed by its
 * name), then the data block.  Layout offsets come from the header; nothing
 * about their order is assumed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "util/log.h"
#include "vmm/kvm.h"
#include "vmm/stats.h"

const char *const vstat_kvm_names[VSTAT_NR] = {
    "exits",	"io_exits", "mmio_exits",     "halt_exits", "pf_taken",
    "pf_fixed", "pf_guest", "insn_emulation", "tlb_flush",  "invlpg",
};
const char *const vstat_json_names[VSTAT_NR] = {
    "exits",	"io-exits", "mmio-exits",     "halt-exits", "pf-taken",
    "pf-fixed", "pf-guest", "insn-emulation", "tlb-flush",  "invlpg",
};

int stats_open(struct vcpu_stats *s, int vcpu_fd)
{
	struct kvm_stats_header h;
	char *descs = NULL;
	int ret;

	memset(s, 0, sizeof(*s));
	s->fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	if (s->fd < 0) {
		ret = -errno;
		log_err("KVM_GET_STATS_FD: %s", strerror(-ret));
		return ret;
	}
	if (pread(s->fd, &h, sizeof(h), 0) != sizeof(h)) {
		ret = -EIO;
		log_err("KVM stats: short header read");
		goto err_close;
	}
	size_t dsize = sizeof(struct kvm_stats_desc) + h.name_size;
	if (h.num_desc > 4096 || h.name_size > 4096) {
		ret = -EIO;
		log_err("KVM stats: implausible header (%u descriptors)", h.num_desc);
		goto err_close;
	}
	descs = malloc(dsize * h.num_desc);
	if (!descs) {
		ret = -ENOMEM;
		goto err_close;
	}
	if (pread(s->fd, descs, dsize * h.num_desc, h.desc_offset) !=
	    (ssize_t)(dsize * h.num_desc)) {
		ret = -EIO;
		log_err("KVM stats: short descriptor read");
		goto err_free;
	}
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(descs + i * dsize);
		d->name[h.name_size - 1] = 0;
		if (d->size != 1) /* only scalar counters */
			continue;
		for (int k = 0; k < VSTAT_NR; k++)
			if (!strcmp(d->name, vstat_kvm_names[k]))
				s->offset[k] = h.data_offset + d->offset;
	}
	free(descs);
	return 0;

err_free:
	free(descs);
err_close:
	close(s->fd);
	s->fd = -1;
	return ret;
}

int stats_read(const struct vcpu_stats *s, uint64_t out[VSTAT_NR])
{
	for (int k = 0; k < VSTAT_NR; k++) {
		out[k] = UINT64_MAX;
		if (s->fd < 0 || !s->offset[k])
			continue;
		if (pread(s->fd, &out[k], sizeof(out[k]), s->offset[k]) != sizeof(out[k]))
			return -EIO;
	}
	return 0;
}

void stats_close(struct vcpu_stats *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
