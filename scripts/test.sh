#!/usr/bin/env bash
# Builds Plexus and runs the whole test suite (unit, plugin, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
