/*
 * A logging session: boot the guest with a workload, harvest the dirty log
 * at every epoch sync, check it with the oracle, and feed each epoch record
 * to the sinks.
 */
#ifndef LOGGER_SESSION_H
#define LOGGER_SESSION_H

#include <stdbool.h>

#include "logger/dlog/dlog.h"
#include "logger/epoch.h"
#include "logger/hostwb/hostwb.h"
#include "logger/migrate/migrate.h"
#include "util/fail.h"
#include "vmm/boot.h"

#define SESSION_MAX_SINKS 4

struct session_config {
	const char *kvm_path; /* normally /dev/kvm */
	const struct dlog_mode *mode;
	struct dlog_config dlog;
	const char *workload_name;
	struct boot_workload wl;
	const char *image_path; /* virtio-blk disk; required by file workloads */
	/* With image_pinned, the disk must be the file (st_dev, st_ino) the
	 * caller checked: a file put at image_path since is refused. */
	bool image_pinned;
	uint64_t image_dev, image_ino;
	const char *policy_name; /* file workloads: the policy's name, for outputs */
	uint64_t mem_bytes;
	bool verify;
	/* File workloads with verify: once the guest finished here, compare
	 * the image with what the workload must have produced, a verdict of
	 * the run (run and receive; compare measures rather than checks). */
	bool verify_image;
	bool echo_console;
	/* Epochs by the host's clock: every epoch_ms of wall time the host
	 * closes one while the guest runs on, wl.epochs of them; the guest
	 * runs rounds of wl.writes_per_epoch stores until told to stop.
	 * Anonymous workloads only; 0: the guest's SYNC ends each epoch. */
	uint32_t epoch_ms;
	/* --dirty-limit: each vCPU's dirty rate capped at this many MiB/s,
	 * held out of the guest at its ring-full exits (ring only); 0 none. */
	uint32_t dirty_limit_mibs;
	/* Print a live progress line on stderr (a terminal) once an epoch
	 * lasts longer than a second. */
	bool progress;
	bool test_drop_device_writes; /* tests only: forget the device's RAM stores */
	/* TEST HOOK (vmm/kvm.h): when the first epoch ends, make the next
	 * call of this KVM ioctl fail with errno test_kvm_fail_err.  Only
	 * tests/test_exit.c sets it, through dirtyscope's
	 * DIRTYSCOPE_TEST_KVM_FAIL. */
	enum kvm_test_call test_kvm_fail;
	int test_kvm_fail_err;
	/* File workloads: host writeback (logger/hostwb/hostwb.h), or NULL. */
	const struct hostwb_config *hostwb;
	struct hostwb_stats *hostwb_stats; /* receives its figures; may be NULL */
	/* Tests only: called after each host writeback commit, vCPU stopped. */
	void (*on_commit)(void *ctx, uint64_t epoch, const struct guest_mem *m,
			  const struct pcview *view, const char *image_path);
	void *on_commit_ctx;
	/* Live migration: send the guest away (--migrate-to), or NULL. */
	const struct migrate_config *migrate;
	struct migrate_stats *migrate_stats; /* receives its figures; may be NULL */
	/* Live migration: the guest comes from this stream (HELLO read)
	 * instead of booting, or NULL. */
	struct migin *incoming;
	/* Tests only: called on the destination with the guest loaded, just
	 * before it runs. */
	void (*on_incoming)(void *ctx, const struct guest_mem *m);
	void *on_incoming_ctx;
	struct sink *sinks[SESSION_MAX_SINKS];
	int nr_sinks;
	/* Receives what failed, or DS_FAIL_NONE (util/fail.h); may be NULL. */
	enum ds_fail *fail;
};

/*
 * Run the session to completion.  Returns 0 when every epoch ran and nothing
 * was lost, 1 when the oracle found lost pages (or host writeback's --verify
 * found the image behind guest RAM after a commit, or the guest's own data
 * check failed, or cfg->verify_image found the image differing), or -errno
 * after a message.  `summary`, if non-NULL, receives the totals and the
 * verdicts (logger/epoch.h).  Once the guest ran, the sinks get the summary
 * whatever happened: a run that failed on the way reports the epochs it
 * completed and then a summary naming the failure (summary->reported).
 *
 * *cfg->fail, if cfg->fail is set, receives what failed, decided by the
 * phase the failure came in (util/fail.h), never by its errno:
 *   DS_FAIL_NONE         0 returned
 *   DS_FAIL_CHECK        1 returned; or the dirty log itself lost entries
 *                        (a dirty ring overflow: -EOVERFLOW)
 *   DS_FAIL_USAGE        the configuration does not fit: RAM size, a file
 *                        workload without an image, an image the device
 *                        cannot serve, a workload larger than the guest can
 *                        map, what the log mode cannot take (--ring-entries
 *                        out of KVM's range), a host writeback journal that
 *                        is not ours or in use, options that exclude each
 *                        other
 *   DS_FAIL_PLATFORM     KVM or the host refused to set the machine up: the
 *                        device cannot be opened or is not KVM, a
 *                        capability is missing, a setup ioctl or allocation
 *                        failed
 *   DS_FAIL_MIGRATION    cfg->incoming: the guest never arrived (the stream
 *                        was refused, the source aborted, the link dropped)
 *   DS_FAIL_RUN          after the guest started: KVM_RUN or another KVM
 *                        call failed, the guest panicked, crashed or broke
 *                        the hypercall protocol, a harvest failed, host
 *                        writeback's I/O failed
 *   DS_FAIL_INTERRUPTED  vm_request_stop (SIGINT, SIGTERM) stopped it
 *
 * With cfg->migrate, a run whose guest moved to the destination ends at
 * the switch-over and returns as a complete one (summary->migrated); one
 * whose migration failed runs its guest to the end here, and returns 0
 * with DS_FAIL_MIGRATION: it completed, but not as asked.
 * cfg->migrate_stats, if non-NULL, receives the migration's figures.  With
 * cfg->incoming, the guest's RAM and state come from the stream: -EPROTO
 * (a refused stream), -ECANCELED (the source aborted) and -ECONNRESET
 * (the link dropped) mean the guest never ran here.
 */
int session_run(const struct session_config *cfg, struct run_summary *summary);

/* Fill the machine and workload parts of cfg from the incoming stream's
 * HELLO (checked by migin_open) and point cfg->incoming at in.  The disk is
 * `image`, a file this host's user named and the caller checked; never a
 * path from the stream (none for a guest with a disk fails the run).  The caller chooses
 * the log mode, --verify and the outputs. */
void session_config_incoming(struct session_config *cfg, struct migin *in, const char *image);

/* Whether an ABI_WL_* workload runs in the guest's file world. */
static inline bool session_file_workload(uint32_t wl)
{
	return wl >= ABI_WL_FIRST_FILE && wl <= ABI_WL_LAST;
}

#endif
