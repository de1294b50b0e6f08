#!/usr/bin/env bash
# Builds Linux's own VFIO selftests unchanged against moat and runs them on QEMU's edu, nvme and
# igb under VT-d, one boot per test program and device. The sources are never part of moat: point
# MOAT_LINUX_SELFTESTS at a Linux tree (or a copy holding the same paths: tools/include,
# tools/testing/selftests/{kselftest.h,kselftest_harness.h,vfio/}); without it the run is
# skipped (exit 77, ctest's SKIP_RETURN_CODE).
#   MOAT_LINUX_SELFTESTS=/path/to/linux tools/linux-selftests.sh [--no-build] [TEST...]
# MOAT_SELFTEST_DEVICES (default "edu nvme igb edu+nvme"; edu+nvme: both in one machine, the programs
# given both BDFs) names the devices, MOAT_SELFTEST_IOMMU (default
# intel; amd) the IOMMU; TEST (each on every device)
# defaults to vfio_dma_mapping_test, vfio_dma_mapping_mmio_test, vfio_pci_device_test,
# vfio_iommufd_setup_test and vfio_pci_device_init_perf_test (threads) on edu and nvme,
# vfio_pci_driver_test (whose driver the selftests have) and vfio_pci_sriov_uapi_test (VFs made
# through sriov_numvfs, VF tokens) on igb. A program that skips itself whole (kselftest's
# status 4) is reported, not failed.
# Each program prints kselftest's TAP lines; the run fails when a program's totals count a
# failure or an error, or it prints none (it did not build or did not finish).
# MOAT_LINUX_SELFTESTS_CFLAGS adds compiler flags (e.g. -isystem of newer uapi headers).
set -uo pipefail
root=${MOAT_LINUX_SELFTESTS:-}
moat_root=$(cd "$(dirname "$0")/.." && pwd)
vfio=$root/tools/testing/selftests/vfio
if [ -z "$root" ] || [ ! -d "$vfio/lib" ]; then
    echo "skipped: MOAT_LINUX_SELFTESTS does not name a Linux tree with tools/testing/selftests/vfio" \
         "(set it to re-run Linux's VFIO selftests on moat)"
    exit 77
fi
build=()
[ "${1:-}" = "--no-build" ] && { build=(--no-build); shift; }
tests=("$@")
# The library's files as its makefile lists them (x86's drivers included).
libs=()
while read -r f; do
    libs+=(--app "$vfio/lib/$f")
done < <(sed -n 's/^LIBVFIO_C *[:+]\?= *\([^ ]*\.c\).*/\1/p' "$vfio/lib/libvfio.mk")
[ ${#libs[@]} -gt 0 ] || { echo "no LIBVFIO_C in $vfio/lib/libvfio.mk" >&2; exit 2; }

cflags="-D_GNU_SOURCE -I$vfio/lib/include -I$root/tools/include -I$root/tools/testing/selftests"
cflags+=" ${MOAT_LINUX_SELFTESTS_CFLAGS:-}"
# The device each program is given: its topology, its address, QEMU's extra arguments and the
# programs it runs by default. igb's vfio_pci_driver_test has a 1 GiB buffer: 2 GiB of RAM.
device_setup() {
    local t=$moat_root/tests/topologies
    case $1 in
        edu) echo "$t/edu.txt 0000:00:03.0 -m 512M $default_tests" ;;
        nvme) echo "$t/nvme.txt 0000:00:05.0 -m 512M $default_tests" ;;
        igb) echo "$t/igb.txt 0000:00:04.0 -m 2G vfio_pci_driver_test vfio_pci_sriov_uapi_test" ;;
        # Both at once: the test that takes several devices, one thread each.
        edu+nvme) echo "$both 0000:00:03.0,0000:00:05.0 -m 512M vfio_pci_device_init_perf_test" ;;
        *) echo "unknown device '$1' (edu, nvme, igb or edu+nvme)" >&2; return 1 ;;
    esac
}
default_tests="vfio_dma_mapping_test vfio_dma_mapping_mmio_test vfio_pci_device_test vfio_iommufd_setup_test"
default_tests+=" vfio_pci_device_init_perf_test"

both=$(mktemp)
trap 'rm -f "$both"' EXIT
cat "$moat_root/tests/topologies/edu.txt" "$moat_root/tests/topologies/nvme.txt" >"$both"

rc=0
for dev in ${MOAT_SELFTEST_DEVICES:-edu nvme igb edu+nvme}; do
  read -r topo bdf mflag msize dev_tests < <(device_setup "$dev") || exit 2
  run=("${tests[@]}")
  [ ${#run[@]} -gt 0 ] || read -r -a run <<<"$dev_tests"
  for t in "${run[@]}"; do
    log=$(mktemp)
    echo "# $t on $dev ($bdf)"
    "$moat_root/moat" run "${build[@]}" --iommu "${MOAT_SELFTEST_IOMMU:-intel}" --topology "$topo" \
        --app "$vfio/$t.c" "${libs[@]}" --app-cflags "$cflags" \
        --cmdline "-- ${bdf//,/ }" --timeout "${MOAT_SELFTEST_TIMEOUT:-1200}" -- "$mflag" "$msize" \
        >"$log" 2>&1
    status=$?
    grep -E '^(ok|not ok) [0-9]+ |^# (SKIP|Totals|FAIL)|^#  +(FAIL|SKIP)' "$log" | sed "s/^/$t\/$dev: /"
    totals=$(grep -E '^# Totals: ' "$log" | tail -n1)
    skipped=$(grep -E '^1\.\.0 # SKIP|^No driver found' "$log" | head -n1)
    if [ -z "$totals" ] && [ "$status" = 4 ] && [ -n "$skipped" ]; then
        echo "$t/$dev: skipped by the program (kselftest's status 4): $skipped"
    else
        echo "$t/$dev: exit status $status; ${totals:-no totals}"
        if [ -z "$totals" ] || ! grep -qE 'fail:0 .*error:0' <<<"$totals"; then
            rc=1
            tail -n 40 "$log" | sed "s/^/$t\/$dev| /"
        fi
    fi
    rm -f "$log"
    build=(--no-build)          # one image build is enough: each --app run rebuilds the program
  done
done
exit $rc
