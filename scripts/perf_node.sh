#!/bin/bash
# perf_node.sh: where one node's main thread spends its CPU under a 64-connection load, by innermost JS function
# (scripts/perf_attrib.ts): a 3-node cluster of BIN with JIT names on node NODE (BUN_JSC_useJITDump, read by the
# compiled binary too), wrk -t2 -c64 puts (put) or linearizable GETs after a fill of every key (get) on the leader
# for 18 s, and a `perf record -F 1999 -g` of node NODE's main thread from 8 s to 14 s into it.
#   scripts/perf_node.sh put|get NODE PORTBASE [TOP]   (env: BIN; node 1 is the leader, 2 and 3 follow)
LOAD=$1; NODE=$2; PB=$3; TOP=${4:-40}
HERE=$(cd "$(dirname "$0")" && pwd)
REAL_BIN=${BIN:-$HERE/../bin/qklzl}
case $LOAD in put) LUA=qklzl-put.lua;; get) LUA=qklzl-get.lua;; *) echo "usage: $0 put|get NODE PORTBASE [TOP]" >&2; exit 2;; esac
D=$(mktemp -d /tmp/qklzl-perf.XXXX); mkdir -p $D/jit
cat >$D/bin.sh <<WRAP
#!/bin/bash
if [[ " \$* " == *" -id $NODE "* ]]; then export BUN_JSC_useJITDump=1 BUN_JSC_jitDumpDirectory=$D/jit; fi
exec $REAL_BIN "\$@"
WRAP
chmod +x $D/bin.sh
BIN=$D/bin.sh; source "$HERE/ab_cluster.sh"; start_cluster
case $NODE in 1) P=$P1;; 2) P=$P2;; 3) P=$P3;; *) echo "NODE is 1, 2 or 3" >&2; kill $P1 $P2 $P3; exit 2;; esac
[ $LOAD = get ] && fill_keys
wrk -t2 -c64 -d18s -s /work/shared/bench/$LUA http://127.0.0.1:$((PB+11)) >$D/wrk.out 2>&1 & W=$!
sleep 8
perf record -F 1999 -g -t $P -o $D/perf.data -- sleep 6 >/dev/null 2>&1
wait $W; grep -E "Requests/sec" $D/wrk.out
kill $P1 $P2 $P3; wait $P1 $P2 $P3 2>/dev/null
bun "$HERE/jitdump_perf_map.ts" $(ls $D/jit/*.dump | head -1) $P >/dev/null
perf script -i $D/perf.data 2>/dev/null >$D/perf.txt
bun "$HERE/perf_attrib.ts" $D/perf.txt $TOP
rm -rf $D /tmp/perf-$P.map
