#!/usr/bin/env python3
"""Compile every C code block in the Markdown docs.

Docs rot when the API moves; this test keeps them honest. Every block fenced
as ```c in README.md and docs/*.md is written to its own translation unit,
after `#include <weft.h>` and the usual C headers, and compiled with
-Wall -Wextra -Werror (-c: it must compile; it need not be a whole program).
A block that is deliberately not C must use another fence (```text, ```sh).

usage: check_doc_snippets.py CC SRCROOT
"""
import pathlib
import re
import subprocess
import sys
import tempfile

PRELUDE = """#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>
"""

FENCE = re.compile(r"^```c\s*$(.*?)^```\s*$", re.M | re.S)


def main() -> int:
    cc, root = sys.argv[1], pathlib.Path(sys.argv[2])
    pages = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    pages += sorted((root / "examples").glob("*/README.md"))
    failures, count = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            if not page.exists():
                continue
            text = page.read_text()
            for i, m in enumerate(FENCE.finditer(text)):
                count += 1
                line = text[: m.start()].count("\n") + 1
                src = pathlib.Path(tmp) / f"{page.stem}_{i}.c"
                src.write_text(PRELUDE + f'#line {line + 1} "{page}"\n' + m.group(1))
                cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror",
                       "-Wno-unused-function", "-Wno-unused-variable",
                       "-Wno-unused-parameter",
                       "-I", str(root / "abi" / "include"),
                       "-c", str(src), "-o", str(src) + ".o"]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    failures += 1
                    print(f"FAIL {page}:{line}\n{r.stderr}")
    print(f"{count} C blocks compiled, {failures} failed")
    if count == 0:
        print("no C blocks found: the docs lost their examples?")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
