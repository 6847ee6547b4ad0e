# SPDX-License-Identifier: MIT
# throughput.gp - docs/throughput.png: masked fused forward+backward throughput against tensor size.
# Usage: gnuplot -e "datafile='plot.csv'; outfile='docs/throughput.png'; series='scalar avx2 torch'; threads='1 2'" bench/throughput.gp
# datafile: CSV rows of sl-bench --csv and torch_compare.py --csv (columns: impl, isa, threads,
# case, entry, section, mode, n, c, h, w, elements, bytes, reps, median_s, min_s, elem_per_s, ...).
if (!exists("series")) series = 'scalar avx2 torch'
if (!exists("threads")) threads = '1 2'
if (!exists("title_note")) title_note = ''
set datafile separator ','
set terminal pngcairo size 1700,620 font 'sans,11'
set output outfile
set logscale xy
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set xlabel 'tensor elements (N x C x H x W)'
set ylabel 'elements per second (median)'
set format x '10^{%T}'
set format y '10^{%T}'
set key outside right top vertical box spacing 1.2 width -4
label(s) = (s eq 'torch') ? 'PyTorch 1.13' : 'sectionloss '.s
sel(s, t, e) = (strcol(2) eq s && column(3) == t && strcol(5) eq e && strcol(6) eq 'mask' && strcol(7) eq 'fused') ? column(17) : NaN
set multiplot layout 1,2 title 'Masked loss, fused forward + backward (mask = central 2/3)'.title_note
set title 'BCE (N x 1 x H x W, probabilities)'
plot for [i=1:words(series)] for [j=1:words(threads)] datafile \
     using 12:(sel(word(series, i), int(word(threads, j)), 'bce')) smooth unique \
     with linespoints lw 2 pt 7 dt j lc i title label(word(series, i)).', '.word(threads, j).' thr'
set title 'CE (N x 21 x H x W, int64 labels)'
plot for [i=1:words(series)] for [j=1:words(threads)] datafile \
     using 12:(sel(word(series, i), int(word(threads, j)), 'ce')) smooth unique \
     with linespoints lw 2 pt 7 dt j lc i title label(word(series, i)).', '.word(threads, j).' thr'
unset multiplot
