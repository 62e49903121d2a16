/*
 * example_epoch_gpas: the smallest program that uses dirtyscope as a library.
 *
 * It links only ds_logger, runs a logging session in-process (bitmap mode,
 * seq workload, 256 MiB guest, 64-page working set, 3 epochs, oracle on) and
 * consumes the epoch records through its own sink, printing each epoch's
 * number, its dirty-page count and the first few dirty guest-physical
 * addresses.  It shows the one thing every consumer must get right: a dirty
 * set holds RAM indexes, and mem_index_to_gpa() turns them into GPAs (they
 * differ above the 3 GiB hole).
 *
 * Exit codes: 0 ok, 1 lost pages, 3 /dev/kvm cannot be opened, 4 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "abi/boot.h"
#include "logger/session.h"

#define EXAMPLE_GPAS_SHOWN 8

static void example_epoch(struct sink *s, const struct epoch_rec *e)
{
	uint64_t shown =
	    e->dirty->count < EXAMPLE_GPAS_SHOWN ? e->dirty->count : EXAMPLE_GPAS_SHOWN;

	fprintf(s->f, "epoch %" PRIu64 ": %" PRIu64 " dirty pages, first GPAs:", e->epoch,
		e->dirty_pages);
	/* The set is sorted ascending, so these are the lowest dirty GPAs. */
	for (uint64_t i = 0; i < shown; i++)
		fprintf(s->f, " %#" PRIx64, mem_index_to_gpa(e->mem, e->dirty->list[i]));
	fprintf(s->f, "%s\n", e->dirty->count > shown ? " ..." : "");
}

int main(void)
{
	struct sink sink = {.epoch = example_epoch, .f = stdout};
	struct session_config cfg = {
	    .kvm_path = "/dev/kvm",
	    .mode = &dlog_mode_bitmap,
	    .dlog = dlog_config_default(),
	    .workload_name = "seq",
	    .wl = {.workload = ABI_WL_SEQ,
		   .epochs = 3,
		   .wss_pages = 64,
		   .writes_per_epoch = 64,
		   .seed = 1,
		   .hot_pct = 90},
	    .mem_bytes = 256ULL << 20,
	    .verify = true,
	    .sinks = {&sink},
	    .nr_sinks = 1,
	};
	struct run_summary sum;

	int ret = session_run(&cfg, &sum);
	switch (ret) {
	case 0:
		printf("%" PRIu64 " epochs, %" PRIu64 " dirty pages, 0 lost\n", sum.epochs,
		       sum.dirty_pages);
		return 0;
	case 1:
		printf("%" PRIu64 " lost pages\n", sum.lost_pages);
		return 1;
	case -ENOENT:
	case -EACCES:
		return 3; /* the library has said which device and why */
	default:
		fprintf(stderr, "example_epoch_gpas: session failed: %s\n",
			ret < 0 ? strerror(-ret) : "unexpected result");
		return 4;
	}
}
