#!/bin/bash
# trace_gaps_run.sh: a 3-node cluster of BIN with QKLZL_TRACE on every node and JIT names on the leader, wrk puts at
# CONNS connections (4 s warm-up, 8 s measured), and a `perf record -k mono -g` of the leader over the measured run;
# then scripts/trace_gaps.ts on what the leader's main thread did while its stamps stopped for over GAP_MS.
#   scripts/trace_gaps_run.sh cpu|offcpu PORTBASE   (env: BIN; KNOBS="useGC=0 ..." as BUN_JSC_* on every node; PIN=1;
#   CONNS=64 wrk connections, GAP_MS=5 the shortest gap counted: CONNS=1 GAP_MS=1 for the one-connection tail)
MODE=$1; PB=$2; CONNS=${CONNS:-64}; THREADS=$((CONNS < 2 ? 1 : 2)); export GAP_MS=${GAP_MS:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
REAL_BIN=${BIN:-$HERE/../bin/qklzl}
D=$(mktemp -d /tmp/qklzl-gaps.XXXX); mkdir -p $D/jit
cat >$D/bin.sh <<WRAP
#!/bin/bash
for kv in \$KNOBS; do export "BUN_JSC_\$kv"; done
if [[ " \$* " == *" -id 1 "* ]]; then export BUN_JSC_useJITDump=1 BUN_JSC_jitDumpDirectory=$D/jit; fi
exec $REAL_BIN "\$@"
WRAP
chmod +x $D/bin.sh
export QKLZL_TRACE=$D/trace
BIN=$D/bin.sh; source "$HERE/ab_cluster.sh"; start_cluster
unset QKLZL_TRACE
if [ -n "$PIN" ]; then taskset -a -p -c 1 $P1 >/dev/null; taskset -a -p -c 0 $P2 >/dev/null; taskset -a -p -c 0 $P3 >/dev/null; fi
wrk -t$THREADS -c$CONNS -d4s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) >/dev/null 2>&1
OFFSET=$(python3 -c 'import time; print(int((time.time() - time.clock_gettime(time.CLOCK_MONOTONIC)) * 1e6))')
${PIN:+taskset -c 0} wrk -t$THREADS -c$CONNS -d8s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) >$D/wrk.out 2>&1 & W=$!
sleep 0.3
if [ "$MODE" = offcpu ]; then EVENT="-e sched:sched_switch -t $P1"; else EVENT="-F 1999 -p $P1"; fi
perf record -k mono -g $EVENT -o $D/perf.data -- sleep 7.5 >/dev/null 2>&1
wait $W; grep WRKRESULT $D/wrk.out
kill $P1 $P2 $P3; wait $P1 $P2 $P3 2>/dev/null
bun "$HERE/jitdump_perf_map.ts" $(ls $D/jit/*.dump | head -1) $P1
perf script -i $D/perf.data 2>/dev/null >$D/perf.txt
bun "$HERE/trace_gaps.ts" $MODE $D/perf.txt $D/trace.$P1 $OFFSET $P1
rm -rf $D /tmp/perf-$P1.map
