#!/usr/bin/env bash
# Short-task throughput of the batch framework as a user sees it: `stoa up`
# with its defaults (one master, two agents, resources detected, the batch
# framework), then one job of N tasks of `true` (completions N, parallelism P)
# run through Metronome's API. Prints the wall time from POST .../runs to the
# run's SUCCESS and tasks/s. Measures only; asserts nothing.
# Usage: bench/batch_throughput.sh [N] [P] [BIN_DIR]
set -euo pipefail
tasks=${1:-1000}
parallel=${2:-100}
bin=${3:-"$(cd "$(dirname "$0")/.." && pwd)/build/bin"}
work=$(mktemp -d /tmp/stoa-batch-throughput.XXXXXX)
port=$((20000 + RANDOM % 20000))
batch=$((port + 10))

"$bin/stoa" up --work_dir="$work" --port="$port" --service_port=0 --batch_port="$batch" \
  >"$work/up.log" 2>&1 &
up=$!
cleanup() {
  kill -TERM "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  grep -q "Press Ctrl-C" "$work/up.log" && break
  sleep 0.1
done
api="http://127.0.0.1:$batch"
curl -fsS -X POST -H 'Content-Type: application/json' "$api/v1/jobs" -d "{
  \"id\": \"bench.short\",
  \"run\": {\"cmd\": \"true\", \"cpus\": 0.01, \"mem\": 32, \"disk\": 0,
           \"completions\": $tasks, \"parallelism\": $parallel}}" >/dev/null

start=$(date +%s.%N)
run=$(curl -fsS -X POST -d "" "$api/v1/jobs/bench.short/runs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# Polled lightly (the job's history summary, no interpreter per look), so
# that the looking takes no CPU from what is measured.
while ! curl -fsS "$api/v1/jobs/bench.short?embed=historySummary" |
  grep -Eq '"(successCount|failureCount)":[1-9]'; do
  sleep 0.1
done
end=$(date +%s.%N)
status=$(curl -fsS "$api/v1/jobs/bench.short/runs/$run" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
curl -fsS "$api/v1/jobs/bench.short/runs/$run" | python3 -c '
import json, sys
run = json.load(sys.stdin)
print("  tasks succeeded: %d, failed: %d" % (run["tasksSucceeded"], run["tasksFailed"]))'
awk -v start="$start" -v end="$end" -v n="$tasks" -v p="$parallel" -v s="$status" 'BEGIN {
  total = end - start
  printf "batch job of %d tasks of true, %d at once, on stoa up (2 agents): %s\n", n, p, s
  printf "  wall time:       %.1f s\n", total
  printf "  throughput:      %.1f tasks/s\n", n / total
}'
