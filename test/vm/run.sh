#!/usr/bin/env bash
# Boots Debian's current kernel (linux-image-amd64's dependency: 6.1 on
# bookworm, which has no capability:cap_capable tracepoint and has kprobes,
# fentry and BTF built in) under qemu TCG with an initramfs whose only
# program is test/kernelcheck, and passes only if the guest prints
# "KERNELCHECK PASS". See shared/recipes/older-kernel-vm.md. About 70-90 s
# from boot to power-off on the project's machines.
#
#   test/vm/run.sh                  # make test-kernels
#
# Environment:
#   CAPPROF_VM_CACHE   the kernel (its package's boot/), kept between runs (~/.cache/capprof-vm)
#   CAPPROF_VM_OUT     initramfs and serial log of the last run (_build/vm)
#   CAPPROF_VM_ATTACH  methods the checker checks (fexit,kprobe,auto)
#   CAPPROF_VM_TIMEOUT seconds before the boot is called hung (600)
#   GO                 the go command (go)
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=${CAPPROF_VM_CACHE:-$HOME/.cache/capprof-vm}
out=${CAPPROF_VM_OUT:-_build/vm}
attach=${CAPPROF_VM_ATTACH:-fexit,kprobe,auto}
timeout_s=${CAPPROF_VM_TIMEOUT:-600}
go=${GO:-go}
debs=(qemu-system-x86 busybox-static)

log() { echo "vm: $*" >&2; }

apt_updated=
apt_update() {
	if [ -z "$apt_updated" ]; then
		apt-get update -qq
		apt_updated=1
	fi
}

# Install what is missing.
missing=()
for p in "${debs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
busybox=/bin/busybox
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable' ||
	{ log "$busybox is not statically linked (is busybox installed instead of busybox-static?)"; exit 1; }

# The kernel: whatever linux-image-amd64 depends on today, never a pinned
# version (the mirror keeps only the current build).
resolve_kernel() {
	apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}
pkg=$(resolve_kernel)
if [ -z "$pkg" ]; then
	apt_update
	pkg=$(resolve_kernel)
fi
[ -n "$pkg" ] || { log "cannot resolve the kernel package of linux-image-amd64"; exit 1; }
mkdir -p "$cache"
kdir=$cache/$pkg
if [ ! -d "$kdir" ]; then
	log "downloading $pkg"
	rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
	# As root, apt-get would download as _apt, which cannot write here.
	download() { (cd "$kdir.tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg"); }
	download || { apt_update && download; }
	dpkg-deb -x "$kdir.tmp/${pkg}"_*.deb "$kdir.tmp/root"
	# Only boot/ is kept (the kernel and its config): the guest loads no
	# module, and an older kernel is dropped, so the cache stays small.
	find "$cache" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -name "$pkg.tmp" -exec rm -rf {} +
	mkdir -p "$kdir"
	mv "$kdir.tmp/root/boot" "$kdir/boot"
	rm -rf "$kdir.tmp"
fi
kernel=$(ls "$kdir"/boot/vmlinuz-* | head -n1)
config=$(ls "$kdir"/boot/config-* | head -n1)
# What the recorder needs must be built in: the initramfs loads no module.
for opt in BPF_SYSCALL DEBUG_INFO_BTF BPF_EVENTS KPROBES KPROBE_EVENTS FUNCTION_TRACER \
	DYNAMIC_FTRACE_WITH_DIRECT_CALLS CGROUPS CGROUP_BPF SERIAL_8250_CONSOLE DEVTMPFS RD_GZIP; do
	grep -qx "CONFIG_$opt=y" "$config" || { log "$pkg: CONFIG_$opt is not built in"; exit 1; }
done
log "kernel $pkg ($kernel)"

# The initramfs: busybox, its applets, /init and the checker.
rm -rf "$out"
root=$out/initrd
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
log "building test/kernelcheck"
CGO_ENABLED=0 "$go" build -o "$root/kernelcheck" ./test/kernelcheck
cat >"$root/init" <<EOF
#!/bin/sh
# The kernel matrix guest: mount what capprof uses, run the checker, power off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo 1 > /proc/sys/kernel/dmesg_restrict
echo "guest: kernel \$(uname -r), \$(nproc) CPUs"
/kernelcheck -attach $attach
echo "guest: kernelcheck exited with status \$?"
poweroff -f
EOF
chmod 755 "$root/init" "$root/kernelcheck"
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$out/initrd.cpio.gz"

# Boot. qemu exits 0 whatever the guest did: the verdict is in the log.
serial=$out/serial.log
log "booting under qemu TCG (timeout ${timeout_s}s); serial log: $serial"
start=$(date +%s)
set +e
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 \
	-nodefaults -no-user-config -display none -no-reboot -serial stdio \
	-kernel "$kernel" -initrd "$out/initrd.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet" </dev/null | tee "$serial"
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
