#!/bin/bash
# floor_run.sh: the floor model (scripts/floor_put.ts) or a qklzl cluster under the same wrk -t2 -c64 put load, with
# each node's CPU by thread name, so the two compare at equal CPU per put. WARM s of load first, then 10 s measured.
#   scripts/floor_run.sh floor|qklzl PORTBASE [WARM]    (PORTBASE below 32768, see ab_leader_cpu.sh)
# env: BIN (qklzl binary); LB / FB: ns of CPU the floor's leader / followers burn per put (FLOOR_BURN_NS);
# AT=commit (FLOOR_BURN_AT); HOLD: MB the floor's leader holds (FLOOR_HOLD_MB); PIN=1: the leader alone on CPU 1,
# the followers and wrk on CPU 0 (all threads of each process).
MODE=$1; PB=$2; WARM=${3:-0}
D=$(mktemp -d /tmp/qklzl-floor.XXXX)
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$MODE" = floor ]; then
  FLOOR_BURN_NS=${FB:-0} bun "$HERE/floor_put.ts" follower $((PB+2)) $D/2 & P2=$!
  FLOOR_BURN_NS=${FB:-0} bun "$HERE/floor_put.ts" follower $((PB+3)) $D/3 & P3=$!
  sleep 0.5
  FLOOR_HOLD_MB=${HOLD:-0} FLOOR_BURN_AT=${AT:-} FLOOR_BURN_NS=${LB:-0} bun "$HERE/floor_put.ts" leader $((PB+11)) $D/1 $((PB+2)) $((PB+3)) & P1=$!
  for _ in $(seq 50); do curl -s -XPOST -d '{"op":"put","key":"w","value":"x"}' http://127.0.0.1:$((PB+11))/kv >/dev/null && break; sleep 0.1; done
else
  BIN=${BIN:-$HERE/../bin/qklzl}
  source "$HERE/ab_cluster.sh"
  start_cluster
fi
if [ -n "$PIN" ]; then taskset -a -p -c 1 $P1 >/dev/null; taskset -a -p -c 0 $P2 >/dev/null; taskset -a -p -c 0 $P3 >/dev/null; fi
[ "$WARM" -gt 0 ] && wrk -t2 -c64 -d${WARM}s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) >/dev/null 2>&1
# Per process and thread name: CPU ticks (utime + stime) so far.
snap() { for p in $P1 $P2 $P3; do for t in /proc/$p/task/*; do echo "$p $(tr ' ' _ <$t/comm) $(awk '{print $14+$15}' $t/stat)"; done; done | awk '{a[$1" "$2]+=$3} END {for (k in a) print k, a[k]}' | sort; }
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
snap >$D/a; B0=$(busy)
OUT=$(${PIN:+taskset -c 0} wrk -t2 -c64 -d10s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) 2>&1 | grep WRKRESULT)
B1=$(busy); snap >$D/b
echo "$MODE warm=$WARM $OUT $(echo "$B0 $B1" | awk '{printf "cpu_busy=%.0f%%", 100 * ($3 - $1) / ($4 - $2)}')"
join <(awk '{print $1"/"$2, $3}' $D/a) <(awk '{print $1"/"$2, $3}' $D/b) | awk -v l=$P1 -v f=$P2 '{d = ($3 - $2) * 10; split($1, x, "/"); r = (x[1] == l ? "L" : (x[1] == f ? "F2" : "F3")); if (d > 0) printf "%s:%s=%dms ", r, x[2], d} END {print ""}'
kill $P1 $P2 $P3; wait $P1 $P2 $P3 2>/dev/null; rm -rf $D
