#!/usr/bin/env bash
# README command 1: install what is missing, build weft into build/, and run
# the demo (examples/demo) on the default backend.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build -Dwerror=true
fi
ninja -C build
echo
exec build/examples/demo/weft-demo "$@"
