#!/usr/bin/env bash
# Configures and builds Petrel into ./build (Ninja, RelWithDebInfo), then the sandbox's Kubernetes
# control plane (scripts/build-k8s.sh: build/bin/petrel-k8s, kubectl, helm). Extra args go to cmake.
# Compiles through ccache (installed by install-deps.sh): rebuilds and other checkouts of the
# tree (its paths are hashed relative to the checkout) reuse earlier results.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
ninja -C build
./scripts/build-k8s.sh
