/*
 * TEST HOOKS: environment variables that only tests set, read once the
 * options are parsed (tools/runopts.h).  Nothing here is for users, and no
 * usage text mentions it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abi/boot.h"
#include "abi/pcache.h"
#include "tools/cli.h"
#include "tools/runopts.h"
#include "util/parse.h"

/*
 * TEST HOOK: DIRTYSCOPE_TEST_KVM_FAIL=CALL:ERRNO makes the KVM ioctl CALL
 * (KVM_RUN or KVM_GET_DIRTY_LOG) fail once with ERRNO (a number, or EINVAL,
 * EPERM, EIO, EFAULT, ENOMEM) after the first epoch, as if KVM had refused
 * it mid-run (vmm/kvm.h).  tests/test_exit.c uses it to show that such a
 * failure exits 4 whatever its errno; it is not for users, and no usage text
 * mentions it.
 */
static enum ds_fail kvm_fail_hook(struct session_config *cfg)
{
	static const struct {
		const char *name;
		enum kvm_test_call call;
	} calls[] = {{"KVM_RUN", KVM_TEST_RUN}, {"KVM_GET_DIRTY_LOG", KVM_TEST_GET_DIRTY_LOG}};
	static const struct {
		const char *name;
		int err;
	} errs[] = {{"EINVAL", EINVAL},
		    {"EPERM", EPERM},
		    {"EIO", EIO},
		    {"EFAULT", EFAULT},
		    {"ENOMEM", ENOMEM}};
	const char *v = getenv("DIRTYSCOPE_TEST_KVM_FAIL");
	if (!v || !*v)
		return DS_FAIL_NONE;
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : 0;
	for (size_t i = 0; colon && i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (strlen(calls[i].name) != n || strncmp(v, calls[i].name, n))
			continue;
		uint64_t e = 0;
		for (size_t k = 0; k < sizeof(errs) / sizeof(errs[0]); k++)
			if (!strcmp(colon + 1, errs[k].name))
				e = (uint64_t)errs[k].err;
		if (e || !parse_u64(colon + 1, 1, 4095, &e)) {
			cfg->test_kvm_fail = calls[i].call;
			cfg->test_kvm_fail_err = (int)e;
			return DS_FAIL_NONE;
		}
	}
	return usage_error("DIRTYSCOPE_TEST_KVM_FAIL=%s: a test hook, KVM_RUN:ERRNO or "
			   "KVM_GET_DIRTY_LOG:ERRNO",
			   v);
}

/*
 * TEST HOOK: DIRTYSCOPE_TEST_STOP_IN_COMMIT=N raises SIGINT inside the host
 * writeback commit of epoch N (logger/hostwb/hostwb.h), as if the user had
 * pressed ^C just then.  tests/test_stop.c uses it to show that the commit
 * still completes and the interrupted run leaves a clean journal at epoch
 * N; it needs --writeback host.
 */
static enum ds_fail stop_in_commit_hook(struct run_opts *o)
{
	const char *v = getenv("DIRTYSCOPE_TEST_STOP_IN_COMMIT");
	if (!v || !*v)
		return DS_FAIL_NONE;
	uint64_t n;
	if (!o->cfg.hostwb || parse_u64(v, 1, UINT32_MAX, &n))
		return usage_error("DIRTYSCOPE_TEST_STOP_IN_COMMIT=%s: a test hook, an epoch >= 1, "
				   "with --writeback host",
				   v);
	o->hostwb.test_stop_in_commit = n;
	return DS_FAIL_NONE;
}

/*
 * TEST HOOK: DIRTYSCOPE_TEST_RING_OVERRUN=N makes the dirty-ring harvest of
 * epoch N (0: the boot phase) find an entry past the end of what KVM
 * published, as after KVM overran the ring (logger/dlog/dlog.h).  A correct
 * KVM honours the ring's soft limit and never overruns it, so this is how
 * tests reach the overflow path on every host; it needs --log ring.
 */
static enum ds_fail ring_overrun_hook(struct run_opts *o)
{
	const char *v = getenv("DIRTYSCOPE_TEST_RING_OVERRUN");
	if (!v || !*v)
		return DS_FAIL_NONE;
	uint64_t n;
	if (!o->cfg.mode || strcmp(o->cfg.mode->name, "ring") || parse_u64(v, 0, UINT32_MAX, &n))
		return usage_error("DIRTYSCOPE_TEST_RING_OVERRUN=%s: a test hook, an epoch >= 0 "
				   "(0: boot), with --log ring",
				   v);
	o->cfg.dlog.test_ring_overrun = n + 1;
	return DS_FAIL_NONE;
}

/*
 * TEST HOOK: DIRTYSCOPE_TEST_STALE_TLB=1 sets ABI_BOOT_F_TEST_STALE_TLB
 * (include/abi/boot.h): under --policy noflush with several vCPUs, a page
 * the guest cleans while another CPU runs a process mapping it stays
 * writable there, as a stale TLB entry would, so noflush's race shows on
 * a platform that flushes guest TLBs on every vCPU switch.  Tests use it
 * to show that compare and --verify catch the race.
 */
static enum ds_fail stale_tlb_hook(struct run_opts *o)
{
	const char *v = getenv("DIRTYSCOPE_TEST_STALE_TLB");
	if (!v || !*v)
		return DS_FAIL_NONE;
	if (strcmp(v, "1") || o->cfg.wl.policy != ABI_POLICY_NOFLUSH || o->cfg.wl.nr_cpus < 2)
		return usage_error("DIRTYSCOPE_TEST_STALE_TLB=%s: a test hook, 1, with --policy "
				   "noflush and --vcpus 2 or more",
				   v);
	o->cfg.wl.flags |= ABI_BOOT_F_TEST_STALE_TLB;
	return DS_FAIL_NONE;
}

enum ds_fail runopts_test_hooks(struct run_opts *o)
{
	enum ds_fail fail = kvm_fail_hook(&o->cfg);
	if (!fail)
		fail = stop_in_commit_hook(o);
	if (!fail)
		fail = ring_overrun_hook(o);
	return fail ? fail : stale_tlb_hook(o);
}
