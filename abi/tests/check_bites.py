#!/usr/bin/env python3
"""The ABI checks fail when they should: a test of the tests.

A check that can no longer fail is worse than none, because it still
reports success. Each case below breaks the ABI on purpose, in a temporary
copy, and asserts that the matching check FAILS and names the culprit; then
it asserts that a harmless change (a pure addition) still passes.

  1. the export map loses a symbol          -> check_exports.py fails
  2. a header declares a symbol not mapped   -> check_exports.py fails
  3. a public struct gains a field           -> test_abi_layout.c fails to
                                                compile
  4. the library loses a function            -> abidiff check fails
  5. a public struct's layout changes        -> abidiff check fails
  6. the library gains a function            -> abidiff check passes
  7. struct weft_runtime (opaque) changes    -> abidiff check passes

usage: check_bites.py INCLUDE_DIR MAP LIBRARY CC LAYOUT_TEST_SRC
"""
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = pathlib.Path(__file__).resolve().parent
results = []


def run(cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def expect(name, ok, output):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}")
    if not ok:
        print("     the check's output was:\n" +
              "\n".join("     | " + l for l in output.splitlines()[-30:]))


def exported_symbol(lib):
    _, out = run(["nm", "-D", "--defined-only", lib])
    names = [l.split()[-1].split("@")[0] for l in out.splitlines()
             if len(l.split()) >= 2 and l.split()[-2] in ("T", "t")]
    return sorted(names)[0]


def main() -> int:
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    inc, map_file, lib, cc, layout = (pathlib.Path(a) for a in sys.argv[1:])
    exports = [sys.executable, HERE / "check_exports.py"]
    abidiff = [sys.executable, HERE / "check_abidiff.py"]
    victim = exported_symbol(lib)
    print(f"victim symbol: {victim}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)

        # 1. Remove the victim from a copy of the map.
        text = map_file.read_text()
        cut = re.sub(rf"^\s*{victim}\s*;\s*$\n?", "", text, flags=re.M)
        assert cut != text, f"{victim} not found in {map_file}"
        (tmp / "cut.map").write_text(cut)
        rc, out = run(exports + [inc, tmp / "cut.map", lib])
        expect(f"map without {victim} is rejected",
               rc != 0 and f"FAIL {victim}:" in out, out)

        # 2. A header declaring a symbol that no map lists.
        inc2 = tmp / "inc-extra"
        shutil.copytree(inc, inc2)
        (inc2 / "weft" / "zz_extra.h").write_text(
            "#include \"common.h\"\nWEFT_API int weft_not_in_the_map(void);\n")
        rc, out = run(exports + [inc2, map_file, lib])
        expect("WEFT_API declaration missing from the map is rejected",
               rc != 0 and "FAIL weft_not_in_the_map:" in out, out)

        # 3. A field inserted at the top of weft_future_vtable.
        flags = ["-std=c11", "-fsyntax-only"]
        rc, out = run([cc, *flags, "-I", inc, layout])
        expect("layout test compiles against the real headers", rc == 0, out)
        inc3 = tmp / "inc-grown"
        shutil.copytree(inc, inc3)
        fut = inc3 / "weft" / "future.h"
        src = fut.read_text()
        grown = src.replace(
            "typedef struct weft_future_vtable {\n  uint32_t struct_size;",
            "typedef struct weft_future_vtable {\n  uint32_t struct_size;\n"
            "  void *inserted;", 1)
        assert grown != src, "weft_future_vtable not found in future.h"
        fut.write_text(grown)
        rc, out = run([cc, *flags, "-I", inc3, layout])
        expect("a grown public struct fails the layout test",
               rc != 0 and "weft_future_vtable" in out, out)

        # 4-6. abidiff on dumps of the real library, one of them edited.
        cur = tmp / "current.abi"
        rc, out = run(abidiff + ["dump", lib, cur])
        if rc != 0:
            expect("abidw dumps the library", False, out)
            return 1
        tree = ET.parse(cur)
        root = tree.getroot()

        # 4: drop the victim's function declaration and its ELF symbol.
        removed = 0
        for parent in root.iter():
            for child in list(parent):
                if (child.tag == "function-decl" and
                        child.get("name") == victim) or \
                   (child.tag == "elf-symbol" and
                        child.get("name") == victim):
                    parent.remove(child)
                    removed += 1
        assert removed >= 2, f"{victim} not found in the dump"
        fewer = tmp / "fewer.abi"
        tree.write(fewer)
        rc, out = run(abidiff + ["diff", cur, fewer])
        expect(f"abidiff rejects the loss of {victim}",
               rc != 0 and victim in out, out)

        # 6: the other way round, the same edit is a pure addition.
        rc, out = run(abidiff + ["diff", fewer, cur])
        expect(f"abidiff accepts {victim} as a pure addition",
               rc == 0 and "pure additions" in out, out)

        # 5: grow the first complete public struct (one defined under
        # abi/include: a struct behind an opaque handle may change) by 64
        # bits, moving its last field, as inserting a field would.
        tree = ET.parse(cur)
        target = None
        for decl in tree.getroot().iter("class-decl"):
            members = decl.findall("data-member")
            if decl.get("name", "").startswith("weft_") and members and \
                    decl.get("size-in-bits") and \
                    "abi/include/weft" in decl.get("filepath", ""):
                target = decl
                break
        if target is None:
            expect("the dump holds a complete public struct", False,
                   cur.read_text()[:2000])
            return 1
        target.set("size-in-bits", str(int(target.get("size-in-bits")) + 64))
        last = target.findall("data-member")[-1]
        last.set("layout-offset-in-bits",
                 str(int(last.get("layout-offset-in-bits")) + 64))
        changed = tmp / "changed.abi"
        tree.write(changed)
        rc, out = run(abidiff + ["diff", cur, changed])
        expect(f"abidiff rejects a changed struct {target.get('name')}",
               rc != 0 and target.get("name") in out, out)

        # 7: the struct behind an opaque handle (defined in core/) may
        # change freely: growing it must not trip the check.
        tree = ET.parse(cur)
        inner = None
        for decl in tree.getroot().iter("class-decl"):
            if decl.get("name") == "weft_runtime" and \
                    decl.findall("data-member") and \
                    "abi/include" not in decl.get("filepath", ""):
                inner = decl
                break
        if inner is None:
            expect("the dump holds the definition of struct weft_runtime",
                   False, "")
        else:
            inner.set("size-in-bits",
                      str(int(inner.get("size-in-bits")) + 64))
            last = inner.findall("data-member")[-1]
            last.set("layout-offset-in-bits",
                     str(int(last.get("layout-offset-in-bits")) + 64))
            opaque = tmp / "opaque.abi"
            tree.write(opaque)
            rc, out = run(abidiff + ["diff", cur, opaque])
            expect("abidiff ignores a change behind an opaque handle",
                   rc == 0, out)

    failed = results.count(False)
    print(f"{len(results)} cases, {failed} did not behave")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
