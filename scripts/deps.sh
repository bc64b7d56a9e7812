#!/usr/bin/env bash
# Install the Debian packages weft needs to build and test, and only those
# that are missing: when everything is present it runs no apt-get at all
# (not even `apt-get update`), so it is quick and safe to call every time.
# Works as root on a fresh Debian 12; as another user it uses sudo if there
# is one.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkg-config gcc g++ libc6-dev binutils python3
  # backends built as modules
  libuv1-dev libevent-dev libev-dev
  # examples: hash-passwords (crypto_pwhash)
  libsodium-dev
  # tests: cmocka, the clang sanitizer build, ABI checks (abidw/abidiff),
  # model checks (Relacy, SPIN), setpriv for the CPU-pinned tests
  libcmocka-dev clang libclang-rt-14-dev abigail-tools relacy-dev spin
  util-linux
)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: dpkg-query not found; this script knows Debian only." >&2
  echo "deps: install by hand: ${packages[*]}" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
      grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present, nothing to install"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "deps: missing ${missing[*]}, and not root and no sudo" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
