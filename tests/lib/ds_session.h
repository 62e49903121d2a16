/* Session and workload set-up shared by the suites that boot the guest. */
#ifndef TESTS_DS_SESSION_H
#define TESTS_DS_SESSION_H

#include <stdio.h>
#include <string.h>

#include "vmm/wlnames.h"
#include "abi/pcache.h"
#include "abi/wlfile.h"
#include "fs/dsfs.h"
#include "logger/session.h"

/* The anonymous workload every KVM suite runs: seed 42, one write per
 * working-set page per epoch, hotcold's hot tenth taking 90% of writes. */
static inline struct boot_workload ds_anon_workload(uint32_t workload, uint64_t wss,
						    uint32_t epochs)
{
	return (struct boot_workload){.workload = workload,
				      .epochs = epochs,
				      .wss_pages = wss,
				      .writes_per_epoch = wss,
				      .seed = 42,
				      .hot_pages = wss / 10,
				      .hot_pct = 90};
}

/* The dirty-log settings `dirtyscope run` defaults to. */
static inline struct dlog_config ds_dlog_config(void)
{
	return dlog_config_default();
}

/* A verified session of log mode `mode` on /dev/kvm running that workload
 * in `mem` bytes of RAM, feeding one sink. */
static inline void ds_session_config(struct session_config *cfg, const char *mode,
				     uint32_t workload, uint64_t mem, uint64_t wss, uint32_t epochs,
				     struct sink *sink)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kvm_path = "/dev/kvm";
	cfg->mode = dlog_find(mode);
	cfg->dlog = ds_dlog_config();
	cfg->workload_name = "test";
	cfg->wl = ds_anon_workload(workload, wss, epochs);
	cfg->mem_bytes = mem;
	cfg->verify = true;
	cfg->sinks[0] = sink;
	cfg->nr_sinks = sink ? 1 : 0;
}

/* A fresh image holding the workload's file of `pages` pages, as `dirtyscope
 * run` makes it, with 8 spare blocks after it.  Returns 0 or -errno. */
static inline int ds_file_image(const char *path, uint32_t workload, uint64_t pages)
{
	struct dsfs_file_spec f = {.capacity = pages * 4096};
	const char *name = abi_wl_file_name(workload);
	char why[256];
	if (name) {
		snprintf(f.name, sizeof(f.name), "%s", name);
		f.size = workload == ABI_WL_LOG ? 0 : f.capacity;
	}
	int ret = dsfs_mkimage(path, (1 + pages + 8) * 4096, &f, name ? 1 : 0, why, sizeof(why));
	if (ret)
		fprintf(stderr, "mkimage %s: %s\n", path, why);
	return ret;
}

/* A verified bitmap session of a file workload on `image`, 64 MiB of RAM,
 * seed 7, the run command's flush and sync defaults left at 0 (never). */
static inline void ds_file_config(struct session_config *cfg, const char *image,
				  uint32_t workload, uint32_t policy, uint64_t pages,
				  uint32_t epochs, uint64_t writes, struct sink *sink)
{
	ds_session_config(cfg, "bitmap", workload, 64ull << 20, pages, epochs, sink);
	cfg->policy_name = policy_name_of(policy);
	cfg->image_path = image;
	cfg->wl = (struct boot_workload){.workload = workload,
					 .epochs = epochs,
					 .wss_pages = pages,
					 .writes_per_epoch = writes,
					 .seed = 7,
					 .policy = policy};
}

#endif
