#!/bin/sh
# libweft.so must not depend on libuv, libevent or libev: those are linked
# only by the backend modules, loaded when selected.
lib="$1"
out=$(ldd "$lib") || { echo "ldd failed on $lib"; exit 1; }
echo "$out"
if echo "$out" | grep -E 'libuv|libevent|libev\.' >/dev/null; then
  echo "FAIL: $lib links an event library"
  exit 1
fi
# And its undefined symbols name none of their functions.
if nm -D --undefined-only "$lib" | grep -E ' (uv_|event_base|ev_run|ev_loop)' >/dev/null; then
  echo "FAIL: $lib references an event library symbol"
  exit 1
fi
echo "ok: no event library"
