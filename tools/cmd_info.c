/*
 * dirtyscope info: what this host's KVM offers for dirty logging, and which
 * mechanism KVM itself uses to notice guest stores.  The mechanism is read
 * from the loaded KVM module's parameters, not assumed:
 *   kvm_intel with ept=Y and pml=Y (needs eptad=Y): PML, the CPU logs GPAs
 *   kvm_intel with ept=Y, pml=N: EPT write-protection
 *   kvm_intel with ept=N, or kvm_pvm: shadow paging, write-protection
 *   kvm_amd with npt=Y: NPT write-protection (no PML on AMD)
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logger/dlog/dlog.h"
#include "util/json.h"
#include "tools/cli.h"
#include "tools/guestkernel.h"
#include "vmm/boot.h"
#include "vmm/kvm.h"

/* Read a one-character module parameter: 1 for Y/1, 0 for N/0, -1 if absent. */
static int module_param(const char *module, const char *param)
{
	char path[256], c = 0;
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", module, param);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int ok = fread(&c, 1, 1, f) == 1;
	fclose(f);
	if (!ok)
		return -1;
	return c == 'Y' || c == 'y' || c == '1';
}

static int module_loaded(const char *module)
{
	char path[256];
	snprintf(path, sizeof(path), "/sys/module/%s", module);
	return access(path, F_OK) == 0;
}

static const char *mechanism(void)
{
	if (module_loaded("kvm_intel")) {
		if (module_param("kvm_intel", "ept") != 1)
			return "shadow paging with write-protection (kvm_intel, ept=N)";
		if (module_param("kvm_intel", "pml") == 1 &&
		    module_param("kvm_intel", "eptad") != 0)
			return "PML with EPT A/D bits (kvm_intel, ept=Y, eptad=Y, pml=Y)";
		return "EPT write-protection (kvm_intel, pml=N)";
	}
	if (module_loaded("kvm_amd")) {
		if (module_param("kvm_amd", "npt") == 0)
			return "shadow paging with write-protection (kvm_amd, npt=N)";
		return "NPT write-protection (kvm_amd)";
	}
	if (module_loaded("kvm_pvm"))
		return "shadow paging with write-protection (kvm_pvm: no EPT/NPT, no PML)";
	return "unknown (no kvm_intel, kvm_amd or kvm_pvm module found)";
}

static const struct cli_exit info_exits[] = {
    {DS_EXIT_OK, NULL},
    {DS_EXIT_USAGE, NULL},
    {DS_EXIT_PLATFORM, "no KVM device at --kvm-device, no permission, not KVM"},
    {DS_EXIT_FAILED, "the listing could not be written"},
    {-1, NULL},
};

/* Where the guest kernel comes from: the binary that embeds it, and the
 * ELF file QEMU can boot. */
/* Everything info reports, gathered once for either output. */
struct info {
	int api_version;
	const char *mechanism;
	int manual, ring, ring_acq, ring_with_bitmap, stats_fd, memslots, readonly_mem;
	int max_vcpus; /* KVM_CAP_MAX_VCPUS: what --vcpus may ask, with ABI_MAX_CPUS */
	unsigned ring_min;
	int ring_max;
	struct guest_kernel guest;
	bool pvm;
	/* Empty when KVM opened; else why not.  The guest kernel's lines are
	 * printed either way: QEMU and libvirt boot that file without KVM. */
	char kvm_error[160];
};

static void print_guest_text(const struct info *in)
{
	printf("guest kernel             %s (embedded, %zu bytes)\n", in->guest.self,
	       in->guest.embedded_bytes);
	printf("guest kernel ELF         %s\n",
	       in->guest.elf[0] ? in->guest.elf : "not found (neither installed nor built)");
}

