#!/usr/bin/env bash
# Boots a Debian kernel for ARCH under qemu TCG with an initramfs whose
# only program is test/kernelcheck, and passes only if the guest prints
# "KERNELCHECK PASS". See shared/recipes/older-kernel-vm.md.
#
#   test/vm/run.sh [ARCH [SUITE]]     # boot and check: make test-kernels
#   test/vm/run.sh -k ARCH [SUITE]    # only fetch the kernel; print its vmlinuz path
#
# ARCH is a Debian architecture: amd64 (the default) or arm64. SUITE is the
# Debian release whose kernel boots: the host's (the default; bookworm's 6.1:
# no capability:cap_capable tracepoint; kprobes, fentry and BTF built in),
# bullseye (5.10, the floor, from bullseye-security) or trixie (6.12). The
# kernel is whatever linux-image-ARCH depends on in SUITE. The guest's
# busybox is the host's own (busybox-static) for the host's architecture,
# and SUITE's busybox-static for another. Another architecture's
# or suite's packages come through a private apt state under the cache (the
# host's dpkg is told nothing). Boot to power-off took 199-283 s a guest
# with two guests at a time on the project's machines (2 vCPUs, shared):
# docs/recorder.md#kernels-and-architectures.
#
# Environment:
#   CAPPROF_VM_CACHE   kernels (their package's boot/), busybox and the foreign
#                      apt state, kept between runs (~/.cache/capprof-vm)
#   CAPPROF_VM_OUT     initramfs, serial log and table row of the last run
#                      (_build/vm/ARCH-SUITE)
#   CAPPROF_VM_ATTACH  methods the checker checks (amd64: fexit,kprobe,auto;
#                      arm64: kprobe,auto)
#   CAPPROF_VM_TIMEOUT seconds before the boot is called hung (900)
#   GO                 the go command (go)
set -euo pipefail
cd "$(dirname "$0")/../.."

fetch_only=
if [ "${1:-}" = -k ]; then
	fetch_only=1
	shift
fi
arch=${1:-amd64}
# shellcheck disable=SC1091
host_suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
suite=${2:-$host_suite}
cache=${CAPPROF_VM_CACHE:-$HOME/.cache/capprof-vm}
out=${CAPPROF_VM_OUT:-_build/vm/$arch-$suite}
timeout_s=${CAPPROF_VM_TIMEOUT:-900}
go=${GO:-go}

log() { echo "vm($arch $suite): $*" >&2; }

# The label of the kernel's row in docs/recorder.md's table.
case $suite in
bullseye) label="Debian 11" ;;
bookworm) label="Debian 12" ;;
trixie) label="Debian 13" ;;
*) label="Debian $suite" ;;
esac

# What differs by architecture: the emulator, the machine, the serial
# console, and the kernel options that name arch-specific code.
case $arch in
amd64)
	goarch=amd64
	qemu_deb=qemu-system-x86
	qemu=(qemu-system-x86_64 -accel tcg -cpu max)
	console=ttyS0
	arch_opts=(SERIAL_8250_CONSOLE DYNAMIC_FTRACE_WITH_DIRECT_CALLS)
	attach=${CAPPROF_VM_ATTACH:-fexit,kprobe,auto}
	;;
arm64)
	goarch=arm64
	qemu_deb=qemu-system-arm
	# pauth-impdef: TCG's emulation of the architected pointer
	# authentication (QARMA) is slow, and the guest does not care which.
	qemu=(qemu-system-aarch64 -M virt -accel tcg -cpu max,pauth-impdef=on)
	console=ttyAMA0
	arch_opts=(SERIAL_AMBA_PL011_CONSOLE)
	# No fexit: arm64 attaches BPF trampolines to kernel functions through
	# ftrace direct calls, which it has since 6.4 (6.1's config has no
	# DYNAMIC_FTRACE_WITH_DIRECT_CALLS; attaching fails with ENOTSUPP), so
	# auto must pick kprobe there. The guest's doctor lines show why.
	attach=${CAPPROF_VM_ATTACH:-kprobe,auto}
	;;
