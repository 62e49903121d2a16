#!/bin/bash
# test_install: dirtyscope installs like a tool.
#
# usage: test_install.sh CMAKE BUILD_DIR SOURCE_DIR VERSION
#
# `cmake --install` into a temporary prefix P, then:
#   - every file lands: P/bin/dirtyscope, the eight man pages, the bash
#     completion, README.md and every docs/*.md under P/share/doc/dirtyscope;
#   - the installed binary runs with the build and source trees out of sight
#     (a private mount namespace lays an empty tmpfs over both; without one,
#     the build tree's guest.bin and guest.elf are renamed away for the
#     while): --version prints "dirtyscope VERSION", info names the installed
#     binary as the home of the guest kernel and the installed
#     lib/dirtyscope/dirtyscope-guest.elf (the build's guest.elf, for QEMU)
#     as its ELF file, in text and in --json, and `run --epochs 1 --wss 16
#     --verify` boots that kernel;
#   - each man page renders with groff's and man's warnings on and none
#     printed, and its EXIT STATUS lists exactly the codes the matching
#     --help lists under "Exit status:"; dirtyscope(1) lists the codes of
#     docs/cli.md's table;
#   - the completion, sourced by bash alone, offers the subcommands, the
#     log modes, workloads and policies the binary accepts (as its own error
#     messages list them), --writeback's values, every option each --help
#     names and none it does not, and file names for image arguments.
# Exits 77 (skipped) when /dev/kvm cannot be used and all else passed.
set -u
[ $# -eq 4 ] || {
	echo "usage: test_install.sh CMAKE BUILD_DIR SOURCE_DIR VERSION" >&2
	exit 2
}
CMAKE=$1 VERSION=$4
# absolute, so that hiding them below hides these very directories
BUILD=$(cd "$2" && pwd -P) && SRC=$(cd "$3" && pwd -P) || exit 2
export LC_ALL=C MANPAGER=cat PAGER=cat MANWIDTH=80

. "$(dirname "$0")/lib/ds_check.sh"

