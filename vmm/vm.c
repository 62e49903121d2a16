/*
 * The machine and its run loop.  Exits are dispatched by reason; port I/O by
 * port.  Anything the guest does that this VMM does not model is a guest
 * failure: it is reported with the vCPU registers, never ignored.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "abi/layout.h"
#include "abi/virtio.h"
#include "vmm/vm.h"

static int vm_run_loop(struct vm *vm, const struct vm_handlers *h);

/* Set from a signal handler: async-signal-safe state only. */
static volatile sig_atomic_t stop_requested;
static struct kvm_run *volatile running;

void vm_request_stop(void)
{
	stop_requested = 1;
	struct kvm_run *run = running;
	/* Makes a KVM_RUN that has not entered the guest yet return EINTR
	 * at once, so a stop is never missed between the check and entry. */
	if (run)
		run->immediate_exit = 1;
}

bool vm_stop_requested(void)
{
	return stop_requested != 0;
}

/* The vCPU thread's kvm_run, for the kick signal's handler, which runs on
 * that thread. */
static __thread struct kvm_run *volatile kick_run;

static void on_kick_signal(int sig)
{
	(void)sig;
	struct kvm_run *run = kick_run;
	if (run)
		run->immediate_exit = 1;
}

void vm_kick(struct vm *vm)
{
	/* The flag first: the vCPU thread looks at it after any EINTR. */
	__atomic_store_n(&vm->kick, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vm->in_run, __ATOMIC_SEQ_CST))
		pthread_kill((pthread_t)vm->vcpu_thread, VM_KICK_SIGNAL);
}

int vm_create(struct vm *vm, const char *kvm_path, uint64_t ram_size)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->vcpu.fd = vm->stats.fd = -1;
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

int vm_load_guest(struct vm *vm, const struct boot_workload *wl)
{
	return boot_load(&vm->mem, guest_image, guest_image_end - guest_image, wl, &vm->entry,
			 &vm->cr3);
}

int vm_create_vcpu(struct vm *vm)
{
	int ret = vcpu_create(&vm->vcpu, &vm->kvm, 0);
	if (ret)
		return ret;
	ret = vcpu_setup_long_mode(&vm->vcpu, vm->entry, vm->cr3);
	if (ret)
		return ret;
	return stats_open(&vm->stats, vm->vcpu.fd);
}

