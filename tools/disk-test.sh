#!/usr/bin/env bash
# Boots moat with a virtio-blk and an NVMe disk backed by raw image files, runs a block suite in
# the guest and, for blk_disk, checks the images on the host afterwards: every 512-byte sector s
# must hold the pattern of tests/image/test_blk.h (64 little-endian words: s, seed,
# s * K1 + seed + k * K2), with seed for the virtio-blk image and seed + 1 for the NVMe one.
#
#   tools/disk-test.sh [--suite blk_disk|blk_rw|...] [--size-mib N] [--seed N] [--iommu X]
#                      [--cmdline S] [--timeout S] [--keep DIR] [-- QEMU-ARGS...]
# --cmdline adds to moat's command line; QEMU-ARGS after -- go to QEMU unchanged (e.g. -global
# intel-iommu.caching-mode=on).
# Exit status: 0 all good, 1 a check failed, 77 something needed is missing (skip).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=blk_disk size_mib=64 seed=$(( (RANDOM << 15 | RANDOM) + 1 )) iommu=intel timeout=240 keep="" extra=""
while [ $# -gt 0 ]; do
    case $1 in
        --suite) suite=$2; shift 2 ;;
        --size-mib) size_mib=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --iommu) iommu=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        --cmdline) extra=" $2"; shift 2 ;;
        --) shift; break ;;
        *) echo "disk-test: unknown option $1" >&2; exit 2 ;;
    esac
done

skip() { echo "disk-test: SKIP: $*"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
command -v python3 >/dev/null || skip "python3 not installed"
img_dir=${MOAT_BUILD_DIR:-$ROOT/build}/x86_64-pvh
[ -f "$img_dir/moat-tests.elf" ] || skip "no tests image in $img_dir (build first)"

dir=${keep:-$(mktemp -d "${TMPDIR:-/tmp}/moat-disk.XXXXXX")}
mkdir -p "$dir"
[ -n "$keep" ] || trap 'rm -rf "$dir"' EXIT
vimg=$dir/vblk.img nimg=$dir/nvme.img
rm -f "$vimg" "$nimg"
truncate -s "${size_mib}M" "$vimg" "$nimg"

cat > "$dir/topology.txt" <<EOF
-blockdev driver=file,node-name=vblkf,filename=$vimg
-blockdev driver=raw,node-name=vblk0,file=vblkf
-blockdev driver=file,node-name=nvmef,filename=$nimg
-blockdev driver=raw,node-name=nvme0,file=nvmef
-device virtio-blk-pci,bus=pcie.0,addr=0x4,drive=vblk0,disable-legacy=on,iommu_platform=on
-device nvme,bus=pcie.0,addr=0x5,drive=nvme0,serial=moatdisk
EOF

echo "disk-test: $suite on two ${size_mib} MiB images in $dir (seed $seed, iommu $iommu)"
log=$dir/serial.log
status=0
MOAT_ACCEL=${MOAT_ACCEL:-tcg} "$ROOT/moat" run --no-build --tests --iommu "$iommu" \
    --topology "$dir/topology.txt" --timeout "$timeout" --log "$log" \
    --cmdline "tests=$suite blk_seed=$seed$extra" -- "$@" || status=$?
if [ "$status" -ne 0 ] || ! grep -Eq '^[1-9][0-9]* passed, 0 failed' "$log"; then
    echo "disk-test: FAIL: the guest run ended with status $status"
    exit 1
fi
[ "$suite" = blk_disk ] || { echo "disk-test: guest suite $suite passed"; exit 0; }

# The host's view: the image files, sector by sector, against the pattern.
python3 - "$vimg" "$seed" "$nimg" "$((seed + 1))" <<'EOF'
import struct, sys
K1, K2, M = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9, (1 << 64) - 1
STEPS = [(k * K2) & M for k in range(64)]

def sector(s, seed):
    base = (s * K1 + seed) & M
    return struct.pack('<64Q', s, seed, *[(base + STEPS[k]) & M for k in range(2, 64)])

def wrong_sectors(data, seed):
    return [s for s in range(len(data) // 512) if data[s * 512:(s + 1) * 512] != sector(s, seed)]

bad = 0
for path, seed in zip(sys.argv[1::2], map(int, sys.argv[2::2])):
    seed &= M
    with open(path, 'rb') as f:
        data = f.read()
    n = len(data) // 512
    wrong = wrong_sectors(data, seed)
    if wrong:
        bad += 1
        print(f"disk-test: FAIL: {path}: {len(wrong)} of {n} sectors differ from the pattern "
              f"(first: sector {wrong[0]})")
        continue
    # The check itself must see a single flipped bit, in the middle of the disk.
    s = n // 2 + 3
    flipped = bytearray(data[s * 512:(s + 1) * 512])
    flipped[100] ^= 0x10
    if bytes(flipped) == sector(s, seed) or data[s * 512:(s + 1) * 512] != sector(s, seed):
        bad += 1
        print(f"disk-test: FAIL: the checker missed a flipped bit in sector {s}")
        continue
    print(f"disk-test: {path}: all {n} sectors hold the pattern (seed {seed:#x}); "
          f"a flipped bit in sector {s} is caught")
sys.exit(1 if bad else 0)
EOF
echo "disk-test: guest and host checks pass"
