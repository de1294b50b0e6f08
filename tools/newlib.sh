#!/usr/bin/env bash
# Builds newlib (the C library programs link against) from Debian's newlib-source tarball for
# one target, into a cache directory keyed on everything that decides its bytes: the tarball,
# the target, the compiler and its version, the flags, the headers moat puts in place of
# newlib's, and this script. A second call with the same key does nothing.
#
# Usage: tools/newlib.sh --target TRIPLE --cc COMPILER --cflags "FLAGS" --uapi DIR
#                        --overrides DIR --cache DIR [--print-dir]
#   --target     newlib's target, e.g. x86_64-elf or aarch64-elf
#   --cc         the compiler that builds it (the host gcc for x86_64, aarch64-linux-gnu-gcc)
#   --cflags     the image ABI's flags (no red zone, no PIC, ...)
#   --uapi       a directory holding only linux/, asm/ and asm-generic/ (Linux's uapi headers:
#                moat's errno values are Linux's, taken from <asm-generic/errno.h>)
#   --overrides  posix/newlib: headers copied over newlib's own before it is configured
#   --cache      where builds are kept (each in <cache>/<target>-<key>/)
#   --print-dir  only print the directory the build for these arguments lives in
# The result: <dir>/include (newlib's headers, with moat's replacements), <dir>/lib/libc.a,
# <dir>/lib/libm.a, and <dir>/stamp once complete.
set -euo pipefail

tarball=${MOAT_NEWLIB_TARBALL:-/usr/src/newlib/newlib-3.3.0.tar.xz}
target="" cc="" cflags="" uapi="" overrides="" cache="" print_dir=0
while [ $# -gt 0 ]; do
    case $1 in
        --target) target=$2; shift 2 ;;
        --cc) cc=$2; shift 2 ;;
        --cflags) cflags=$2; shift 2 ;;
        --uapi) uapi=$2; shift 2 ;;
        --overrides) overrides=$2; shift 2 ;;
        --cache) cache=$2; shift 2 ;;
        --print-dir) print_dir=1; shift ;;
        *) echo "newlib.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
die() { echo "newlib.sh: error: $*" >&2; exit 1; }
[ -n "$target" ] && [ -n "$cc" ] && [ -n "$uapi" ] && [ -n "$overrides" ] && [ -n "$cache" ] \
    || die "need --target, --cc, --uapi, --overrides and --cache"
[ -r "$tarball" ] || die "no newlib source at $tarball (Debian: apt-get install newlib-source; tools/setup.sh does)"
command -v "$cc" >/dev/null || die "no compiler '$cc'"
[ -r "$uapi/asm-generic/errno.h" ] || die "no Linux uapi headers in $uapi"

key=$( { sha256sum "$tarball" | cut -d' ' -f1
         echo "$target|$cc|$cflags"
         "$cc" --version | head -n1
         (cd "$overrides" && find . -type f | LC_ALL=C sort | xargs sha256sum)
         sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1; } | sha256sum | cut -c1-16)
dir=$cache/$target-$key
if [ $print_dir = 1 ]; then echo "$dir"; exit 0; fi
[ -e "$dir/stamp" ] && exit 0

mkdir -p "$cache"
# A build of its own per call: two builds racing for the same key both finish, the last rename wins.
work=$(mktemp -d "$cache/.build-$target.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "newlib.sh: building newlib for $target with $cc (cached in $dir)" >&2
start=$(date +%s)
tar -xJf "$tarball" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d)
[ -x "$src/configure" ] || die "unexpected layout of $tarball"
mv "$src" "$work/src"
src=$work/src
(cd "$overrides" && find . -type f) | while read -r h; do
    [ -e "$src/newlib/libc/include/$h" ] || die "override $h replaces no newlib header"
    cp "$overrides/$h" "$src/newlib/libc/include/$h"
done

# Paths inside the objects (debug info, __FILE__) become fixed names: the same bytes from any
# directory.
maps="-ffile-prefix-map=$work=/newlib -ffile-prefix-map=$uapi=/uapi"
mkdir -p "$work/build"
tool() { local t; t=$("$cc" -print-prog-name="$1"); command -v "$t" || command -v "$1"; }
(cd "$work/build" && "$src/configure" --target="$target" --prefix="$work/install" \
    --disable-multilib --disable-libgloss --disable-nls \
    --disable-newlib-supplied-syscalls --enable-newlib-io-long-long \
    --enable-newlib-io-c99-formats --disable-newlib-multithread \
    CC_FOR_TARGET="$cc" AR_FOR_TARGET="$(tool ar)" RANLIB_FOR_TARGET="$(tool ranlib)" \
    AS_FOR_TARGET="$(tool as)" LD_FOR_TARGET="$(tool ld)" NM_FOR_TARGET="$(tool nm)" \
    OBJDUMP_FOR_TARGET="$(tool objdump)" READELF_FOR_TARGET="$(tool readelf)" \
    STRIP_FOR_TARGET="$(tool strip)" \
    CFLAGS_FOR_TARGET="$cflags -isystem $uapi $maps" >"$work/configure.log" 2>&1) \
    || { tail -n 30 "$work/configure.log" >&2; die "configure failed"; }
jobs=$(nproc 2>/dev/null || echo 2)
(cd "$work/build" && make -j"$jobs" all-target-newlib >"$work/make.log" 2>&1 &&
    make install-target-newlib >>"$work/make.log" 2>&1) \
    || { grep -E -B2 'error:|\*\*\*' "$work/make.log" | head -n 60 >&2; die "make failed"; }

out=$work/out
mkdir -p "$out/lib"
cp -r "$work/install/$target/include" "$out/include"
cp "$work/install/$target/lib/libc.a" "$work/install/$target/lib/libm.a" "$out/lib/"
echo "newlib $(basename "$tarball") for $target in $(( $(date +%s) - start )) s" > "$out/stamp"
rm -rf "$dir"
mv -T "$out" "$dir" 2>/dev/null || [ -e "$dir/stamp" ] || die "cannot move the build to $dir"
cat "$dir/stamp" >&2
# Builds for this target under other keys are stale (other flags, an older script or tarball),
# and so are the empty directories the build tool made for their stamps.
for old in "$cache/$target"-*; do
    [ "$old" = "$dir" ] || rm -rf "$old"
done
