#!/usr/bin/env bash
# Checks of the UEFI appliance image that ctest runs (tests/qemu/uefi.cmake).
#
#   tools/uefi-test.sh reproducible BUILD       two images from one build are byte-identical
#   tools/uefi-test.sh damaged MODE BUILD [./moat run options...]
#        builds an image, damages it, and boots it with ./moat run --boot uefi:IMAGE; MODE:
#          elf-crc        flips bytes inside the runtime's code (the CRC record no longer holds)
#          elf-truncated  cuts the runtime ELF in half and drops the CRC record
#          elf-not-elf    replaces the runtime with text
#          efi-truncated  cuts BOOTX64.EFI in half (the firmware itself refuses it)
#          gpt-primary    zeroes the primary GPT header: the firmware must use the backup one
#          stale-key      no damage, but the loader is BOOTX64-stale-key.EFI, whose first
#                         ExitBootServices meets a stale memory-map key
# BUILD is an x86_64-pvh build directory (BOOTX64.EFI, moat-tests.elf).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf 'uefi-test: %s\n' "$*" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/moat-uefi-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The ESP starts at 1 MiB in the image (tools/mkgpt.py); mtools reaches it through @@offset.
esp() { echo "$tmp/disk.img@@1048576"; }

case ${1:-} in
reproducible)
    build=${2:?build directory}
    "$root/tools/image.sh" -o "$tmp/a.img" --build "$build" --tests --cmdline "tests=boot"
    sleep 1     # a timestamp that leaked in would now differ
    SOURCE_DATE_EPOCH='' "$root/tools/image.sh" -o "$tmp/b.img" --build "$build" --tests --cmdline "tests=boot" 2>/dev/null \
        || die "building with an empty SOURCE_DATE_EPOCH failed"
    "$root/tools/image.sh" -o "$tmp/c.img" --build "$build" --tests --cmdline "tests=boot"
    cmp "$tmp/a.img" "$tmp/c.img" || die "two builds of the same image differ"
    echo "uefi-test: identical images ($(stat -c %s "$tmp/a.img") bytes, sha256 $(sha256sum < "$tmp/a.img" | cut -c1-16)…)"
    ;;
damaged)
    mode=${2:?mode}; build=${3:?build directory}; shift 3
    efi=$build/BOOTX64.EFI
    [ "$mode" != stale-key ] || efi=$build/BOOTX64-stale-key.EFI
    "$root/tools/image.sh" -o "$tmp/disk.img" --build "$build" --efi "$efi" --tests
    export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null
    case $mode in
    elf-crc)
        mcopy -i "$(esp)" ::/EFI/moat/moat.elf "$tmp/elf"
        printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$tmp/elf" bs=1 seek=$((0x1800)) conv=notrunc status=none
        mcopy -o -i "$(esp)" "$tmp/elf" ::/EFI/moat/moat.elf ;;
    elf-truncated)
        mcopy -i "$(esp)" ::/EFI/moat/moat.elf "$tmp/elf"
        truncate -s $(($(stat -c %s "$tmp/elf") / 2)) "$tmp/elf"
        mcopy -o -i "$(esp)" "$tmp/elf" ::/EFI/moat/moat.elf
        mdel -i "$(esp)" ::/EFI/moat/moat.elf.crc32 ;;
    elf-not-elf)
        for _ in 1 2 3 4; do echo "this is not an ELF file, only text where the runtime should be"; done > "$tmp/elf"
        mcopy -o -i "$(esp)" "$tmp/elf" ::/EFI/moat/moat.elf
        mdel -i "$(esp)" ::/EFI/moat/moat.elf.crc32 ;;
    efi-truncated)
        mcopy -i "$(esp)" ::/EFI/BOOT/BOOTX64.EFI "$tmp/efi"
        truncate -s $(($(stat -c %s "$tmp/efi") / 2)) "$tmp/efi"
        mcopy -o -i "$(esp)" "$tmp/efi" ::/EFI/BOOT/BOOTX64.EFI ;;
    stale-key) ;;
    gpt-primary)
        dd if=/dev/zero of="$tmp/disk.img" bs=512 seek=1 count=1 conv=notrunc status=none ;;
    *) die "unknown damage '$mode'" ;;
    esac
    rc=0
    "$root/moat" run --no-build --boot "uefi:$tmp/disk.img" --tests "$@" || rc=$?
    exit $rc
    ;;
*) die "usage: tools/uefi-test.sh reproducible BUILD | damaged MODE BUILD [run options]" ;;
esac