*)
	log "unknown architecture (want amd64 or arm64)"
	exit 2
	;;
esac

# The host's tools: qemu for ARCH, and busybox-static, whose cpio packs the
# initramfs (cpio is not installed).
[ -n "$fetch_only" ] || test/install-debs.sh "$qemu_deb" busybox-static

# apt for ARCH and SUITE: the host's for its own; for another, SUITE's
# archive with a private state and cache under $cache, so that nothing on
# the host changes. As root, apt-get would download as _apt, which cannot
# write to the cache.
apt_opts=(-q -o APT::Sandbox::User=root)
state=
host_arch=$(dpkg --print-architecture)
if [ "$arch" != "$host_arch" ] || [ "$suite" != "$host_suite" ]; then
	state=$cache/apt-$arch-$suite
	mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	cat >"$state/sources.list" <<SOURCES
deb [signed-by=$keyring] http://deb.debian.org/debian $suite main
deb [signed-by=$keyring] http://deb.debian.org/debian $suite-updates main
deb [signed-by=$keyring] http://deb.debian.org/debian-security $suite-security main
SOURCES
	apt_opts+=(-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
		-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null/none
		-o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false)
fi
apt_updated=
apt_update() {
	if [ -z "$apt_updated" ]; then
		apt-get "${apt_opts[@]}" update -qq >&2
		apt_updated=1
		[ -z "$state" ] || touch "$state/updated"
	fi
}

# The private lists are refreshed daily, as the host's are by its own
# updates, so that a new kernel build is picked up.
# (apt dates list files by the archive's, hence a stamp of our own.)
if [ -n "$state" ] && [ -z "$(find "$state/updated" -mtime -1 2>/dev/null)" ]; then
	apt_update
fi

# The kernel: whatever linux-image-ARCH depends on today, never a pinned
# version (the mirror keeps only the current build).
resolve_kernel() {
	apt-cache "${apt_opts[@]}" depends "linux-image-$arch" 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}
pkg=$(resolve_kernel || true)
if [ -z "$pkg" ]; then
	apt_update
	pkg=$(resolve_kernel || true)
fi
[ -n "$pkg" ] || { log "cannot resolve the kernel package of linux-image-$arch"; exit 1; }
# Each ARCH and SUITE keeps its current kernel under its own directory.
kroot=$cache/$arch-$suite
mkdir -p "$kroot"
kdir=$kroot/$pkg
# The guest's busybox: the host's own where it runs in the guest (another
# suite's may not be installable beside the host's packages), else SUITE's
# busybox-static for ARCH, downloaded (not installed) with the kernel.
guest_busybox=$kdir/busybox
[ "$arch" != "$host_arch" ] || guest_busybox=/bin/busybox
# A cache entry is complete with both (older runs kept only boot/).
if [ ! -d "$kdir/boot" ] || [ ! -x "$guest_busybox" ]; then
	debs=("$pkg")
	[ "$guest_busybox" = /bin/busybox ] || debs+=("busybox-static:$arch")
	log "downloading ${debs[*]}"
	rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
	download() { (cd "$kdir.tmp" && apt-get "${apt_opts[@]}" download "${debs[@]}" >&2); }
	if ! download; then
		# Stale lists name a build the mirror has dropped.
		apt_update
		rm -rf "$kdir.tmp"
		pkg=$(resolve_kernel)
		debs[0]=$pkg
		kdir=$kroot/$pkg
		[ "$guest_busybox" = /bin/busybox ] || guest_busybox=$kdir/busybox
		rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
		download
	fi
	dpkg-deb -x "$kdir.tmp/${pkg}"_*.deb "$kdir.tmp/root"
	# Only boot/ (the kernel and its config) and busybox are kept: the
	# guest loads no module, and an older kernel of ARCH and SUITE is
	# dropped, so the cache stays small.
	find "$kroot" -mindepth 1 -maxdepth 1 -name "linux-image-*" ! -name "$pkg.tmp" -exec rm -rf {} +
	mkdir -p "$kdir"
	mv "$kdir.tmp/root/boot" "$kdir/boot"
	if [ "$guest_busybox" != /bin/busybox ]; then
		dpkg-deb -x "$kdir.tmp"/busybox-static_*.deb "$kdir.tmp/busybox"
		# /bin before trixie, /usr/bin since (merged /usr).
		mv "$(ls "$kdir.tmp"/busybox/{bin,usr/bin}/busybox 2>/dev/null | head -n1)" "$kdir/busybox"
	fi
	rm -rf "$kdir.tmp"