static void print_text(const struct info *in, struct kvm *kvm)
{
	if (in->kvm_error[0]) {
		printf("KVM                      not available: %s\n", in->kvm_error);
		printf("dirty-log mechanism      %s\n", in->mechanism);
		print_guest_text(in);
		return;
	}
	printf("KVM API version          %d\n", in->api_version);
	printf("dirty-log mechanism      %s\n", in->mechanism);
	printf("capabilities\n");
	printf("  MANUAL_DIRTY_LOG_PROTECT2  %d (%s%s)\n", in->manual,
	       in->manual & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE ? "manual-protect" : "none",
	       in->manual & KVM_DIRTY_LOG_INITIALLY_SET ? ", initially-set" : "");
	printf("  DIRTY_LOG_RING             %d bytes (%d entries max)\n", in->ring,
	       in->ring / (int)sizeof(struct kvm_dirty_gfn));
	printf("  DIRTY_LOG_RING_ACQ_REL     %d bytes\n", in->ring_acq);
	printf("  DIRTY_LOG_RING_WITH_BITMAP %d\n", in->ring_with_bitmap);
	printf("  BINARY_STATS_FD            %d\n", in->stats_fd);
	printf("  NR_MEMSLOTS                %d\n", in->memslots);
	printf("  READONLY_MEM               %d\n", in->readonly_mem);
	printf("  MAX_VCPUS                  %d\n", in->max_vcpus);
	printf("log modes\n");
	for (int i = 0; dlog_modes[i]; i++) {
		char why[160] = "";
		struct dlog_config cfg = dlog_config_default();
		enum ds_fail r = dlog_modes[i]->supported(kvm, &cfg, why, sizeof(why));
		printf("  %-7s %-9s %s%s%s\n", dlog_modes[i]->name, r ? "no" : "available",
		       dlog_modes[i]->desc, r ? ": " : "", why);
	}
	printf("ring entries             %u..%d (a power of two)\n", in->ring_min, in->ring_max);
	printf("vcpus                    1..%d\n",
	       in->max_vcpus > 0 && in->max_vcpus < ABI_MAX_CPUS ? in->max_vcpus : ABI_MAX_CPUS);
	print_guest_text(in);
	/* The range above is KVM's; on kvm_pvm much of it cannot hold a run,
	 * and saying so here spares the user finding out by an overflow. */
	if (in->pvm)
		printf(
		    "note                     kvm_pvm emulates guest instructions and pushes one "
		    "ring\n"
		    "                         entry per emulated store, in batches that can run "
		    "past\n"
		    "                         a ring's soft limit; measured here: 256 entries "
		    "overflow\n"
		    "                         at boot for any workload, under 4096 at boot for "
		    "the\n"
		    "                         default one (512 pages), and the file workloads "
		    "need\n"
		    "                         16384 to 65536 or a bitmap mode. 'run' detects an\n"
		    "                         overflow and names a size to try "
		    "(docs/platform-notes.md).\n"
		    "                         Those sizes were measured without the reaper "
		    "thread\n"
		    "                         (--reaper-us 0); with it, the default, a ring "
		    "holds\n"
		    "                         what comes in one period, not yet measured "
		    "here.\n");
}

/* One JSON object, the same facts under kebab-case keys (docs/cli.md). */
static void print_json(const struct info *in, struct kvm *kvm)
{
	if (in->kvm_error[0]) {
		/* The same keys, null where only KVM could answer. */
		printf("{\"kvm-api-version\":null,\"dirty-log-mechanism\":");
		json_string(stdout, in->mechanism);
		printf(",\"capabilities\":null,\"log-modes\":null,\"ring-entries-min\":%u,"
		       "\"ring-entries-max\":null,\"vcpus-max\":null",
		       in->ring_min);
		goto guest;
	}
	printf("{\"kvm-api-version\":%d,\"dirty-log-mechanism\":", in->api_version);
	json_string(stdout, in->mechanism);
	printf(
	    ",\"capabilities\":{\"manual-dirty-log-protect2\":%d,\"manual-protect\":%s,"
	    "\"initially-set\":%s,\"dirty-log-ring-bytes\":%d,\"dirty-log-ring-acq-rel-bytes\":%d,"
	    "\"dirty-log-ring-with-bitmap\":%d,\"binary-stats-fd\":%d,\"nr-memslots\":%d,"
	    "\"readonly-mem\":%d,\"max-vcpus\":%d}",
	    in->manual, in->manual & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE ? "true" : "false",
	    in->manual & KVM_DIRTY_LOG_INITIALLY_SET ? "true" : "false", in->ring, in->ring_acq,
	    in->ring_with_bitmap, in->stats_fd, in->memslots, in->readonly_mem, in->max_vcpus);
	printf(",\"log-modes\":[");
	for (int i = 0; dlog_modes[i]; i++) {
		char why[160] = "";
		struct dlog_config cfg = dlog_config_default();
		enum ds_fail r = dlog_modes[i]->supported(kvm, &cfg, why, sizeof(why));
		printf("%s{\"name\":", i ? "," : "");
		json_string(stdout, dlog_modes[i]->name);
		printf(",\"available\":%s,\"description\":", r ? "false" : "true");
		json_string(stdout, dlog_modes[i]->desc);
		printf(",\"reason\":");
		json_string_or_null(stdout, r ? why : NULL);
		printf("}");
	}
	printf("],\"ring-entries-min\":%u,\"ring-entries-max\":%d,\"vcpus-max\":%d", in->ring_min,
	       in->ring_max,
	       in->max_vcpus > 0 && in->max_vcpus < ABI_MAX_CPUS ? in->max_vcpus : ABI_MAX_CPUS);
guest:
	printf(",\"guest-kernel\":");
	json_string_or_null(stdout, in->guest.elf[0] ? in->guest.elf : NULL);
	printf(",\"guest-kernel-embedded-in\":");
	json_string_or_null(stdout, in->guest.self_ok ? in->guest.self : NULL);
	printf(",\"guest-kernel-embedded-bytes\":%zu,\"kvm-pvm\":%s,\"kvm-error\":",
	       in->guest.embedded_bytes, in->pvm ? "true" : "false");
	json_string_or_null(stdout, in->kvm_error[0] ? in->kvm_error : NULL);
	printf("}\n");
}

