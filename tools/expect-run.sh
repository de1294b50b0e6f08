#!/usr/bin/env bash
# Runs a command that boots moat and checks what it did. Used by the QEMU ctest entries.
#   tools/expect-run.sh [--status N|nonzero] [--line REGEX]... [--no-line REGEX]... -- CMD...
# Every check is reported; the exit status is 0 only when all of them hold.
set -uo pipefail
want_status=0
lines=() nolines=()
while [ $# -gt 0 ]; do
    case $1 in
        --status) want_status=$2; shift 2 ;;
        --line) lines+=("$2"); shift 2 ;;
        --no-line) nolines+=("$2"); shift 2 ;;
        --) shift; break ;;
        *) echo "expect-run: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "expect-run: no command" >&2; exit 2; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
status=$?
cat "$out"
echo "--- expect-run: exit status $status"
fail=0
if [ "$want_status" = nonzero ]; then
    [ "$status" -ne 0 ] || { echo "FAIL: expected a non-zero exit status"; fail=1; }
elif [ "$status" -ne "$want_status" ]; then
    echo "FAIL: expected exit status $want_status, got $status"; fail=1
fi
for re in "${lines[@]}"; do
    grep -Eq -- "$re" "$out" || { echo "FAIL: no line matches /$re/"; fail=1; }
done
for re in "${nolines[@]}"; do
    if grep -Eq -- "$re" "$out"; then echo "FAIL: a line matches /$re/"; fail=1; fi
done
[ $fail = 0 ] && echo "expect-run: all checks hold"
exit $fail
