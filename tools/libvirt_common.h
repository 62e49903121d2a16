/*
 * What the `dirtyscope libvirt` subcommands share: the standalone guest's
 * workload options, the transient domain they become, and SIGINT.
 */
#ifndef TOOLS_LIBVIRT_COMMON_H
#define TOOLS_LIBVIRT_COMMON_H

#include <signal.h>
#include <stdint.h>

#include "util/fail.h"
#include "virt/virt_domain.h"

/* The guest's workload, as the ds.* command line gives it (guest/pvh.c). */
struct lv_workload {
	const char *name; /* seq, random or hotcold */
	uint32_t id;	  /* ABI_WL_* */
	uint64_t wss, writes, seed, epochs;
	uint64_t hot_pages, hot_pct; /* effective values (hotcold) */
	uint64_t mem_mib;
};

/* Set by SIGINT and SIGTERM once lv_catch_signals ran. */
extern volatile sig_atomic_t lv_stop;

/* SIGINT and SIGTERM set lv_stop and ask a running dirtyscope guest to stop
 * (vm_request_stop); no SA_RESTART, so a wait ends early. */
void lv_catch_signals(void);

/* Defaults: seq, `wss` pages, writes = wss, seed 1, run until destroyed,
 * 128 MiB. */
void lv_workload_default(struct lv_workload *w, uint64_t wss);

/*
 * Parse one of the workload options (--workload, --wss, --writes, --seed,
 * --mem, --hot-pages, --hot-pct) by its long name `opt`.  Returns 1 when
 * taken, 0 when `opt` is not one of them, or DS_FAIL_USAGE's -1 after the
 * usage line.
 */
int lv_workload_opt(struct lv_workload *w, const char *opt, const char *arg);

/* --calc-time, as dirtyrate and accuracy take it: whole seconds from 1 to
 * VIRT_DR_MAX_CALC_S into *out.  0, or -1 after the usage line. */
int lv_parse_calc_time(const char *arg, unsigned *out);

/* Check the whole (the working set fits the RAM, hotcold's geometry) and
 * fill the effective values.  DS_FAIL_USAGE after one line, or NONE. */
enum ds_fail lv_workload_check(struct lv_workload *w);

/* The guest command line for `w` into buf. */
void lv_cmdline(const struct lv_workload *w, char *buf, size_t len);

/* The guest kernel's ELF file into buf, or DS_FAIL_PLATFORM after one line
 * when this dirtyscope has none (a build without guest.elf beside it). */
enum ds_fail lv_kernel(char *buf, size_t len);

enum ds_fail cmd_libvirt_accuracy(int argc, char **argv);

#endif
