#!/bin/bash
# A/B of the leader's CPU per put: a 3-node cluster of BIN (Go-style flags), wrk -t2 -c64 puts on the leader for
# DURATION s after a 3 s warm-up; prints wrk's result, each node's CPU ticks (/proc/PID/stat utime+stime) over the
# run and the leader's and each follower's ns of CPU per put. PORTBASE must be below the ephemeral range (32768): a port taken by an
# outgoing connection kills a node at start and the run measures a 2-node cluster (f2 or f3 = 0: discard it).
# usage: scripts/ab_leader_cpu.sh BIN LABEL PORTBASE [DURATION]; alternate two binaries, A B A B, with uptime noted.
# BENCH_VALUE_SIZE / BENCH_KEYS (env) reach the lua script: e.g. 16384 and 2000 for the large-value case.
BIN=$1; LABEL=$2; PB=$3; DUR=${4:-15}
D=$(mktemp -d /tmp/qklzl-ab.XXXX)
source "$(dirname "$0")/ab_cluster.sh"
start_cluster
wrk -t2 -c64 -d3s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) >/dev/null 2>&1
faults() { awk '{print $10}' /proc/$1/stat; } # minor page faults: first touches of fresh memory (large values)
T1=$(ticks $P1); T2=$(ticks $P2); T3=$(ticks $P3); M1=$(faults $P1); M2=$(faults $P2); M3=$(faults $P3)
OUT=$(wrk -t2 -c64 -d${DUR}s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) 2>&1 | grep WRKRESULT)
E1=$(ticks $P1); E2=$(ticks $P2); E3=$(ticks $P3); N1=$(faults $P1); N2=$(faults $P2); N3=$(faults $P3)
REQ=$(echo "$OUT" | sed 's/.*requests=\([0-9]*\).*/\1/')
kill $P1 $P2 $P3; wait $P1 $P2 $P3 2>/dev/null
echo "$LABEL $OUT leader_ticks=$((E1-T1)) f2=$((E2-T2)) f3=$((E3-T3)) ns_per_put_leader=$(( (E1-T1)*10000000/REQ )) ns_per_put_f2=$(( (E2-T2)*10000000/REQ )) ns_per_put_f3=$(( (E3-T3)*10000000/REQ )) faults_per_put=$(( (N1-M1)/REQ ))/$(( (N2-M2)/REQ ))/$(( (N3-M3)/REQ )) load=$(cut -d' ' -f1 /proc/loadavg)"
for f in $D/*.log; do grep -qiE "fatal|error|exit" $f && { echo "== $f"; grep -iE "fatal|error|exit|refus" $f | head -5; }; done; rm -rf $D
