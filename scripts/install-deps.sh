#!/usr/bin/env bash
# Installs grace's build and test dependencies from Debian 12 packages (run as root).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config
      libfmt-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
      libmetis-dev libeigen3-dev libopenblas-dev
      libopenmpi-dev openmpi-bin
      libgtest-dev libgmock-dev libbenchmark-dev
      pybind11-dev python3-dev python3-numpy python3-pytest python3-torch)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
