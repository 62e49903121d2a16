/*
 * Migration state (vmm/vcpu_state.h, virtio_blk_state_* in vmm/virtio_blk.h)
 * under KVM: a running guest moves between two VMs of this process.
 *
 *   - anonymous workload: VM A runs to the SYNC of epoch 2 and stops; its
 *     vCPU state and all of its RAM go to VM B, built the same way; B goes
 *     on with SYNC 3, 4, ... and DONE with status 0 and the full epoch
 *     count, and never says READY again.  Saving B right after the load
 *     gives back A's regs and sregs (and the rest, TSC aside).
 *   - file workload (db, wp policy): the same with a disk shared by both
 *     VMs and the virtio-blk state moved too; B's device takes every
 *     request the driver makes available after the move exactly once, and
 *     the image ends holding exactly the workload's bytes
 *   - with an in-kernel irqchip the LAPIC moves, and a blob is refused by a
 *     VM whose irqchip presence differs
 *   - teeth: a vCPU blob with a wrong version, magic, size, flags, MSR count
 *     or MSR index is refused with a reason and the vCPU untouched; values
 *     KVM refuses (CR0.PG without PE; a non-canonical KERNEL_GS_BASE, for
 *     which KVM_SET_MSRS returns a short count) are reported by ioctl and
 *     MSR
 *   - teeth: a virtio-blk blob with a ring outside RAM (or crossing its
 *     end), a queue size not a power of two or over the maximum, unknown
 *     features, an unreachable status, ... is refused with a reason and the
 *     device byte-for-byte unchanged; a mid-handshake blob with unknown
 *     driver features loads, and FEATURES_OK is then refused as on the
 *     source
 *
 * Needs /dev/kvm; exits 77 (skipped) with a reason when it cannot open it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "abi/hcall.h"
#include "abi/virtio.h"
#include "logger/verify/fileverify.h"
#include "tests/lib/ds_session.h"
#include "tests/lib/ds_test.h"
#include "util/time.h"
#include "vmm/vcpu_state.h"
#include "vmm/vm.h"

#define MIB (1ULL << 20)
#define RAM (64 * MIB)

#define STOP_EPOCH 2 /* A stops at this epoch's SYNC */

static char dir[] = "/tmp/dirtyscope-vmstate-XXXXXX";

static double now_s(void)
{
	return (double)time_now_ns() / 1e9;
}

/* ---- the run-loop side ---------------------------------------------------- */

/* What one VM's run saw; `next` is the epoch the next SYNC must carry. */
struct mig_run {
	const struct boot_workload *wl;
	uint64_t next;
	uint64_t stop_at; /* SYNC epoch that ends the run; 0: run to DONE */
	int ready, done, protocol;
	uint64_t done_status, done_epochs;
};

static int on_hcall(void *ctx, const struct hcall *hc)
{
	struct mig_run *r = ctx;

	switch (hc->nr) {
	case ABI_HC_READY:
		r->ready++;
		if (r->next != 1)
			break;
		return 0;
	case ABI_HC_SYNC:
		if (hc->args[0] != r->next || hc->args[1] > r->wl->writes_per_epoch) {
			fprintf(stderr, "\n    SYNC for epoch %llu, expected %llu",
				(unsigned long long)hc->args[0], (unsigned long long)r->next);
			break;
		}
		r->next++;
		return hc->args[0] == r->stop_at ? 1 : 0;
	case ABI_HC_DONE:
		r->done++;
		r->done_status = hc->args[0];
		r->done_epochs = hc->args[1];
		return 1;
	}
	r->protocol++;
	return -EPROTO;
}

/* A VM made as every run makes one: same RAM, same boot loading, so A's and
 * B's memory layouts match.  image may be NULL. */
static int boot_vm(struct vm *vm, const struct boot_workload *wl, const char *image)
{
	int ret = vm_create(vm, "/dev/kvm", RAM);
	if (ret)
		return ret;
	if ((ret = vm_register_memory(vm, 0)) || (image && (ret = vm_attach_blk(vm, image))) ||
	    (ret = vm_load_guest(vm, wl)) || (ret = vm_create_vcpus(vm))) {
		vm_destroy(vm);
		return ret;
	}
	return 0;
}

/* The parts of two vCPU states that must agree after a load; the TSC moves
 * on by itself. */
