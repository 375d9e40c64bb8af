#!/usr/bin/env bash
# The service framework's deployment speed as a Marathon user sees it: a
# master, two agents and `stoa service` on loopback, then over plain HTTP
#   create  POST /v2/apps {instances: N, cmd: "sleep 3600"} -> N tasks RUNNING
#           and the deployment done
#   update  PUT  /v2/apps/{id} {cmd: "sleep 7200"} (Marathon's default
#           upgradeStrategy) -> N tasks RUNNING, all of the new version, and
#           the deployment done
#   remove  DELETE /v2/apps/{id} -> no task left
# each REPEATS times (median printed), polling every POLL s. The same
# operations as peers' swarm_service.sh create/update/remove rows.
# Measures only; asserts nothing.
# Usage: bench/service_deploy.sh [N] [BIN_DIR]   env: REPEATS (3), POLL (0.1)
set -euo pipefail
instances=${1:-100}
bin=${2:-"$(cd "$(dirname "$0")/.." && pwd)/build/bin"}
repeats=${REPEATS:-3}
poll=${POLL:-0.1}
work=$(mktemp -d /tmp/stoa-service-bench.XXXXXX)
base=$((20000 + RANDOM % 20000))
master="127.0.0.1:$base"
api="http://127.0.0.1:$((base + 2))"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pkill -KILL -f "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/stoa" master --ip=127.0.0.1 --port="$base" --http_port=$((base + 1)) \
  --work_dir="$work/master" >"$work/master.log" 2>&1 &
pids+=($!)
for i in 0 1; do
  "$bin/stoa" agent --master="$master" --ip=127.0.0.1 --http_port=$((base + 10 + i)) \
    --work_dir="$work/agent$i" --hostname="node$i" \
    --resources="cpus:4;mem:8192;disk:8192;ports:[31000-31999]" >"$work/agent$i.log" 2>&1 &
  pids+=($!)
done
"$bin/stoa" service --master="$master" --ip=127.0.0.1 --http_port=$((base + 2)) \
  --work_dir="$work/service" >"$work/service.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  curl -fsS "$api/v2/info" 2>/dev/null | grep -q '"frameworkId":"' && break
  sleep 0.1
done

now() { date +%s.%N; }
# Waits until `check` (a python expression over the app JSON `a` and the
# deployment list `d`) holds; prints the seconds since $1.
wait_until() {
  local start=$1 check=$2
  while :; do
    if python3 - "$api" "$check" <<'PY'; then break; fi
import json, sys, urllib.request
api, check = sys.argv[1], sys.argv[2]
def get(path):
    try:
        with urllib.request.urlopen(api + path, timeout=5) as r: return json.load(r)
    except Exception: return None
a = (get("/v2/apps/bench/sleep?embed=app.tasks") or {}).get("app")
d = get("/v2/deployments")
sys.exit(0 if d is not None and eval(check) else 1)
PY
      sleep "$poll"
    done
  awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'
}
running_all='a is not None and d == [] and a["tasksRunning"] == '$instances' and len(a["tasks"]) == '$instances
on_version='and all(t["version"] == a["version"] for t in a["tasks"])'

declare -A results
for r in $(seq 1 "$repeats"); do
  start=$(now)
  curl -fsS -X POST -H 'Content-Type: application/json' "$api/v2/apps" -d '{"id": "/bench/sleep",
    "instances": '"$instances"', "cpus": 0.01, "mem": 8, "cmd": "sleep 3600"}' >/dev/null
  results[create]+="$(wait_until "$start" "$running_all") "
  start=$(now)
  curl -fsS -X PUT -H 'Content-Type: application/json' "$api/v2/apps/bench/sleep" \
    -d '{"cmd": "sleep 7200"}' >/dev/null
  results[update]+="$(wait_until "$start" "$running_all $on_version") "
  start=$(now)
  curl -fsS -X DELETE "$api/v2/apps/bench/sleep" >/dev/null
  results[remove]+="$(wait_until "$start" 'a is None and d == []') "
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "stoa service on 1 master + 2 agents (loopback), $instances instances, $repeats runs, poll ${poll}s"
printf '| %-7s | %8s | %s\n' op median runs
for op in create update remove; do
  printf '| %-7s | %7ss | %s\n' "$op" "$(echo "${results[$op]}" | median)" "${results[$op]}"
done
