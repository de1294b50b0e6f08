#!/usr/bin/env bash
# QEMU arguments that boot moat through UEFI (OVMF) from an appliance disk image alone; ./moat
# run --boot uefi uses them in place of -kernel. Everything it makes goes into DIR, which the
# caller removes after the run.
#
#   tools/uefi.sh DIR --efi BOOTX64.EFI --elf RUNTIME.elf [--cmdline S]   (builds DIR/disk.img)
#   tools/uefi.sh DIR --image DISK.img                                    (boots that image)
#   tools/uefi.sh accel BUILD                 kvm or tcg for UEFI boots (probed once, kept in
#                                             BUILD/.accel-uefi; BUILD is ./moat's build folder)
#
# Prints one QEMU argument per line: two pflash drives (OVMF's code read-only, a private copy
# of its variable store) and the disk on the q35 AHCI controller, which every q35 machine has
# at 00:1f.2, so the PCI topology is the same as on the PVH path.
set -euo pipefail

die() { printf 'moat: error: %s\n' "$*" >&2; exit 2; }

code=${MOAT_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
vars=${MOAT_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}

# A KVM that boots PVH guests may still fail OVMF: its first phase runs from flash in 32-bit
# mode without paging, which some hosts (nested virtualization without unrestricted guest)
# cannot run ("KVM internal error ... emulation failure", and QEMU then waits for ever). So
# UEFI boots get their own probe: a real boot of the default image, stopped at that message.
probe_accel() {
    local build=$1 cache=$1/.accel-uefi
    if [ -f "$cache" ]; then cat "$cache"; return; fi
    local accel=tcg t qpid
    t=$(mktemp -d "${TMPDIR:-/tmp}/moat-uefi-probe.XXXXXX")
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ -r "$build/x86_64-pvh/BOOTX64.EFI" ] &&
        "$0" "$t" --efi "$build/x86_64-pvh/BOOTX64.EFI" --elf "$build/x86_64-pvh/moat.elf" > "$t/args" 2>/dev/null; then
        mapfile -t words < "$t/args"
        qemu-system-x86_64 -accel kvm -cpu host -nodefaults -display none -no-reboot -machine q35 \
            -m 256M -serial "file:$t/log" -device isa-debug-exit,iobase=0xf4,iosize=4 \
            "${words[@]}" >"$t/qemu" 2>&1 </dev/null &
        qpid=$!
        for _ in $(seq 60); do
            kill -0 "$qpid" 2>/dev/null || break
            grep -q "KVM internal error" "$t/qemu" 2>/dev/null && break
            sleep 0.5
        done
        kill "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
        grep -q "^moat: power off, status 0" "$t/log" 2>/dev/null && accel=kvm
    fi
    rm -rf "$t"
    [ "$accel" = kvm ] || printf 'moat: KVM cannot boot OVMF here (probe boot failed); UEFI boots use TCG\n' >&2
    mkdir -p "$build"
    echo "$accel" > "$cache.$$" && mv "$cache.$$" "$cache"
    echo "$accel"
}

if [ "${1:-}" = accel ]; then
    probe_accel "${2:?usage: tools/uefi.sh accel BUILD}"
    exit 0
fi

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

[ -r "$code" ] && [ -r "$vars" ] || die "--boot uefi needs OVMF ($code, $vars): tools/setup.sh installs the ovmf package"

mkdir -p "$dir"
if [ -z "$image" ]; then
    image=$dir/disk.img
    "$(dirname "${BASH_SOURCE[0]}")/image.sh" -o "$image" --efi "$efi" --elf "$elf" \
        --cmdline "$cmdline" 2>"$dir/image.log" || { cat "$dir/image.log" >&2; die "building the UEFI disk image failed"; }
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
