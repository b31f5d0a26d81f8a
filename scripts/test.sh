#!/usr/bin/env bash
# The README's test command (`npm test`): unit, simulator and integration tests under bun test, then the
# scenarios. Ends with one line "N passed, N failed" summing both, since CI does not read bun's own summary.
set -u
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun
[ -x "$BUN" ] && "$BUN" --version >/dev/null 2>&1 || BUN=node_modules/@oven/bun-linux-x64/bin/bun
log=$(mktemp)
"$BUN" run build >/dev/null 2>&1 || { echo "build failed"; "$BUN" run build; }
"$BUN" test --timeout 120000 test 2>&1 | tee "$log"; rc_unit=${PIPESTATUS[0]}
p=$(grep -Eo '^ *[0-9]+ pass$' "$log" | grep -Eo '[0-9]+' | tail -1); f=$(grep -Eo '^ *[0-9]+ fail$' "$log" | grep -Eo '[0-9]+' | tail -1)
p=${p:-0}; f=${f:-0}
rc_scen=0
if [ -f scenarios/run.ts ]; then
  "$BUN" scenarios/run.ts 2>&1 | tee "$log"; rc_scen=${PIPESTATUS[0]}
  sp=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ -n "$sp" ]; then
    p=$((p + $(echo "$sp" | awk '{print $1}'))); f=$((f + $(echo "$sp" | awk '{print $3}')))
  elif [ "$rc_scen" -ne 0 ]; then f=$((f + 1)); fi
fi
rm -f "$log"
echo "${p} passed, ${f} failed"
[ "$rc_unit" -eq 0 ] && [ "$rc_scen" -eq 0 ] && [ "$f" -eq 0 ]
