#!/usr/bin/env bash
# Configures and builds Petrel into ./build (Ninja, RelWithDebInfo) and, at the same time, the
# sandbox's Kubernetes control plane (scripts/build-k8s.sh: build/bin/petrel-k8s, kubectl, helm).
# Extra args go to cmake.
# PETREL_TARGETS narrows the Ninja build (scripts/demo.sh: petrel-binaries, no tests or benches).
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
# The Go control plane builds beside the C++ (its module download and its final link leave the
# cores idle otherwise); its lines start with "build-k8s:".
./scripts/build-k8s.sh &
k8s=$!
trap 'pkill -P "$k8s" 2>/dev/null; kill "$k8s" 2>/dev/null || true' EXIT
# shellcheck disable=SC2086 # a list of targets
ninja -C build ${PETREL_TARGETS:-}
wait "$k8s"
trap - EXIT
