#!/usr/bin/env bash
# Writes moat's UEFI appliance disk image: GPT, one EFI system partition (FAT32), holding
#   EFI/BOOT/BOOTX64.EFI        the loader (boot/efi/loader)
#   EFI/moat/moat.elf           the runtime (the same ELF the PVH path boots), debug info stripped
#   EFI/moat/moat.elf.crc32     its CRC-32, which the loader checks
#   EFI/moat/cmdline.txt        moat's command line
#   startup.nsh                 run only when a UEFI shell comes up instead of moat (the firmware
#                               could not start BOOTX64.EFI, or the loader refused the runtime):
#                               says so and powers off rather than waiting at a prompt
# Ready to dd to a USB stick or disk. No root, no loop devices (mtools), and reproducible: the
# same inputs give the same bytes (fixed GUIDs, volume serial and timestamps).
#
#   tools/image.sh -o FILE --efi BOOTX64.EFI --elf RUNTIME.elf [--cmdline STRING]
#   tools/image.sh -o FILE --build DIR [--tests] [--cmdline STRING]    (./moat image)
# --build takes BOOTX64.EFI and moat.elf (--tests: moat-tests.elf) from an x86_64-pvh build.
set -euo pipefail

say() { printf 'image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

out="" efi="" elf="" cmdline="" build="" tests=0
while [ $# -gt 0 ]; do
    case $1 in
        -o) out=${2:?-o needs a file}; shift 2 ;;
        --efi) efi=${2:?--efi needs a file}; shift 2 ;;
        --elf) elf=${2:?--elf needs a file}; shift 2 ;;
        --cmdline) cmdline=${2?--cmdline needs a value}; shift 2 ;;
        --build) build=${2:?--build needs a directory}; shift 2 ;;
        --tests) tests=1; shift ;;
        *) die "unknown option '$1' (-o FILE [--tests] [--cmdline S])" ;;
    esac
done
if [ -n "$build" ]; then
    [ -n "$efi" ] || efi=$build/BOOTX64.EFI
    [ -n "$elf" ] || { elf=$build/moat.elf; [ $tests = 0 ] || elf=$build/moat-tests.elf; }
fi
[ -n "$out" ] || die "need -o FILE (the disk image to write)"
[ -n "$efi" ] && [ -n "$elf" ] || die "need --efi BOOTX64.EFI and --elf RUNTIME.elf (or --build DIR)"
[ -r "$efi" ] || die "no loader at $efi (build the x86_64-pvh preset; it needs gnu-efi: tools/setup.sh)"
[ -r "$elf" ] || die "no runtime ELF at $elf"
for c in mformat mmd mcopy python3 objcopy; do
    command -v "$c" >/dev/null || die "$c is missing (tools/setup.sh installs it)"
done
case $cmdline in *[![:print:]]*) die "--cmdline: only printable ASCII" ;; esac
[ ${#cmdline} -lt 512 ] || die "--cmdline: longer than 511 bytes"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Every timestamp in the FAT comes from here (mtools honours SOURCE_DATE_EPOCH).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export MTOOLS_SKIP_CHECK=1
export MTOOLSRC=/dev/null
tmp=$(mktemp -d "${TMPDIR:-/tmp}/moat-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/EFI/BOOT" "$tmp/EFI/moat"
cp "$efi" "$tmp/EFI/BOOT/BOOTX64.EFI"
# No debug info, no local symbols (they name source paths): the loader needs only the global
# efi_entry64; backtraces are symbolized from the build's own ELF.
objcopy --strip-debug --discard-all "$elf" "$tmp/EFI/moat/moat.elf"
python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' \
    "$tmp/EFI/moat/moat.elf" > "$tmp/EFI/moat/moat.elf.crc32"
printf '%s\n' "$cmdline" > "$tmp/EFI/moat/cmdline.txt"
cat > "$tmp/startup.nsh" <<'NSH'
@echo -off
echo "moat: the firmware did not start moat from this disk (see the messages above); powering off"
reset -s
NSH
find "$tmp/EFI" "$tmp/startup.nsh" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# 34 MiB: the smallest FAT32 (>= 65525 clusters of one sector) with room to spare; UEFI asks
# for FAT32 on fixed disks. Hidden sectors = the partition's start LBA (tools/mkgpt.py).
esp=$tmp/esp.img
mformat -i "$esp" -C -T 69632 -h 64 -s 32 -H 2048 -F -v MOAT-ESP -N 4d4f4154 :: \
    || die "mformat failed"
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/moat
for f in EFI/BOOT/BOOTX64.EFI EFI/moat/moat.elf EFI/moat/moat.elf.crc32 EFI/moat/cmdline.txt startup.nsh; do
    mcopy -m -i "$esp" "$tmp/$f" "::/$f" || die "mcopy $f failed"
done
python3 "$here/mkgpt.py" --esp "$esp" -o "$out.tmp" || die "writing the GPT failed"
mv "$out.tmp" "$out"
say "wrote $out ($(stat -c %s "$out") bytes; runtime $(basename "$elf"), command line \"$cmdline\")"
