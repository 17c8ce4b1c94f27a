#!/usr/bin/env bash
# Prepares the Debian packages grace needs on the GPU device machine (which has CUDA, cmake,
# ninja and a compiler but none of grace's C++ libraries, and no network).
#
#   scripts/device-debs.sh download        (here, with network) apt-get download into .debs/
#   scripts/device-debs.sh unpack [PREFIX] (on the device) dpkg -x every .deb into PREFIX
#                                          (default /tmp/grace-deps) and print the
#                                          environment/CMake arguments to use it
#
# .debs/ is git-ignored; name it in the device run's `carry`. Unpacking never touches /.
# The CMake side: cmake -DCMAKE_PREFIX_PATH=$PREFIX/usr, and LD_LIBRARY_PATH for the
# shared libraries (fmt, metis, openblas) at run time. `unpack` writes $PREFIX/env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-download}

# Development packages and the runtime libraries they link to (apt-get download fetches no
# dependencies). Headers-only: nlohmann-json, CLI11, Eigen. gtest/gmock are static libraries.
pkgs=(libfmt-dev libfmt9
      nlohmann-json3-dev libcli11-dev
      zlib1g-dev
      libeigen3-dev
      libmetis-dev libmetis5
      libgtest-dev libgmock-dev googletest
      libbenchmark-dev libbenchmark1debian
      libopenblas0-pthread libopenblas-pthread-dev libopenblas-dev libgfortran5 libquadmath0)

case "$mode" in
  download)
    mkdir -p .debs
    (cd .debs && apt-get download "${pkgs[@]}")
    du -sh .debs
    ;;
  unpack)
    prefix=${2:-/tmp/grace-deps}
    mkdir -p "$prefix"
    for f in .debs/*.deb; do dpkg -x "$f" "$prefix"; done
    libdir="$prefix/usr/lib/x86_64-linux-gnu"
    # The -dev packages' .so links are relative; a few point at /lib: repoint them.
    for l in "$libdir"/*.so; do
      [ -L "$l" ] || continue
      t=$(readlink "$l")
      case "$t" in /*) ln -sf "$prefix$t" "$l" 2>/dev/null || true ;; esac
    done
    cat > "$prefix/env.sh" <<ENV
export CMAKE_PREFIX_PATH="$prefix/usr\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
export LD_LIBRARY_PATH="$libdir:$libdir/openblas-pthread\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export CPATH="$prefix/usr/include\${CPATH:+:\$CPATH}"
export LIBRARY_PATH="$libdir\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
ENV
    echo "unpacked $(ls .debs/*.deb | wc -l) packages into $prefix; source $prefix/env.sh"
    ;;
  *) echo "usage: $0 download | unpack [PREFIX]" >&2; exit 2 ;;
esac
