#!/usr/bin/env bash
# Writes the kernels × features table of FILE (docs/recorder.md), between
# its "<!-- kernel-table begin -->" and "<!-- kernel-table end -->" lines,
# from the rows that test/kernelcheck printed in the VMs (test/vm/run.sh
# keeps each in _build/vm/ARCH-SUITE/table-row.md). With --check it changes
# nothing and fails when the table differs: the committed table is the one
# the last runs produced, never one written by hand.
#
#   test/vm/kernel-table.sh [--check] FILE ROW-FILE...
set -euo pipefail
check=
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
file=$1
shift
table=$(mktemp)
trap 'rm -f "$table" "$table.new"' EXIT
{
	echo '| distribution | kernel | arch | attaches | record uses | methods checked, every scenario passed | syscall number | task fields | new cgroups'"'"' paths | run |'
	echo '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
	for row in "$@"; do
		[ -s "$row" ] || { echo "kernel-table: no row in $row: did its VM run?" >&2; exit 1; }
	done
	# By distribution and kernel, whatever order the guests ran in.
	cat "$@" | sort
} >"$table"
grep -qx '<!-- kernel-table begin -->' "$file" && grep -qx '<!-- kernel-table end -->' "$file" ||
	{ echo "kernel-table: $file has no kernel-table begin and end lines" >&2; exit 1; }
awk -v table="$table" '
	/^<!-- kernel-table end -->$/ { skip = 0 }
	!skip { print }
	/^<!-- kernel-table begin -->$/ { while ((getline line < table) > 0) print line; skip = 1 }
' "$file" >"$table.new"
if cmp -s "$file" "$table.new"; then
	echo "kernel-table: $file is what these runs produced"
	exit 0
fi
if [ -n "$check" ]; then
	echo "kernel-table: $file's kernels × features table differs from these runs':" >&2
	diff "$file" "$table.new" >&2 || true
	echo "run make test-kernels and commit $file" >&2
	exit 1
fi
cat "$table.new" >"$file"
echo "kernel-table: wrote the kernels × features table of $file"