static void compare_states(const struct vcpu_state *a, const struct vcpu_state *b)
{
	CU_ASSERT(memcmp(&a->regs, &b->regs, sizeof(a->regs)) == 0);
	CU_ASSERT(memcmp(&a->sregs, &b->sregs, sizeof(a->sregs)) == 0);
	CU_ASSERT_EQUAL(a->flags, b->flags);
	CU_ASSERT_EQUAL(a->mp_state, b->mp_state);
	CU_ASSERT(memcmp(&a->events, &b->events, sizeof(a->events)) == 0);
	CU_ASSERT(memcmp(&a->debugregs, &b->debugregs, sizeof(a->debugregs)) == 0);
	CU_ASSERT(memcmp(&a->xcrs, &b->xcrs, sizeof(a->xcrs)) == 0);
	CU_ASSERT(memcmp(&a->fpu, &b->fpu, sizeof(a->fpu)) == 0);
	CU_ASSERT(memcmp(a->xsave, b->xsave, sizeof(a->xsave)) == 0);
	CU_ASSERT(memcmp(&a->lapic, &b->lapic, sizeof(a->lapic)) == 0);
	CU_ASSERT_EQUAL_FATAL(a->nr_msrs, b->nr_msrs);
	for (uint32_t i = 0; i < a->nr_msrs; i++) {
		CU_ASSERT_EQUAL(a->msrs[i].index, b->msrs[i].index);
		if (a->msrs[i].index == 0x10) { /* IA32_TSC: never backwards */
			CU_ASSERT(b->msrs[i].data >= a->msrs[i].data);
		} else {
			CU_ASSERT_EQUAL(a->msrs[i].data, b->msrs[i].data);
		}
	}
}

/*
 * Run `wl` in A up to the SYNC of STOP_EPOCH, move it to B (vCPU, all of
 * RAM, and the disk's device state if `image`), and run B to DONE.
 */
