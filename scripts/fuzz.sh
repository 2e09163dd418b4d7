#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) into build-fuzz/ and runs each for a fixed time
# (default 60 s): the CSV / price-file parser and the store (HDF5) reader. A crash, a sanitizer report,
# a leak or a timeout fails the run and leaves the input in build-fuzz/ (crash-*, leak-*, timeout-*).
#   scripts/fuzz.sh [seconds per target]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
BUILD_DIR=build-fuzz BUILD_TYPE=RelWithDebInfo CC=clang CXX=clang++ scripts/build.sh -DQF_FUZZ=ON \
  -DQF_WITH_CUDA=OFF -DQF_BUILD_TESTS=OFF -DQF_BUILD_BENCH=OFF -DQF_WERROR=ON
cd build-fuzz
rm -rf corpus_csv corpus_store && mkdir -p corpus_csv corpus_store
cp ../tests/data/bad_input/*.csv corpus_csv/
tests/fuzz/make_store_seed corpus_store/seed.h5
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
tests/fuzz/fuzz_csv -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 corpus_csv
tests/fuzz/fuzz_store -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 corpus_store
echo "fuzz: both targets ran ${seconds} s each without a crash"
