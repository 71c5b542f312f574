#!/usr/bin/env bash
# Configures and builds Petrel into ./build (Ninja, RelWithDebInfo). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C build
