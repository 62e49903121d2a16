/* Host side of the hypercall ABI (include/abi/hcall.h). */
#ifndef VMM_HCALL_H
#define VMM_HCALL_H

#include <stdint.h>
#include "abi/hcall.h"
#include "vmm/mem.h"

/* A hypercall, copied out of guest memory once and validated. */
struct hcall {
	uint32_t nr;
	uint64_t args[ABI_HCALL_NR_ARGS];
	char text[ABI_HCALL_BUF_SIZE]; /* LOG and PANIC: printable, NUL-terminated */
	/* SYNC: buf's first words as the guest left them, unchecked (the
	 * anonymous workload's per-CPU pages: include/abi/hcall.h). */
	uint64_t cpu_pages[ABI_MAX_CPUS];
	uint32_t cpu; /* the vCPU that made the call */
};

/*
 * Snapshot vCPU cpu's hypercall page for call `nr`.  The copy is taken
 * once, so a guest rewriting the page cannot change what was validated.
 * Returns 0, or -EINVAL for an unknown call or a text length beyond the
 * buffer.
 */
int hcall_read(const struct guest_mem *m, uint32_t cpu, uint32_t nr, struct hcall *hc);

/* Name of a call ("sync", ...), or "unknown". */
const char *hcall_name(uint32_t nr);

#endif
