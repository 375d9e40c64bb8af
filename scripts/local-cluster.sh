#!/usr/bin/env bash
# Builds Stoa, starts a local cluster (one master, two agents, the service and
# batch frameworks) with `stoa up`, runs the demo on it (one-off tasks, a small
# web service, batch jobs) and keeps the cluster running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec build/bin/stoa up --agents="${AGENTS:-2}" --work_dir="${WORK_DIR:-$PWD/.stoa}" --demo
