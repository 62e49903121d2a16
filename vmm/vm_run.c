/*
 * The run loop.  Exits are dispatched by reason; port I/O by port.  Anything
 * the guest does that this VMM does not model is a guest failure: it is
 * reported with the vCPU registers, never ignored.
 *
 * With several vCPUs each runs this loop on a thread of its own (vm.h,
 * struct vm_threads).  What only touches the exiting vCPU (the console
 * under its lock, a log line, the reply to `in`, a full dirty ring, which
 * the dirty log's reaper empties) is handled at once; what touches the
 * machine (the other handlers, the disk) runs exclusive: the others
 * are kicked out of KVM_RUN and parked first.
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
#include "util/time.h"
#include "abi/layout.h"
#include "abi/virtio.h"
#include "vmm/vm.h"

static int vm_run_loop(struct vm *vm, const struct vm_handlers *h, uint32_t cpu);

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

/* The thread's kvm_run, for the kick signal's handler, which runs on that
 * thread. */
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

/* ---- threads: exclusive sections, parking, the end of a run ---- */

/* Wake every other vCPU thread out of KVM_RUN.  Under t.lock. */
static void kick_others(struct vm *vm, uint32_t self)
{
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		if (i == self)
			continue;
		if (i == 0 && __atomic_load_n(&vm->in_run, __ATOMIC_SEQ_CST))
			pthread_kill((pthread_t)vm->vcpu_thread, VM_KICK_SIGNAL);
		else if (i > 0 && vm->t.started[i])
			pthread_kill(vm->t.thread[i], VM_KICK_SIGNAL);
	}
}

/* Park this thread while another holds the machine.  Under t.lock. */
static void park_locked(struct vm *vm, uint32_t self)
{
	while (vm->t.owner >= 0 && vm->t.owner != (int)self && !vm->t.ending) {
		vm->t.parked++;
		pthread_cond_broadcast(&vm->t.cond);
		pthread_cond_wait(&vm->t.cond, &vm->t.lock);
		vm->t.parked--;
	}
}

/* Take the machine: every other live vCPU thread parked.  Returns false
 * when the run ended meanwhile. */
static bool exclusive_enter(struct vm *vm, uint32_t self)
{
	if (vm->nr_vcpus == 1)
		return true;
	pthread_mutex_lock(&vm->t.lock);
	park_locked(vm, self);
	if (vm->t.ending) {
		pthread_mutex_unlock(&vm->t.lock);
		return false;
	}
	vm->t.owner = (int)self;
	kick_others(vm, self);
	while (vm->t.parked + 1 < vm->t.live)
		pthread_cond_wait(&vm->t.cond, &vm->t.lock);
	pthread_mutex_unlock(&vm->t.lock);
	return true;
}

static void exclusive_exit(struct vm *vm)
{
	if (vm->nr_vcpus == 1)
		return;
	pthread_mutex_lock(&vm->t.lock);
	vm->t.owner = -1;
	pthread_cond_broadcast(&vm->t.cond);
	pthread_mutex_unlock(&vm->t.lock);
}

/* End the run for every thread; err (-errno) is kept if it is the first. */
static void end_run(struct vm *vm, uint32_t self, int err)
{
	pthread_mutex_lock(&vm->t.lock);
	if (err && !vm->t.err)
		vm->t.err = err;
	vm->t.ending = true;
	kick_others(vm, self);
	pthread_cond_broadcast(&vm->t.cond);
	pthread_mutex_unlock(&vm->t.lock);
}

/* Between exits: park if another thread holds the machine.  Returns
 * false when the run has ended. */
static bool checkpoint(struct vm *vm, uint32_t self)
{
	if (vm->nr_vcpus == 1)
		return true;
	pthread_mutex_lock(&vm->t.lock);
	park_locked(vm, self);
	bool go_on = !vm->t.ending;
	pthread_mutex_unlock(&vm->t.lock);
	return go_on;
}

