#!/usr/bin/env bash
# Boots a topology and compares moat's iommu_group lines with the expected partition.
#   tools/check-groups.sh TOPOLOGY.txt EXPECTED.groups [moat run options...]
# EXPECTED has one group per line (its BDFs sorted, space-separated), in any line order — the
# format of shared/reference/linux-groups/*.groups. Exit 77 (skip) when EXPECTED is missing.
# With --arch aarch64 the machine is QEMU's virt, which has no q35 functions at 00:1f.x: their
# group is dropped from EXPECTED (shared/reference/linux-arm64/README.md).
# A topology line "# cmdline: WORDS" boots it with that command line (e.g. sriov_numvfs=max for
# the groups of VFs, which Linux and moat leave off until asked).
set -uo pipefail
topo=$1 expected=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -r "$expected" ] || [ ! -r "$topo" ]; then
    echo "skipped: $expected or $topo is not here (a clone without ../shared)"
    exit 77
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
words=$(sed -n 's/^# cmdline: *//p' "$topo" 2>/dev/null | head -n1)
[ -z "$words" ] || set -- "$@" --cmdline "$words"
"$root/moat" run --no-build --topology "$topo" "$@" >"$log" 2>&1
status=$?
if [ $status -ne 0 ]; then
    cat "$log"
    echo "FAIL: moat exited with status $status"
    exit 1
fi
got=$(grep -E '^iommu_group [0-9]+:' "$log" | sed 's/^iommu_group [0-9]*: //' |
      while read -r -a bdfs; do printf '%s\n' "${bdfs[@]}" | sort | tr '\n' ' ' | sed 's/ $//'; echo; done | sort)
want=$(grep -v '^\s*$' "$expected" | sort)
if [[ " $* " == *" --arch aarch64 "* ]]; then
    want=$(echo "$want" | grep -v '0000:00:1f\.')
fi
if [ "$got" != "$want" ]; then
    grep -E '^(pci|0000|iommu_group)' "$log"
    echo "FAIL: groups differ from $expected"
    diff <(echo "$want") <(echo "$got") | sed 's/^</expected:/; s/^>/moat:    /'
    exit 1
fi
echo "groups match $expected ($(echo "$want" | wc -l) groups)"