fi
kernel=$(ls "$kdir"/boot/vmlinuz-* | head -n1)
config=$(ls "$kdir"/boot/config-* | head -n1)
if [ -n "$fetch_only" ]; then
	echo "$kernel"
	exit 0
fi
# What the recorder needs must be built in: the initramfs loads no module.
for opt in BPF_SYSCALL DEBUG_INFO_BTF BPF_EVENTS KPROBES KPROBE_EVENTS FUNCTION_TRACER \
	CGROUPS CGROUP_BPF DEVTMPFS RD_GZIP "${arch_opts[@]}"; do
	grep -qx "CONFIG_$opt=y" "$config" || { log "$pkg: CONFIG_$opt is not built in"; exit 1; }
done
log "kernel $pkg ($kernel)"

# The initramfs: busybox for ARCH, its applets, /init and the checker. The
# host's busybox lists the applets (the guest's may not run here) and packs
# the archive.
host_busybox=/bin/busybox
file -L "$host_busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$host_busybox" 2>&1 | grep -q 'not a dynamic executable' ||
	{ log "$host_busybox is not statically linked (is busybox installed instead of busybox-static?)"; exit 1; }
rm -rf "$out"
root=$out/initrd
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc}
cp "$guest_busybox" "$root/bin/busybox"
for applet in $("$host_busybox" --list-full); do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
log "building test/kernelcheck for $goarch"
CGO_ENABLED=0 GOARCH=$goarch "$go" build -o "$root/kernelcheck" ./test/kernelcheck
cat >"$root/init" <<INIT
#!/bin/sh
# The kernel matrix guest: mount what capprof uses, run the checker, power off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo 1 > /proc/sys/kernel/dmesg_restrict
echo "guest: kernel \$(uname -r) \$(uname -m), \$(nproc) CPUs"
/kernelcheck -attach $attach -label "$label"
echo "guest: kernelcheck exited with status \$?"
poweroff -f
INIT
chmod 755 "$root/init" "$root/kernelcheck"
(cd "$root" && find . | "$host_busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$out/initrd.cpio.gz"

# Boot. qemu exits 0 whatever the guest did: the verdict is in the log.
serial=$out/serial.log
log "booting under qemu TCG (timeout ${timeout_s}s); serial log: $serial"
start=$(date +%s)
set +e
timeout "$timeout_s" "${qemu[@]}" -m 1024 -smp 2 \
	-nodefaults -no-user-config -display none -no-reboot -serial stdio \
	-kernel "$kernel" -initrd "$out/initrd.cpio.gz" \
	-append "console=$console panic=-1 quiet" </dev/null | tee "$serial"
rc=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - start))
if [ "$rc" -eq 124 ]; then
	log "FAIL: the guest did not power off within ${timeout_s}s"
	exit 1
fi
if [ "$rc" -ne 0 ]; then
	log "FAIL: qemu exited with status $rc"
	exit 1
fi
# The guest's row of the kernels × features table (test/vm/kernel-table.sh).
tr -d '\r' <"$serial" | sed -n 's/^TABLE //p' >"$out/table-row.md"
if grep -q '^KERNELCHECK PASS' <(tr -d '\r' <"$serial"); then
	log "PASS: $pkg, ${elapsed}s from boot to power-off"
	exit 0
fi
if grep -q '^KERNELCHECK FAIL' <(tr -d '\r' <"$serial"); then
	log "FAIL: the checker failed on $pkg (${elapsed}s)"
else
	log "FAIL: no verdict from the guest (${elapsed}s)"
fi
exit 1