void vm_throttle(struct vm *vm, uint32_t cpu, uint64_t until_ns)
{
	if (cpu < ABI_MAX_CPUS)
		vm->throttle_until_ns[cpu] = until_ns;
}

/* Wait out vCPU cpu's throttle, counted as parked.  Returns early for a
 * kick of vCPU 0 (its loop handles it and comes back), a stop, or the
 * run's end. */
static void throttle_wait(struct vm *vm, uint32_t cpu)
{
	pthread_mutex_lock(&vm->t.lock);
	for (;;) {
		uint64_t until = vm->throttle_until_ns[cpu];
		if (time_now_ns() >= until || vm->t.ending || stop_requested ||
		    (cpu == 0 && __atomic_load_n(&vm->kick, __ATOMIC_SEQ_CST)))
			break;
		vm->t.parked++;
		pthread_cond_broadcast(&vm->t.cond);
		/* Slices, so that a kick (a signal, no broadcast) is seen. */
		uint64_t slice = time_now_ns() + 2000000;
		time_cond_wait_until(&vm->t.cond, &vm->t.lock, until < slice ? until : slice);
		vm->t.parked--;
	}
	pthread_mutex_unlock(&vm->t.lock);
}

struct ap_arg {
	struct vm *vm;
	const struct vm_handlers *h;
	uint32_t cpu;
};

static void *ap_thread(void *p)
{
	struct ap_arg a = *(struct ap_arg *)p;
	free(p);
	kick_run = a.vm->vcpus[a.cpu].run;
	int ret = vm_run_loop(a.vm, a.h, a.cpu);
	kick_run = NULL;
	/* A vCPU done (its halt) leaves the others running; a failure or
	 * a stop ends the run for all. */
	if (ret)
		end_run(a.vm, a.cpu, ret);
	pthread_mutex_lock(&a.vm->t.lock);
	a.vm->t.live--;
	pthread_cond_broadcast(&a.vm->t.cond);
	pthread_mutex_unlock(&a.vm->t.lock);
	return NULL;
}

/* ABI_HC_START_APS: a thread for every vCPU but 0.  Exclusive, so the new
 * threads park until the call returns. */
static int start_aps(struct vm *vm, const struct vm_handlers *h)
{
	for (uint32_t i = 1; i < vm->nr_vcpus; i++) {
		if (vm->t.started[i]) {
			log_err("guest failed: it asked twice for its other vCPUs");
			return -EFAULT;
		}
		struct ap_arg *a = malloc(sizeof(*a));
		if (!a)
			return -ENOMEM;
		*a = (struct ap_arg){vm, h, i};
		pthread_mutex_lock(&vm->t.lock);
		int ret = pthread_create(&vm->t.thread[i], NULL, ap_thread, a);
		if (ret == 0) {
			vm->t.started[i] = true;
			vm->t.live++;
		}
		pthread_mutex_unlock(&vm->t.lock);
		if (ret) {
			free(a);
			log_err("vCPU %u thread: %s", i, strerror(ret));
			return -ret;
		}
	}
	return 0;
}

/* ---- exits ---- */

static struct serial_lock {
	pthread_mutex_t m;
} console = {PTHREAD_MUTEX_INITIALIZER};