static int guest_failed(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int guest_failed(struct vm *vm, const char *fmt, ...)
{
	char msg[2048]; /* guest text in it is at most a hypercall page (1 KiB) */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("guest failed: %s", msg);
	/* The crash report: registers and the console's last lines. */
	vcpu_dump(&vm->vcpu, stderr);
	serial_dump_tail(&vm->serial, stderr);
	return -EFAULT;
}

static int do_hcall(struct vm *vm, const struct vm_handlers *h, uint32_t nr)
{
	struct hcall hc;

	if (hcall_read(&vm->mem, nr, &hc))
		return guest_failed(vm, "malformed hypercall %u (%s)", nr, hcall_name(nr));
	switch (nr) {
	case ABI_HC_LOG:
		log_info("guest log: %s", hc.text);
		return 0;
	case ABI_HC_PANIC:
		if (hc.args[ABI_PANIC_VECTOR] == ABI_PANIC_NO_TRAP)
			return guest_failed(vm, "panic at %s", hc.text);
		return guest_failed(vm, "%s; rip %#llx rsp %#llx cr2 %#llx", hc.text,
				    (unsigned long long)hc.args[ABI_PANIC_RIP],
				    (unsigned long long)hc.args[ABI_PANIC_RSP],
				    (unsigned long long)hc.args[ABI_PANIC_CR2]);
	default:
		return h->hcall ? h->hcall(h->ctx, &hc) : 0;
	}
}

static int do_io(struct vm *vm, const struct vm_handlers *h)
{
	struct kvm_run *run = vm->vcpu.run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint16_t port = run->io.port;
	int out = run->io.direction == KVM_EXIT_IO_OUT;

	if (run->io.data_offset + (uint64_t)run->io.size * run->io.count > vm->vcpu.run_size)
		return guest_failed(vm, "I/O exit data outside kvm_run");
	if (port >= ABI_SERIAL_PORT && port < ABI_SERIAL_PORT + 8 && run->io.size == 1) {
		for (uint32_t i = 0; i < run->io.count; i++)
			serial_io(&vm->serial, port - ABI_SERIAL_PORT, out, data + i);
		return 0;
	}
	if (port == ABI_HCALL_PORT && out && run->io.size == 4 && run->io.count == 1) {
		uint32_t nr;
		memcpy(&nr, data, 4);
		return do_hcall(vm, h, nr);
	}
	/* The reply to a SYNC in a run the host delimits by time
	 * (include/abi/hcall.h): whatever the handler left, never RAM. */
	if (port == ABI_HCALL_PORT && !out && run->io.size == 4 && run->io.count == 1) {
		memcpy(data, &vm->hc_reply, 4);
		return 0;
	}
	return guest_failed(vm, "unexpected port I/O: %s port %#x size %u", out ? "out" : "in",
			    port, run->io.size);
}

/* Only the virtio-blk window is device memory; any other access to a GPA
 * without RAM is a guest bug, as before the device existed. */
static int do_mmio(struct vm *vm)
{
	struct kvm_run *run = vm->vcpu.run;
	uint64_t a = run->mmio.phys_addr;
	uint32_t len = run->mmio.len;

	if (vm->blk && len <= sizeof(run->mmio.data) && a >= ABI_VIRTIO_BLK_GPA &&
	    a - ABI_VIRTIO_BLK_GPA <= ABI_VIRTIO_MMIO_SIZE - len) {
		virtio_blk_mmio(vm->blk, a - ABI_VIRTIO_BLK_GPA, run->mmio.data, len,
				run->mmio.is_write);
		return 0;
	}
	return guest_failed(vm, "%s of %u bytes at unmapped GPA %#llx",
			    run->mmio.is_write ? "write" : "read", len, (unsigned long long)a);
}

int vm_run(struct vm *vm, const struct vm_handlers *h)
{
	if (vm->blk)
		virtio_blk_set_dma_hook(vm->blk, h->dma_dirty, h->ctx);
	/* SA_RESTART: KVM_RUN returns EINTR whatever the flags, and every
	 * other call the thread makes (console, image I/O) simply restarts. */
	struct sigaction sa = {.sa_handler = on_kick_signal, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(VM_KICK_SIGNAL, &sa, NULL);
	kick_run = vm->vcpu.run;
	vm->vcpu_thread = (unsigned long)pthread_self();
	__atomic_store_n(&vm->in_run, 1, __ATOMIC_SEQ_CST);
	running = vm->vcpu.run;
	int ret = vm_run_loop(vm, h);
	running = NULL;
	__atomic_store_n(&vm->in_run, 0, __ATOMIC_SEQ_CST);
	kick_run = NULL;
	return ret;
}

static int vm_run_loop(struct vm *vm, const struct vm_handlers *h)
{
	for (;;) {
		if (stop_requested) {
			log_err("interrupted");
			return -EINTR;
		}
		if (__atomic_exchange_n(&vm->kick, 0, __ATOMIC_SEQ_CST)) {
			/* A kick's signal may have set immediate_exit; any
			 * kick after this exchange sets it again. */
			vm->vcpu.run->immediate_exit = 0;
			int ret = h->kicked ? h->kicked(h->ctx) : 0;
			if (ret < 0)
				return ret;
			if (ret > 0)
				return 0;
			continue;
		}
		/* The test hook (vmm/kvm.h) fails KVM_RUN the way KVM would. */
		int test_err = kvm_test_fail(KVM_TEST_RUN);
		if (test_err)
			errno = test_err;
		if (test_err || ioctl(vm->vcpu.fd, KVM_RUN, NULL) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* A kick already handled may have left
				 * immediate_exit set; a new kick sets the
				 * flag before its signal, so clearing here
				 * and looking at the flag next loses none. */
				if (!stop_requested)
					vm->vcpu.run->immediate_exit = 0;
				continue;
			}
			int ret = -errno;
			log_err("KVM_RUN: %s", strerror(-ret));
			vcpu_dump(&vm->vcpu, stderr);
			return ret == -EFAULT ? -EIO : ret;
		}
		struct kvm_run *run = vm->vcpu.run;
		int ret;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			ret = do_io(vm, h);
			break;
		case KVM_EXIT_DIRTY_RING_FULL:
			ret = h->ring_full ? h->ring_full(h->ctx)
					   : guest_failed(vm, "dirty ring full without a ring");
			break;
		case KVM_EXIT_HLT:
			ret = guest_failed(vm, "guest halted before finishing");
			break;
		case KVM_EXIT_SHUTDOWN:
			ret = guest_failed(vm, "triple fault (KVM_EXIT_SHUTDOWN)");
			break;
		case KVM_EXIT_MMIO:
			ret = do_mmio(vm);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			ret = guest_failed(
			    vm, "VM entry failed, reason %#llx",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			ret = guest_failed(vm, "KVM internal error, suberror %u",
					   run->internal.suberror);
			break;
		default:
			ret = guest_failed(vm, "unexpected exit reason %u", run->exit_reason);
		}
		if (ret < 0)
			return ret;
		if (ret > 0)
			return 0;
	}
}

void vm_destroy(struct vm *vm)
{
	if (vm->blk) {
		virtio_blk_close(vm->blk);
		free(vm->blk);
		vm->blk = NULL;
	}
	stats_close(&vm->stats);
	vcpu_destroy(&vm->vcpu);
	mem_destroy(&vm->mem);
	kvm_close(&vm->kvm);
}
