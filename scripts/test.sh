#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs every test tier
# (unit, bpf, e2e). Needs root for the bpf and e2e tiers; they fail loudly without it.
# Usage: scripts/test.sh [ctest args...]   e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
echo "== running tests (ctest, all tiers unless narrowed by args) =="
ctest --test-dir build --output-on-failure --timeout 600 "$@"
