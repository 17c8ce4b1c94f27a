#!/usr/bin/env bash
# Installs dependencies, builds grace and runs every test under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh "$@"
(cd build && ctest --output-on-failure -j "$(nproc)")
# Optional stages (off unless set; .ci/run sets them): GRACE_CI_ASAN=1 runs the ASan+UBSan unit
# tests (scripts/asan-tests.sh); GRACE_CI_FUZZ=SECONDS runs each fuzz target that long (scripts/fuzz.sh).
if [ "${GRACE_CI_ASAN:-0}" = 1 ]; then ./scripts/asan-tests.sh; fi
if [ -n "${GRACE_CI_FUZZ:-}" ]; then ./scripts/fuzz.sh "$GRACE_CI_FUZZ"; fi
