/* SPDX-License-Identifier: MIT */
/*
 * The one user program: every file workload and the bad-system-call test,
 * chosen by args->workload.  The kernel starts it as the first process.
 */
#include "ulib.h"

int main(const struct abi_wl_args *a);

/* Names for log lines; the file names (abi_wl_file_name) differ for some. */
static const char *workload_name(uint32_t w)
{
	switch (w) {
	case ABI_WL_DB:
		return "db";
	case ABI_WL_LOG:
		return "log";
	case ABI_WL_SHARED2:
		return "shared2";
	case ABI_WL_PRIVATE:
		return "private";
	case ABI_WL_FORKCOW:
		return "forkcow";
	case ABI_WL_MIXED:
		return "mixed";
	case ABI_WL_BADSYS:
		return "badsys";
	default:
		return "user";
	}
}

/* Called by crt0's _start; the return value is the exit status. */
int main(const struct abi_wl_args *a)
{
	wl_name = workload_name(a->workload);
	/* Every generator divides by the page count. */
	if (abi_wl_is_file(a->workload) && a->pages == 0) {
		ulog("no pages to work on (args pages 0)");
		return 1;
	}
	switch (a->workload) {
	case ABI_WL_DB:
		return wl_db(a);
	case ABI_WL_LOG:
		return wl_log(a);
	case ABI_WL_SHARED2:
		return wl_shared2(a);
	case ABI_WL_PRIVATE:
		return wl_private(a);
	case ABI_WL_FORKCOW:
		return wl_forkcow(a);
	case ABI_WL_MIXED:
		return wl_mixed(a);
	case ABI_WL_BADSYS:
		return wl_badsys(a);
	default:
		ulog("unknown workload %u", a->workload);
		return 1;
	}
}
