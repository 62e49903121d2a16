/* Shared CUnit boilerplate for the test suites. */
#ifndef TESTS_DS_TEST_H
#define TESTS_DS_TEST_H

#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ds_case {
	const char *name;
	void (*fn)(void);
};

/* A CUnit assertion whose failure message is formatted (CUnit copies the
 * text).  Returns ok. */
#define DS_CHECK(cond, ...) ds_check_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static inline bool ds_check_at(bool ok, const char *file, unsigned int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline bool ds_check_at(bool ok, const char *file, unsigned int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (ok) {
		CU_assertImplementation(CU_TRUE, line, "check", file, "", CU_FALSE);
		return true;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CU_assertImplementation(CU_FALSE, line, msg, file, "", CU_FALSE);
	return false;
}

/*
 * For callbacks that session_run makes (sinks, on_commit, on_incoming,
 * on_switchover, log modes): a CU_ASSERT_*_FATAL there would longjmp out of
 * session_run past its cleanup (the VM, the threads, the output files).
 * Instead: `if (!DS_REQUIRE(cond, &ctx->broken)) return;` records a CUnit
 * failure, counts it in *broken for the case to report, and the callback
 * returns on its own.
 */
#define DS_REQUIRE(cond, broken) ds_require(!!(cond), __LINE__, #cond, __FILE__, (broken))

static inline bool ds_require(bool ok, unsigned int line, const char *expr, const char *file,
			      uint64_t *broken)
{
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, expr, file, "", CU_FALSE);
	if (!ok)
		(*broken)++;
	return ok;
}

/*
 * Run one suite of cases with CUnit's basic interface and return the process
 * exit code: 0 if every assertion passed, 1 otherwise.  The failure count is
 * read before CU_cleanup_registry(), which resets it.
 */
/* DS_TEST_ONLY=TEXT in the environment: only the cases whose name holds
 * TEXT run (a developer's filter; CTest never sets it). */
static inline bool ds_case_wanted(const struct ds_case *c)
{
	const char *only = getenv("DS_TEST_ONLY");
	return !only || strstr(c->name, only) != NULL;
}

static inline int ds_run_suite(const char *suite, const struct ds_case *cases)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite(suite, NULL, NULL);
	for (const struct ds_case *c = cases; c->name; c++)
		if (ds_case_wanted(c))
			CU_add_test(s, c->name, c->fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

/*
 * A suite whose `plain` cases need no KVM and whose `kvm` cases boot a
 * guest: run the plain ones, and the KVM ones when /dev/kvm opens.  Returns
 * 1 if anything failed, 77 (CTest's "skipped") with the reason printed when
 * all passed but the KVM cases could not run, else 0.
 */
static inline int ds_run_partly_kvm(const char *suite, const struct ds_case *plain,
				    const struct ds_case *kvm)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int kvm_errno = errno;
	bool have_kvm = fd >= 0;
	if (have_kvm)
		close(fd);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite(suite, NULL, NULL);
	for (const struct ds_case *c = plain; c->name; c++)
		if (ds_case_wanted(c))
			CU_add_test(s, c->name, c->fn);
	for (const struct ds_case *c = kvm; have_kvm && c->name; c++)
		if (ds_case_wanted(c))
			CU_add_test(s, c->name, c->fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	if (failed)
		return 1;
	if (!have_kvm) {
		printf("%s: cannot open /dev/kvm (%s): the cases that boot a guest did not run\n",
		       suite, strerror(kvm_errno));
		return 77;
	}
	return 0;
}

#endif
