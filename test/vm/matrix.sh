#!/usr/bin/env bash
# The kernel matrix of make test-kernels: boots each guest with
# test/vm/run.sh, CAPPROF_VM_JOBS (2) at a time, then writes the guests'
# rows into docs/recorder.md's kernels × features table
# (test/vm/kernel-table.sh; with CI=true it checks the table instead).
#
#   test/vm/matrix.sh [ARCH:SUITE[:METHODS] ...]
#
# METHODS are the attach methods the guest checks (run.sh's default for
# ARCH when absent). The default guests: Debian 11's 5.10 (the floor) and
# 13's 6.12 on amd64 with fexit, kprobe and auto; 12's 6.1 on arm64 with
# kprobe and auto, first, since its checker takes the longest to build; and
# 12's 6.1 on amd64 with fexit and auto only: its kprobe is the 5.10 and
# 6.12 guests' on amd64, a duplicate the time budget drops. Each guest's
# output is in _build/vm/ARCH-SUITE.log; a failed guest's is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."

guests=("$@")
[ ${#guests[@]} -gt 0 ] ||
	guests=(arm64:bookworm amd64:bullseye amd64:trixie amd64:bookworm:fexit,auto)
jobs=${CAPPROF_VM_JOBS:-2}
mkdir -p _build/vm

# What the guests share is set up one at a time: the host's qemu packages
# (dpkg takes one installer at a time) and each guest's kernel download.
debs=(busybox-static)
for g in "${guests[@]}"; do
	case ${g%%:*} in
	amd64) debs+=(qemu-system-x86) ;;
	arm64) debs+=(qemu-system-arm) ;;
	esac
done
test/install-debs.sh "${debs[@]}"
# ARCH, SUITE and METHODS of guest $1.
split() { IFS=: read -r arch suite methods <<<"$1"; }
for g in "${guests[@]}"; do
	split "$g"
	test/vm/run.sh -k "$arch" "$suite" >/dev/null
done

start=$(date +%s)
for g in "${guests[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	split "$g"
	name=$arch-$suite
	echo "== kernelcheck in a VM: Debian $suite $arch ${methods:-(the default methods)} (_build/vm/$name.log)"
	(
		set +e
		CAPPROF_VM_ATTACH=$methods test/vm/run.sh "$arch" "$suite" >"_build/vm/$name.log" 2>&1
		echo $? >"_build/vm/$name.rc"
	) &
done
wait

failed=0
rows=()
for g in "${guests[@]}"; do
	split "$g"
	name=$arch-$suite
	grep '^vm(.*): \(PASS\|FAIL\)' "_build/vm/$name.log" || echo "vm($g): no verdict"
	if [ "$(cat "_build/vm/$name.rc")" != 0 ]; then
		failed=1
		tr -d '\r' <"_build/vm/$name.log" | grep -E '^(doctor:|FAIL|PASS|KERNELCHECK|guest:|vm\()' || true
	fi
	rows+=("_build/vm/$name/table-row.md")
done
echo "== the kernel matrix took $(($(date +%s) - start))s ($jobs at a time)"
[ "$failed" = 0 ] || exit 1

check=()
[ "${CI:-}" != true ] || check=(--check)
test/vm/kernel-table.sh "${check[@]}" docs/recorder.md "${rows[@]}"
