#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the plan's stages that exist so far on
# the embedded default (the built-in synthetic 518-stock universe):
#   process_new_data  -> out/universe.h5 (+ validation report and state manifest)
#   lstm_demo         an LSTM on a synthetic series, loss going down
# Extra arguments go to process_new_data (e.g. --input ../shared/data/sp500_5yr ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build/apps/process_new_data --out out "$@"
build/apps/lstm_demo
