/* A whole machine: KVM VM, guest RAM, 1..ABI_MAX_CPUS vCPUs and their stats,
 * the console, and optionally a virtio-blk disk. */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "vmm/boot.h"
#include "vmm/hcall.h"
#include "vmm/kvm.h"
#include "vmm/mem.h"
#include "vmm/serial.h"
#include "vmm/stats.h"
#include "vmm/vcpu.h"
#include "vmm/virtio_blk.h"

/*
 * Threads.  vm_run runs vCPU 0 on the calling thread and, once the guest
 * asks (ABI_HC_START_APS), every other vCPU on a thread of its own.  Each
 * thread takes its vCPU's exits itself; the handlers below, which see the
 * whole machine, run with every other vCPU stopped: the thread that took
 * the exit kicks the others out of KVM_RUN and waits until each is parked
 * (docs/architecture.md, "vCPU threads").  So the session never sees a
 * store land while it harvests, as with one vCPU.
 */
struct vm_threads {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread[ABI_MAX_CPUS];
	bool started[ABI_MAX_CPUS]; /* thread[] holds a thread to join */
	uint32_t live;		    /* vCPU threads in their run loop */
	uint32_t parked;	    /* of them, stopped for an exclusive one */
	int owner;		    /* the vCPU whose thread runs a handler, or -1 */
	/* vCPU i took an exit its thread has not handled yet (from KVM_RUN's
	 * return until its handler is done; written by its own thread,
	 * atomically): see call_kicked in vm_run.c. */
	bool exit_pending[ABI_MAX_CPUS];
	bool ending; /* the run is over: every thread returns */
	int err;     /* the first thread's failure, -errno */
};

struct vm {
	struct kvm kvm;
	struct guest_mem mem;
	uint32_t nr_vcpus; /* from the loaded guest's boot parameters */
	struct vcpu vcpus[ABI_MAX_CPUS];
	struct vcpu_stats stats[ABI_MAX_CPUS];
	struct serial serial;
	struct virtio_blk *blk; /* optional, vm_attach_blk() */
	uint64_t entry, ap_entry, cr3;
	/* The guest's other vCPUs were started before this machine ran (an
	 * incoming guest's, at its source): vm_run starts their threads at
	 * once rather than at ABI_HC_START_APS. */
	bool aps_up;
	/* KVM's in-kernel irqchip (LAPICs), made before the vCPUs: for the
	 * IPIs of a file world on several CPUs and the guest's IPI test
	 * (ABI_BOOT_F_TEST_IPI). */
	bool irqchip;
	/* What the guest reads with `in` from the hypercall port: a handler's
	 * reply to the call it just took (include/abi/hcall.h).  Any vCPU
	 * reads it: atomic. */
	uint32_t hc_reply;
	/* Private: vm_kick's request flag, vCPU 0's thread in vm_run, and
	 * the threads. */
	int kick;
	unsigned long vcpu_thread;
	int in_run;
	struct vm_threads t;
	/* vm_throttle: vCPU i stays out of the guest until then (ns,
	 * time_now_ns); written and read by its own thread. */
	uint64_t throttle_until_ns[ABI_MAX_CPUS];
};

/*
 * Run-loop callbacks.  Each returns 0 to resume the guest, a positive value
 * to end the run normally (vm_run returns 0), or -errno to abort.
 */
struct vm_handlers {
	void *ctx;
	/* READY, SYNC, DONE: vCPU 0's alone (another's is a guest failure). */
	int (*hcall)(void *ctx, const struct hcall *hc);
	/* KVM_EXIT_DIRTY_RING_FULL on vCPU cpu: the one handler called on the
	 * exiting vCPU's thread while the others run, so it must be safe for
	 * that (the dirty log's reaper is). */
	int (*ring_full)(void *ctx, uint32_t cpu);
	/* Guest RAM the virtio-blk device stored into (KVM's dirty log misses
	 * device writes); called during the run, may be NULL. */
	void (*dma_dirty)(void *ctx, uint64_t gpa, uint64_t len);
	/* vm_kick() was called: runs on vCPU 0's thread between exits, with
	 * the guest stopped and every other vCPU's exit handled (an I/O exit
	 * may still await completion: vcpu_state_settle).  It may block.
	 * May be NULL. */
	int (*kicked)(void *ctx);
};

