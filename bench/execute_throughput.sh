#!/usr/bin/env bash
# Short-task throughput as a user sees it: `stoa up` with its defaults (one
# master, two agents, resources detected), then
# `stoa execute --instances=N --command=true`. Prints the wall time, tasks/s,
# and the longest gap in which no task started while tasks were still waiting.
# Measures only; asserts nothing. Usage: bench/execute_throughput.sh [N] [BIN_DIR]
set -euo pipefail
instances=${1:-1000}
bin=${2:-"$(cd "$(dirname "$0")/.." && pwd)/build/bin"}
work=$(mktemp -d /tmp/stoa-throughput.XXXXXX)
port=$((20000 + RANDOM % 20000))

"$bin/stoa" up --work_dir="$work" --port="$port" >"$work/up.log" 2>&1 &
up=$!
cleanup() {
  kill -TERM "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  agents=$(curl -fsS "http://127.0.0.1:$((port + 1))/state" 2>/dev/null |
    grep -o '"active":true' | wc -l || true)
  [ "${agents:-0}" -ge 2 ] && break
  sleep 0.1
done

# Each line of stoa execute's output, stamped when it arrives.
start=$(date +%s.%N)
"$bin/stoa" execute --master="127.0.0.1:$port" --instances="$instances" --command=true 2>&1 |
  while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done >"$work/execute.out"
end=$(date +%s.%N)

awk -v start="$start" -v end="$end" -v n="$instances" '
  / TASK_STARTING| TASK_RUNNING/ {
    split($3, id, ":"); if (seen[id[1]]++) next;    # the first sign of each task
    started++; if (last == "") last = start;
    gap = $1 - last; if (gap > max_gap) max_gap = gap; last = $1
  }
  / TASK_FINISHED/ { finished++ }
  END {
    total = end - start
    printf "stoa execute --instances=%d --command=true on stoa up (2 agents)\n", n
    printf "  finished:        %d of %d\n", finished, n
    printf "  wall time:       %.1f s\n", total
    printf "  throughput:      %.1f tasks/s\n", finished / total
    printf "  longest gap between task starts while tasks waited: %.2f s\n", max_gap
  }' "$work/execute.out"
