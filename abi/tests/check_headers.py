#!/usr/bin/env python3
"""Every public header compiles on its own, in C99, C11 and C++17.

A user may include any one header first, from C or C++, with strict
warnings; a header that leans on another being included before it, or that
uses a C11-only or C-only construct, breaks them. The list of headers is
read from the directory, so a new header is covered without editing this
test. Each header is included twice in its translation unit, which also
checks its include guard.

usage: check_headers.py CC CXX INCLUDE_DIR
"""
import pathlib
import subprocess
import sys
import tempfile

FLAGS = ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only"]
MODES = [("c99", "c"), ("c11", "c"), ("c++17", "c++")]


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    cc, cxx, inc = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    headers = sorted(p.relative_to(inc).as_posix() for p in inc.rglob("*.h"))
    if not headers:
        print(f"no headers under {inc}")
        return 1
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for h in headers:
            for std, lang in MODES:
                ext = "cc" if lang == "c++" else "c"
                src = pathlib.Path(tmp) / f"tu.{ext}"
                src.write_text(f"#include <{h}>\n#include <{h}>\n"
                               "int weft_header_check_dummy;\n")
                compiler = cxx if lang == "c++" else cc
                cmd = [compiler, f"-std={std}", *FLAGS, "-I", str(inc),
                       "-x", lang, str(src)]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    failures += 1
                    print(f"FAIL {h} as {std}:\n{r.stderr}")
                else:
                    print(f"ok   {h} as {std}")
    print(f"{len(headers)} headers x {len(MODES)} standards, "
          f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
