#!/usr/bin/env bash
# The image does not depend on where the tree is checked out: copies the committed tree to two
# directories of different depth and name, builds moat.elf in each (the image target only: the
# appliance parts and newlib are left out) and compares the bytes.
#   tools/check-repro.sh [WORKDIR]     (default: a temporary directory, removed afterwards)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-}
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/moat-repro.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi
command -v git >/dev/null && git -C "$root" rev-parse --git-dir >/dev/null 2>&1 \
    || { echo "skipped: $root is not a git checkout"; exit 77; }
a=$work/a/moat
b=$work/second-checkout/deeper/path/moat
for d in "$a" "$b"; do
    mkdir -p "$d"
    # The tree as it is now: tracked files and new ones not yet committed, without what git
    # ignores (build output) or files deleted in the work tree.
    (cd "$root" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$d"
    (cd "$d" && cmake --preset x86_64-pvh >"$d.configure.log" 2>&1 &&
        cmake --build build/x86_64-pvh --target moat.elf >"$d.build.log" 2>&1) \
        || { tail -n 30 "$d".*.log; echo "FAIL: building in $d"; exit 1; }
done
if cmp "$a/build/x86_64-pvh/moat.elf" "$b/build/x86_64-pvh/moat.elf"; then
    echo "moat.elf is byte-identical from $a and $b ($(stat -c %s "$a/build/x86_64-pvh/moat.elf") bytes)"
    exit 0
fi
echo "FAIL: moat.elf differs between checkouts at different paths"
for p in "$a" "$b"; do strings -a "$p/build/x86_64-pvh/moat.elf" | grep -F "$work" | head -5; done
exit 1
