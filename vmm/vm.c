/*
 * The machine: KVM, guest RAM and its slots, the disk, the loaded guest, the
 * vCPUs and their stats.  Running it is vm_run.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "util/time.h"
#include "abi/layout.h"
#include "vmm/vm.h"

int vm_create(struct vm *vm, const char *kvm_path, uint64_t ram_size)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->nr_vcpus = 1;
	for (int i = 0; i < ABI_MAX_CPUS; i++)
		vm->vcpus[i].fd = vm->stats[i].fd = -1;
	vm->t.owner = -1;
	pthread_mutex_init(&vm->t.lock, NULL);
	time_cond_init(&vm->t.cond); /* throttle_wait's deadlines are monotonic */
	ret = kvm_open(&vm->kvm, kvm_path);
	if (ret)
		return ret;
	ret = mem_create(&vm->mem, ram_size);
	if (ret) {
		kvm_close(&vm->kvm);
		return ret;
	}
	return 0;
}

int vm_register_memory(struct vm *vm, uint32_t slot_flags)
{
	return mem_register(&vm->mem, vm->kvm.vm_fd, slot_flags);
}

int vm_attach_blk(struct vm *vm, const char *image_path)
{
	if (vm->blk) {
		log_err("virtio-blk image %s: the VM already has a disk", image_path);
		return -EBUSY;
	}
	struct virtio_blk *b = malloc(sizeof(*b));
	if (!b) {
		log_err("virtio-blk image %s: out of memory", image_path);
		return -ENOMEM;
	}
	int ret = virtio_blk_open(b, image_path, &vm->mem);
	if (ret) {
		free(b);
		return ret;
	}
	vm->blk = b;
	return 0;
}

/* IPIs need the in-kernel LAPIC: the file world's shootdowns and
 * wake-ups, and the IPI test.  The anonymous workloads send none. */
static bool wants_irqchip(const struct boot_workload *wl, uint32_t n)
{
	return n > 1 && ((wl->flags & ABI_BOOT_F_TEST_IPI) ||
			 (wl->workload >= ABI_WL_FIRST_FILE && wl->workload <= ABI_WL_LAST));
}

int vm_load_guest(struct vm *vm, const struct boot_workload *wl)
{
	uint32_t n = wl->nr_cpus ? wl->nr_cpus : 1;
	if (n > ABI_MAX_CPUS) {
		log_err("%u vCPUs: at most %u", n, ABI_MAX_CPUS);
		return -EINVAL;
	}
	int ret = boot_load(&vm->mem, guest_image, guest_image_end - guest_image, wl, &vm->entry,
			    &vm->ap_entry, &vm->cr3);
	if (ret)
		return ret;
	if (n > 1 && !vm->ap_entry) {
		log_err("guest image: no entry for vCPUs other than 0");
		return -EINVAL;
	}
	vm->nr_vcpus = n;
	vm->irqchip = wants_irqchip(wl, n);
	return 0;
}

int vm_set_vcpus(struct vm *vm, const struct boot_workload *wl)
{
	uint32_t n = wl->nr_cpus ? wl->nr_cpus : 1;
	if (n > ABI_MAX_CPUS) {
		log_err("%u vCPUs: 1 to %u", n, ABI_MAX_CPUS);
		return -EINVAL;
	}
	vm->nr_vcpus = n;
	vm->irqchip = wants_irqchip(wl, n);
	return 0;
}

int vm_create_vcpus(struct vm *vm)
{
	if (vm->irqchip && ioctl(vm->kvm.vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		int ret = -errno;
		log_err("KVM_CREATE_IRQCHIP: %s", strerror(-ret));
		return ret;
	}
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		int ret = vcpu_create(&vm->vcpus[i], &vm->kvm, (int)i);
		if (ret)
			return ret;
		ret = vcpu_setup_long_mode(&vm->vcpus[i], i ? vm->ap_entry : vm->entry, vm->cr3, i);
		if (ret)
			return ret;
		ret = stats_open(&vm->stats[i], vm->vcpus[i].fd);
		if (ret)
			return ret;
		/* With the in-kernel LAPIC a vCPU other than 0 starts waiting
		 * for INIT and SIPI; ours start in long mode, runnable. */
		struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
		if (vm->irqchip && i > 0 && ioctl(vm->vcpus[i].fd, KVM_SET_MP_STATE, &mp) < 0) {
			ret = -errno;
			log_err("KVM_SET_MP_STATE of vCPU %u: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int vm_stats_read(const struct vm *vm, int cpu, uint64_t out[VSTAT_NR])
{
	if (cpu >= 0)
		return cpu < (int)vm->nr_vcpus ? stats_read(&vm->stats[cpu], out) : -EINVAL;
	for (int k = 0; k < VSTAT_NR; k++)
		out[k] = 0;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		uint64_t one[VSTAT_NR];
		int ret = stats_read(&vm->stats[i], one);
		if (ret)
			return ret;
		for (int k = 0; k < VSTAT_NR; k++)
			out[k] = (out[k] == UINT64_MAX || one[k] == UINT64_MAX) ? UINT64_MAX
										: out[k] + one[k];
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm->blk) {
		virtio_blk_close(vm->blk);
		free(vm->blk);
		vm->blk = NULL;
	}
	for (int i = 0; i < ABI_MAX_CPUS; i++) {
		stats_close(&vm->stats[i]);
		vcpu_destroy(&vm->vcpus[i]);
	}
	mem_destroy(&vm->mem);
	kvm_close(&vm->kvm);
	pthread_mutex_destroy(&vm->t.lock);
	pthread_cond_destroy(&vm->t.cond);
}
