/*
 * /dev/kvm and the VM fd.  Every failing ioctl is reported once, here, with
 * its name, so callers only propagate the -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/kvm.h"

int kvm_open(struct kvm *kvm, const char *path)
{
	int ret;

	kvm->sys_fd = kvm->vm_fd = -1;
	kvm->sys_fd = open(path, O_RDWR | O_CLOEXEC);
	if (kvm->sys_fd < 0) {
		ret = -errno;
		log_err("cannot open %s: %s%s", path, strerror(errno),
			errno == ENOENT ? " (is KVM enabled?)" : "");
		return ret;
	}
	kvm->api_version = ioctl(kvm->sys_fd, KVM_GET_API_VERSION, 0);
	if (kvm->api_version != KVM_API_VERSION) {
		if (kvm->api_version < 0)
			log_err("%s: KVM_GET_API_VERSION: %s (not a KVM device?)", path,
				strerror(errno));
		else
			log_err("%s: KVM API version %d, need %d", path, kvm->api_version,
				KVM_API_VERSION);
		ret = -EOPNOTSUPP;
		goto err_close_sys;
	}
	kvm->vcpu_mmap_size = ioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->vcpu_mmap_size <= 0) {
		ret = -errno;
		log_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		goto err_close_sys;
	}
	kvm->vm_fd = ioctl(kvm->sys_fd, KVM_CREATE_VM, 0);
	if (kvm->vm_fd < 0) {
		ret = -errno;
		log_err("KVM_CREATE_VM: %s", strerror(errno));
		goto err_close_sys;
	}
	return 0;

err_close_sys:
	close(kvm->sys_fd);
	kvm->sys_fd = -1;
	return ret;
}

int kvm_cap(const struct kvm *kvm, long cap)
{
	int fd = kvm->vm_fd >= 0 ? kvm->vm_fd : kvm->sys_fd;
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

int kvm_enable_cap(const struct kvm *kvm, uint32_t cap, uint64_t arg0)
{
	struct kvm_enable_cap ec = {.cap = cap, .args = {arg0}};
	if (ioctl(kvm->vm_fd, KVM_ENABLE_CAP, &ec) < 0) {
		int ret = -errno;
		log_err("KVM_ENABLE_CAP(%u, %#llx): %s", cap, (unsigned long long)arg0,
			strerror(errno));
		return ret;
	}
	return 0;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->sys_fd >= 0)
		close(kvm->sys_fd);
	kvm->vm_fd = kvm->sys_fd = -1;
}

/* The test hook (kvm.h): which call fails next, and how.  The armed errno is
 * taken atomically, so exactly one call sees it even with the migration
 * thread harvesting. */
static int test_call, test_err;

void kvm_test_fail_arm(enum kvm_test_call call, int err)
{
	__atomic_store_n(&test_err, err, __ATOMIC_RELAXED);
	__atomic_store_n(&test_call, (int)call, __ATOMIC_RELEASE);
}

int kvm_test_fail(enum kvm_test_call call)
{
	if (__atomic_load_n(&test_call, __ATOMIC_ACQUIRE) != (int)call)
		return 0;
	int expected = (int)call;
	if (!__atomic_compare_exchange_n(&test_call, &expected, KVM_TEST_NONE, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;
	return __atomic_load_n(&test_err, __ATOMIC_RELAXED);
}
