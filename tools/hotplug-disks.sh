#!/usr/bin/env bash
# Boots the hot-plug topology (tests/topologies/10-hotplug.txt: rp1 empty) with two disks that
# a test can plug in with hp_add=...,drive=NODE: node hpd, a sparse 64 MiB raw image, and node
# hpslow, a null disk (reads zeros, keeps nothing) whose every I/O takes 1 s, so that I/Os are
# still in flight when the device leaves. The image lives in a scratch directory removed
# afterwards.
#   tools/hotplug-disks.sh [moat run options...]      (--qmp is implied)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/moat-hpdisks.XXXXXX")
trap 'rm -rf "$dir"' EXIT
truncate -s 64M "$dir/hpd.img"
{
    cat "$root/tests/topologies/10-hotplug.txt"
    cat <<EOT
-blockdev driver=file,node-name=hpdf,filename=$dir/hpd.img
-blockdev driver=raw,node-name=hpd,file=hpdf
-blockdev driver=null-co,node-name=hpslow,size=67108864,read-zeroes=on,latency-ns=1000000000
EOT
} > "$dir/topology.txt"
"$root/moat" run --qmp --topology "$dir/topology.txt" "$@"
