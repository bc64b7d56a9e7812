#!/usr/bin/env bash
# Regenerate the ABI baseline, abi/baseline/libweft.abi, after an
# intentional addition to the public ABI (docs/ABI.md, "Adding a symbol").
#
# It builds libweft.so in build-abi (gcc, debug info, no sanitizer: the
# configuration the 'abi-diff' test compares in), shows what changed
# against the current baseline, and writes the new one. It refuses when
# something was removed or changed, since that is a break, not an addition;
# pass --allow-break only when starting a new SONAME on purpose.
set -euo pipefail
cd "$(dirname "$0")/.."

allow_break=0
[ "${1:-}" = "--allow-break" ] && allow_break=1

./scripts/deps.sh
if [ ! -f build-abi/build.ninja ]; then
  CC=gcc meson setup build-abi -Dbuildtype=debugoptimized -Dtests=false \
    -Dexamples=false -Dbench=false
fi
ninja -C build-abi

baseline=abi/baseline/libweft.abi
new=$(mktemp)
trap 'rm -f "$new"' EXIT
python3 abi/tests/check_abidiff.py dump build-abi/libweft.so "$new"

if [ -f "$baseline" ]; then
  echo "--- changes against the current baseline:"
  if ! python3 abi/tests/check_abidiff.py diff "$baseline" "$new"; then
    if [ $allow_break -eq 0 ]; then
      echo "refusing: that is not a pure addition (see above)." >&2
      echo "If the break is intended, read docs/ABI.md first." >&2
      exit 1
    fi
    echo "--allow-break: writing the baseline anyway"
  fi
fi
mkdir -p "$(dirname "$baseline")"
cat "$new" >"$baseline"
echo "wrote $baseline; commit it with the change that added the symbols"
