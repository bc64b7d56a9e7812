#!/usr/bin/env python3
"""Sum meson's test results over several build folders.

Reads <build>/meson-logs/testlog.json (one JSON object per test run) for
each folder given, prints one line per build, and last the plain total
"N passed, N failed" (with ", N skipped" when any were skipped). A build
named with a leading '!' is one whose configure, compile or test step
failed before meson could record results: it counts as one failure, so a
broken build can never look like a clean run with fewer tests. A name with
a leading '+' is a step that passed outside meson (the fuzzer run): one
passed result.

For each failed test the last lines of its output (stdout and stderr as
meson logged them) come first, so that a CI record that keeps only the
end of the log still shows why a test failed.

Exit status: 0 only if nothing failed and at least one test passed.

usage: test-summary.py BUILD... | !BUILD... | +STEP...
"""
import json
import pathlib
import sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}
# Everything else (FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, ...) is a failure.


TAIL_LINES = 40


def output_tail(t: dict) -> list:
    text = (t.get("stdout") or "") + (t.get("stderr") or "")
    return text.rstrip().splitlines()[-TAIL_LINES:]


def main() -> int:
    total_p = total_f = total_s = 0
    summary = []
    for arg in sys.argv[1:]:
        broken = arg.startswith("!")
        build = arg.lstrip("!+")
        p = f = s = 0
        failed_names = []
        log = pathlib.Path(build) / "meson-logs" / "testlog.json"
        if arg.startswith("+"):
            p = 1
        elif log.exists():
            for line in log.read_text().splitlines():
                if not line.strip():
                    continue
                t = json.loads(line)
                if t["result"] in PASS:
                    p += 1
                elif t["result"] in SKIP:
                    s += 1
                else:
                    f += 1
                    failed_names.append(f"{t['name']} ({t['result']})")
                    print(f"--- {build}: {t['name']} ({t['result']}), "
                          f"last {TAIL_LINES} lines of its output")
                    for out_line in output_tail(t):
                        print(f"  | {out_line}")
        if broken:
            f += 1
            failed_names.append("the build or test run itself failed")
        summary.append(f"  {build}: {p} passed, {f} failed, {s} skipped")
        for n in failed_names:
            summary.append(f"    failed: {n}")
        total_p, total_f, total_s = total_p + p, total_f + f, total_s + s
    for summary_line in summary:
        print(summary_line)
    line = f"{total_p} passed, {total_f} failed"
    if total_s:
        line += f", {total_s} skipped"
    print(line)
    return 0 if total_f == 0 and total_p > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
