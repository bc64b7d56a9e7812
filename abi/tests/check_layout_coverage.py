#!/usr/bin/env python3
"""Every public struct, and every field of it, is frozen in the layout test.

test_abi_layout.c asserts sizes and offsets with SIZE(T, n) and
OFF(T, field, n). A struct added to a public header later would silently
escape that test; this check lists every struct defined under the include
directory and fails for each struct or field without its assertion.

usage: check_layout_coverage.py INCLUDE_DIR test_abi_layout.c
"""
import pathlib
import re
import sys

COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def public_structs(include_dir: pathlib.Path) -> dict:
    """{struct type name: [field names]} for structs with a body."""
    structs = {}
    for path in sorted(include_dir.rglob("*.h")):
        text = COMMENT.sub(" ", path.read_text())
        text = re.sub(r"\\\n", " ", text)
        text = "\n".join(l for l in text.splitlines()
                         if not l.lstrip().startswith("#"))
        for m in re.finditer(r"\bstruct\s+(\w+)\s*\{([^{}]*)\}\s*(\w*)",
                             text):
            tag, body, typedef = m.groups()
            name = typedef or tag
            fields = []
            for member in body.split(";"):
                member = member.strip()
                if not member:
                    continue
                fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", member)
                if fp:
                    fields.append(fp.group(1))
                else:
                    idents = re.findall(r"\w+", member.split("[")[0])
                    fields.append(idents[-1])
            structs[name] = fields
    return structs


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    structs = public_structs(pathlib.Path(sys.argv[1]))
    test = pathlib.Path(sys.argv[2]).read_text()
    sized = set(re.findall(r"\bSIZE\(\s*(\w+)\s*,", test))
    offs = set(re.findall(r"\bOFF\(\s*(\w+)\s*,\s*(\w+)\s*,", test))
    missing = 0
    for name, fields in sorted(structs.items()):
        if name not in sized:
            print(f"FAIL {name}: no SIZE({name}, ...) in the layout test")
            missing += 1
        for f in fields:
            if (name, f) not in offs:
                print(f"FAIL {name}.{f}: no OFF({name}, {f}, ...)")
                missing += 1
    print(f"{len(structs)} public structs, "
          f"{sum(len(f) for f in structs.values())} fields, "
          f"{missing} without a layout assertion")
    if not structs:
        print("no public struct found: wrong include directory?")
        return 1
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
