#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test (unit, cluster, system).
set -euo pipefail
cd "$(dirname "$0")/.."
STOA_WERROR=ON bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 -j1
