#!/usr/bin/env python3
"""Check that the checked-in chart matches its data and the benchmark page.

    check-chart.py SOURCE_ROOT

For every row of bench/chart/ratios.dat: its ratio appears in a table of
docs/benchmarks.md, and docs/img/benchmarks.svg has a bar label and a
value label for it (so the SVG was drawn from the current data: rerun
bench/chart/make-chart.sh after editing the data). The page must embed the
chart. Needs no gnuplot. Exits 0 when all hold."""
import re
import sys
from pathlib import Path


def main():
    root = Path(sys.argv[1])
    rows = []
    for line in (root / "bench/chart/ratios.dat").read_text().splitlines():
        line = line.split("#", 1)[0].split()
        if line:
            rows.append((line[0], line[2]))
    page = (root / "docs/benchmarks.md").read_text()
    svg = (root / "docs/img/benchmarks.svg").read_text()
    # gnuplot wraps enhanced text in <tspan>s: keep the characters only.
    texts = [re.sub(r"<[^>]*>", "", t).strip()
             for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]
    numbers = []
    for t in texts:
        try:
            numbers.append(float(t))
        except ValueError:
            pass
    errors = []
    if not rows:
        errors.append("ratios.dat has no rows")
    for label, ratio in rows:
        if not re.search(r"(?<![\d.])" + re.escape(ratio) + r"(?!\d)", page):
            errors.append(f"{label}: ratio {ratio} is not in docs/benchmarks.md")
        if label not in texts:
            errors.append(f"{label}: no bar label in the SVG (rerun make-chart.sh)")
        if float(ratio) not in numbers:
            errors.append(f"{label}: value {ratio} not in the SVG (rerun make-chart.sh)")
    if "img/benchmarks.svg" not in page:
        errors.append("docs/benchmarks.md does not embed img/benchmarks.svg")
    for e in errors:
        print("check-chart:", e)
    print(f"check-chart: {len(rows)} ratios, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
