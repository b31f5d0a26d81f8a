#!/bin/bash
# stall_run.sh: a 3-node cluster from source with scripts/stall_monitor.ts preloaded on every node, wrk -t2 -c64
# puts of 100 B (../shared/bench/qklzl-put.lua) on the leader for DURATION s (default 25: a 10 s run can end before
# the periodic housekeeping starts), then every node's stalls merged in time order: gaps over 15 ms, calls over
# 3 ms, snapshots, and the leader's apply rate where it fell below half of its median; per node the 8 ms gaps.
# usage: scripts/stall_run.sh [DURATION] [PORTBASE] (KEEP=1 keeps the stall files); extra environment (e.g. BUN_JSC_*) reaches the nodes.
DUR=${1:-25}; PB=${2:-17800}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN="bun --preload $HERE/stall_monitor.ts $HERE/../src/cli/main.ts"
D=$(mktemp -d /tmp/qklzl-stall.XXXX)
export STALL_OUT=$D
source "$HERE/ab_cluster.sh"
start_cluster
timeout $((DUR + 30)) wrk -t2 -c64 -d${DUR}s --latency -s "$HERE/../../shared/bench/qklzl-put.lua" http://127.0.0.1:$((PB+11)) 2>&1 | grep WRKRESULT
kill $P1 $P2 $P3; wait $P1 $P2 $P3 2>/dev/null
MEDIAN=$(awk '$2=="n1" && $3=="rate" && $4>0 {print $4}' $D/stalls.n1.txt | sort -n | awk '{a[NR]=$1} END {print a[int(NR/2)+1]+0}')
echo "leader apply rate median ${MEDIAN}/s; events:"
sort -n -k1 $D/stalls.n*.txt | awk -v m=$MEDIAN '($3=="gap" && $4>15) || ($3 ~ /^snapshot/) || ($3!="gap" && $3!="rate" && $4>3) || ($2=="n1" && $3=="rate" && $4 < m/2 && $4 > 0)'
for n in 1 2 3; do awk -v n=n$n '$2==n && $3=="gap" {c++; s+=$4; r+=$6; w+=$8} END {printf "%s: %d gaps over 8 ms, %.0f ms in all: %.0f ms running, %.0f ms waiting for a core\n", n, c, s, r, w}' $D/stalls.n$n.txt; done
if [ -n "$KEEP" ]; then echo "kept $D"; else rm -rf $D; fi
