#!/bin/bash
# sched_wait.sh: how long each thread of a 3-node cluster ran and how long it waited runnable for a CPU
# (/proc/PID/task/TID/schedstat: run ns, run-queue wait ns, timeslices) over a wrk -t2 -c64 put load of DURATION s
# after a 3 s warm-up; wrk's own threads too. On a 2-core machine running three nodes and the load generator, a
# thread's wait is the queueing the 64-connection tail is made of.
# usage: scripts/sched_wait.sh BIN PORTBASE [DURATION]   (PORTBASE below 32768, see ab_leader_cpu.sh)
BIN=$1; PB=$2; DUR=${3:-10}
D=$(mktemp -d /tmp/qklzl-sched.XXXX)
source "$(dirname "$0")/ab_cluster.sh"
start_cluster
wrk -t2 -c64 -d3s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) >/dev/null 2>&1
snap() { for p in "$@"; do for t in /proc/$p/task/*; do echo "$p:$(tr ' ' _ <$t/comm):$(basename $t) $(cat $t/schedstat 2>/dev/null)"; done; done | sort; }
snap $P1 $P2 $P3 >$D/before
wrk -t2 -c64 -d${DUR}s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) >$D/wrk.out 2>&1 & W=$!
sleep 0.5; snap $W >$D/wrk_before; sleep $((DUR - 1)); snap $W >$D/wrk_after
wait $W; snap $P1 $P2 $P3 >$D/after
kill $P1 $P2 $P3; wait $P1 $P2 $P3 2>/dev/null
grep WRKRESULT $D/wrk.out
echo "nodes: leader $P1, followers $P2 $P3 (${DUR} s); wrk $W ($((DUR - 1)) s); ms of run, of run-queue wait, timeslices"
show() { join "$1" "$2" | awk '{r = ($5 - $2) / 1e6; w = ($6 - $3) / 1e6; if (r > 20) printf "  %-30s run %7.0f  wait %7.0f  slices %7d\n", $1, r, w, $7 - $4}'; }
show $D/before $D/after; show $D/wrk_before $D/wrk_after
rm -rf $D
