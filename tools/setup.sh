#!/usr/bin/env bash
# Installs what moat needs to build and test, from the distribution's own packages.
#
# On Debian bookworm the stock QEMU (7.2) lacks the emulated IOMMU features moat relies on
# (scalable-mode first-stage, newer amd-iommu options), so QEMU and the Linux uapi headers
# (for <linux/iommufd.h>) come from bookworm-backports.  The backports suite is added on the
# same mirror the system already uses; no host name is written here.
#
# Usage: tools/setup.sh [--check]   (--check: report what is missing, install nothing)
set -euo pipefail

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# name of a command -> Debian package that provides it
need_cmds=(cmake:cmake ninja:ninja-build gcc:gcc ld.lld:lld clang:clang
           qemu-system-x86_64:qemu-system-x86 mformat:mtools python3:python3
           aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu qemu-system-aarch64:qemu-system-arm
           dtc:device-tree-compiler)
need_files=(/usr/include/linux/iommufd.h:linux-libc-dev /usr/share/OVMF/OVMF_CODE_4M.fd:ovmf
            /usr/include/efi/efi.h:gnu-efi /usr/lib/crt0-efi-x86_64.o:gnu-efi
            /usr/src/newlib/newlib-3.3.0.tar.xz:newlib-source)
backports_pkgs=(qemu-system-x86 qemu-system-arm linux-libc-dev)
min_qemu_major=9

qemu_major() {  # [BINARY]: the major version of qemu-system-x86_64 (or BINARY), 0 when absent
    local q=${1:-qemu-system-x86_64}
    command -v "$q" >/dev/null || { echo 0; return; }
    "$q" --version | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p'
}

missing=()
for pair in "${need_cmds[@]}"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
for pair in "${need_files[@]}"; do
    [ -e "${pair%%:*}" ] || missing+=("${pair#*:}")
done
qm=$(qemu_major)
if [ "$qm" -lt "$min_qemu_major" ] && [[ " ${missing[*]} " != *" qemu-system-x86 "* ]]; then
    missing+=(qemu-system-x86)
fi
# bookworm's own qemu-system-arm is 7.2; the AArch64 target wants the backports' one like x86.
if [ "$(qemu_major qemu-system-aarch64)" -lt "$min_qemu_major" ] && [[ " ${missing[*]} " != *" qemu-system-arm "* ]]; then
    missing+=(qemu-system-arm)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ $check_only = 1 ]; then
    say "missing: ${missing[*]}"
    exit 1
fi

[ -r /etc/os-release ] && . /etc/os-release
if [ "${ID:-}" != debian ]; then
    die "this system (${PRETTY_NAME:-unknown}) is not Debian; install these yourself: ${missing[*]} (QEMU >= $min_qemu_major with intel-iommu and amd-iommu, Linux uapi headers >= 6.2)"
fi
[ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]} (run: sudo $0)"

export DEBIAN_FRONTEND=noninteractive
codename=${VERSION_CODENAME:-bookworm}

# The mirror the system already uses for its main suite.
mirror_uri() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk -v cn="$codename" '
            /^URIs:/ { uri=$2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == cn) hit=1 }
            /^$/ { if (hit && uri) { print uri; exit } hit=0; uri="" }
            END { if (hit && uri) print uri }' "$f"
    done | head -n1
    if [ -e /etc/apt/sources.list ]; then
        awk -v cn="$codename" '$1 == "deb" && $3 == cn { print $2; exit }' /etc/apt/sources.list
    fi
    return 0
}

uses_backports=0
if [ "$codename" = bookworm ]; then
    uses_backports=1
    list=/etc/apt/sources.list.d/moat-backports.list
    if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        uri=$(mirror_uri | head -n1)
        [ -n "$uri" ] || die "could not find the Debian mirror for '$codename' in the apt sources"
        say "adding ${codename}-backports on $uri"
        echo "deb $uri ${codename}-backports main" > "$list"
    fi
fi

say "installing: ${missing[*]}"
apt-get update -qq || die "apt-get update failed"
regular=() bp=()
for p in "${missing[@]}"; do
    if [ $uses_backports = 1 ] && [[ " ${backports_pkgs[*]} " == *" $p "* ]]; then bp+=("$p"); else regular+=("$p"); fi
done
if [ ${#regular[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${regular[@]}" || die "apt-get install ${regular[*]} failed"
fi
if [ ${#bp[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends -t "${codename}-backports" "${bp[@]}" \
        || die "apt-get install -t ${codename}-backports ${bp[*]} failed"
fi

# Verify: never leave the machine half set up without saying so.
still=()
for pair in "${need_cmds[@]}"; do command -v "${pair%%:*}" >/dev/null || still+=("${pair#*:}"); done
for pair in "${need_files[@]}"; do [ -e "${pair%%:*}" ] || still+=("${pair#*:}"); done
[ "$(qemu_major)" -ge "$min_qemu_major" ] || still+=("qemu-system-x86>=$min_qemu_major (have $(qemu_major))")
[ "$(qemu_major qemu-system-aarch64)" -ge "$min_qemu_major" ] || still+=("qemu-system-arm>=$min_qemu_major (have $(qemu_major qemu-system-aarch64))")
[ ${#still[@]} -eq 0 ] || die "still missing after install: ${still[*]}"
say "done: $(qemu-system-x86_64 --version | head -n1)"
