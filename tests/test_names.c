/*
 * The name tables (vmm/wlnames.h, the dlog mode table) against the ABI and
 * each other, and the lists the usage texts are written from:
 *
 *   - every ABI_WL_* value from 1 to ABI_WL_LAST has exactly one workload,
 *     whose name finds it again; its kind agrees with the ABI's ranges
 *     (file world from ABI_WL_FIRST_FILE; badsys and badblk the self-tests)
 *     and with whether it needs a file on the image (abi_wl_file_name);
 *   - every policy but ABI_POLICY_NONE has exactly one name, found again;
 *   - names are unique, unknown names and values are refused;
 *   - the lists: "a | b | c", "a, b or c", one name, none, and a buffer too
 *     small is cut, never overrun; the log modes' list, all and KVM's own.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "abi/boot.h"
#include "abi/pcache.h"
#include "abi/wlfile.h"
#include "logger/dlog/dlog.h"
#include "logger/session.h"
#include "util/strlist.h"
#include "vmm/wlnames.h"

static void test_workloads(void)
{
	size_t n = 0;
	for (const struct wl_name *w = wl_names; w->name; w++, n++) {
		CU_ASSERT_PTR_EQUAL(wl_find(w->name), w);
		CU_ASSERT_STRING_EQUAL(wl_name_of(w->id), w->name);
		CU_ASSERT_EQUAL(wl_kind(w->id), w->kind);
		for (const struct wl_name *v = w + 1; v->name; v++)
			CU_ASSERT(strcmp(w->name, v->name) && w->id != v->id);
		bool file_world = session_file_workload(w->id);
		bool selftest = w->id == ABI_WL_BADSYS || w->id == ABI_WL_BADBLK;
		CU_ASSERT_EQUAL(w->kind, selftest ? WL_SELFTEST : file_world ? WL_FILE : WL_ANON);
		/* A file workload needs its file on the image (named apart:
		 * shared2's is "shared", forkcow's "cow"). */
		if (w->kind == WL_FILE)
			CU_ASSERT_PTR_NOT_NULL(abi_wl_file_name(w->id));
		if (w->kind == WL_ANON)
			CU_ASSERT_PTR_NULL(abi_wl_file_name(w->id));
	}
	CU_ASSERT_EQUAL(n, ABI_WL_LAST);
	for (uint32_t id = 1; id <= ABI_WL_LAST; id++)
		CU_ASSERT_PTR_NOT_NULL(wl_name_of(id));
	CU_ASSERT_PTR_NULL(wl_name_of(0));
	CU_ASSERT_PTR_NULL(wl_name_of(ABI_WL_LAST + 1));
	CU_ASSERT_EQUAL(wl_kind(ABI_WL_LAST + 1), 0);
	CU_ASSERT_PTR_NULL(wl_find("nope"));
	CU_ASSERT_PTR_NULL(wl_find(""));
}

static void test_policies(void)
{
	size_t n = 0;
	for (const struct policy_name *p = policy_names; p->name; p++, n++) {
		CU_ASSERT_PTR_EQUAL(policy_find(p->name), p);
		CU_ASSERT_STRING_EQUAL(policy_name_of(p->id), p->name);
		CU_ASSERT_EQUAL(p->id, n + 1); /* ABI_POLICY_* order, NONE left out */
	}
	CU_ASSERT_EQUAL(n, ABI_POLICY_LAST);
	CU_ASSERT_PTR_NULL(policy_name_of(ABI_POLICY_NONE));
	CU_ASSERT_PTR_NULL(policy_find("none"));
}

static void test_lists(void)
{
	char buf[128], tiny[8];
	const char *const abc[] = {"a", "b", "c"};

	CU_ASSERT_STRING_EQUAL(strlist_join(buf, sizeof(buf), abc, 3, " | ", " | "), "a | b | c");
	CU_ASSERT_STRING_EQUAL(strlist_join(buf, sizeof(buf), abc, 3, ", ", " or "), "a, b or c");
	CU_ASSERT_STRING_EQUAL(strlist_join(buf, sizeof(buf), abc, 2, ", ", " and "), "a and b");
	CU_ASSERT_STRING_EQUAL(strlist_join(buf, sizeof(buf), abc, 1, ", ", " or "), "a");
	CU_ASSERT_STRING_EQUAL(strlist_join(buf, sizeof(buf), abc, 0, ", ", " or "), "");
	CU_ASSERT_STRING_EQUAL(strlist_join(tiny, sizeof(tiny), abc, 3, " | ", " | "), "a | b |");

	CU_ASSERT_STRING_EQUAL(wl_list(WL_ANON, " | ", " | ", buf, sizeof(buf)),
			       "seq | random | hotcold");
	CU_ASSERT_STRING_EQUAL(wl_list(WL_FILE, ", ", ", ", buf, sizeof(buf)),
			       "db, log, shared2, private, forkcow, mixed");
	CU_ASSERT_STRING_EQUAL(wl_list(WL_SELFTEST, ", ", " and ", buf, sizeof(buf)),
			       "badsys and badblk");
	CU_ASSERT_STRING_EQUAL(policy_list(" | ", " | ", buf, sizeof(buf)),
			       "wp | dbit | scan | lossy | noflush");
	CU_ASSERT_STRING_EQUAL(dlog_mode_list(false, ", ", ", ", buf, sizeof(buf)),
			       "bitmap, clear, ring, uffd");
	CU_ASSERT_STRING_EQUAL(dlog_mode_list(true, ", ", " or ", buf, sizeof(buf)),
			       "bitmap, clear or ring");
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("names", NULL, NULL);
	CU_add_test(s, "workloads: one per ABI_WL_*, kinds agree with the ABI", test_workloads);
	CU_add_test(s, "policies: one per ABI_POLICY_* but NONE", test_policies);
	CU_add_test(s, "lists for usage texts and messages", test_lists);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
