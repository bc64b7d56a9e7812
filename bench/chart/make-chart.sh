#!/usr/bin/env bash
# bench/chart/make-chart.sh: draw docs/img/benchmarks.svg from ratios.dat.
#
#   ./bench/chart/make-chart.sh        (needs gnuplot: apt-get install gnuplot-nox)
#
# The chart is checked in, so neither the build nor the tests need gnuplot;
# run this after changing the ratios (copied by hand from the tables of
# docs/benchmarks.md) and commit both files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../docs/img/benchmarks.svg}
command -v gnuplot >/dev/null || {
  echo "make-chart: gnuplot not found (Debian: gnuplot-nox)" >&2
  exit 1
}
mkdir -p "$(dirname "$out")"
gnuplot <<GNUPLOT
set terminal svg size 1000,560 dynamic enhanced font "sans,11" background rgb "white"
set output "$out"
set title "weft / peer: cost ratios from docs/benchmarks.md (lower is better; 1.0 = parity)"
set ylabel "ratio"
set yrange [0:2.2]
set xrange [-0.6:18.6]
set grid ytics
set key top left vertical Left reverse samplen 2
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by -35 noenhanced nomirror
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linewidth 1.5 linecolor rgb "black"
# One colour per group: bars coloured row by row (lc rgb variable), and
# one empty plot per group to put it in the key.
color(g) = g == 0 ? 0x4e79a7 : g == 1 ? 0xa0cbe8 : g == 2 ? 0x59a14f : g == 3 ? 0xf28e2b : 0xe15759
plot "$here/ratios.dat" using 0:3:(color(\$2)):xtic(1) with boxes linecolor rgb variable notitle, \
     "$here/ratios.dat" using 0:(\$3 + 0.04):(sprintf("%g", \$3)) with labels font "sans,9" notitle, \
     NaN with boxes linecolor rgb "#4e79a7" title "executor vs tokio", \
     NaN with boxes linecolor rgb "#a0cbe8" title "executor vs Go", \
     NaN with boxes linecolor rgb "#59a14f" title "blocking pool vs tokio", \
     NaN with boxes linecolor rgb "#f28e2b" title "reactor vs tokio", \
     NaN with boxes linecolor rgb "#e15759" title "backends vs native server (CPU per request)"
GNUPLOT
echo "make-chart: wrote $out"
