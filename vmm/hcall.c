#include <errno.h>
#include <string.h>

#include "vmm/hcall.h"

const char *hcall_name(uint32_t nr)
{
	switch (nr) {
	case ABI_HC_READY:
		return "ready";
	case ABI_HC_SYNC:
		return "sync";
	case ABI_HC_LOG:
		return "log";
	case ABI_HC_DONE:
		return "done";
	case ABI_HC_PANIC:
		return "panic";
	case ABI_HC_START_APS:
		return "start-aps";
	}
	return "unknown";
}

int hcall_read(const struct guest_mem *m, uint32_t cpu, uint32_t nr, struct hcall *hc)
{
	struct abi_hcall_page page;
	if (cpu >= ABI_MAX_CPUS)
		return -EINVAL;
	const void *src = mem_gpa_to_hva(m, abi_hcall_page_gpa(cpu), sizeof(page));
	uint64_t len;

	if (!src)
		return -EINVAL;
	memcpy(&page, src, sizeof(page));
	memset(hc, 0, sizeof(*hc));
	hc->nr = nr;
	hc->cpu = cpu;
	memcpy(hc->args, page.args, sizeof(hc->args));

	switch (nr) {
	case ABI_HC_SYNC:
		memcpy(hc->cpu_pages, page.buf, sizeof(hc->cpu_pages));
		return 0;
	case ABI_HC_READY:
	case ABI_HC_DONE:
	case ABI_HC_START_APS:
		return 0;
	case ABI_HC_LOG:
		len = page.args[0];
		break;
	case ABI_HC_PANIC:
		len = page.args[ABI_PANIC_LEN];
		break;
	default:
		return -EINVAL;
	}
	if (len >= sizeof(hc->text))
		return -EINVAL;
	for (uint64_t i = 0; i < len; i++) {
		char c = page.buf[i];
		hc->text[i] = (c >= 0x20 && c <= 0x7e) ? c : '?';
	}
	return 0;
}
