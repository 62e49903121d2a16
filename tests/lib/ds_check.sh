# The shell suites' checks (tests/test_install.sh, tests/test_qemu.sh),
# sourced: fail and ok print one line each; fail counts, and the suite
# exits non-zero when $failures is not 0.
failures=0
fail()
{
	echo "FAIL: $*"
	failures=$((failures + 1))
}
ok()
{
	echo "ok: $*"
}
