#!/bin/bash
# A/B of one-connection put latency: a 3-node cluster of BIN (Go-style flags), wrk -t1 -c1 puts of 100 B on the
# leader for DURATION s after a 3 s warm-up; prints wrk's p50/p99, each node's CPU ticks per put and the load.
# Extra environment (e.g. QKLZL_TRACE=1) is passed to the nodes; with TRACE_OUT=FILE the nodes' stderr trace lines
# are kept there. usage: scripts/ab_c1_latency.sh BIN LABEL PORTBASE [DURATION] [CONNS]; alternate A B A B.
BIN=$1; LABEL=$2; PB=$3; DUR=${4:-20}; CONNS=${5:-1}
D=$(mktemp -d /tmp/qklzl-c1.XXXX)
source "$(dirname "$0")/ab_cluster.sh"
start_cluster
T=1; ((CONNS > 1)) && T=2
timeout 20 wrk -t$T -c$CONNS -d3s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) >/dev/null 2>&1
L0=$(cut -d' ' -f1 /proc/loadavg)
T1=$(ticks $P1); T2=$(ticks $P2); T3=$(ticks $P3)
OUT=$(timeout $((DUR + 30)) wrk -t$T -c$CONNS -d${DUR}s --latency -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) 2>&1)
E1=$(ticks $P1); E2=$(ticks $P2); E3=$(ticks $P3)
R=$(echo "$OUT" | grep WRKRESULT)
REQ=$(echo "$R" | sed 's/.*requests=\([0-9]*\).*/\1/')
kill $P1 $P2 $P3; wait $P1 $P2 $P3 2>/dev/null
echo "$LABEL c=$CONNS $R us_cpu_per_put leader=$(( (E1-T1)*10000/REQ )) f2=$(( (E2-T2)*10000/REQ )) f3=$(( (E3-T3)*10000/REQ )) load=$L0/$(cut -d' ' -f1 /proc/loadavg)"
[[ -n "$TRACE_OUT" ]] && cat $D/*.log | grep '^QTRACE' >"$TRACE_OUT"
for f in $D/*.log; do grep -qiE "fatal|error|exit" $f && { echo "== $f"; grep -iE "fatal|error|exit|refus" $f | head -5; }; done; rm -rf $D
