# Sourced by the ab_*.sh A/B scripts: start_cluster starts a 3-node cluster of $BIN (Go-style flags) in $D on
# ports from $PB (raft PB+1..3, HTTP PB+11..13), node 1 bootstrapping and 2, 3 joining it, waits for it and makes
# one warm-up put; sets P1 P2 P3. ticks PID: the process's CPU ticks so far (utime + stime). fill_keys: every key of
# qklzl-put.lua's key space written once (its fill mode touches $D/fill.0 when done), so every read finds its key.
start_cluster() {
  $BIN -id 1 -data-dir $D/1 -bootstrap -raft-addr 127.0.0.1:$((PB+1)) -http-addr 127.0.0.1:$((PB+11)) >$D/1.log 2>&1 & P1=$!
  for i in $(seq 50); do curl -sf http://127.0.0.1:$((PB+11))/status >/dev/null && break; sleep 0.2; done
  $BIN -id 2 -data-dir $D/2 -join 127.0.0.1:$((PB+11)) -raft-addr 127.0.0.1:$((PB+2)) -http-addr 127.0.0.1:$((PB+12)) >$D/2.log 2>&1 & P2=$!
  $BIN -id 3 -data-dir $D/3 -join 127.0.0.1:$((PB+11)) -raft-addr 127.0.0.1:$((PB+3)) -http-addr 127.0.0.1:$((PB+13)) >$D/3.log 2>&1 & P3=$!
  sleep 4
  curl -s -XPOST -d '{"op":"put","key":"warm","value":"x"}' http://127.0.0.1:$((PB+11))/kv >/dev/null
}
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
fill_keys() {
  BENCH_FILL=1 BENCH_FILL_MARKER=$D/fill timeout 120 wrk -t1 -c16 -d100s -s /work/shared/bench/qklzl-put.lua http://127.0.0.1:$((PB+11)) >/dev/null 2>&1 & local W=$!
  for i in $(seq 1000); do [ -e $D/fill.0 ] && break; sleep 0.1; done; kill -INT $W 2>/dev/null; wait $W 2>/dev/null
}
