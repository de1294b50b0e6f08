#!/usr/bin/env bash
# Boots moat with a virtio-blk and an NVMe disk backed by fresh raw images (sparse, 64 MiB each,
# removed afterwards), so that what the guest writes really lands somewhere.
#   tools/run-with-disks.sh [moat run options...]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/moat-disks.XXXXXX")
trap 'rm -rf "$dir"' EXIT
truncate -s 64M "$dir/vblk.img" "$dir/nvme.img"
cat > "$dir/topology.txt" <<EOT
-blockdev driver=file,node-name=vblkf,filename=$dir/vblk.img
-blockdev driver=raw,node-name=vblk0,file=vblkf
-blockdev driver=file,node-name=nvmef,filename=$dir/nvme.img
-blockdev driver=raw,node-name=nvme0,file=nvmef
-device virtio-blk-pci,bus=pcie.0,addr=0x4,drive=vblk0,disable-legacy=on,iommu_platform=on
-device nvme,bus=pcie.0,addr=0x5,drive=nvme0,serial=moat0
EOT
"$root/moat" run --topology "$dir/topology.txt" "$@"