enum ds_fail cmd_info(int argc, char **argv)
{
	const char *path = "/dev/kvm";
	bool json = false;
	static const struct option opts[] = {
	    {"kvm-device", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'k') {
			path = optarg;
		} else if (opt == 'j') {
			json = true;
		} else if (opt == 'h') {
			printf(
			    "usage: dirtyscope info [--kvm-device PATH] [--json]\n"
			    "Print the KVM API version, the dirty-logging capabilities dirtyscope\n"
			    "uses, the mechanism KVM uses on this host to log guest stores, and\n"
			    "where the guest kernel comes from: the binary it is embedded in, and\n"
			    "the same kernel as an ELF file QEMU boots (-kernel, PVH).\n"
			    "\n"
			    "  --kvm-device PATH   KVM device (default /dev/kvm)\n"
			    "  --json              one JSON object on stdout instead of text\n"
			    "  -h, --help          this text\n"
			    "\n");
			cli_exit_status(stdout, info_exits);
			return DS_FAIL_NONE;
		} else if (optopt == 'k') {
			return usage_error("info: %s needs an argument", argv[optind - 1]);
		} else {
			return usage_error("info: unknown option %s (try --help)",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("info: unexpected argument '%s'", argv[optind]);

	/* Whatever keeps the device from opening as KVM is the platform's
	 * (kvm_open printed what, and the exit status stays 3); what info knows
	 * without KVM, where the guest kernel is, is still printed, since QEMU
	 * and libvirt can boot it on such a host. */
	struct kvm kvm;
	int err = kvm_open(&kvm, path);
	struct info in = {
	    .mechanism = mechanism(),
	    .ring_min = (unsigned)(DLOG_RING_MIN_BYTES / sizeof(struct kvm_dirty_gfn)),
	    .pvm = module_loaded("kvm_pvm"),
	};
	guestkernel_find(&in.guest);
	if (err) {
		snprintf(in.kvm_error, sizeof(in.kvm_error), "%s: %s", path, strerror(-err));
	} else {
		in.api_version = kvm.api_version;
		in.manual = kvm_cap(&kvm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
		in.ring = kvm_cap(&kvm, KVM_CAP_DIRTY_LOG_RING);
		in.ring_acq = kvm_cap(&kvm, KVM_CAP_DIRTY_LOG_RING_ACQ_REL);
		in.ring_with_bitmap = kvm_cap(&kvm, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP);
		in.stats_fd = kvm_cap(&kvm, KVM_CAP_BINARY_STATS_FD);
		in.memslots = kvm_cap(&kvm, KVM_CAP_NR_MEMSLOTS);
		in.readonly_mem = kvm_cap(&kvm, KVM_CAP_READONLY_MEM);
		in.max_vcpus = kvm_cap(&kvm, KVM_CAP_MAX_VCPUS);
		in.ring_max =
		    (in.ring_acq ? in.ring_acq : in.ring) / (int)sizeof(struct kvm_dirty_gfn);
	}
	if (json)
		print_json(&in, err ? NULL : &kvm);
	else
		print_text(&in, err ? NULL : &kvm);
	if (err)
		return DS_FAIL_PLATFORM;
	kvm_close(&kvm);
	return DS_FAIL_NONE;
}
