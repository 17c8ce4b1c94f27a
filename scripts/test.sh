#!/usr/bin/env bash
# Installs dependencies, builds grace and runs every test under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh "$@"
cd build && ctest --output-on-failure -j "$(nproc)"
