#!/usr/bin/env python3
"""Check that the export map, the public headers and the library agree.

Three sets must be equal:
  1. every function or variable declared with WEFT_API under the public
     include directory,
  2. every symbol listed in a `global:` section of the linker version script,
  3. every symbol the built shared library exports (nm -D --defined-only),
     ignoring the absolute symbols that name the version nodes themselves.

A symbol in one set and not another is an ABI accident: a declaration
nobody exports (users get a link error), a map entry nobody implements, or
an internal function that leaked out of the library.

usage: check_exports.py INCLUDE_DIR MAP_FILE LIBRARY
"""
import pathlib
import re
import subprocess
import sys

COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def header_symbols(include_dir: pathlib.Path) -> dict:
    """Names declared with WEFT_API, mapped to the header declaring them."""
    found = {}
    for path in sorted(include_dir.rglob("*.h")):
        text = COMMENT.sub(" ", path.read_text())
        # Drop preprocessor lines (the #define of WEFT_API itself, mostly),
        # joining continuation lines first.
        text = re.sub(r"\\\n", " ", text)
        text = "\n".join(l for l in text.splitlines()
                         if not l.lstrip().startswith("#"))
        for m in re.finditer(r"\bWEFT_API\b([^;{]*)[;{]", text):
            decl = m.group(1)
            paren = decl.find("(")
            if paren >= 0:
                # A function: the identifier right before its first '('.
                # (A function returning a function pointer would need more
                # care; weft has none, and such a declaration fails loudly
                # below because its name would not match the library.)
                head = decl[:paren]
            else:
                # A variable: the last identifier before any array bound.
                head = decl.split("[")[0].split("=")[0]
            names = IDENT.findall(head)
            if not names:
                print(f"cannot parse WEFT_API declaration in {path}: {decl!r}")
                sys.exit(2)
            found[names[-1]] = path.relative_to(include_dir)
    return found


def map_symbols(map_file: pathlib.Path) -> tuple:
    """(symbols in global: sections, version node names)."""
    text = COMMENT.sub(" ", map_file.read_text())
    text = re.sub(r"#[^\n]*", " ", text)
    nodes = set(re.findall(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\{", text))
    symbols = set()
    for body in re.findall(r"\{(.*?)\}", text, re.S):
        section = None
        for tok in re.findall(r"[A-Za-z_][A-Za-z0-9_]*\s*:|[^;:\s]+\s*;",
                              body):
            tok = tok.strip()
            if tok.endswith(":"):
                section = tok[:-1].strip()
            elif section == "global":
                name = tok[:-1].strip()
                if "*" in name or "?" in name:
                    print(f"wildcard in the global section of {map_file}: "
                          f"{name} (list every symbol by name)")
                    sys.exit(2)
                symbols.add(name)
    return symbols, nodes


def library_symbols(lib: str, nodes: set) -> set:
    out = subprocess.run(["nm", "-D", "--defined-only", lib],
                         capture_output=True, text=True, check=True).stdout
    symbols = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        kind, name = parts[-2], parts[-1].split("@")[0]
        if kind == "A" and name in nodes:
            continue  # the version node's own marker symbol
        symbols.add(name)
    return symbols


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    include_dir = pathlib.Path(sys.argv[1])
    map_file = pathlib.Path(sys.argv[2])
    lib = sys.argv[3]
    declared = header_symbols(include_dir)
    mapped, nodes = map_symbols(map_file)
    exported = library_symbols(lib, nodes)

    problems = []
    for name in sorted(set(declared) - mapped):
        problems.append(f"{name}: declared WEFT_API in {declared[name]} "
                        f"but missing from {map_file.name}")
    for name in sorted(mapped - set(declared)):
        problems.append(f"{name}: in {map_file.name} but declared WEFT_API "
                        f"in no public header")
    for name in sorted(mapped - exported):
        problems.append(f"{name}: in {map_file.name} but not exported by "
                        f"{pathlib.Path(lib).name} (not implemented?)")
    for name in sorted(exported - mapped):
        problems.append(f"{name}: exported by {pathlib.Path(lib).name} "
                        f"but not in {map_file.name}")
    for p in problems:
        print("FAIL", p)
    print(f"{len(declared)} declared, {len(mapped)} mapped, "
          f"{len(exported)} exported, {len(problems)} problems")
    if not declared or not exported:
        print("nothing declared or nothing exported: wrong paths?")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
