#!/usr/bin/env bash
# A small pipeline run (12 synthetic tickers, tiny models) with every stage under valgrind memcheck:
# no invalid access, no use of uninitialised values, no definite leak. valgrind has no AVX-512, so this
# builds without -march=native into build-valgrind/ and pins OpenBLAS to its AVX2 kernels.
#   scripts/valgrind_pipeline.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=build-valgrind BUILD_TYPE=RelWithDebInfo scripts/build.sh -DQF_NATIVE=OFF -DQF_WITH_CUDA=OFF \
  -DQF_BUILD_TESTS=OFF -DQF_BUILD_BENCH=OFF
out=build-valgrind/pipeline
rm -rf "$out" && mkdir -p "$out"
cat > "$out.cfg" <<'CFG'
tickers = 12
seed = 7
[train]
args = --epochs 1 --hidden 8 --window 20 --features returns --folds 2 --min-train 100 --threads 1
[optimise]
methods = equal_weight
args = --lookback 60 --name-cap 0.2 --sector-cap 1 --mid-cap-cap 1 --small-cap-cap 1
CFG
export OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1
set +e
valgrind --quiet --trace-children=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --suppressions=scripts/valgrind.supp --log-file="$out/valgrind.%p.log" \
  build-valgrind/apps/run_pipeline --config "$out.cfg" --out "$out/run" --quiet
code=$?
set -e
cat "$out"/valgrind.*.log
if [ $code -ne 0 ] && [ $code -ne 3 ]; then
  echo "valgrind_pipeline: failed (exit status $code; logs in $out)"
  exit 1
fi
grep -q "report ->" "$out/run/logs/backtest.log" 2> /dev/null || test -s "$out/run/report/index.html"
echo "valgrind_pipeline: every stage ran clean under memcheck"
