#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/vcpu.h"

static int set_cpuid(struct vcpu *v, const struct kvm *kvm)
{
	int nent = 128, ret;
	struct kvm_cpuid2 *c;

	for (;;) {
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(kvm->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		ret = -errno;
		free(c);
		if (ret != -E2BIG || nent >= 4096) {
			log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(-ret));
			return ret;
		}
		nent *= 2;
	}
	ret = 0;
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		ret = -errno;
		log_err("KVM_SET_CPUID2: %s", strerror(errno));
	}
	free(c);
	return ret;
}

int vcpu_create(struct vcpu *v, const struct kvm *kvm, int id)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->id = id;
	v->fd = ioctl(kvm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0) {
		ret = -errno;
		log_err("KVM_CREATE_VCPU %d: %s", id, strerror(errno));
		return ret;
	}
	v->run_size = kvm->vcpu_mmap_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = -errno;
		log_err("mmap of kvm_run for vCPU %d: %s", id, strerror(errno));
		goto err_close;
	}
	ret = set_cpuid(v, kvm);
	if (ret)
		goto err_unmap;
	return 0;

err_unmap:
	munmap(v->run, v->run_size);
err_close:
	close(v->fd);
	v->fd = -1;
	v->run = NULL;
	return ret;
}

int vcpu_setup_long_mode(struct vcpu *v, uint64_t entry, uint64_t cr3, uint64_t rdi)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		int ret = -errno;
		log_err("KVM_GET_SREGS: %s", strerror(-ret));
		return ret;
	}
	struct kvm_segment code = {
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = 0x08,
	    .type = 0xb,
	    .present = 1,
	    .dpl = 0,
	    .db = 0,
	    .s = 1,
	    .l = 1,
	    .g = 1,
	};
	struct kvm_segment data = code;
	data.selector = 0x10;
	data.type = 0x3;
	data.l = 0;
	data.db = 1;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr3 = cr3;
	sregs.cr4 = 1u << 5;					     /* PAE */
	sregs.cr0 = 0x80000000u | 0x10000 | 0x20 | 0x10 | 0x2 | 0x1; /* PG WP NE ET MP PE */
	sregs.efer = (1u << 8) | (1u << 10);			     /* LME LMA */
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0) {
		int ret = -errno;
		log_err("KVM_SET_SREGS: %s", strerror(-ret));
		return ret;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rdi = rdi;
	regs.rflags = 0x2;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
		int ret = -errno;
		log_err("KVM_SET_REGS: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

void vcpu_dump(const struct vcpu *v, FILE *f)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(f, "  (vCPU %d registers unavailable: %s)\n", v->id, strerror(errno));
		return;
	}
	fprintf(f,
		"  vCPU %d: rip %016llx rsp %016llx rflags %08llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx r8  %016llx\n"
		"  r9  %016llx r10 %016llx r11 %016llx r12 %016llx\n"
		"  r13 %016llx r14 %016llx r15 %016llx\n"
		"  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n"
		"  cs %04x ss %04x ds %04x (cs.dpl %u)\n",
		v->id, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
		r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4,
		s.efer, s.cs.selector, s.ss.selector, s.ds.selector, s.cs.dpl);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
