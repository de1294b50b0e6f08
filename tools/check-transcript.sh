#!/usr/bin/env bash
# Runs a Linux-style program on moat and compares its transcript ("T ..." lines, plus
# "T exit <status>") with what Linux printed for the same program on the same machine.
#   tools/check-transcript.sh PROGRAM.c EXPECTED TOPOLOGY [moat run options...]
# Exit 77 (skip) when PROGRAM.c or EXPECTED is missing (a clone without ../shared).
set -uo pipefail
prog=$1 expected=$2 topo=$3
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
for f in "$prog" "$expected" "$topo"; do
    if [ ! -r "$f" ]; then
        echo "skipped: $f is not here (a clone without ../shared)"
        exit 77
    fi
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$root/moat" run --topology "$topo" --app "$prog" "$@" >"$log" 2>&1
status=$?
got=$( (grep -E '^T ' "$log"; echo "T exit $status") )
if [ "$got" != "$(cat "$expected")" ]; then
    grep -vE '^(mem|acpi):' "$log" | tail -60
    echo "FAIL: transcript differs from $expected"
    diff <(cat "$expected") <(echo "$got") | sed 's/^</linux:/; s/^>/moat: /'
    exit 1
fi
echo "transcript matches $expected ($(echo "$got" | wc -l) lines)"
