#!/usr/bin/env python3
"""Compare weft's ABI with the committed baseline, using libabigail.

  check_abidiff.py dump LIB OUT.abi       write LIB's public ABI as abixml
  check_abidiff.py check BASELINE.abi LIB dump LIB, then diff against BASELINE
  check_abidiff.py diff OLD.abi NEW.abi   diff two dumps

Both sides are always dumps made by the same abidw command, so the
comparison is like for like. --load-all-types keeps public types that no
exported function reaches (such as the backend vtable), and the source
locations are kept because the comparison needs them: abidiff runs with the
suppressions in public.suppr, which ignore changes to types defined outside
abi/include (the structs behind opaque handles) and to weft__ internals.

The policy (docs/ABI.md): anything removed or changed fails; pure additions
pass. abidiff's exit status is a bit field: 1 = error, 2 = usage error,
4 = some ABI change, 8 = an incompatible change (e.g. a removed symbol).
Bits 1, 2 and 8 fail at once. Bit 4 alone is also set for pure additions,
so then the summary lines are read, and the check passes only if every
"Removed" and "Changed" count is zero and at least one addition explains
the change. Anything it cannot explain fails: a check that guesses "fine"
would let a break through.
"""
import os
import pathlib
import re
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
SUPPR = HERE / "public.suppr"


def has_debug_info(lib: str) -> bool:
    out = subprocess.run(["readelf", "-S", "-W", lib], capture_output=True,
                         text=True, check=True).stdout
    return ".debug_info" in out


def dump(lib: str, out: str) -> None:
    if not has_debug_info(lib):
        print(f"{lib} has no debug info: abidw cannot see its types. "
              "Build with -g (the default buildtype debugoptimized has it).")
        sys.exit(77)
    subprocess.run(["abidw", "--load-all-types", "--no-corpus-path",
                    "--out-file", out, lib], check=True)


def diff(old: str, new: str) -> int:
    r = subprocess.run(["abidiff", "--non-reachable-types", "--suppressions",
                        str(SUPPR), old, new],
                       capture_output=True, text=True)
    report = r.stdout + r.stderr
    print(report.rstrip() or "(abidiff printed nothing)")
    status = r.returncode
    print(f"abidiff exit status {status}")
    if status == 0:
        print("ABI identical to the baseline")
        return 0
    if status & (1 | 2):
        print("FAIL: abidiff could not compare (error or usage error)")
        return 1
    if status & 8:
        print("FAIL: incompatible ABI change (a removed symbol, or a change "
              "abidiff knows to break callers)")
        return 1
    removed = changed = added = 0
    for line in report.splitlines():
        if "summary:" not in line:
            continue
        body = line.split("summary:", 1)[1]
        # Counts in brackets are "filtered out" (harmless by abidiff's
        # rules, e.g. a new enumerator); they are neither removed nor added.
        body = re.sub(r"\([^)]*\)", "", body)
        for count, word in re.findall(r"(\d+)\s+([A-Za-z]+)", body):
            word = word.lower()
            if word == "removed":
                removed += int(count)
            elif word == "changed":
                changed += int(count)
            elif word == "added":
                added += int(count)
    print(f"summary: {removed} removed, {changed} changed, {added} added")
    if removed or changed:
        print("FAIL: the public ABI lost or changed something. If this is "
              "really intended, it needs a new SONAME (see docs/ABI.md).")
        return 1
    if added == 0:
        print("FAIL: abidiff reports a change that is not an addition")
        return 1
    print("OK: pure additions. Record them with scripts/abi-baseline.sh")
    return 0


def main(argv) -> int:
    if len(argv) != 4 or argv[1] not in ("dump", "check", "diff"):
        print(__doc__)
        return 2
    mode, a, b = argv[1:]
    if mode == "dump":
        dump(a, b)
        return 0
    if mode == "diff":
        return diff(a, b)
    if not os.path.exists(a):
        print(f"FAIL: no baseline at {a}; make it with scripts/abi-baseline.sh")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        current = os.path.join(tmp, "current.abi")
        dump(b, current)
        return diff(a, current)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
