/*
 * Per-vCPU KVM binary statistics (KVM_GET_STATS_FD): the guest's cost in
 * exits and page faults, read without disturbing it.
 */
#ifndef VMM_STATS_H
#define VMM_STATS_H

#include <stdint.h>

enum vstat {
	VSTAT_EXITS,
	VSTAT_IO_EXITS,
	VSTAT_MMIO_EXITS,
	VSTAT_HALT_EXITS,
	VSTAT_PF_TAKEN,
	VSTAT_PF_FIXED,
	VSTAT_PF_GUEST,
	VSTAT_INSN_EMULATION,
	VSTAT_TLB_FLUSH,
	VSTAT_INVLPG,
	VSTAT_NR
};

/* KVM's stat names, in enum vstat order ("exits", "pf_taken", ...). */
extern const char *const vstat_kvm_names[VSTAT_NR];
/* The same, kebab-case, for JSON and tables ("pf-taken", ...). */
extern const char *const vstat_json_names[VSTAT_NR];

struct vcpu_stats {
	int fd;
	uint64_t offset[VSTAT_NR]; /* file offset of each value; 0 = absent */
};

/* Open the stats fd of a vCPU and locate the counters.  Counters the kernel
 * does not have are marked absent.  Returns 0, or -errno (printed). */
int stats_open(struct vcpu_stats *s, int vcpu_fd);

/* Read every counter; absent ones read as UINT64_MAX.  Returns 0 or -errno. */
int stats_read(const struct vcpu_stats *s, uint64_t out[VSTAT_NR]);

void stats_close(struct vcpu_stats *s);

#endif
