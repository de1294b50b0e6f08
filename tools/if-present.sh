#!/usr/bin/env bash
# Runs a test command only when the file it needs is there; otherwise the test is skipped
# (exit 77, ctest's SKIP_RETURN_CODE), e.g. Linux reference programs in ../shared.
#   tools/if-present.sh FILE -- CMD...
set -uo pipefail
file=$1
[ "${2:-}" = "--" ] || { echo "usage: tools/if-present.sh FILE -- CMD..." >&2; exit 2; }
shift 2
if [ ! -r "$file" ]; then
    echo "skipped: $file is not here (a clone without ../shared)"
    exit 77
fi
exec "$@"
