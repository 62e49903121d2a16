/*
 * The architectural state of one vCPU as a flat blob, for live migration:
 * saved on the source, sent as raw bytes, loaded into a fresh vCPU on the
 * destination (docs/vmstate.md).  The layout is fixed (no pointers, explicit
 * sizes, _Static_assert on every offset) and made of KVM's own x86-64 uapi
 * structures, so both ends must be x86-64 hosts (little-endian, the same
 * uapi); the header's version changes whenever the layout does.
 */
#ifndef VMM_VCPU_STATE_H
#define VMM_VCPU_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vmm/vcpu.h"

#define VCPU_STATE_MAGIC   0x55504356u /* "VCPU" as little-endian bytes */
#define VCPU_STATE_VERSION 1u

/* Which optional parts of a vcpu_state hold data (flags). */
#define VCPU_STATE_F_XSAVE 0x1u /* xsave holds KVM_GET_XSAVE; else fpu holds KVM_GET_FPU */
#define VCPU_STATE_F_XCRS  0x2u /* xcrs holds KVM_GET_XCRS (at least one XCR) */
#define VCPU_STATE_F_LAPIC 0x4u /* lapic holds KVM_GET_LAPIC: the VM has an in-kernel irqchip */
#define VCPU_STATE_F_ALL   0x7u

/* Room for the fixed MSR list (vcpu_state.c, docs/vmstate.md). */
#define VCPU_STATE_MAX_MSRS 16

/* Bytes of a KVM_GET_XSAVE image (struct kvm_xsave without its flexible tail). */
#define VCPU_STATE_XSAVE_BYTES 4096

struct vcpu_state {
	uint32_t magic;	   /* VCPU_STATE_MAGIC */
	uint32_t version;  /* VCPU_STATE_VERSION */
	uint32_t size;	   /* sizeof(struct vcpu_state) */
	uint32_t flags;	   /* VCPU_STATE_F_* */
	uint32_t nr_msrs;  /* valid entries in msrs[] */
	uint32_t mp_state; /* struct kvm_mp_state */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_msr_entry msrs[VCPU_STATE_MAX_MSRS];
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_xcrs xcrs;
	struct kvm_fpu fpu;
	uint32_t xsave[VCPU_STATE_XSAVE_BYTES / 4]; /* struct kvm_xsave's region */
	struct kvm_lapic_state lapic;
};

/* The blob is sent as raw bytes: any change to this layout must fail here
 * and bump VCPU_STATE_VERSION. */
_Static_assert(sizeof(struct kvm_regs) == 144, "kvm_regs layout");
_Static_assert(sizeof(struct kvm_sregs) == 312, "kvm_sregs layout");
_Static_assert(sizeof(struct kvm_msr_entry) == 16, "kvm_msr_entry layout");
_Static_assert(sizeof(struct kvm_vcpu_events) == 64, "kvm_vcpu_events layout");
_Static_assert(sizeof(struct kvm_debugregs) == 128, "kvm_debugregs layout");
_Static_assert(sizeof(struct kvm_xcrs) == 392, "kvm_xcrs layout");
_Static_assert(sizeof(struct kvm_fpu) == 416, "kvm_fpu layout");
_Static_assert(sizeof(struct kvm_lapic_state) == 1024, "kvm_lapic_state layout");
_Static_assert(offsetof(struct vcpu_state, regs) == 24, "vcpu_state layout");
_Static_assert(offsetof(struct vcpu_state, sregs) == 168, "vcpu_state layout");
_Static_assert(offsetof(struct vcpu_state, msrs) == 480, "vcpu_state layout");
_Static_assert(offsetof(struct vcpu_state, events) == 736, "vcpu_state layout");
_Static_assert(offsetof(struct vcpu_state, debugregs) == 800, "vcpu_state layout");
_Static_assert(offsetof(struct vcpu_state, xcrs) == 928, "vcpu_state layout");
_Static_assert(offsetof(struct vcpu_state, fpu) == 1320, "vcpu_state layout");
_Static_assert(offsetof(struct vcpu_state, xsave) == 1736, "vcpu_state layout");
_Static_assert(offsetof(struct vcpu_state, lapic) == 5832, "vcpu_state layout");
_Static_assert(sizeof(struct vcpu_state) == 6856, "vcpu_state layout");

/*
 * Finish the instruction behind the vCPU's last exit without running any
 * further guest instruction: KVM_RUN with immediate_exit set.  KVM completes
 * port I/O and MMIO only when userspace re-enters KVM_RUN (for an OUT on
 * VMX/SVM, RIP still points at the instruction until then), and that
 * pending half is in no state KVM_GET_* returns.  Call it once after the run
 * loop stopped and before vcpu_state_save(), with no other thread running
 * the vCPU.  Returns 0, or -errno after one line naming the ioctl.
 */
int vcpu_state_settle(struct vcpu *v);

/*
 * Capture v's state into *s (fully overwritten, unused bytes zero).  The
 * vCPU must not be running and should be settled (vcpu_state_settle).
 * FPU state comes from KVM_GET_XSAVE, or KVM_GET_FPU where that ioctl does
 * not exist; XCRs when KVM reports any; the LAPIC only if the VM has an
 * in-kernel irqchip; MSRs are the fixed list KVM can read (vcpu_state.c).
 * Returns 0, or -errno after one line naming the ioctl that failed.
 */
int vcpu_state_save(const struct vcpu *v, struct vcpu_state *s);

/*
 * Load *s, which is untrusted (it comes off the network), into v, a vCPU
 * created with vcpu_create() in a VM configured like the source (RAM,
 * irqchip).  The header, flags, MSR count and MSR indices are checked
 * first: a blob failing those, or whose irqchip presence differs from v's
 * VM, is refused with v untouched (-EINVAL).  Everything else is left to
 * KVM to refuse; a refusal there returns KVM's -errno (-EINVAL for an MSR
 * KVM_SET_MSRS did not take) with v partly loaded, so the caller must
 * discard the vCPU.  On any failure `why` gets a one-line reason.
 */
int vcpu_state_load(struct vcpu *v, const struct vcpu_state *s, char *why, size_t whylen);

/*
 * The checks vcpu_state_load makes before any ioctl, without KVM (so a
 * fuzzer and tests can call it): header, flags, MSR count and indices, and
 * that the blob carries a LAPIC exactly when `lapic` (the destination VM
 * has an in-kernel irqchip).  Returns 0, or -EINVAL with a one-line reason
 * in `why`.
 */
int vcpu_state_check(const struct vcpu_state *s, bool lapic, char *why, size_t whylen);

#endif
