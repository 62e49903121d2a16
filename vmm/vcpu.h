/* A vCPU: its fd, its kvm_run page, and long-mode setup. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <stdint.h>
#include <stdio.h>
#include "vmm/kvm.h"

struct vcpu {
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
};

/* KVM_CREATE_VCPU + mmap of kvm_run + KVM_SET_CPUID2 from the supported set. */
int vcpu_create(struct vcpu *v, const struct kvm *kvm, int id);

/*
 * Put the vCPU straight into 64-bit mode: paging with the PML4 at `cr3`,
 * flat 64-bit code and data segments matching the guest's GDT selectors
 * (0x08, 0x10), interrupts off, rip = entry, rdi = rdi (the entry's first
 * argument: the CPU number of a vCPU other than 0).
 */
int vcpu_setup_long_mode(struct vcpu *v, uint64_t entry, uint64_t cr3, uint64_t rdi);

/* Print general, segment and control registers to f (for crash reports). */
void vcpu_dump(const struct vcpu *v, FILE *f);

void vcpu_destroy(struct vcpu *v);

#endif