static void migrate(const char *name, const struct boot_workload *wl, const char *image)
{
	struct vm a, b;
	struct vcpu_state sa, sb;
	struct virtio_blk_state ba;
	char why[256];

	CU_ASSERT_EQUAL_FATAL(boot_vm(&a, wl, image), 0);
	struct mig_run ra = {.wl = wl, .next = 1, .stop_at = STOP_EPOCH};
	struct vm_handlers ha = {.ctx = &ra, .hcall = on_hcall};
	double t0 = now_s();
	CU_ASSERT_EQUAL(vm_run(&a, &ha), 0);
	double t_a = now_s() - t0;
	CU_ASSERT_EQUAL(ra.ready, 1);
	CU_ASSERT_EQUAL(ra.done, 0);
	CU_ASSERT_EQUAL_FATAL(ra.next, STOP_EPOCH + 1);

	/* Source side: finish the OUT that stopped the run, then save. */
	t0 = now_s();
	CU_ASSERT_EQUAL_FATAL(vcpu_state_settle(&a.vcpus[0]), 0);
	CU_ASSERT_EQUAL_FATAL(vcpu_state_save(&a.vcpus[0], &sa), 0);
	if (image)
		CU_ASSERT_EQUAL_FATAL(virtio_blk_state_save(a.blk, &ba), 0);
	double t_save = now_s() - t0;
	/* What this host's KVM offers decides which parts are present. */
	CU_ASSERT_EQUAL(!!(sa.flags & VCPU_STATE_F_XSAVE), !!kvm_cap(&a.kvm, KVM_CAP_XSAVE));
	CU_ASSERT_EQUAL(sa.flags & VCPU_STATE_F_LAPIC, 0); /* vm.c makes no irqchip */
	CU_ASSERT(sa.nr_msrs >= 12);

	/* Destination: built the same way, then A's RAM over all of it. */
	CU_ASSERT_EQUAL_FATAL(boot_vm(&b, wl, image), 0);
	t0 = now_s();
	memcpy(b.mem.host, a.mem.host, a.mem.ram_size);
	double t_copy = now_s() - t0;
	t0 = now_s();
	why[0] = 0;
	if (image) {
		int ret = virtio_blk_state_load(b.blk, &ba, why, sizeof(why));
		CU_ASSERT_EQUAL(ret, 0);
		if (ret)
			fprintf(stderr, "\n    virtio_blk_state_load: %s", why);
	}
	int ret = vcpu_state_load(&b.vcpus[0], &sa, why, sizeof(why));
	double t_load = now_s() - t0;
	CU_ASSERT_EQUAL(ret, 0);
	if (ret)
		fprintf(stderr, "\n    vcpu_state_load: %s", why);
	CU_ASSERT_EQUAL_FATAL(vcpu_state_save(&b.vcpus[0], &sb), 0);
	compare_states(&sa, &sb);

	struct mig_run rb = {.wl = wl, .next = STOP_EPOCH + 1};
	struct vm_handlers hb = {.ctx = &rb, .hcall = on_hcall};
	t0 = now_s();
	CU_ASSERT_EQUAL(vm_run(&b, &hb), 0);
	double t_b = now_s() - t0;
	CU_ASSERT_EQUAL(rb.ready, 0);
	CU_ASSERT_EQUAL(rb.protocol, 0);
	CU_ASSERT_EQUAL(rb.done, 1);
	CU_ASSERT_EQUAL(rb.done_status, 0);
	CU_ASSERT_EQUAL(rb.done_epochs, wl->epochs);
	CU_ASSERT_EQUAL(rb.next, (uint64_t)wl->epochs + 1);

	printf("\n    %s: A ran epochs 1-%d in %.2f s; save %.0f us, RAM copy %llu MiB %.1f ms, "
	       "load %.0f us; B ran epochs %d-%u in %.2f s, DONE status %llu epochs %llu; "
	       "%u MSRs, flags %#x, rip %#llx",
	       name, STOP_EPOCH, t_a, t_save * 1e6, (unsigned long long)(RAM / MIB), t_copy * 1e3,
	       t_load * 1e6, STOP_EPOCH + 1, wl->epochs, t_b, (unsigned long long)rb.done_status,
	       (unsigned long long)rb.done_epochs, sa.nr_msrs, sa.flags,
	       (unsigned long long)sa.regs.rip);
	if (image) {
		const struct virtio_blk_stats *s = &b.blk->stats;
		printf("\n    device: %llu requests before the move, %llu after (%llu writes, "
		       "%llu flushes in all), status %#x, last_avail %u",
		       (unsigned long long)ba.stats.requests,
		       (unsigned long long)(s->requests - ba.stats.requests),
		       (unsigned long long)s->writes, (unsigned long long)s->flushes, ba.status,
		       ba.q_last_avail);
		/* B's device served the guest's ring where A's left off: every
		 * request the driver made available after the move was taken
		 * exactly once.  A wrong last_avail would replay or skip
		 * requests (the image could still end right: rewrites of the
		 * same data are idempotent) or break the device. */
		CU_ASSERT(ba.q_ready == 1 && (ba.status & VIRTIO_STATUS_DRIVER_OK));
		CU_ASSERT(ba.stats.requests > 0);
		CU_ASSERT(s->requests > ba.stats.requests);
		CU_ASSERT_FATAL(b.blk->q.avail != NULL && b.blk->q.used != NULL);
		uint16_t avail_idx = b.blk->q.avail->idx;
		CU_ASSERT_EQUAL((uint16_t)(avail_idx - ba.q_last_avail),
				s->requests - ba.stats.requests);
		CU_ASSERT_EQUAL(b.blk->q.last_avail, avail_idx);
		CU_ASSERT_EQUAL(b.blk->q.used->idx, b.blk->q.used_idx);
		CU_ASSERT_EQUAL(s->refused, 0);
		CU_ASSERT_EQUAL(b.blk->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
		CU_ASSERT_EQUAL(b.blk->q.last_avail, b.blk->q.used_idx);
		/* A's device saw nothing after the save. */
		CU_ASSERT_EQUAL(a.blk->stats.requests, ba.stats.requests);
	}
	vm_destroy(&b);
	vm_destroy(&a);
}

static void test_migrate_anon(void)
{
	struct boot_workload wl = ds_anon_workload(ABI_WL_RANDOM, 300, 6);
	migrate("random, 300 pages, 6 epochs", &wl, NULL);
}

static void test_migrate_file(void)
{
	char image[sizeof(dir) + 16];
	snprintf(image, sizeof(image), "%s/db.img", dir);
	CU_ASSERT_EQUAL_FATAL(ds_file_image(image, ABI_WL_DB, 32), 0);
	/* test_files' settings: msync every 10 of 48 stores per epoch. */
	struct boot_workload wl = {.workload = ABI_WL_DB,
				   .epochs = 5,
				   .wss_pages = 32,
				   .writes_per_epoch = 48,
				   .seed = 7,
				   .policy = ABI_POLICY_WP,
				   .flush_every = 200,
				   .sync_every = 10};
	migrate("db/wp, 32 pages, 5 epochs", &wl, image);
	long bad = fileverify_image(image, &wl, stderr);
	printf("\n    image pages differing from the workload's content: %ld", bad);
	CU_ASSERT_EQUAL(bad, 0);
	unlink(image);
}

/* ---- the in-kernel irqchip ------------------------------------------------- */

static int boot_vm_irqchip(struct vm *vm, bool irqchip)
{
	struct boot_workload wl = ds_anon_workload(ABI_WL_RANDOM, 16, 1);
	int ret = vm_create(vm, "/dev/kvm", RAM);
	if (ret)
		return ret;
	/* KVM wants the irqchip before any vCPU. */
	if (irqchip && ioctl(vm->kvm.vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		ret = -errno;
	if (ret || (ret = vm_register_memory(vm, 0)) || (ret = vm_load_guest(vm, &wl)) ||
	    (ret = vm_create_vcpus(vm))) {
		vm_destroy(vm);
		return ret;
	}
	return 0;
}

static void test_lapic(void)
{
	struct vm a, b, plain;
	struct vcpu_state sa, sb, sp;
	char why[256] = "";

	CU_ASSERT_EQUAL_FATAL(boot_vm_irqchip(&a, true), 0);
	CU_ASSERT_EQUAL_FATAL(boot_vm_irqchip(&b, true), 0);
	CU_ASSERT_EQUAL_FATAL(boot_vm_irqchip(&plain, false), 0);
	CU_ASSERT_EQUAL_FATAL(vcpu_state_save(&a.vcpus[0], &sa), 0);
	CU_ASSERT_EQUAL_FATAL(vcpu_state_save(&plain.vcpus[0], &sp), 0);
	CU_ASSERT(sa.flags & VCPU_STATE_F_LAPIC);
	CU_ASSERT_FALSE(sp.flags & VCPU_STATE_F_LAPIC);

	int ret = vcpu_state_load(&b.vcpus[0], &sa, why, sizeof(why));
	CU_ASSERT_EQUAL(ret, 0);
	if (ret)
		fprintf(stderr, "\n    %s", why);
	CU_ASSERT_EQUAL_FATAL(vcpu_state_save(&b.vcpus[0], &sb), 0);
	compare_states(&sa, &sb);

	CU_ASSERT_EQUAL(vcpu_state_load(&plain.vcpus[0], &sa, why, sizeof(why)), -EINVAL);
	printf("\n    irqchip blob into a plain VM: %s", why);
	CU_ASSERT(strstr(why, "irqchip") != NULL);
	why[0] = 0;
	CU_ASSERT_EQUAL(vcpu_state_load(&b.vcpus[0], &sp, why, sizeof(why)), -EINVAL);
	printf("\n    plain blob into an irqchip VM: %s", why);
	CU_ASSERT(strstr(why, "irqchip") != NULL);
	vm_destroy(&plain);
	vm_destroy(&b);
	vm_destroy(&a);
}

/* ---- teeth: vCPU blobs ---------------------------------------------------- */

static int msr_slot(const struct vcpu_state *s, uint32_t index)
{
	for (uint32_t i = 0; i < s->nr_msrs; i++)
		if (s->msrs[i].index == index)
			return (int)i;
	return -1;
}

/* The blob mutations the format checks must refuse before touching KVM. */
enum vbad {
	VB_VERSION,
	VB_MAGIC,
	VB_SIZE,
	VB_FLAGS,
	VB_NR_MSRS,
	VB_MSR_INDEX,
	VB_MSR_TWICE,
	VB_LAPIC,
	VB_NR
};

static const char *const vbad_names[] = {"version",   "magic",
					 "size",      "flags",
					 "MSR count", "MSR index (EFER)",
					 "MSR twice", "LAPIC without irqchip"};

static void vbad_apply(struct vcpu_state *s, enum vbad k)
{
	switch (k) {
	case VB_VERSION:
		s->version = VCPU_STATE_VERSION + 1;
		break;
	case VB_MAGIC:
		s->magic ^= 1;
		break;
	case VB_SIZE:
		s->size -= 8;
		break;
	case VB_FLAGS:
		s->flags |= 0x100;
		break;
	case VB_NR_MSRS:
		s->nr_msrs = VCPU_STATE_MAX_MSRS + 1;
		break;
	case VB_MSR_INDEX:
		s->msrs[0].index = 0xc0000080; /* EFER belongs to sregs */
		break;
	case VB_MSR_TWICE:
		s->msrs[1].index = s->msrs[0].index;
		break;
	case VB_LAPIC:
		s->flags |= VCPU_STATE_F_LAPIC;
		break;
	case VB_NR:
		break;
	}
}

static void test_vcpu_teeth(void)
{
	struct vm vm;
	struct vcpu_state good, bad, before, after;
	char why[256];
	struct boot_workload wl = ds_anon_workload(ABI_WL_RANDOM, 16, 1);

	CU_ASSERT_EQUAL_FATAL(boot_vm(&vm, &wl, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vcpu_state_save(&vm.vcpus[0], &good), 0);
	CU_ASSERT_FATAL(good.nr_msrs >= 2);

	for (int k = 0; k < VB_NR; k++) {
		bad = good;
		vbad_apply(&bad, (enum vbad)k);
		/* A state the vCPU is not in, so an accidental load would show. */
		bad.regs.rip += 0x1000;
		bad.regs.rax = 0x5eed;
		why[0] = 0;
		CU_ASSERT_EQUAL_FATAL(vcpu_state_save(&vm.vcpus[0], &before), 0);
		int ret = vcpu_state_load(&vm.vcpus[0], &bad, why, sizeof(why));
		CU_ASSERT_EQUAL_FATAL(vcpu_state_save(&vm.vcpus[0], &after), 0);
		printf("\n    bad %s: %d, \"%s\"", vbad_names[k], ret, why);
		CU_ASSERT_EQUAL(ret, -EINVAL);
		CU_ASSERT(why[0] != 0 && strchr(why, '\n') == NULL);
		compare_states(&before, &after);
	}

	/* Values only KVM can judge: it refuses them, and the reason says
	 * which call (and which MSR: KVM_SET_MSRS returns a count). */
	bad = good;
	bad.sregs.cr0 &= ~1ULL; /* PG without PE */
	why[0] = 0;
	CU_ASSERT(vcpu_state_load(&vm.vcpus[0], &bad, why, sizeof(why)) < 0);
	printf("\n    CR0.PG without PE: \"%s\"", why);
	CU_ASSERT(strstr(why, "KVM_SET_SREGS") != NULL);

	/* A non-canonical KERNEL_GS_BASE: refused by KVM on VMX, SVM and PVM
	 * alike (PVM takes a reserved PAT memory type, which VMX refuses). */
	bad = good;
	int kgs = msr_slot(&bad, 0xc0000102);
	CU_ASSERT_FATAL(kgs >= 0);
	bad.msrs[kgs].data = 0x8000000000000000ULL;
	why[0] = 0;
	CU_ASSERT_EQUAL(vcpu_state_load(&vm.vcpus[0], &bad, why, sizeof(why)), -EINVAL);
	printf("\n    non-canonical KERNEL_GS_BASE: \"%s\"", why);
	CU_ASSERT(strstr(why, "KVM_SET_MSRS refused MSR 0xc0000102") != NULL);

	/* The good blob still loads over the half-loaded vCPU. */
	int ret = vcpu_state_load(&vm.vcpus[0], &good, why, sizeof(why));
	CU_ASSERT_EQUAL(ret, 0);
	if (ret)
		fprintf(stderr, "\n    %s", why);
	CU_ASSERT_EQUAL_FATAL(vcpu_state_save(&vm.vcpus[0], &after), 0);
	compare_states(&good, &after);
	vm_destroy(&vm);
}

/* ---- teeth: virtio-blk blobs ---------------------------------------------- */

#define BLK_RAM	   (16 * MIB)
#define BLK_IMAGE  (64 * 1024)
#define QNUM	   64
#define DESC_GPA   0x100000ULL
#define AVAIL_GPA  0x101000ULL
#define USED_GPA   0x102000ULL
#define FEAT_V1_HI 1u /* VIRTIO_F_VERSION_1 is bit 0 of the high word */

static void reg_w(struct virtio_blk *b, uint64_t off, uint32_t v)
{
	virtio_blk_mmio(b, off, (uint8_t *)&v, 4, true);
}

static uint32_t reg_r(struct virtio_blk *b, uint64_t off)
{
	uint32_t v = 0;
	virtio_blk_mmio(b, off, (uint8_t *)&v, 4, false);
	return v;
}

/* The driver's side of the handshake up to `upto` (a STATUS value), with
 * `features_hi` accepted in the high feature word. */
static void handshake(struct virtio_blk *b, uint32_t upto, uint32_t features_hi)
{
	reg_w(b, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	reg_w(b, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	reg_w(b, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_w(b, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_BLK_F_FLUSH);
	reg_w(b, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_w(b, VIRTIO_MMIO_DRIVER_FEATURES, features_hi);
	if (!(upto & VIRTIO_STATUS_FEATURES_OK))
		return;
	reg_w(b, VIRTIO_MMIO_STATUS, upto & 0xb);
	reg_w(b, VIRTIO_MMIO_QUEUE_SEL, 0);
	reg_w(b, VIRTIO_MMIO_QUEUE_NUM, QNUM);
	reg_w(b, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC_GPA);
	reg_w(b, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL_GPA);
	reg_w(b, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)USED_GPA);
	reg_w(b, VIRTIO_MMIO_QUEUE_READY, 1);
	reg_w(b, VIRTIO_MMIO_STATUS, upto);
}

enum bbad {
	BB_VERSION,
	BB_MAGIC,
	BB_DESC_OUT,
	BB_USED_END,
	BB_AVAIL_ODD,
	BB_NUM_48,
	BB_NUM_512,
	BB_NUM_0,
	BB_FEATURES,
	BB_NO_V1,
	BB_FEATURES_BAD,
	BB_STATUS_HIGH,
	BB_DRIVER_OK_ONLY,
	BB_INDICES,
	BB_READY_2,
	BB_IMAGE_SIZE,
	BB_NR
};

static const char *const bbad_names[] = {"version",
					 "magic",
					 "desc ring outside RAM",
					 "used ring crossing the end of RAM",
					 "misaligned avail ring",
					 "queue size 48",
					 "queue size 512",
					 "queue size 0",
					 "unknown feature bit 40",
					 "VERSION_1 not accepted",
					 "features written past selector 1",
					 "status bit 8",
					 "DRIVER_OK without FEATURES_OK",
					 "last_avail != used_idx",
					 "ready 2",
					 "image size"};

static void bbad_apply(struct virtio_blk_state *s, enum bbad k)
{
	switch (k) {
	case BB_VERSION:
		s->version = VIRTIO_BLK_STATE_VERSION + 1;
		break;
	case BB_MAGIC:
		s->magic = 0;
		break;
	case BB_DESC_OUT:
		s->q_desc_gpa = BLK_RAM;
		break;
	case BB_USED_END: /* starts in RAM, 6 + 8 * 64 bytes do not fit */
		s->q_used_gpa = BLK_RAM - 256;
		break;
	case BB_AVAIL_ODD:
		s->q_avail_gpa += 1;
		break;
	case BB_NUM_48:
		s->q_num = 48;
		break;
	case BB_NUM_512:
		s->q_num = 512;
		break;
	case BB_NUM_0:
		s->q_num = 0;
		break;
	case BB_FEATURES:
		s->driver_features |= 1ULL << 40;
		break;
	case BB_NO_V1:
		s->driver_features &= ~(1ULL << VIRTIO_F_VERSION_1);
		break;
	case BB_FEATURES_BAD:
		s->driver_features_bad = 1;
		break;
	case BB_STATUS_HIGH:
		s->status |= 0x100;
		break;
	case BB_DRIVER_OK_ONLY:
		s->status =
		    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK;
		s->q_ready = 0;
		break;
	case BB_INDICES:
		s->q_used_idx += 1;
		break;
	case BB_READY_2:
		s->q_ready = 2;
		break;
	case BB_IMAGE_SIZE:
		s->image_size += 4096;
		break;
	case BB_NR:
		break;
	}
}

static void test_blk_teeth(void)
{
	struct guest_mem mem;
	struct virtio_blk src, dst, snap;
	struct virtio_blk_state good, bad, round;
	char image[sizeof(dir) + 16], why[256];

	snprintf(image, sizeof(image), "%s/blk.img", dir);
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, BLK_IMAGE) == 0);
	close(fd);
	CU_ASSERT_FATAL(mem_create(&mem, BLK_RAM) == 0);
	CU_ASSERT_FATAL(virtio_blk_open(&src, image, &mem) == 0);
	CU_ASSERT_FATAL(virtio_blk_open(&dst, image, &mem) == 0);

	const uint32_t live = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	handshake(&src, live, FEAT_V1_HI);
	CU_ASSERT_EQUAL_FATAL(reg_r(&src, VIRTIO_MMIO_STATUS), live);
	CU_ASSERT_EQUAL_FATAL(reg_r(&src, VIRTIO_MMIO_QUEUE_READY), 1);
	src.q.last_avail = src.q.used_idx = 70000 % 65536; /* as after many requests */
	CU_ASSERT_EQUAL(virtio_blk_state_save(&src, &good), 0);

	for (int k = 0; k < BB_NR; k++) {
		bad = good;
		bbad_apply(&bad, (enum bbad)k);
		memcpy(&snap, &dst, sizeof(snap));
		why[0] = 0;
		int ret = virtio_blk_state_load(&dst, &bad, why, sizeof(why));
		printf("\n    bad %s: %d, \"%s\"", bbad_names[k], ret, why);
		CU_ASSERT_EQUAL(ret, -EINVAL);
		CU_ASSERT(why[0] != 0 && strchr(why, '\n') == NULL);
		CU_ASSERT(memcmp(&snap, &dst, sizeof(snap)) == 0);
	}

	/* The good blob loads, and the device then answers as the source did,
	 * with ring views recomputed in this device's RAM. */
	int ret = virtio_blk_state_load(&dst, &good, why, sizeof(why));
	CU_ASSERT_EQUAL(ret, 0);
	if (ret)
		fprintf(stderr, "\n    %s", why);
	CU_ASSERT_EQUAL(reg_r(&dst, VIRTIO_MMIO_STATUS), live);
	CU_ASSERT_EQUAL(reg_r(&dst, VIRTIO_MMIO_QUEUE_READY), 1);
	CU_ASSERT(dst.q.desc == mem_gpa_to_hva(&mem, DESC_GPA, 16 * QNUM));
	CU_ASSERT(dst.q.avail == mem_gpa_to_hva(&mem, AVAIL_GPA, 6 + 2 * QNUM));
	CU_ASSERT(dst.q.used == mem_gpa_to_hva(&mem, USED_GPA, 6 + 8 * QNUM));
	CU_ASSERT_EQUAL(virtio_blk_state_save(&dst, &round), 0);
	CU_ASSERT(memcmp(&round, &good, sizeof(good)) == 0);

	/* Mid-handshake, a driver may have written features the device does
	 * not offer: that state moves as it is, and the destination refuses
	 * FEATURES_OK exactly where the source would have. */
	virtio_blk_reset(&src);
	fprintf(stderr, "\n    (two \"features refused\" lines follow; they are expected)\n");
	handshake(&src, VIRTIO_STATUS_DRIVER, FEAT_V1_HI | 0x100);
	CU_ASSERT_EQUAL(virtio_blk_state_save(&src, &bad), 0);
	ret = virtio_blk_state_load(&dst, &bad, why, sizeof(why));
	CU_ASSERT_EQUAL(ret, 0);
	if (ret)
		fprintf(stderr, "\n    %s", why);
	CU_ASSERT(dst.q.desc == NULL && !dst.q.ready);
	const uint32_t fok =
	    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	reg_w(&src, VIRTIO_MMIO_STATUS, fok);
	reg_w(&dst, VIRTIO_MMIO_STATUS, fok);
	CU_ASSERT_EQUAL(reg_r(&dst, VIRTIO_MMIO_STATUS), reg_r(&src, VIRTIO_MMIO_STATUS));
	CU_ASSERT_FALSE(reg_r(&dst, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);

	virtio_blk_close(&dst);
	virtio_blk_close(&src);
	mem_destroy(&mem);
	unlink(image);
}

static const struct ds_case cases[] = {
    {"anonymous workload moves between VMs at SYNC 2 and finishes", test_migrate_anon},
    {"file workload moves with its virtio-blk state; image exact", test_migrate_file},
    {"in-kernel irqchip: the LAPIC moves; mismatched VMs refuse", test_lapic},
    {"bad vCPU blobs are refused with a reason, vCPU untouched", test_vcpu_teeth},
    {"bad virtio-blk blobs are refused with a reason, device untouched", test_blk_teeth},
    {NULL, NULL},
};

int main(void)
{
	int fd = open("/dev/kvm", O_RDWR);
	if (fd < 0) {
		printf("test_vmstate: skipped: cannot open /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	close(fd);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	int ret = ds_run_suite("vmstate", cases);
	rmdir(dir);
	return ret;
}
