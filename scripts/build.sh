#!/usr/bin/env bash
# Configures and builds Stoa into ./build (binaries in build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# STOA_WERROR: warnings are errors where we control the compiler (tests, CI).
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DSTOA_WERROR="${STOA_WERROR:-OFF}" >/dev/null
cmake --build build -j"$(nproc)"
