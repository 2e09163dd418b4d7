#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the whole plan with run_pipeline
# (process -> train -> predict -> optimise -> backtest -> report) on the embedded default, the built-in
# synthetic 518-stock universe, into out/. It prints where the report is. Extra arguments go to
# run_pipeline, e.g. a data folder:
#   scripts/run_main.sh --input ../shared/data/sp500_5yr --constituents ../shared/data/sp500_constituents.csv \
#     --benchmark ../shared/data/gspc_daily.csv --out out-real
# A rerun skips the stages whose inputs did not change (and training resumes from its checkpoints).
# When the monitoring raises alerts (run_pipeline's exit status 3), they are listed and in the report;
# the plan ran, so this script still exits 0. Any other failure is passed on.
# scripts/run_comparisons.sh then compares the optimiser's variants and stage 5's enhancements.
# It builds the libraries and apps only, into build/: no tests or benchmarks (the test command builds
# those, in build-test/), and CUDA only where a GPU answers (nvidia-smi) and nvcc is there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cuda=OFF
if nvidia-smi > /dev/null 2>&1 && { command -v nvcc > /dev/null || [ -x /usr/local/cuda/bin/nvcc ]; }; then
  cuda=ON
fi
scripts/build.sh -DQF_BUILD_TESTS=OFF -DQF_BUILD_BENCH=OFF -DQF_WITH_CUDA=$cuda
set +e
build/apps/run_pipeline "$@"
code=$?
set -e
if [ $code -eq 3 ]; then
  echo "run_main: the plan ran; the monitoring raised alerts (listed above and in the report)"
  exit 0
fi
exit $code
