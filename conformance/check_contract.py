#!/usr/bin/env python3
"""conformance/check_contract.py: docs/backend-contract.md against the tests.

Usage: check_contract.py SOURCE_ROOT

The contract page lists clauses (C1..., Part 1) and the runtime's promises
(W1, S1, T1..., Part 2), each with a "checked by" column. This check fails
when:
- a clause or label names no test (a `test_...` name, or "conformance L"
  pointing at a label of Part 2);
- a named test does not exist: no function of that name is defined in
  tests/ or conformance/, or none is registered with its program
  (cmocka_unit_test... or a CONF_TEST table entry);
- a "conformance L" reference points at a label Part 2 does not have;
- a conformance test's table entry (CONF_TEST("L", test_fn, ...)) carries a
  label Part 2 does not list, or is not named in that label's row;
- the C clauses are not numbered C1, C2, ... without a gap.
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
doc_path = os.path.join(root, "docs", "backend-contract.md")
problems = []


def cells(line):
    # Split a table row on the pipes that are not escaped (\|).
    parts = re.split(r"(?<!\\)\|", line.strip())
    return [p.strip() for p in parts[1:-1]]


# ---- The page ---------------------------------------------------------------
rows = {}  # label -> (names, label refs)
order = []
with open(doc_path, encoding="utf-8") as f:
    for line in f:
        if not line.startswith("|"):
            continue
        c = cells(line)
        if len(c) < 3 or not re.fullmatch(r"[A-Z][0-9]+", c[0]):
            continue
        label, checked = c[0], c[-1]
        if label in rows:
            problems.append("%s: listed twice" % label)
        names = re.findall(r"`(test_[A-Za-z0-9_]+)`", checked)
        refs = []
        for m in re.finditer(r"conformance ((?:[A-Z][0-9]+(?:, )?)+)",
                             checked):
            refs += [r.strip() for r in m.group(1).split(",") if r.strip()]
        rows[label] = (names, refs)
        order.append(label)

if not rows:
    problems.append("no clause table found in %s" % doc_path)

c_clauses = [l for l in order if l.startswith("C")]
expect = ["C%d" % i for i in range(1, len(c_clauses) + 1)]
if c_clauses != expect:
    problems.append("C clauses are not numbered C1..C%d in order: %s" %
                    (len(c_clauses), " ".join(c_clauses)))

# ---- The tests ----------------------------------------------------------------
defined, registered = set(), set()
conf_entries = []  # (label, function, file)
for top in ("tests", "conformance"):
    for dirpath, _, files in os.walk(os.path.join(root, top)):
        for fn in files:
            if not fn.endswith((".c", ".cpp")):
                continue
            path = os.path.join(dirpath, fn)
            with open(path, encoding="utf-8", errors="replace") as f:
                src = f.read()
            defined.update(re.findall(
                r"^(?:static\s+)?void\s+(test_[A-Za-z0-9_]+)\s*\(", src, re.M))
            registered.update(re.findall(
                r"cmocka_unit_test(?:_setup_teardown|_setup|_teardown|"
                r"_prestate(?:_setup_teardown)?)?\(\s*(test_[A-Za-z0-9_]+)",
                src))
            for m in re.finditer(
                    r'CONF_TEST\(\s*"([A-Z][0-9]+)"\s*,\s*'
                    r'(test_[A-Za-z0-9_]+)', src):
                conf_entries.append((m.group(1), m.group(2), path))
                registered.add(m.group(2))

# ---- Cross-checks ---------------------------------------------------------------
for label in order:
    names, refs = rows[label]
    if not names and not refs:
        problems.append("%s names no test" % label)
    for n in names:
        if n not in defined:
            problems.append("%s names %s, which no test file defines" %
                            (label, n))
        elif n not in registered:
            problems.append("%s names %s, which is defined but never "
                            "registered (it never runs)" % (label, n))
    for r in refs:
        if r not in rows or r.startswith("C"):
            problems.append("%s refers to conformance %s, which Part 2 does "
                            "not list" % (label, r))

for label, fn, path in conf_entries:
    rel = os.path.relpath(path, root)
    if label not in rows:
        problems.append("%s: %s carries label %s, which the contract page "
                        "does not list" % (rel, fn, label))
    elif fn not in rows[label][0]:
        problems.append("%s: %s (label %s) is not named in the %s row of "
                        "the contract page" % (rel, fn, label, label))
    if fn not in defined:
        problems.append("%s: table entry %s has no definition" % (rel, fn))

for p in problems:
    print("backend-contract.md: " + p)
n_names = sum(len(v[0]) for v in rows.values())
print("%d clauses and labels, %d test names, %d conformance table entries: "
      "%s" % (len(rows), n_names, len(conf_entries),
              "%d problem(s)" % len(problems) if problems else "all checked"))
sys.exit(1 if problems else 0)