/* Open KVM at kvm_path, create the VM and reserve `ram_size` bytes of RAM
 * (slots not registered yet).  Returns 0 or -errno (printed). */
int vm_create(struct vm *vm, const char *kvm_path, uint64_t ram_size);

/* Register the memory slots with `slot_flags` (e.g. KVM_MEM_LOG_DIRTY_PAGES). */
int vm_register_memory(struct vm *vm, uint32_t slot_flags);

/*
 * Give the VM a virtio-blk device at ABI_VIRTIO_BLK_GPA backed by the raw
 * image at image_path (a non-zero multiple of 4 KiB, opened read-write).
 * Call after vm_create, before vm_run, at most once.  Returns 0, or -errno
 * after one line naming the file.
 */
int vm_attach_blk(struct vm *vm, const char *image_path);

/* Load the embedded guest with its workload parameters; wl->nr_cpus (0
 * means 1) sets the vCPUs vm_create_vcpus makes.  -EINVAL for more than
 * ABI_MAX_CPUS or an image without an AP entry. */
int vm_load_guest(struct vm *vm, const struct boot_workload *wl);

/* Create the vCPUs in long mode, vCPU 0 at the guest entry and the others
 * at its AP entry with their number in RDI, and open their stats. */
int vm_create_vcpus(struct vm *vm);

/* A machine whose guest comes from elsewhere (no vm_load_guest): its vCPU
 * count, wl->nr_cpus (0 means 1) up to ABI_MAX_CPUS, and whether it has
 * the in-kernel irqchip, as vm_load_guest decides, before
 * vm_create_vcpus.  -EINVAL for a count out of range. */
int vm_set_vcpus(struct vm *vm, const struct boot_workload *wl);

/* Sum of every vCPU's stats (absent counters UINT64_MAX), or per vCPU
 * with cpu >= 0.  0 or -errno. */
int vm_stats_read(const struct vm *vm, int cpu, uint64_t out[VSTAT_NR]);

/*
 * Run until a handler ends the run (returns 0), the guest fails (-EFAULT:
 * panic, triple fault, unexpected exit or a malformed hypercall; the report
 * and registers are printed), or a host error (-errno).
 */
int vm_run(struct vm *vm, const struct vm_handlers *h);

#define VM_KICK_SIGNAL (SIGRTMIN + 3)

/*
 * From any thread: make vCPU 0's thread in vm_run leave the guest as soon as
 * it can and call the kicked handler once (with the other vCPUs stopped) (several kicks before it
 * runs may give one call).  A signal (VM_KICK_SIGNAL, installed with SA_RESTART by vm_run)
 * interrupts KVM_RUN; its handler sets kvm_run.immediate_exit so a kick between the flag check and
 * KVM_RUN is not lost.  Without a running vm_run the kick waits for the next one.
 */
void vm_kick(struct vm *vm);

/*
 * From the ring_full handler, on vCPU cpu's own thread: keep that vCPU out
 * of the guest until `until_ns` (time_now_ns's clock), as dirty-limit does.
 * It waits counted as parked, so a handler that needs the machine does not
 * wait for it, and vCPU 0 still takes its kicks meanwhile.
 */
void vm_throttle(struct vm *vm, uint32_t cpu, uint64_t until_ns);

/* Ask vm_run to stop (it returns -EINTR): async-signal-safe, for SIGINT and
 * SIGTERM handlers. */
void vm_request_stop(void);

/* Whether vm_request_stop was called: what a failure after it means is
 * "interrupted", whatever the errno of the call it cut short. */
bool vm_stop_requested(void);

/* Tear down everything vm_create and later steps made. */
void vm_destroy(struct vm *vm);

#endif
