/* The KVM system and VM file descriptors, and capability queries. */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include <stdarg.h>
#include <stdint.h>
#include <linux/kvm.h>

/* Constants newer than Debian 12's linux/kvm.h (Linux 6.1). */
#ifndef KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP
#define KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP 236
#endif

struct kvm {
	int sys_fd; /* /dev/kvm */
	int vm_fd;
	int api_version;
	int vcpu_mmap_size; /* KVM_GET_VCPU_MMAP_SIZE */
};

/*
 * Open `path` (normally /dev/kvm), check the API version and create a VM.
 * Returns 0, or -errno after printing one line naming what failed; -ENOENT,
 * -EACCES and -EOPNOTSUPP mean the platform cannot run us.
 */
int kvm_open(struct kvm *kvm, const char *path);

/* KVM_CHECK_EXTENSION on the VM fd (falls back to /dev/kvm): value, 0 if absent. */
int kvm_cap(const struct kvm *kvm, long cap);

/* KVM_ENABLE_CAP on the VM fd with one argument.  Returns 0 or -errno (printed). */
int kvm_enable_cap(const struct kvm *kvm, uint32_t cap, uint64_t arg0);

/* Close the VM and /dev/kvm; safe on a zeroed or half-opened struct. */
void kvm_close(struct kvm *kvm);

/*
 * TEST HOOK, for tests/test_exit.c only: make the next call of one KVM ioctl
 * fail with errno `err` as if KVM had refused it, so a test can show that a
 * KVM failure mid-run is reported as one (exit 4) whatever its errno.  The
 * session arms it when the first epoch ends, from
 * session_config.test_kvm_fail, which only `dirtyscope` sets, from the
 * DIRTYSCOPE_TEST_KVM_FAIL environment variable (tools/testhook.c).  The
 * call sites that honour it: KVM_RUN (vmm/vm.c) and KVM_GET_DIRTY_LOG
 * (logger/dlog/dlog_bitmap.c).  Unarmed, they cost one atomic load.
 */
enum kvm_test_call {
	KVM_TEST_NONE,
	KVM_TEST_RUN,		/* KVM_RUN */
	KVM_TEST_GET_DIRTY_LOG, /* KVM_GET_DIRTY_LOG */
};

/* Arm the hook: the next `call` fails with errno err (> 0). */
void kvm_test_fail_arm(enum kvm_test_call call, int err);

/* At a call site, just before the real ioctl: 0, or the errno armed for
 * `call` (then disarmed, so it fails once). */
int kvm_test_fail(enum kvm_test_call call);

#endif
