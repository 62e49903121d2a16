# bash completion for dirtyscope(1)                        -*- shell-script -*-
#
# Installed as share/bash-completion/completions/dirtyscope.  Self-contained:
# it needs bash alone, not the bash-completion package's helpers, so it can
# be sourced anywhere (tests/test_install.sh does).  The lists below are the
# command's --help texts; tests/test_install.sh checks that every option a
# --help names is offered here, and that the workload, policy and log-mode
# names are those the binary accepts.

_dirtyscope_commands="run compare info mkimage recover verify-image receive libvirt"

# Options of run and compare alike (tools/runopts.c); live migration's are
# for run alone, --plot for compare alone.
_dirtyscope_run_common="--log --workload --policy --image --cache-pages --flush-every
	--sync-every --writeback --mem --wss --writes --epochs --seed --hot-pages --hot-pct
	--ring-entries --reaper-us --clear-chunk --verify --json --console --kvm-device --vcpus
	--help"
# run alone: epochs by the host's clock, no progress line, shared pages, the limit.
_dirtyscope_run_only="--epoch-ms --quiet --share --dirty-limit"
_dirtyscope_migrate="--migrate-to --migrate-after-epoch --downtime-limit --max-rounds
	--max-bandwidth --throttle --migrate-retries"

# dirtyscope libvirt: its commands and their options.
_dirtyscope_libvirt_commands="dirtyrate boot accuracy"
_dirtyscope_libvirt_wl="--workload --wss --writes --seed --hot-pages --hot-pct --mem"
_dirtyscope_libvirt_dirtyrate="--connect --mode --calc-time --repeat --json --help"
_dirtyscope_libvirt_boot="--connect --name $_dirtyscope_libvirt_wl --epochs --dirty-ring
	--accel --follow --help"
_dirtyscope_libvirt_accuracy="--connect $_dirtyscope_libvirt_wl --mode --calc-time --repeat
	--dirty-ring --json --plot --help"
_dirtyscope_dirtyrate_modes="page-sampling dirty-bitmap dirty-ring all"

_dirtyscope_log_modes="bitmap clear ring uffd"
_dirtyscope_anon_workloads="seq random hotcold"
_dirtyscope_file_workloads="db log shared2 private forkcow mixed"
_dirtyscope_test_workloads="badsys badblk"
_dirtyscope_policies="wp dbit scan lossy noflush"

# COMPREPLY from a word list.
_dirtyscope_words()
{
	local IFS=$' \t\n'
	COMPREPLY=($(compgen -W "$1" -- "$2"))
}

# COMPREPLY from file names (directories only with -d), shown as file names.
_dirtyscope_files()
{
	local IFS=$'\n'
	COMPREPLY=($(compgen "${2:--f}" -- "$1"))
	compopt -o filenames 2>/dev/null
}

_dirtyscope()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=""
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# --opt=value: bash splits at '=' (COMP_WORDBREAKS), making '=' a word.
	if [[ $cur == "=" ]]; then
		cur=""
	elif [[ $prev == "=" && COMP_CWORD -gt 1 ]]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi

	if ((COMP_CWORD <= 1)); then
		_dirtyscope_words "$_dirtyscope_commands --help --version" "$cur"
		return 0
	fi
	local cmd=${COMP_WORDS[1]} opts=""
	case $cmd in
	run) opts="$_dirtyscope_run_common $_dirtyscope_run_only $_dirtyscope_migrate" ;;
	compare) opts="$_dirtyscope_run_common --plot" ;;
	info) opts="--kvm-device --json --help" ;;
	mkimage) opts="--size --file --check --help" ;;
	recover | verify-image) opts="--help" ;;
	libvirt)
		if ((COMP_CWORD == 2)); then
			_dirtyscope_words "$_dirtyscope_libvirt_commands --help" "$cur"
			return 0
		fi
		case ${COMP_WORDS[2]} in
		dirtyrate) opts=$_dirtyscope_libvirt_dirtyrate ;;
		boot) opts=$_dirtyscope_libvirt_boot ;;
		accuracy) opts=$_dirtyscope_libvirt_accuracy ;;
		*) return 0 ;;
		esac
		case $prev in
		--mode)
			_dirtyscope_words "$_dirtyscope_dirtyrate_modes" "$cur"
			return 0
			;;
		--workload)
			_dirtyscope_words "$_dirtyscope_anon_workloads" "$cur"
			return 0
			;;
		esac
		;;
	receive)
		opts="--listen --allow-remote --log --ring-entries --image --disk-dir --verify
			--json --console --kvm-device --help"
		;;
	*) return 0 ;;
	esac

	# The value of the option before the cursor.
	case $prev in
	--log)
		if [[ $cmd == receive ]]; then
			# migration harvests KVM's own log: not uffd
			_dirtyscope_words "bitmap clear ring" "$cur"
		else
			_dirtyscope_words "$_dirtyscope_log_modes" "$cur"
		fi
		return 0
		;;
	--workload)
		if [[ $cmd == compare ]]; then
			_dirtyscope_words "$_dirtyscope_file_workloads" "$cur"
		else
			_dirtyscope_words "$_dirtyscope_anon_workloads $_dirtyscope_file_workloads
				$_dirtyscope_test_workloads" "$cur"
		fi
		return 0
		;;
	--policy)
		_dirtyscope_words "$_dirtyscope_policies" "$cur"
		return 0
		;;
	--writeback)
		# host:N, every N-th epoch, is typed by hand
		_dirtyscope_words "guest host" "$cur"
		return 0
		;;
	--throttle)
		_dirtyscope_words "auto dirty-limit off" "$cur"
		return 0
		;;
	--json)
		_dirtyscope_files "$cur"
		[[ -z $cur || $cur == - ]] && COMPREPLY+=(-)
		return 0
		;;
	--image | --plot | --kvm-device)
		_dirtyscope_files "$cur"
		return 0
		;;
	--disk-dir)
		_dirtyscope_files "$cur" -d
		return 0
		;;
	--listen | --migrate-to)
		_dirtyscope_words "unix: tcp:" "$cur"
		compopt -o nospace 2>/dev/null
		return 0
		;;
	--mem | --wss | --writes | --epochs | --epoch-ms | --vcpus | --share | --dirty-limit | --seed | --hot-pages | --hot-pct | \
		--ring-entries | --reaper-us | --clear-chunk | --cache-pages | --flush-every | \
		--sync-every | --migrate-after-epoch | --downtime-limit | --max-rounds | \
		--max-bandwidth | --migrate-retries | --size | --file | --calc-time | --repeat | \
		--dirty-ring | --connect | --name)
		return 0 # a number, a size or a NAME:SIZE: nothing to offer
		;;
	esac

	if [[ $cur == -* ]]; then
		_dirtyscope_words "$opts" "$cur"
		return 0
	fi
	# The IMAGE argument of mkimage, recover and verify-image.
	case $cmd in
	mkimage | recover | verify-image) _dirtyscope_files "$cur" ;;
	esac
	return 0
}
complete -F _dirtyscope dirtyscope
