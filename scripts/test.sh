#!/usr/bin/env bash
# README command 2: install what is missing, then run every test in every
# build, each build in its own folder:
#
#   build             gcc, -Dwerror=true: all suites (unit, conformance on
#                     every backend built, examples, models, docs, abi)
#   build-asan        gcc, ASan + UBSan
#   build-tsan        gcc, TSan
#   build-asan-clang  clang, ASan + UBSan (skip with WEFT_TEST_CLANG=0)
#   build-tsan-clang  clang, TSan (skipped with the one above)
#   build-fuzz        clang, libFuzzer on the API harness for
#                     WEFT_FUZZ_SECONDS (default 300), one result
#
# The sanitizer builds leave out the suites in SANITIZER_SKIP_SUITES:
# 'abi' and 'docs' check headers, symbols and snippets, which instrumenting
# cannot change, so the normal build runs them once; 'bench', 'model' (the
# model checkers, e.g. Relacy) and 'slow' (tests their authors marked too
# long for instrumented builds) would take most of the time budget and test
# no memory or thread behaviour of the library the other suites miss.
#
# The last line printed is "N passed, N failed[, N skipped]", summed from
# meson's own results (meson-logs/testlog.json of each build). A build that
# fails to configure or compile counts as one failure. The exit status is
# non-zero if anything failed or if no test ran at all.
set -uo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh || exit 1

SANITIZER_SKIP_SUITES=(bench model slow abi docs)
jobs=$(nproc 2>/dev/null || echo 2)

# Any sanitizer report fails the test that caused it.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:print_summary=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:print_summary=1

results=()

# run_build DIR "CC" "SETUP ARGS" "TEST ARGS"
run_build() {
  local dir=$1 compiler=$2 setup_args=$3 test_args=$4
  local start=$SECONDS
  echo
  echo "=== $dir (CC=$compiler $setup_args)"
  rm -f "$dir/meson-logs/testlog.json"
  # shellcheck disable=SC2086 # the argument strings are word lists
  if { [ -f "$dir/build.ninja" ] ||
       CC=$compiler meson setup "$dir" -Dwerror=true $setup_args; } &&
     ninja -C "$dir" -j "$jobs" &&
     meson test -C "$dir" --no-rebuild --print-errorlogs \
       --num-processes "$jobs" $test_args; then
    results+=("$dir")
  else
    # Failed tests are already in testlog.json; mark the build only if meson
    # left no results, i.e. configure or compile broke.
    if [ -f "$dir/meson-logs/testlog.json" ]; then
      results+=("$dir")
    else
      results+=("!$dir")
    fi
  fi
  echo "=== $dir took $((SECONDS - start)) s"
}

no_san=()
for s in "${SANITIZER_SKIP_SUITES[@]}"; do no_san+=(--no-suite "$s"); done

run_build build gcc "" ""
run_build build-asan gcc "-Db_sanitize=address,undefined" \
  "${no_san[*]} --timeout-multiplier 3"
run_build build-tsan gcc "-Db_sanitize=thread" \
  "${no_san[*]} --timeout-multiplier 4"
if [ "${WEFT_TEST_CLANG:-1}" != 0 ]; then
  # clang needs b_lundef=false: its sanitizer runtime is linked into the
  # executables only, so the shared library has undefined __asan symbols.
  run_build build-asan-clang clang \
    "-Db_sanitize=address,undefined -Db_lundef=false" \
    "${no_san[*]} --timeout-multiplier 3"
  run_build build-tsan-clang clang \
    "-Db_sanitize=thread -Db_lundef=false" \
    "${no_san[*]} --timeout-multiplier 4"
fi

# libFuzzer: the public-API harness (fuzz/fuzz_api.c) in its own clang
# build, for WEFT_FUZZ_SECONDS (default 300; 0 skips) on a copy of the seed
# corpus. One result in the summary: passed if the fuzzer found nothing (a
# crash, leak, sanitizer report or 25 s hang fails it; the input is saved
# as build-fuzz/crash-*, leak-* or timeout-*).
fuzz_secs=${WEFT_FUZZ_SECONDS:-300}
if [ "$fuzz_secs" != 0 ]; then
  echo
  echo "=== build-fuzz (clang, libFuzzer, $fuzz_secs s)"
  fuzz_corpus=$(mktemp -d)
  cp fuzz/corpus/* "$fuzz_corpus"/
  if { [ -f build-fuzz/build.ninja ] ||
       CC=clang meson setup build-fuzz -Dwerror=true -Dfuzz=true \
         -Db_sanitize=address,undefined -Db_lundef=false \
         -Dtests=false -Dexamples=false -Dbench=false; } &&
     ninja -C build-fuzz -j "$jobs" fuzz/fuzz_api &&
     build-fuzz/fuzz/fuzz_api -max_total_time="$fuzz_secs" -timeout=25 \
       -print_final_stats=1 -artifact_prefix=build-fuzz/ "$fuzz_corpus" \
       2>&1 | grep -E '^(#[0-9]+[[:space:]]+DONE|stat::|==[0-9]+==|SUMMARY)'; then
    results+=("+fuzz")
  else
    results+=("!fuzz")
  fi
  rm -rf "$fuzz_corpus"
fi

# `meson install` must place the library, headers and weft.pc.
echo
echo "=== install check (meson install --destdir)"
dest=$(mktemp -d)
if meson install -C build --destdir "$dest" --quiet >/dev/null &&
   [ -n "$(find "$dest" -name 'libweft.so.0')" ] &&
   [ -n "$(find "$dest" -name 'libweft.a')" ] &&
   [ -n "$(find "$dest" -name 'weft.pc')" ] &&
   [ -n "$(find "$dest" -path '*include/weft.h')" ] &&
   [ -n "$(find "$dest" -path '*include/weft/runtime.h')" ]; then
  echo "installed: $(cd "$dest" && find . -name 'libweft.so*' -o -name weft.pc -o -name weft.h | sort | tr '\n' ' ')"
else
  echo "install check FAILED"
  results+=("!install-check")
fi
rm -rf "$dest"

echo
echo "=== summary"
python3 scripts/test-summary.py "${results[@]}"
