#!/usr/bin/env bash
# README command 2: install what is missing, build, and run the whole test suite.
#   1. Release build into build-test/, warnings as errors, CUDA compiled when nvcc is present; all tests
#      (GPU tests skip without a device).
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build (CPU only); the unit and integration tests.
#   3. The libFuzzer targets (clang): the CSV parser and the store reader, 60 s each (scripts/fuzz.sh).
#   4. A small pipeline run under valgrind memcheck (scripts/valgrind_pipeline.sh).
#   5. When nvcc is present: the GPU bundle (scripts/gpu_bundle.sh, which ends with its check,
#      scripts/check_gpu_bundle.sh) and bench/gpu/device_run.sh --dry-run on it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== release build (-Werror) and all tests"
# Its own folder: the main command's build/ has no tests and CUDA only where a GPU is present.
BUILD_DIR=build-test scripts/build.sh -DQF_WERROR=ON -DQF_BUILD_TESTS=ON -DQF_BUILD_BENCH=ON
ctest --test-dir build-test --output-on-failure -j "$(nproc)" --timeout 600

echo "== ASan + UBSan build and unit + integration tests"
BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo scripts/build.sh -DQF_WERROR=ON -DQF_WITH_CUDA=OFF \
  -DQF_SANITIZE=address,undefined -DQF_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -L "unit|integration" --timeout 900

echo "== libFuzzer targets (clang, ASan + UBSan): CSV parser and store reader, ${QF_FUZZ_SECONDS:-60} s each"
scripts/fuzz.sh "${QF_FUZZ_SECONDS:-60}"

echo "== a small pipeline under valgrind memcheck (every stage)"
scripts/valgrind_pipeline.sh

echo "== GPU bundle: scripts/gpu_bundle.sh (build, bundle, check) and bench/gpu/device_run.sh --dry-run"
# What a GPU session carries must build, load its libraries and start here, or the session is lost.
if command -v nvcc > /dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  scripts/gpu_bundle.sh gpu-bundle
  bench/gpu/device_run.sh build-gpu-bundle/device-dry-run --dry-run
else
  echo "skipped: no nvcc"
fi
