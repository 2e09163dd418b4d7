#!/usr/bin/env bash
# Stage 1 at scale: 500 tickers over 13 years (3,300 business days) of synthetic daily prices, written
# as one CSV per ticker, then process_new_data on that folder (ingest, validate, every indicator, the
# HDF5 store), timed with /usr/bin/time: wall seconds and peak resident memory. The targets (issue 22):
# under 10 s and under 1 GB on a 2-core machine. Prints one line per run and exits 1 when a target is
# missed.
#
# Usage: bench/stage1_scale.sh [BUILD_DIR (build)] [RUNS (3)] [WORK_DIR (a temporary folder)]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} runs=${2:-3} work=${3:-$(mktemp -d)}
tickers=500 days=3300
[ -x /usr/bin/time ] || { echo "stage1_scale: needs /usr/bin/time (Debian package time)"; exit 2; }
if [ ! -d "$work/universe/prices" ]; then
  "$build/apps/make_synthetic_universe" --out "$work/universe" --tickers "$tickers" --days "$days" > /dev/null
fi
echo "stage1_scale: $tickers tickers x $days days, $(ls "$work/universe/prices" | wc -l) files," \
  "$(du -sh "$work/universe/prices" | cut -f1); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(nproc) cores"
status=0
for run in $(seq 1 "$runs"); do
  rm -rf "$work/out"
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$build/apps/process_new_data" --input "$work/universe/prices" \
    --constituents "$work/universe/constituents.csv" --benchmark "$work/universe/index.csv" \
    --out "$work/out" > "$work/run.log" 2>&1 || { cat "$work/run.log"; exit 1; }
  read -r seconds kilobytes < "$work/time.txt"
  megabytes=$((kilobytes / 1024))
  verdict=ok
  if awk -v s="$seconds" 'BEGIN { exit !(s >= 10) }' || [ "$megabytes" -ge 1024 ]; then verdict=MISSED status=1; fi
  echo "run $run: $seconds s, peak $megabytes MB ($verdict: targets < 10 s, < 1024 MB)"
done
exit $status
