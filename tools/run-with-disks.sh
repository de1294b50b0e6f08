#!/usr/bin/env bash
# Boots moat with a virtio-blk and an NVMe disk backed by fresh raw images (sparse, 64 MiB each,
# removed afterwards), so that what the guest writes really lands somewhere.
#   tools/run-with-disks.sh [--iommu-device QEMU-DEVICE] [moat run options...]
# --iommu-device puts that IOMMU (e.g. intel-iommu,intremap=off) first in the topology, so that it
# exists before the disks, and boots with --iommu none: moat's --iommu always asks for intremap=on,
# and a -global cannot undo a property the -device line sets.
set -uo pipefail
iommu_dev=""
if [ "${1:-}" = --iommu-device ]; then
    iommu_dev=${2:?--iommu-device needs a QEMU device}
    shift 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/moat-disks.XXXXXX")
trap 'rm -rf "$dir"' EXIT
truncate -s 64M "$dir/vblk.img" "$dir/nvme.img"
: > "$dir/topology.txt"
[ -n "$iommu_dev" ] && echo "-device $iommu_dev" >> "$dir/topology.txt"
cat >> "$dir/topology.txt" <<EOT
-blockdev driver=file,node-name=vblkf,filename=$dir/vblk.img
-blockdev driver=raw,node-name=vblk0,file=vblkf
-blockdev driver=file,node-name=nvmef,filename=$dir/nvme.img
-blockdev driver=raw,node-name=nvme0,file=nvmef
-device virtio-blk-pci,bus=pcie.0,addr=0x4,drive=vblk0,disable-legacy=on,iommu_platform=on
-device nvme,bus=pcie.0,addr=0x5,drive=nvme0,serial=moat0
EOT
if [ -n "$iommu_dev" ]; then
    "$root/moat" run --topology "$dir/topology.txt" "$@" --iommu none
else
    "$root/moat" run --topology "$dir/topology.txt" "$@"
fi
