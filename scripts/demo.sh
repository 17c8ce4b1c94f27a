#!/usr/bin/env bash
# Installs dependencies, builds grace and runs the main job on the built-in synthetic trace.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
./build/grace compare --model deepseek-v2-lite --topology 2x4 -o out/compare
