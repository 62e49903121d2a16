/*
 * libFuzzer target: the vCPU state blob's validation (vmm/vcpu_state.c's
 * vcpu_state_check, the checks vcpu_state_load makes before any ioctl),
 * without KVM.  The first input byte says whether the destination VM has
 * an in-kernel irqchip; the rest is the blob (zero-padded or cut to size,
 * as the migration receiver only passes blobs of exactly that size).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vcpu_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vcpu_state s;
	char why[256];

	if (size < 1)
		return 0;
	bool lapic = data[0] & 1;
	memset(&s, 0, sizeof(s));
	memcpy(&s, data + 1, size - 1 < sizeof(s) ? size - 1 : sizeof(s));
	why[0] = 0;
	if (vcpu_state_check(&s, lapic, why, sizeof(why)) && !why[0])
		abort(); /* a refusal always says why */
	return 0;
}
