/*
 * vCPU state capture and restore for live migration (docs/vmstate.md).
 *
 * Trust: on load the blob is untrusted.  What KVM cannot judge for us (the
 * header, which parts are present, how many MSRs and which) is checked here
 * before the first KVM call; every register value is then left for KVM to
 * refuse, as KVM already checks what userspace hands it (CR0/CR4/EFER
 * combinations against CPUID, reserved MSR bits, DR6/DR7 upper halves, event
 * flags).  The MSR indices are restricted to the fixed list below so a blob
 * cannot reach MSRs the source could never have saved.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

#include "util/log.h"
#include "vmm/kvm.h"
#include "vmm/vcpu_state.h"

/*
 * The MSRs a 64-bit guest can use that live outside kvm_sregs (EFER, FS and
 * GS base and the APIC base travel there).  A fixed list rather than
 * KVM_GET_MSR_INDEX_LIST: that is a /dev/kvm ioctl and a vcpu has no handle
 * on it, and most of the index list (kvmclock, MCE banks, feature MSRs set at
 * vCPU creation) is state this VMM's guest never touches.  Every entry here
 * is in the index list KVM reports on these hosts except TSC_AUX, which KVM
 * reads and writes when the guest's CPUID has RDTSCP or RDPID.  save keeps
 * the ones KVM can read; load accepts only these indices.
 */
static const uint32_t state_msrs[] = {
    0x00000010, /* IA32_TSC */
    0x0000003b, /* IA32_TSC_ADJUST */
    0x00000174, /* IA32_SYSENTER_CS */
    0x00000175, /* IA32_SYSENTER_ESP */
    0x00000176, /* IA32_SYSENTER_EIP */
    0x000001a0, /* IA32_MISC_ENABLE */
    0x00000277, /* IA32_PAT */
    0xc0000081, /* STAR */
    0xc0000082, /* LSTAR */
    0xc0000083, /* CSTAR */
    0xc0000084, /* SFMASK (SYSCALL_MASK) */
    0xc0000102, /* KERNEL_GS_BASE */
    0xc0000103, /* TSC_AUX */
};
#define NR_STATE_MSRS (sizeof(state_msrs) / sizeof(state_msrs[0]))
_Static_assert(NR_STATE_MSRS <= VCPU_STATE_MAX_MSRS, "the MSR list fits the blob");

/* KVM_GET_MSRS / KVM_SET_MSRS take a header followed by the entries: the
 * header's flexible array, with room for them (a union, not a struct that
 * embeds it, which is a GNU extension clang warns about). */
union msr_buf {
	struct kvm_msrs hdr;
	uint8_t room[sizeof(struct kvm_msrs) + VCPU_STATE_MAX_MSRS * sizeof(struct kvm_msr_entry)];
};

