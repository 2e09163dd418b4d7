#!/usr/bin/env bash
# Everything a GPU session runs, in one call (issue 4): configure and build with CUDA, run the GPU
# tests, run compute-sanitizer (memcheck, racecheck, synccheck) on the kernel tests, print the device,
# and run the GPU benchmarks (our kernels, per-step and persistent, vs cuDNN; the multi-model trainer
# vs one model after another) as a table.
# Usage (on the GPU machine, from the repository root): bench/gpu/run_all.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-gpu}
export PATH=/usr/local/cuda/bin:$PATH

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
scripts/setup.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQF_WITH_CUDA=ON -DQF_BUILD_BENCH=ON > "$build.configure.log"
cmake --build "$build" -j "$(nproc)"

echo "== GPU tests"
ctest --test-dir "$build" -L gpu --output-on-failure

echo "== compute-sanitizer on the kernel tests"
for tool in memcheck racecheck synccheck; do
  for test in "$build"/tests/test_lstm_cuda "$build"/tests/test_lstm_multi_cuda; do
    compute-sanitizer --tool "$tool" --error-exitcode 1 "$test" --gtest_brief=1
  done
done

echo "== GPU benchmarks (CUDA-event time per iteration)"
"$build"/bench/bench_lstm_gpu --benchmark_counters_tabular=true
echo "== all GPU checks passed"
