#!/bin/bash
# A/B of garbage collection per put: a 3-node cluster of BIN (Go-style flags) with BUN_JSC_logGC=1 on every node,
# wrk -t2 -cCONNS puts (100-byte values, 10,000 keys) on the leader for DURATION s after a 3 s warm-up. Prints, per
# node, the GC cycles (Eden/Full) of the measured window per 100k puts, the sum and the longest of their
# stop-the-world pauses, the heap at GC start, the heap growth per put (a rough allocation proxy, see
# gc_log_summary.ts) and CPU per put; then wrk's result. Pause figures swing with the machine's load (the
# collector's threads wait for a core): compare in alternated pairs, and prefer pause per cycle and GCs per put.
# usage: scripts/ab_gc.sh BIN LABEL PORTBASE [DURATION]; CONNS=64 by default. Alternate binaries A B B A, with
# the load noted. PORTBASE below 32768 (see ab_leader_cpu.sh). KEEP=DIR keeps the node logs.
BIN=$1; LABEL=$2; PB=$3; DUR=${4:-10}; CONNS=${CONNS:-64}; THREADS=$((CONNS < 2 ? 1 : 2))
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=$(mktemp -d /tmp/qklzl-gc.XXXX)
start() { BUN_JSC_logGC=1 $BIN "$@" >$D/$N.log 2>$D/$N.gc & }
N=1 start -id 1 -data-dir $D/1 -bootstrap -raft-addr 127.0.0.1:$((PB+1)) -http-addr 127.0.0.1:$((PB+11)); P1=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:$((PB+11))/status >/dev/null && break; sleep 0.2; done
N=2 start -id 2 -data-dir $D/2 -join 127.0.0.1:$((PB+11)) -raft-addr 127.0.0.1:$((PB+2)) -http-addr 127.0.0.1:$((PB+12)); P2=$!
N=3 start -id 3 -data-dir $D/3 -join 127.0.0.1:$((PB+11)) -raft-addr 127.0.0.1:$((PB+3)) -http-addr 127.0.0.1:$((PB+13)); P3=$!
sleep 4
curl -s -XPOST -d '{"op":"put","key":"warm","value":"x"}' http://127.0.0.1:$((PB+11))/kv >/dev/null
wrk -t$THREADS -c$CONNS -d3s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) >/dev/null 2>&1
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
lines() { wc -l <$D/$1.gc; }
T1=$(ticks $P1); T2=$(ticks $P2); T3=$(ticks $P3); L1=$(lines 1); L2=$(lines 2); L3=$(lines 3)
OUT=$(wrk -t$THREADS -c$CONNS -d${DUR}s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) 2>&1 | grep WRKRESULT)
E1=$(ticks $P1); E2=$(ticks $P2); E3=$(ticks $P3); M1=$(lines 1); M2=$(lines 2); M3=$(lines 3)
RSS=$(for p in $P1 $P2 $P3; do awk '/VmRSS/{printf "%d ", $2/1024}' /proc/$p/status; done)
kill $P1 $P2 $P3; wait $P1 $P2 $P3 2>/dev/null
REQ=$(echo "$OUT" | sed 's/.*requests=\([0-9]*\).*/\1/')
echo "$LABEL $OUT rss_mb=[$RSS] load=$(cut -d' ' -f1 /proc/loadavg)"
for n in 1 2 3; do
  eval "from=\$L$n to=\$M$n t0=\$T$n t1=\$E$n"
  bun "$HERE/gc_log_summary.ts" $D/$n.gc --from "$from" --to "$to" --puts "$REQ" --label "$LABEL node$n cpu_us_per_put=$(( (t1 - t0) * 10000 / REQ ))"
done
[[ -n "$KEEP" ]] && { mkdir -p "$KEEP"; cp $D/*.log $D/*.gc "$KEEP"/; }
for f in $D/*.log; do grep -qiE "fatal|error" $f && { echo "== $f"; grep -iE "fatal|error|refus" $f | head -5; }; done; rm -rf $D
