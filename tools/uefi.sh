#!/usr/bin/env bash
# QEMU arguments that boot moat through UEFI (OVMF) from an appliance disk image alone; ./moat
# run --boot uefi uses them in place of -kernel. Everything it makes goes into DIR, which the
# caller removes after the run.
#
#   tools/uefi.sh DIR --efi BOOTX64.EFI --elf RUNTIME.elf [--cmdline S]   (builds DIR/disk.img)
#   tools/uefi.sh DIR --image DISK.img                                    (boots that image)
#
# Prints one QEMU argument per line: two pflash drives (OVMF's code read-only, a private copy
# of its variable store) and the disk on the q35 AHCI controller, which every q35 machine has
# at 00:1f.2, so the PCI topology is the same as on the PVH path.
set -euo pipefail

die() { printf 'moat: error: %s\n' "$*" >&2; exit 2; }

dir=${1:?usage: tools/uefi.sh DIR (--efi F --elf F [--cmdline S] | --image F)}; shift
efi="" elf="" image="" cmdline=""
while [ $# -gt 0 ]; do
    case $1 in
        --efi) efi=$2; shift 2 ;;
        --elf) elf=$2; shift 2 ;;
        --image) image=$2; shift 2 ;;
        --cmdline) cmdline=$2; shift 2 ;;
        *) die "tools/uefi.sh: unknown option '$1'" ;;
    esac
done

code=${MOAT_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
vars=${MOAT_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
[ -r "$code" ] && [ -r "$vars" ] || die "--boot uefi needs OVMF ($code, $vars): tools/setup.sh installs the ovmf package"

mkdir -p "$dir"
if [ -z "$image" ]; then
    image=$dir/disk.img
    "$(dirname "${BASH_SOURCE[0]}")/image.sh" -o "$image" --efi "$efi" --elf "$elf" \
        --cmdline "$cmdline" 2>/dev/null || die "building the UEFI disk image failed (tools/image.sh)"
else
    [ -r "$image" ] || die "--boot uefi:$image: cannot read the image"
    [ -z "$cmdline" ] || die "--cmdline: a prebuilt image carries its own command line (EFI/moat/cmdline.txt)"
fi
cp "$vars" "$dir/vars.fd"
printf '%s\n' \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$code" \
    -drive "if=pflash,format=raw,unit=1,file=$dir/vars.fd" \
    -drive "if=none,id=moat-esp,format=raw,snapshot=on,file=$image" \
    -device "ide-hd,drive=moat-esp,bus=ide.0,bootindex=0"