TMP=$(mktemp -d /tmp/test_install.XXXXXX) || exit 1
P=$(cd "$TMP" && pwd -P)/prefix
restore=""
cleanup()
{
	[ -n "$restore" ] && eval "$restore"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- cmake --install ----
if ! "$CMAKE" --install "$BUILD" --prefix "$P" >"$TMP/install.log" 2>&1; then
	cat "$TMP/install.log"
	echo "FAIL: cmake --install $BUILD --prefix $P"
	exit 1
fi
DS=$P/bin/dirtyscope
MAN=$P/share/man/man1
COMPL=$P/share/bash-completion/completions/dirtyscope
DOC=$P/share/doc/dirtyscope
commands="run compare info mkimage recover verify-image receive libvirt"
pages="dirtyscope"
for c in $commands; do pages="$pages dirtyscope-$c"; done

[ -x "$DS" ] && ok "bin/dirtyscope" || fail "no executable $DS"
for page in $pages; do
	[ -f "$MAN/$page.1" ] || fail "no man page $MAN/$page.1"
done
[ -f "$COMPL" ] && ok "bash completion" || fail "no $COMPL"
GUEST_ELF=$P/lib/dirtyscope/dirtyscope-guest.elf
if [ -f "$GUEST_ELF" ] && cmp -s "$GUEST_ELF" "$BUILD/guest/guest.elf"; then
	ok "lib/dirtyscope/dirtyscope-guest.elf"
else
	fail "no $GUEST_ELF, or not the build's guest/guest.elf"
fi
[ -f "$DOC/README.md" ] || fail "no $DOC/README.md"
for md in "$SRC"/docs/*.md; do
	cmp -s "$md" "$DOC/docs/${md##*/}" || fail "docs/${md##*/} not installed in $DOC/docs"
done

# ---- the installed binary, alone ----
kvm=0
if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	kvm=1
fi
# Run "$@" with the build and source trees out of sight.  A private mount
# namespace hides them whole; if none can be made (not root, no unshare),
# the build tree's guest kernel files are renamed away and put back at exit.
hidden=""
if unshare --mount --propagation private true 2>/dev/null; then
	hidden=namespace
else
	for f in guest/guest.bin guest/guest.elf; do
		if [ -e "$BUILD/$f" ]; then
			mv "$BUILD/$f" "$BUILD/$f.hidden-by-test_install" || exit 1
			restore="$restore mv '$BUILD/$f.hidden-by-test_install' '$BUILD/$f';"
		fi
	done
	hidden=renamed
fi
alone()
{
	if [ "$hidden" = namespace ]; then
		unshare --mount --propagation private sh -c '
			b=$1 s=$2; shift 2
			mount -t tmpfs none "$b" && mount -t tmpfs none "$s" || exit 99
			# the trees are gone: not even the build tree'"'"'s guest.bin
			[ ! -e "$b/guest/guest.bin" ] && [ ! -e "$s/CMakeLists.txt" ] || exit 98
			# nor through the working directory (ctest runs us in the build tree)
			cd / && exec "$@"' sh "$BUILD" "$SRC" "$@"
	else
		"$@"
	fi
}
echo "the build and source trees are hidden by: $hidden"

out=$(alone "$DS" --version)
[ "$out" = "dirtyscope $VERSION" ] && ok "--version: $out" ||
	fail "--version printed '$out', not 'dirtyscope $VERSION'"
out=$(alone "$DS" -V)
[ "$out" = "dirtyscope $VERSION" ] || fail "-V printed '$out'"

if [ $kvm = 1 ]; then
	out=$(alone "$DS" info 2>&1)
	rc=$?
	line=$(printf '%s\n' "$out" | grep '^guest kernel ')
	if [ $rc -eq 0 ] && [ "$line" = "guest kernel             $DS (embedded, ${line##*embedded, }" ]; then
		ok "info: $line"
	else
		fail "info (exit $rc) does not name $DS as the guest kernel's home: $out"
	fi
	line=$(printf '%s\n' "$out" | grep '^guest kernel ELF ')
	[ "$line" = "guest kernel ELF         $GUEST_ELF" ] && ok "info: $line" ||
		fail "info does not name $GUEST_ELF as the guest kernel's ELF: $out"
	out=$(alone "$DS" info --json 2>&1)
	got=$(printf '%s\n' "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["guest-kernel"])' 2>&1)
	[ "$got" = "$GUEST_ELF" ] && ok "info --json: guest-kernel $got" ||
		fail "info --json names guest-kernel '$got', not $GUEST_ELF: $out"
	out=$(alone "$DS" run --epochs 1 --wss 16 --verify 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q '^bitmap/seq: 1 epoch, .* 0 lost pages'; then
		ok "run --epochs 1 --wss 16 --verify from the prefix"
	else
		fail "installed run exited $rc: $out"
	fi
else
	echo "(no usable /dev/kvm: info and run from the prefix left out)"
fi

# ---- man pages: clean rendering, EXIT STATUS as --help says ----
# The codes a man page's EXIT STATUS lists: ".B N" after ".TP".
man_codes()
{
	awk '/^\.SH /{ in_es = ($0 ~ /^\.SH "?EXIT STATUS"?$/) ; next }
	     in_es && tp && /^\.B [0-9]+$/ { print $2 }
	     { tp = ($0 == ".TP") }' "$1" | sort -n | tr '\n' ' '
}
# The codes a --help text lists under "Exit status:".
help_codes()
{
	sed -n '/^Exit status:$/,$p' | grep -E '^  [0-9]+ ' | awk '{ print $1 }' | sort -n |
		tr '\n' ' '
}
if ! command -v groff >/dev/null || ! command -v man >/dev/null; then
	fail "groff and man are needed (scripts/deps.sh installs groff-base and man-db)"
else
	for page in $pages; do
		f=$MAN/$page.1
		[ -f "$f" ] || continue
		w=$(groff -man -ww -z "$f" 2>&1)
		[ -z "$w" ] || fail "groff -man -ww warns about $page.1: $w"
		w=$(man --warnings -l "$f" 2>&1 >"$TMP/man.txt")
		[ -z "$w" ] || fail "man --warnings -l $page.1: $w"
		grep -q '^EXIT STATUS' "$TMP/man.txt" && grep -q '^NAME' "$TMP/man.txt" ||
			fail "man -l $page.1 renders no NAME or EXIT STATUS"
		sub=${page#dirtyscope}
		sub=${sub#-}
		want=$("$DS" $sub --help | help_codes)
		got=$(man_codes "$f")
		[ -n "$want" ] || fail "dirtyscope $sub --help lists no 'Exit status:' codes"
		[ "$got" = "$want" ] && ok "$page.1: renders cleanly; exit status $got" ||
			fail "$page.1 EXIT STATUS lists '$got', dirtyscope $sub --help '$want'"
	done
	# dirtyscope(1) and docs/cli.md's table of exit codes agree.
	cli=$(grep -E '^\| [0-9]+ \|' "$SRC/docs/cli.md" | awk -F'|' '{ print $2 + 0 }' | sort -n |
		tr '\n' ' ')
	[ "$cli" = "$(man_codes "$MAN/dirtyscope.1")" ] ||
		fail "docs/cli.md lists codes '$cli', dirtyscope.1 '$(man_codes "$MAN/dirtyscope.1")'"
fi

# ---- bash completion ----
# complete WORD... : what the completion offers with the cursor on the last
# word, sorted, one line.  Run in $TMP/files, where image file names are.
mkdir -p "$TMP/files/imgdir" && : >"$TMP/files/disk.img"
complete_words()
{
	(cd "$TMP/files" && bash --norc --noprofile -c '
		source "$1" || exit 1; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_dirtyscope; printf "%s\n" "${COMPREPLY[@]}"' sh "$COMPL" "$@") | sort -u | tr '\n' ' '
}
sorted()
{
	tr ' ,' '\n\n' | grep -v '^$' | sort -u | tr '\n' ' '
}
# The names a refusal lists: "--log x: unknown mode (bitmap, clear, ...)".
accepted()
{
	"$DS" run "$1" no-such-name 2>&1 | sed -n 's/.*(\(.*\))$/\1/p' | sorted
}
expect_completion()
{
	local what=$1 want=$2
	shift 2
	local got
	got=$(complete_words "$@")
	[ "$got" = "$want" ] && ok "completion of $what: $got" ||
		fail "completion of $what: '$got', not '$want'"
}

# The example from the task, verbatim.
out=$(bash -c "source '$COMPL'; COMP_WORDS=(dirtyscope run --log \"\"); COMP_CWORD=3; _dirtyscope; echo \${COMPREPLY[@]}")
[ "$out" = "bitmap clear ring uffd" ] || fail "run --log completes to '$out'"

expect_completion "subcommands" "$(echo "$commands --help --version" | sorted)" dirtyscope ""
expect_completion "run --log" "$(accepted --log)" dirtyscope run --log ""
expect_completion "compare --log" "$(accepted --log)" dirtyscope compare --log ""
expect_completion "run --log=" "$(accepted --log)" dirtyscope run --log = ""
expect_completion "run --workload" "$(accepted --workload)" dirtyscope run --workload ""
expect_completion "run --policy" "$(accepted --policy)" dirtyscope run --policy ""
expect_completion "run --writeback" "guest host " dirtyscope run --writeback ""
expect_completion "run --throttle" "auto dirty-limit off " dirtyscope run --throttle ""
expect_completion "mkimage IMAGE" "disk.img " dirtyscope mkimage di
expect_completion "recover IMAGE" "disk.img " dirtyscope recover di
expect_completion "verify-image IMAGE" "disk.img " dirtyscope verify-image di
expect_completion "run --image" "disk.img " dirtyscope run --image di
expect_completion "receive --disk-dir" "imgdir " dirtyscope receive --disk-dir ""

# Options: every one a --help names on an option line is offered, and every
# one offered is named somewhere in that --help (compare's: in run's too,
# whose options it takes).
for c in $commands; do
	help=$("$DS" $c --help)
	named=$(printf '%s\n' "$help" | grep -oE '^  (-h, )?--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+' |
		sorted)
	anywhere=$(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z-]*' | sorted)
	[ "$c" = compare ] && anywhere=$(printf '%s %s' "$anywhere" "$("$DS" run --help |
		grep -oE -- '--[a-z][a-z-]*')" | sorted)
	offered=$(complete_words dirtyscope "$c" --)
	for o in $named; do
		case " $offered " in
		*" $o "*) ;;
		*) fail "completion of 'dirtyscope $c --' lacks $o (in its --help)" ;;
		esac
	done
	for o in $offered; do
		case " $anywhere " in
		*" $o "*) ;;
		*) fail "completion of 'dirtyscope $c --' offers $o, which its --help does not name" ;;
		esac
	done
	ok "completion of 'dirtyscope $c --': $(echo $offered | wc -w) options"
done

# dirtyscope libvirt's own commands, the same way.
for c in dirtyrate boot accuracy; do
	help=$("$DS" libvirt $c --help)
	named=$(printf '%s\n' "$help" | grep -oE '^  (-h, )?--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+' |
		sorted)
	anywhere=$(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z-]*' | sorted)
	offered=$(complete_words dirtyscope libvirt "$c" --)
	for o in $named; do
		case " $offered " in
		*" $o "*) ;;
		*) fail "completion of 'dirtyscope libvirt $c --' lacks $o (in its --help)" ;;
		esac
	done
	for o in $offered; do
		case " $anywhere " in
		*" $o "*) ;;
		*) fail "completion of 'dirtyscope libvirt $c --' offers $o, which its --help does not name" ;;
		esac
	done
	ok "completion of 'dirtyscope libvirt $c --': $(echo $offered | wc -w) options"
done
expect_completion "libvirt" "--help accuracy boot dirtyrate " dirtyscope libvirt ""
expect_completion "libvirt dirtyrate --mode" "all dirty-bitmap dirty-ring page-sampling " \
	dirtyscope libvirt dirtyrate --mode ""

if [ $failures -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
[ $kvm = 1 ] || exit 77
echo "all passed"
exit 0
