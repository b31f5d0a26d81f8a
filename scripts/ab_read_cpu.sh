#!/bin/bash
# A/B of every node's CPU per linearizable read (GET /kv): a 3-node cluster of BIN (Go-style flags), 3 s of puts to fill the key space, then wrk -t2 -c64 qklzl-get.lua on the leader for
# DURATION s after a 3 s warm-up; prints wrk's result, each node's CPU ticks (/proc/PID/stat utime+stime) over the
# run and the leader's and each follower's ns of CPU per linearizable read. PORTBASE must be below the ephemeral range (32768): a port taken by an
# outgoing connection kills a node at start and the run measures a 2-node cluster (f2 or f3 = 0: discard it).
# usage: scripts/ab_leader_cpu.sh BIN LABEL PORTBASE [DURATION]; alternate two binaries, A B A B, with uptime noted.
BIN=$1; LABEL=$2; PB=$3; DUR=${4:-15}
D=$(mktemp -d /tmp/qklzl-ab.XXXX)
source "$(dirname "$0")/ab_cluster.sh"
start_cluster
fill_keys
wrk -t2 -c64 -d2s -s /work/shared/bench/qklzl-get.lua http://127.0.0.1:$((PB+11)) >/dev/null 2>&1
rounds() { curl -s http://127.0.0.1:$((PB+11))/metrics | awk '/^qklzl_read_index_rounds_total/{print $2}'; }
R0=$(rounds)
T1=$(ticks $P1); T2=$(ticks $P2); T3=$(ticks $P3)
OUT=$(wrk -t2 -c64 -d${DUR}s -s /work/shared/bench/qklzl-get.lua http://127.0.0.1:$((PB+11)) 2>&1 | grep WRKRESULT)
E1=$(ticks $P1); E2=$(ticks $P2); E3=$(ticks $P3)
R1=$(rounds)
REQ=$(echo "$OUT" | sed 's/.*requests=\([0-9]*\).*/\1/')
kill $P1 $P2 $P3; wait $P1 $P2 $P3 2>/dev/null
echo "$LABEL $OUT leader_ticks=$((E1-T1)) f2=$((E2-T2)) f3=$((E3-T3)) ns_per_read_leader=$(( (E1-T1)*10000000/REQ )) ns_per_read_f2=$(( (E2-T2)*10000000/REQ )) ns_per_read_f3=$(( (E3-T3)*10000000/REQ )) reads_per_round=$(echo "scale=1; $REQ/(${R1:-0}-${R0:-0}+0.0001)" | bc) load=$(cut -d' ' -f1 /proc/loadavg)"
for f in $D/*.log; do grep -qiE "fatal|error|exit" $f && { echo "== $f"; grep -iE "fatal|error|exit|refus" $f | head -5; }; done; rm -rf $D
