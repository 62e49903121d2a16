/* Session and workload set-up shared by the suites that boot the guest. */
#ifndef TESTS_DS_SESSION_H
#define TESTS_DS_SESSION_H

#include <string.h>

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
	return (struct dlog_config){.ring_entries = 4096,
				    .clear_chunk_pages = DLOG_CLEAR_CHUNK_PAGES};
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

#endif
