#!/usr/bin/env bash
# The indicator recipe through the real app: process_new_data built again with the toy indicator linked
# in by qf_add_indicators() (what cmake -DQF_INDICATOR_SOURCES=... does to the app) stores the toy's row
# as the panel /features/up_day_share_20; the plain app does not, and every panel of the plain store is
# the same, bit for bit, in the toy's store.
set -euo pipefail
toy=$1 plain=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
"$toy" --tickers 40 --seed 7 --out "$work/toy" > "$work/toy.log"
"$plain" --tickers 40 --seed 7 --out "$work/plain" > "$work/plain.log"

panels() { h5ls "$1/universe.h5/features" | awk '{ print $1 }'; }
panels "$work/toy" | grep -qx up_day_share_20 || { echo "the toy's store has no up_day_share_20 panel"; exit 1; }
! panels "$work/plain" | grep -qx up_day_share_20 || { echo "the plain store has the toy's panel"; exit 1; }
count=0
for panel in $(panels "$work/plain"); do
  h5diff "$work/plain/universe.h5" "$work/toy/universe.h5" "/features/$panel" "/features/$panel" ||
    { echo "panel $panel differs with the toy linked in"; exit 1; }
  count=$((count + 1))
done
[ "$count" -gt 60 ] || { echo "only $count panels in the plain store"; exit 1; }
echo "toy indicator: its panel stored; the $count other panels identical to the plain app's"
