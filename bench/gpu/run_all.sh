#!/usr/bin/env bash
# Everything a GPU session runs, in one call (issue 4): configure and build with CUDA, run the GPU
# tests, run compute-sanitizer (memcheck, racecheck, synccheck) on the kernel tests, print the device,
# and run the GPU benchmarks (our kernels, per-step and persistent, vs cuDNN; the multi-model trainer
# vs one model after another) as a table.
# Usage (on the GPU machine, from the repository root): bench/gpu/run_all.sh [build-dir]
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-gpu}
export PATH=/usr/local/cuda/bin:$PATH

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
# The GPU machine may have no network: build with what is installed if nothing can be fetched.
scripts/setup.sh || echo "run_all: setup.sh could not install the missing packages; building with what is there"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQF_WITH_CUDA=ON -DQF_BUILD_BENCH=ON \
  -DCMAKE_CUDA_ARCHITECTURES="90-real;90-virtual" > "$build.configure.log" || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" || exit 1

# Each section runs even when an earlier one failed (a GPU session is short: one call should bring back
# everything); the exit status says whether all passed. Logs also go to $OUT when the device tool sets it.
logs=${OUT:-$build}
mkdir -p "$logs"
failed=()

echo "== GPU tests"
# A barrier bug on the device hangs instead of failing: every run has a time limit.
ctest --test-dir "$build" -L gpu --timeout 180 --output-on-failure 2>&1 | tee "$logs/gpu_tests.log" ||
  failed+=("gpu tests")

echo "== compute-sanitizer on the kernel tests"
sanitize() {  # tool, test binary, gtest filter
  timeout 300 compute-sanitizer --tool "$1" --error-exitcode 1 "$build/tests/$2" --gtest_brief=1 \
    --gtest_filter="$3" 2>&1 | tee "$logs/sanitizer_$1_$2.log" || failed+=("$1 $2")
}
sanitize memcheck test_lstm_cuda '*'
sanitize memcheck test_lstm_multi_cuda '*'
# Shared memory and barriers: the persistent kernels (and the per-step ones) are in test_lstm_cuda.
sanitize racecheck test_lstm_cuda 'LSTMCuda.*'
sanitize synccheck test_lstm_cuda 'LSTMCuda.*'

echo "== GPU benchmarks (CUDA-event time per iteration)"
"$build"/bench/bench_lstm_gpu --benchmark_counters_tabular=true 2>&1 | tee "$logs/bench_lstm_gpu.txt" ||
  failed+=("benchmarks")

if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED: ${failed[*]}"
  exit 1
fi
echo "== all GPU checks passed"
