#!/bin/sh
# Install what dirtyscope needs to build and test, when it is missing
# (Debian 12; run as root).  Safe to run again: it installs nothing present.
set -e
need=""
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v gcc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
[ -f /usr/include/CUnit/Basic.h ] || need="$need libcunit1-dev"
[ -f /usr/include/linux/kvm.h ] || need="$need linux-libc-dev"
# libuuid: every image's identity (fs/dsfs.c).
[ -f /usr/include/uuid/uuid.h ] || need="$need uuid-dev"
# python3: the layers test (scripts/check_layers.py) reads CMake's graph.
command -v python3 >/dev/null 2>&1 || need="$need python3"
# json-c: the tests parse the JSON lines dirtyscope writes (tests only).
[ -f /usr/include/json-c/json.h ] || need="$need libjson-c-dev"
# groff and man: test_install renders the man pages (docs/man/) with
# warnings on; bash runs the completion it installs.
command -v groff >/dev/null 2>&1 || need="$need groff-base"
command -v man >/dev/null 2>&1 || need="$need man-db"
command -v bash >/dev/null 2>&1 || need="$need bash"
# QEMU: test_qemu boots the guest kernel (guest.elf, PVH entry) standalone.
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
# libvirt: `dirtyscope libvirt` is written on its C API (libvirt-dev, found by
# pkg-config); its tests talk to a real libvirtd (libvirt-daemon-system, the
# QEMU driver), which scripts/libvirtd.sh starts without systemd.
[ -f /usr/include/libvirt/libvirt.h ] || need="$need libvirt-dev"
command -v libvirtd >/dev/null 2>&1 || need="$need libvirt-daemon libvirt-daemon-system"
[ -f /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
	need="$need libvirt-daemon-driver-qemu"
# clang and its runtimes: the libFuzzer targets (scripts/fuzz.sh, tests/fuzz/).
command -v clang-14 >/dev/null 2>&1 || need="$need clang-14"
ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
	need="$need libclang-rt-14-dev"
# Without a KVM device, scripts/kvmhost.sh emulates a KVM host: a stock
# kernel (with kvm_amd) booted under QEMU's TCG from an initramfs of a
# static busybox and the kernel's modules.
if ! [ -e /dev/kvm ]; then
	ls /boot/vmlinuz-* >/dev/null 2>&1 || need="$need linux-image-amd64"
	[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need="$need busybox-static"
	command -v cpio >/dev/null 2>&1 || need="$need cpio"
	command -v modprobe >/dev/null 2>&1 || need="$need kmod"
fi
if [ -n "$need" ]; then
	echo "installing:$need"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
fi