static int guest_failed(struct vm *vm, uint32_t cpu, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int guest_failed(struct vm *vm, uint32_t cpu, const char *fmt, ...)
{
	char msg[2048]; /* guest text in it is at most a hypercall page (1 KiB) */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (vm->nr_vcpus > 1)
		log_err("guest failed: vCPU %u: %s", cpu, msg);
	else
		log_err("guest failed: %s", msg);
	/* The crash report: registers and the console's last lines. */
	vcpu_dump(&vm->vcpus[cpu], stderr);
	pthread_mutex_lock(&console.m);
	serial_dump_tail(&vm->serial, stderr);
	pthread_mutex_unlock(&console.m);
	return -EFAULT;
}

static int kicked_fn(void *ctx, const struct hcall *hc);

/* Whether a vCPU other than 0 holds an exit it has not handled. */
static bool others_unhandled(struct vm *vm)
{
	for (uint32_t i = 1; i < vm->nr_vcpus; i++)
		if (__atomic_load_n(&vm->t.exit_pending[i], __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/*
 * The kick's handler, with the machine to itself and no other vCPU holding
 * an exit it has not handled (one parked while waiting for the machine to
 * make a hypercall or notify the disk).  The handler may stop the guest
 * for good, a migration's switch-over, and such an exit cannot be left
 * for later: KVM retires an MMIO write before it exits, so its effect
 * would be lost with the thread that was to carry it out.  So each time
 * one is found the machine is given up, vCPU 0 counting as parked until
 * those exits are handled, and taken again.
 */
static int call_kicked(struct vm *vm, const struct vm_handlers *h)
{
	for (;;) {
		if (!exclusive_enter(vm, 0))
			return 1;
		if (!others_unhandled(vm))
			break;
		exclusive_exit(vm);
		pthread_mutex_lock(&vm->t.lock);
		vm->t.parked++;
		pthread_cond_broadcast(&vm->t.cond);
		/* Slices: a thread clears its flag without a broadcast. */
		while (others_unhandled(vm) && !vm->t.ending && !stop_requested)
			time_cond_wait_until(&vm->t.cond, &vm->t.lock, time_now_ns() + 1000000);
		vm->t.parked--;
		pthread_mutex_unlock(&vm->t.lock);
	}
	int ret = kicked_fn((void *)h, NULL);
	exclusive_exit(vm);
	return ret;
}

/* A handler, with the machine to itself. */
static int call_exclusive(struct vm *vm, uint32_t cpu, int (*fn)(void *, const struct hcall *),
			  void *ctx, const struct hcall *hc)
{
	if (!exclusive_enter(vm, cpu))
		return 1;
	int ret = fn(ctx, hc);
	exclusive_exit(vm);
	return ret;
}

static int do_hcall(struct vm *vm, const struct vm_handlers *h, uint32_t cpu, uint32_t nr)
{
	struct hcall hc;

	if (hcall_read(&vm->mem, cpu, nr, &hc))
		return guest_failed(vm, cpu, "malformed hypercall %u (%s)", nr, hcall_name(nr));
	switch (nr) {
	case ABI_HC_LOG:
		if (vm->nr_vcpus > 1)
			log_info("guest log, vCPU %u: %s", cpu, hc.text);
		else
			log_info("guest log: %s", hc.text);
		return 0;
	case ABI_HC_PANIC:
		if (hc.args[ABI_PANIC_VECTOR] == ABI_PANIC_NO_TRAP)
			return guest_failed(vm, cpu, "panic at %s", hc.text);
		return guest_failed(vm, cpu, "%s; rip %#llx rsp %#llx cr2 %#llx", hc.text,
				    (unsigned long long)hc.args[ABI_PANIC_RIP],
				    (unsigned long long)hc.args[ABI_PANIC_RSP],
				    (unsigned long long)hc.args[ABI_PANIC_CR2]);
	}
	/* The rest speaks for the machine, exclusive.  Only vCPU 0 starts
	 * the others; any vCPU may make the other calls (the file world runs
	 * its processes on every CPU, and a process ends epochs wherever it
	 * runs), and one that ends the run ends it for every thread. */
	if (nr == ABI_HC_START_APS) {
		if (cpu != 0)
			return guest_failed(vm, cpu, "start-aps from vCPU %u, not 0", cpu);
		return vm->nr_vcpus > 1 ? start_aps(vm, h)
					: guest_failed(vm, cpu, "start-aps with one vCPU");
	}
	int ret = h->hcall ? call_exclusive(vm, cpu, h->hcall, h->ctx, &hc) : 0;
	if (ret > 0 && cpu != 0)
		end_run(vm, cpu, 0);
	return ret;
}

static int do_io(struct vm *vm, const struct vm_handlers *h, uint32_t cpu)
{
	struct kvm_run *run = vm->vcpus[cpu].run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint16_t port = run->io.port;
	int out = run->io.direction == KVM_EXIT_IO_OUT;

	if (run->io.data_offset + (uint64_t)run->io.size * run->io.count > vm->vcpus[cpu].run_size)
		return guest_failed(vm, cpu, "I/O exit data outside kvm_run");
	if (port >= ABI_SERIAL_PORT && port < ABI_SERIAL_PORT + 8 && run->io.size == 1) {
		pthread_mutex_lock(&console.m);
		for (uint32_t i = 0; i < run->io.count; i++)
			serial_io(&vm->serial, port - ABI_SERIAL_PORT, out, data + i);
		pthread_mutex_unlock(&console.m);
		return 0;
	}
	if (port == ABI_HCALL_PORT && out && run->io.size == 4 && run->io.count == 1) {
		uint32_t nr;
		memcpy(&nr, data, 4);
		return do_hcall(vm, h, cpu, nr);
	}
	/* The reply to a SYNC in a run the host delimits by time
	 * (include/abi/hcall.h): whatever the handler left, never RAM. */
	if (port == ABI_HCALL_PORT && !out && run->io.size == 4 && run->io.count == 1) {
		uint32_t reply = __atomic_load_n(&vm->hc_reply, __ATOMIC_ACQUIRE);
		memcpy(data, &reply, 4);
		return 0;
	}
	return guest_failed(vm, cpu, "unexpected port I/O: %s port %#x size %u", out ? "out" : "in",
			    port, run->io.size);
}

/* Only the virtio-blk window is device memory; any other access to a GPA
 * without RAM is a guest bug, as before the device existed. */
static int do_mmio(struct vm *vm, uint32_t cpu)
{
	struct kvm_run *run = vm->vcpus[cpu].run;
	uint64_t a = run->mmio.phys_addr;
	uint32_t len = run->mmio.len;

	if (vm->blk && len <= sizeof(run->mmio.data) && a >= ABI_VIRTIO_BLK_GPA &&
	    a - ABI_VIRTIO_BLK_GPA <= ABI_VIRTIO_MMIO_SIZE - len) {
		if (!exclusive_enter(vm, cpu))
			return 1;
		virtio_blk_mmio(vm->blk, a - ABI_VIRTIO_BLK_GPA, run->mmio.data, len,
				run->mmio.is_write);
		exclusive_exit(vm);
		return 0;
	}
	return guest_failed(vm, cpu, "%s of %u bytes at unmapped GPA %#llx",
			    run->mmio.is_write ? "write" : "read", len, (unsigned long long)a);
}

static int kicked_fn(void *ctx, const struct hcall *hc)
{
	(void)hc;
	const struct vm_handlers *h = ctx;
	return h->kicked ? h->kicked(h->ctx) : 0;
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
	kick_run = vm->vcpus[0].run;
	vm->vcpu_thread = (unsigned long)pthread_self();
	pthread_mutex_lock(&vm->t.lock);
	vm->t.live = 1;
	vm->t.ending = false;
	vm->t.err = 0;
	pthread_mutex_unlock(&vm->t.lock);
	__atomic_store_n(&vm->in_run, 1, __ATOMIC_SEQ_CST);
	running = vm->vcpus[0].run;
	int ret = vm->aps_up && vm->nr_vcpus > 1 ? start_aps(vm, h) : 0;
	if (!ret)
		ret = vm_run_loop(vm, h, 0);
	running = NULL;
	/* vCPU 0's end is everyone's: stop the others and wait for them. */
	end_run(vm, 0, ret);
	for (uint32_t i = 1; i < vm->nr_vcpus; i++) {
		if (vm->t.started[i]) {
			pthread_join(vm->t.thread[i], NULL);
			vm->t.started[i] = false;
		}
	}
	__atomic_store_n(&vm->in_run, 0, __ATOMIC_SEQ_CST);
	kick_run = NULL;
	pthread_mutex_lock(&vm->t.lock);
	if (!ret)
		ret = vm->t.err; /* another vCPU's failure ended it */
	vm->t.live = 0;
	vm->t.ending = false;
	pthread_mutex_unlock(&vm->t.lock);
	return ret;
}

/* One vCPU's loop: 0 when the run ends normally (a handler's positive
 * return, another thread's end, or, for vCPUs other than 0, their halt),
 * else -errno. */
static int vm_run_loop(struct vm *vm, const struct vm_handlers *h, uint32_t cpu)
{
	struct vcpu *v = &vm->vcpus[cpu];
	for (;;) {
		if (stop_requested) {
			if (cpu == 0)
				log_err("interrupted");
			return -EINTR;
		}
		if (!checkpoint(vm, cpu))
			return 0;
		if (vm->throttle_until_ns[cpu] && time_now_ns() < vm->throttle_until_ns[cpu]) {
			throttle_wait(vm, cpu);
			continue; /* a kick, a stop, an owner: the top of the loop */
		}
		if (cpu == 0 && __atomic_exchange_n(&vm->kick, 0, __ATOMIC_SEQ_CST)) {
			/* A kick's signal may have set immediate_exit; any
			 * kick after this exchange sets it again. */
			v->run->immediate_exit = 0;
			int ret = call_kicked(vm, h);
			if (ret < 0)
				return ret;
			if (ret > 0)
				return 0;
			continue;
		}
		/* The test hook (vmm/kvm.h) fails KVM_RUN the way KVM would. */
		int test_err = cpu == 0 ? kvm_test_fail(KVM_TEST_RUN) : 0;
		if (test_err)
			errno = test_err;
		if (test_err || ioctl(v->fd, KVM_RUN, NULL) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* A kick already handled may have left
				 * immediate_exit set; a new kick sets the
				 * flag before its signal, so clearing here
				 * and looking at the flag next loses none. */
				if (!stop_requested)
					v->run->immediate_exit = 0;
				continue;
			}
			int ret = -errno;
			if (cpu)
				log_err("KVM_RUN on vCPU %u: %s", cpu, strerror(-ret));
			else
				log_err("KVM_RUN: %s", strerror(-ret));
			vcpu_dump(v, stderr);
			return ret == -EFAULT ? -EIO : ret;
		}
		struct kvm_run *run = v->run;
		int ret;
		__atomic_store_n(&vm->t.exit_pending[cpu], true, __ATOMIC_RELEASE);
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			ret = do_io(vm, h, cpu);
			break;
		case KVM_EXIT_DIRTY_RING_FULL:
			ret = h->ring_full
				  ? h->ring_full(h->ctx, cpu)
				  : guest_failed(vm, cpu, "dirty ring full without a ring");
			break;
		case KVM_EXIT_HLT:
			/* vCPUs other than 0 halt when their share of the
			 * work is done; vCPU 0 ends the run with DONE. */
			ret = cpu ? 1 : guest_failed(vm, cpu, "guest halted before finishing");
			break;
		case KVM_EXIT_SHUTDOWN:
			ret = guest_failed(vm, cpu, "triple fault (KVM_EXIT_SHUTDOWN)");
			break;
		case KVM_EXIT_MMIO:
			ret = do_mmio(vm, cpu);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			ret = guest_failed(
			    vm, cpu, "VM entry failed, reason %#llx",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			ret = guest_failed(vm, cpu, "KVM internal error, suberror %u",
					   run->internal.suberror);
			break;
		default:
			ret = guest_failed(vm, cpu, "unexpected exit reason %u", run->exit_reason);
		}
		__atomic_store_n(&vm->t.exit_pending[cpu], false, __ATOMIC_RELEASE);
		if (ret < 0)
			return ret;
		if (ret > 0)
			return 0;
	}
}