static void reason(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reason(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	if (!whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int vcpu_state_settle(struct vcpu *v)
{
	v->run->immediate_exit = 1;
	int r = ioctl(v->fd, KVM_RUN, NULL);
	int err = errno;
	v->run->immediate_exit = 0;
	/* With immediate_exit KVM finishes the pending I/O and returns EINTR
	 * before entering the guest; success would mean the guest ran. */
	if (r == 0) {
		log_err("KVM_RUN with immediate_exit entered the guest (exit reason %u)",
			v->run->exit_reason);
		return -EIO;
	}
	if (err != EINTR) {
		log_err("KVM_RUN with immediate_exit: %s", strerror(err));
		return -err;
	}
	return 0;
}

/* KVM_GET_MSRS stops at the first MSR it cannot read and returns how many it
 * read: skip that one and carry on from the next. */
static int save_msrs(const struct vcpu *v, struct vcpu_state *s)
{
	union msr_buf b;
	uint32_t next = 0;

	while (next < NR_STATE_MSRS) {
		memset(&b, 0, sizeof(b));
		b.hdr.nmsrs = NR_STATE_MSRS - next;
		for (uint32_t i = 0; i < b.hdr.nmsrs; i++)
			b.hdr.entries[i].index = state_msrs[next + i];
		int n = ioctl(v->fd, KVM_GET_MSRS, &b);
		if (n < 0) {
			int ret = -errno;
			log_err("KVM_GET_MSRS: %s", strerror(errno));
			return ret;
		}
		for (int i = 0; i < n; i++)
			s->msrs[s->nr_msrs++] = b.hdr.entries[i];
		next += (uint32_t)n + 1; /* past the one KVM could not read */
	}
	return 0;
}

/* An ioctl that may not exist on an older KVM: ENOTTY from the ioctl layer,
 * EINVAL from KVM's own default case. */
static bool ioctl_missing(int err)
{
	return err == ENOTTY || err == EINVAL;
}

int vcpu_state_save(const struct vcpu *v, struct vcpu_state *s)
{
	struct kvm_mp_state mp;

	memset(s, 0, sizeof(*s));
	s->magic = VCPU_STATE_MAGIC;
	s->version = VCPU_STATE_VERSION;
	s->size = sizeof(*s);

#define GET(req, dst)                                                                              \
	do {                                                                                       \
		if (ioctl(v->fd, req, dst) < 0) {                                                  \
			int ret_ = -errno;                                                         \
			log_err(#req ": %s", strerror(errno));                                     \
			return ret_;                                                               \
		}                                                                                  \
	} while (0)

	GET(KVM_GET_REGS, &s->regs);
	GET(KVM_GET_SREGS, &s->sregs);
	GET(KVM_GET_VCPU_EVENTS, &s->events);
	GET(KVM_GET_DEBUGREGS, &s->debugregs);
	GET(KVM_GET_MP_STATE, &mp);
	s->mp_state = mp.mp_state;
	int ret = save_msrs(v, s);
	if (ret)
		return ret;

	/*
	 * KVM_GET_XSAVE exists wherever KVM_CAP_XSAVE does (a vCPU fd answers
	 * no KVM_CHECK_EXTENSION, so the ioctl itself is the probe) and works
	 * on hosts without XSAVE too (legacy FXSAVE layout), so KVM_GET_FPU
	 * is for KVMs that predate it.  It fills exactly the 4 KiB region of
	 * struct kvm_xsave, whose flexible tail is for KVM_GET_XSAVE2; it
	 * also answers EINVAL when the guest's XSAVE state is larger (AMX),
	 * which needs an arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM) this VMM never
	 * makes, so here EINVAL can only mean an old KVM.
	 */
	if (ioctl(v->fd, KVM_GET_XSAVE, s->xsave) == 0) {
		s->flags |= VCPU_STATE_F_XSAVE;
	} else if (ioctl_missing(errno)) {
		GET(KVM_GET_FPU, &s->fpu);
	} else {
		ret = -errno;
		log_err("KVM_GET_XSAVE: %s", strerror(errno));
		return ret;
	}
	/* KVM answers nr_xcrs 0 when the host lacks XSAVE: nothing to restore. */
	if (ioctl(v->fd, KVM_GET_XCRS, &s->xcrs) == 0) {
		if (s->xcrs.nr_xcrs)
			s->flags |= VCPU_STATE_F_XCRS;
		else
			memset(&s->xcrs, 0, sizeof(s->xcrs));
	} else if (!ioctl_missing(errno)) {
		ret = -errno;
		log_err("KVM_GET_XCRS: %s", strerror(errno));
		return ret;
	}
	/* EINVAL is KVM's answer for a vCPU without an in-kernel LAPIC. */
	if (ioctl(v->fd, KVM_GET_LAPIC, &s->lapic) == 0) {
		s->flags |= VCPU_STATE_F_LAPIC;
	} else if (errno != EINVAL) {
		ret = -errno;
		log_err("KVM_GET_LAPIC: %s", strerror(errno));
		return ret;
	}
#undef GET
	return 0;
}

/* Whether v's VM has an in-kernel LAPIC; the probe reads, it changes nothing. */
static bool has_lapic(const struct vcpu *v)
{
	struct kvm_lapic_state l;
	return ioctl(v->fd, KVM_GET_LAPIC, &l) == 0;
}

/* Everything about the blob KVM cannot judge.  Returns a reason or NULL. */
static const char *check_blob(const struct vcpu_state *s, bool lapic, char *buf, size_t len)
{
	if (s->magic != VCPU_STATE_MAGIC)
		return "not a vCPU state (bad magic)";
	if (s->version != VCPU_STATE_VERSION) {
		snprintf(buf, len, "vCPU state version %u, this build reads version %u", s->version,
			 VCPU_STATE_VERSION);
		return buf;
	}
	if (s->size != sizeof(*s)) {
		snprintf(buf, len, "vCPU state of %u bytes, version %u has %zu", s->size,
			 s->version, sizeof(*s));
		return buf;
	}
	if (s->flags & ~VCPU_STATE_F_ALL) {
		snprintf(buf, len, "unknown vCPU state flags %#x", s->flags & ~VCPU_STATE_F_ALL);
		return buf;
	}
	if (s->nr_msrs > NR_STATE_MSRS) {
		snprintf(buf, len, "%u MSRs, at most %zu are saved", s->nr_msrs, NR_STATE_MSRS);
		return buf;
	}
	/* Each index once, and only from the list: with a duplicate the later
	 * value would silently win. */
	uint32_t seen = 0;
	for (uint32_t i = 0; i < s->nr_msrs; i++) {
		uint32_t k = 0;
		while (k < NR_STATE_MSRS && state_msrs[k] != s->msrs[i].index)
			k++;
		if (k == NR_STATE_MSRS || s->msrs[i].reserved) {
			snprintf(buf, len, "MSR %#x (entry %u) is not one a vCPU state carries",
				 s->msrs[i].index, i);
			return buf;
		}
		if (seen & (1u << k)) {
			snprintf(buf, len, "MSR %#x appears twice", s->msrs[i].index);
			return buf;
		}
		seen |= 1u << k;
	}
	if ((s->flags & VCPU_STATE_F_XCRS) && s->xcrs.nr_xcrs == 0)
		return "XCRS flagged present but empty";
	/* The machines must match: a LAPIC cannot be created after vCPUs, and
	 * a source without one has no LAPIC state for ours to take. */
	if (!!(s->flags & VCPU_STATE_F_LAPIC) != lapic)
		return lapic ? "the source VM had no in-kernel irqchip, this one has"
			     : "the source VM had an in-kernel irqchip, this one has none";
	return NULL;
}

int vcpu_state_check(const struct vcpu_state *s, bool lapic, char *why, size_t whylen)
{
	char buf[160];
	const char *bad = check_blob(s, lapic, buf, sizeof(buf));

	if (bad) {
		reason(why, whylen, "%s", bad);
		return -EINVAL;
	}
	return 0;
}

/* One KVM_SET_* call; on failure `why` names it. */
static int set(struct vcpu *v, unsigned long req, const char *name, const void *arg, char *why,
	       size_t whylen)
{
	if (ioctl(v->fd, req, arg) < 0) {
		int ret = -errno;
		reason(why, whylen, "%s: %s", name, strerror(errno));
		return ret;
	}
	return 0;
}

/*
 * After KVM_SET_MSRS: the guest's TSC must go on from the saved value,
 * never back.  KVM takes a write of IA32_TSC that lies within a second of
 * where the VM's own TSC would be for an attempt to synchronise the VM's
 * vCPUs and keeps the VM's offset instead, so a vCPU loaded into a VM made
 * after the source's read its TSC back lower than saved (AMD NPT).  When
 * it reads back lower and KVM offers the vCPU's TSC offset (Linux 5.16),
 * the offset is set so that the TSC reads the saved value now and only
 * rises; a later vCPU's write then synchronises to this one, as KVM means
 * it to.  Where the value took, nothing is changed.
 */
#define MSR_IA32_TSC 0x10

static int restore_tsc(struct vcpu *v, const struct vcpu_state *s, char *why, size_t whylen)
{
	const struct kvm_msr_entry *saved = NULL;
	for (uint32_t i = 0; i < s->nr_msrs; i++)
		if (s->msrs[i].index == MSR_IA32_TSC)
			saved = &s->msrs[i];
	if (!saved)
		return 0;
	union msr_buf b;
	memset(&b, 0, sizeof(b));
	b.hdr.nmsrs = 1;
	b.hdr.entries[0].index = MSR_IA32_TSC;
	if (ioctl(v->fd, KVM_GET_MSRS, &b) != 1) {
		reason(why, whylen, "KVM_GET_MSRS (IA32_TSC): %s", strerror(errno));
		return -EIO;
	}
	if (b.hdr.entries[0].data >= saved->data)
		return 0;
	struct kvm_device_attr a = {.group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET};
	if (ioctl(v->fd, KVM_HAS_DEVICE_ATTR, &a))
		return 0; /* an older KVM: its synchronisation stands */
	/* guest TSC = host TSC + offset, the VM's TSC running at the host's rate
	 * (this VMM sets no other) */
	uint64_t offset = saved->data - __rdtsc();
	a.addr = (uint64_t)(uintptr_t)&offset;
	if (ioctl(v->fd, KVM_SET_DEVICE_ATTR, &a)) {
		int ret = -errno;
		reason(why, whylen, "KVM_SET_DEVICE_ATTR (TSC offset): %s", strerror(errno));
		return ret;
	}
	return 0;
}

int vcpu_state_load(struct vcpu *v, const struct vcpu_state *s, char *why, size_t whylen)
{
	int ret = vcpu_state_check(s, has_lapic(v), why, whylen);

	if (ret)
		return ret;

	/*
	 * Order matters:
	 *  1. sregs first: CR0/CR4/EFER set the mode every later value is
	 *     interpreted in (KVM checks them against the CPUID vcpu_create
	 *     set), and apic_base must be in place before KVM_SET_LAPIC, which
	 *     re-applies the current base.
	 *  2. regs after sregs and before events: KVM_SET_REGS discards any
	 *     pending exception, so events must come later.
	 *  3. MSRs after sregs, as QEMU does: EFER travels in sregs and must be
	 *     set before any MSR whose meaning depends on long mode.
	 *  4. XCRS before XSAVE: an XSAVE image is interpreted under the XCR0
	 *     that enables its components.  KVM checks the image against the
	 *     components the process may use, not XCR0, so it takes either
	 *     order today; this one stays valid if it ever checks XCR0.
	 *  5. LAPIC, then mp_state: KVM keeps an INIT- or SIPI-received mp_state
	 *     as a pending event of the in-kernel LAPIC (and refuses any state
	 *     but RUNNABLE without one), so the LAPIC's registers go in first.
	 *  6. events last: KVM_SET_REGS drops a pending exception and
	 *     KVM_SET_SREGS queues the interrupt in its interrupt_bitmap; the
	 *     saved pending/injected exception, NMI, interrupt and interrupt
	 *     shadow must be the final word.
	 */
	ret = set(v, KVM_SET_SREGS, "KVM_SET_SREGS", &s->sregs, why, whylen);
	if (ret)
		return ret;
	ret = set(v, KVM_SET_REGS, "KVM_SET_REGS", &s->regs, why, whylen);
	if (ret)
		return ret;
	if (s->nr_msrs) {
		union msr_buf b;
		memset(&b, 0, sizeof(b));
		b.hdr.nmsrs = s->nr_msrs;
		memcpy(b.hdr.entries, s->msrs, s->nr_msrs * sizeof(b.hdr.entries[0]));
		/* Returns how many MSRs it set, stopping at the first refusal. */
		int n = ioctl(v->fd, KVM_SET_MSRS, &b);
		if (n < 0) {
			ret = -errno;
			reason(why, whylen, "KVM_SET_MSRS: %s", strerror(errno));
			return ret;
		}
		if ((uint32_t)n != s->nr_msrs) {
			reason(why, whylen, "KVM_SET_MSRS refused MSR %#x = %#llx (entry %d of %u)",
			       s->msrs[n].index, (unsigned long long)s->msrs[n].data, n,
			       s->nr_msrs);
			return -EINVAL;
		}
		ret = restore_tsc(v, s, why, whylen);
		if (ret)
			return ret;
	}
	if (s->flags & VCPU_STATE_F_XCRS) {
		ret = set(v, KVM_SET_XCRS, "KVM_SET_XCRS", &s->xcrs, why, whylen);
		if (ret)
			return ret;
	}
	/* KVM_SET_XSAVE reads the vCPU's XSAVE size, which is at most 4 KiB
	 * without guest AMX permission (see vcpu_state_save). */
	if (s->flags & VCPU_STATE_F_XSAVE)
		ret = set(v, KVM_SET_XSAVE, "KVM_SET_XSAVE", s->xsave, why, whylen);
	else
		ret = set(v, KVM_SET_FPU, "KVM_SET_FPU", &s->fpu, why, whylen);
	if (ret)
		return ret;
	ret = set(v, KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", &s->debugregs, why, whylen);
	if (ret)
		return ret;
	if (s->flags & VCPU_STATE_F_LAPIC) {
		ret = set(v, KVM_SET_LAPIC, "KVM_SET_LAPIC", &s->lapic, why, whylen);
		if (ret)
			return ret;
	}
	struct kvm_mp_state mp = {.mp_state = s->mp_state};
	ret = set(v, KVM_SET_MP_STATE, "KVM_SET_MP_STATE", &mp, why, whylen);
	if (ret)
		return ret;
	return set(v, KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", &s->events, why, whylen);
}
