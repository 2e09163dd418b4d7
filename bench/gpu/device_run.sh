#!/usr/bin/env bash
# Everything a GPU session runs, in one call, on executables built elsewhere (issue 23): the GPU
# machine lent to us has CUDA, cuDNN (a Python wheel) and PyTorch but no network and none of our other
# dependencies, so scripts/gpu_bundle.sh builds the GPU tests and benchmark on a CPU machine into
# gpu-bundle/, which travels beside the source tree, and this script only runs them.
#
# Usage (from anywhere; on the GPU machine):
#   bench/gpu/device_run.sh <results-dir> [--dry-run] [--archive FILE]
#     QF_GPU_BUNDLE   the bundle (default: gpu-bundle in the repository root)
#     --dry-run       every step up to the device checks, on a machine without a GPU (what CI runs):
#                     library discovery, the probe without nvidia-smi, each executable started (they
#                     skip), the benchmark started (it skips); PyTorch and the sanitizers skipped.
#                     Chosen by itself, and said so, when no GPU is visible.
#     --archive FILE  also pack <results-dir> into FILE (.tar.gz): the device tool brings back at most
#                     8 files, and the results are more. Via the device tool:
#                       bench/gpu/device_run.sh /tmp/gpu-results --archive "$OUT/gpu-results.tar.gz"
#
# Each step runs under its own timeout (the table below: 300 s in all, so that 15 minutes of device
# time hold a machine's start, a run and a rerun), logs into <results-dir>/<step>.log, and the next
# step runs whatever happened. At the end: a summary table (also <results-dir>/summary.txt), and exit
# status 1 if any step failed or timed out.
set -euo pipefail

usage() {  # the header's usage paragraph
  awk '/^# Usage/ { on = 1 } on && /^#$/ { exit } on { sub(/^# ?/, ""); print }' "$0"
  exit 2
}

results="" dry_run=0 archive="" step=""
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry_run=1 ;;
    --archive) archive=${2:?--archive needs a file}; shift ;;
    --step) step=${2:?}; shift ;;  # internal: run one step (under its timeout)
    -h | --help) usage ;;
    -*) echo "device_run: unknown option $1"; usage ;;
    *) [ -z "$results" ] || usage; results=$1 ;;
  esac
  shift
done
[ -n "$results" ] || usage
# Absolute paths before moving to the repository root, so that relative ones mean the caller's.
results=$(realpath -m "$results")
[ -z "$archive" ] || archive=$(realpath -m "$archive")
bundle=$(realpath -m "${QF_GPU_BUNDLE:-$(dirname "$0")/../../gpu-bundle}")
self=$(realpath "$0")
export QF_GPU_BUNDLE=$bundle  # the steps run from the repository root
cd "$(dirname "$0")/../.."
source scripts/gpu_bundle_rules.sh  # version_le, newest_defined_version

# ---- the time budget: seconds per step, in the order they run (at most 300 in all) -------------------
readonly STEPS=(libs probe smoke tests bench torch memcheck racecheck synccheck)
declare -A BUDGET=(
  [libs]=10       # find cuDNN, cuBLAS and the driver; set LD_LIBRARY_PATH
  [probe]=15      # GPU, driver, nvcc, glibc and libstdc++ against MANIFEST, ldd of every executable
  [smoke]=30      # one quick test per kernel family (SMOKE below)
  [tests]=50      # every bundled test binary, whole, with XML reports
  [bench]=70      # the benchmark (BENCH below): 160 single-model variants, 518 models x 2 uploads
  [torch]=45      # the PyTorch reference loop (TORCH below): 518 models x 2 math modes, when torch imports
  [memcheck]=30   # compute-sanitizer on the LSTM kernel tests (SANITIZE below)
  [racecheck]=25
  [synccheck]=25
)
readonly MAX_TOTAL=300

# ---- what the steps run -------------------------------------------------------------------------------
# smoke: "binary filter": one fast test per kernel family.
readonly SMOKE=(
  "test_device_gpu DeviceGpu.*"                                  # device memory, the runtime
  "test_lstm_cuda LSTMCuda.ForwardMatchesCpu:OptimCuda.*"        # LSTM layer (both paths), Adam/clipping
  "test_lstm_multi_cuda LSTMMultiCuda.EvaluateMatchesReference:LSTMMultiCuda.CudnnTwoLayersMatchCpu"  # multi-model, cuDNN
)
# The benchmark, one variable to edit. Google Benchmark 1.7 (the bundled libbenchmark) takes
# --benchmark_min_time in seconds without the "s" that 1.8 accepts: "0.05s" is refused and ignored.
BENCH=(bin/bench_lstm_gpu --benchmark_min_time=0.05 --benchmark_out="$results/bench_lstm_gpu.json"
       --benchmark_out_format=json)
# It reads the benchmark's JSON for the ratios (ours vs the PyTorch loop), so it runs after it.
TORCH=(python3 bench/gpu/torch_lstm_loop.py --json "$results/torch_lstm_loop.json"
       --ours "$results/bench_lstm_gpu.json")
# sanitize: "tool binary filter", small filters: under the sanitizers each kernel runs 10-100x slower.
# BackwardMatchesCpu runs the forward and backward kernels of both recurrent paths on four shapes.
readonly SANITIZE=(
  "memcheck test_lstm_cuda LSTMCuda.BackwardMatchesCpu:OptimCuda.*"
  "memcheck test_lstm_multi_cuda LSTMMultiCuda.EvaluateMatchesReference:LSTMMultiCuda.PinnedUploadsEqualPageableBitForBit"
  "racecheck test_lstm_cuda LSTMCuda.BackwardMatchesCpu"
  "racecheck test_lstm_multi_cuda LSTMMultiCuda.EvaluateMatchesReference"
  "synccheck test_lstm_cuda LSTMCuda.BackwardMatchesCpu"
  "synccheck test_lstm_multi_cuda LSTMMultiCuda.EvaluateMatchesReference"
)
# The libraries looked for besides those MANIFEST says the executables load from the GPU machine:
# the driver (the static CUDA runtime opens it) and NVRTC (cuDNN's runtime-compiled engines).
readonly EXTRA_LIBS=(libcuda.so.1 libnvrtc.so.13)

skip() {  # a step that does not apply: exit status 77, the reason as the log's last line
  echo "skipped: $*"
  exit 77
}

# (No `grep -q` or `awk ... exit` at the end of a pipe in this script: the writer's SIGPIPE would fail
# the whole pipe under pipefail.)
gpu_visible() {
  [ "$(nvidia-smi -L 2> /dev/null | grep -c '^GPU ')" -gt 0 ]
}

# The path the loader's cache gives for soname $1, or nothing.
cached_library() {
  ldconfig -p 2> /dev/null | awk -v s="$1" '$1 == s && !found { print $NF; found = 1 }'
}

# ---- libs: where cuDNN, cuBLAS and the driver are ---------------------------------------------------------
# The loader's cache first (then nothing needs adding), then CUDA's folders, then the Python wheels
# (PyTorch's cuDNN: site-packages/nvidia/cudnn/lib; CUDA 13's cuBLAS: nvidia/cu13/lib or nvidia/cublas/lib).
python_lib_dirs() {
  timeout 5 python3 - 2> /dev/null << 'EOF' || true
import glob, importlib.util, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
spec = importlib.util.find_spec("nvidia.cudnn")
if spec and spec.submodule_search_locations:
    print(os.path.join(list(spec.submodule_search_locations)[0], "lib"))
for root in roots:
    print(*sorted(glob.glob(os.path.join(root, "nvidia", "*", "lib"))), sep="\n")
EOF
  # when python3 has no site-packages of its own: the usual places
  compgen -G "/usr/local/lib/python3*/dist-packages/nvidia/*/lib" || true
  compgen -G "/usr/lib/python3/dist-packages/nvidia/*/lib" || true
  compgen -G "/opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib" || true
  compgen -G "/opt/conda/lib/python3*/site-packages/nvidia/*/lib" || true
}

step_libs() {
  local wanted soname dir found missing=0 extra=()
  local -a dirs=(/usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib
                 /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64)
  mapfile -t -O "${#dirs[@]}" dirs < <(python_lib_dirs | awk '!seen[$0]++')
  wanted=$(sed -n 's/^from the GPU machine: //p' "$bundle/MANIFEST")
  echo "MANIFEST: the executables load from this machine: ${wanted:-nothing}"
  for soname in $wanted "${EXTRA_LIBS[@]}"; do
    found=$(cached_library "$soname")
    if [ -n "$found" ]; then
      echo "$soname: $found (the loader's cache)"
      continue
    fi
    for dir in "${dirs[@]}"; do
      if [ -e "$dir/$soname" ]; then found=$dir/$soname; break; fi
    done
    if [ -n "$found" ]; then
      echo "$soname: $found"
      extra+=("$(dirname "$found")")
    elif [ "$soname" = libcuda.so.1 ]; then
      if [ "$dry_run" = 1 ]; then
        echo "$soname: not found (no driver: fine in a dry run)"
      else
        echo "$soname: NOT FOUND: the CUDA driver's library, which every GPU run needs"
        missing=1
      fi
    elif [[ " ${EXTRA_LIBS[*]} " == *" $soname "* ]]; then
      echo "$soname: not found (optional)"
    else
      echo "$soname: NOT FOUND (looked in the loader's cache, ${dirs[*]})"
      missing=1
    fi
  done
  local path
  path=$(printf '%s\n' "${extra[@]}" | awk 'NF && !seen[$0]++' | paste -sd:)
  echo "LD_LIBRARY_PATH=${path}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" > "$results/libs.env"
  echo "set $(cat "$results/libs.env")"
  [ -z "$(command -v python3)" ] || timeout 5 python3 -c '
import importlib.metadata as m
for d in ("nvidia-cudnn-cu13", "nvidia-cudnn-cu12", "nvidia-cublas", "nvidia-cublas-cu12", "torch"):
    try: print(f"python package {d} {m.version(d)}")
    except Exception: pass' 2> /dev/null || true
  return "$missing"
}

# ---- probe: the machine against what the bundle needs ------------------------------------------------
tool() {  # the path of a CUDA tool: PATH, then CUDA's folder
  command -v "$1" 2> /dev/null || { [ -x "/usr/local/cuda/bin/$1" ] && echo "/usr/local/cuda/bin/$1"; } || true
}

step_probe() {
  local status=0 need have exe missing nvcc sanitizer stdcxx out
  echo "machine: $(uname -srm), $(nproc) CPUs"
  if [ "$dry_run" = 1 ]; then
    echo "GPU: not asked (dry run)"
  else
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || status=1
  fi
  nvcc=$(tool nvcc)
  echo "nvcc: ${nvcc:-not found} $([ -n "$nvcc" ] && "$nvcc" --version | sed -n 's/^Cuda compilation tools, //p')"
  sanitizer=$(tool compute-sanitizer)
  echo "compute-sanitizer: ${sanitizer:-not found}"
  grep -E '^(commit|made|cuda|cudnn|needs|provides):' "$bundle/MANIFEST" | sed 's/^/bundle /' || true

  # glibc: the machine's must be at least the newest version the bundle references.
  need=$(sed -n 's/^needs: \(GLIBC_[0-9.]*\).*/\1/p' "$bundle/MANIFEST")
  have="GLIBC_$(getconf GNU_LIBC_VERSION | awk '{ print $2 }')"
  if [ -z "$need" ] || version_le "$need" "$have"; then
    echo "glibc: $have, bundle needs ${need:-nothing}: ok"
  else
    echo "glibc: $have, bundle needs $need: TOO OLD"
    status=1
  fi
  # libstdc++: the bundle's own when it carries one (lib/libstdc++.so.6, found first through RPATH).
  need=$(sed -n 's/^needs: \(GLIBCXX_[0-9.]*\).*/\1/p' "$bundle/MANIFEST")
  stdcxx=$(cached_library libstdc++.so.6)
  if [ -n "$stdcxx" ]; then
    have=$(grep -aoE 'GLIBCXX_[0-9][0-9.]*' "$stdcxx" | sort -uV | tail -n 1) || have="none"
  else
    have="none"
  fi
  if [ -f "$bundle/lib/libstdc++.so.6" ]; then
    echo "libstdc++: this machine's $stdcxx has up to $have; the bundle carries its own (needs ${need:-nothing})"
  elif [ -z "$need" ] || { [ "$have" != none ] && version_le "$need" "$have"; }; then
    echo "libstdc++: $stdcxx has up to $have, bundle needs ${need:-nothing}: ok"
  else
    echo "libstdc++: $stdcxx has up to $have, bundle needs $need: TOO OLD"
    status=1
  fi

  # ldd of every executable, as they will load (LD_LIBRARY_PATH from libs).
  missing=0
  for exe in "$bundle"/bin/*; do
    echo "== ldd $(basename "$exe")"
    out=$(ldd "$exe" 2>&1 | sed 's/ (0x[0-9a-f]*)$//') || true
    echo "$out"
    if [[ $out == *"not found"* ]]; then
      missing=1
      grep "not found" <<< "$out" | sed "s/^/NOT FOUND for $(basename "$exe"): /"
    fi
  done
  [ "$missing" = 0 ] || status=1
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  return "$status"
}

# ---- smoke, tests: the gtest binaries ----------------------------------------------------------------
# Runs a gtest binary (output to the log), failing when it fails or when its filter matches no test
# (a renamed test would otherwise pass unnoticed); with --no-skips, also when a test skipped (on a
# GPU machine the smoke tests must run, not skip).
run_gtest() {
  local no_skips=0 out rc=0
  if [ "$1" = --no-skips ]; then no_skips=1; shift; fi
  out=$(mktemp)
  "$@" 2>&1 | tee "$out" || rc=$?  # streamed, so that a step cut by its timeout still has its log
  if [ "$rc" -ne 0 ]; then
    echo "FAILED: $(basename "$1") exited $rc"
  elif grep -qF "Running 0 tests" "$out"; then
    echo "FAILED: $(basename "$1"): the filter matches no test"
    rc=1
  elif [ "$no_skips" = 1 ] && grep -qF "[  SKIPPED ]" "$out"; then
    echo "FAILED: $(basename "$1"): tests skipped on a machine with a GPU"
    rc=1
  fi
  rm -f "$out"
  return "$rc"
}

step_smoke() {
  local status=0 row binary filter flags=()
  [ "$dry_run" = 1 ] || flags+=(--no-skips)
  for row in "${SMOKE[@]}"; do
    read -r binary filter <<< "$row"
    echo "== $binary --gtest_filter=$filter"
    [ -x "$bundle/bin/$binary" ] || { echo "FAILED: $binary is not in the bundle"; status=1; continue; }
    run_gtest "${flags[@]}" "$bundle/bin/$binary" --gtest_filter="$filter" || status=1
  done
  return "$status"
}

step_tests() {
  local status=0 exe name
  for exe in "$bundle"/bin/test_*; do
    name=$(basename "$exe")
    echo "== $name"
    run_gtest "$exe" --gtest_output="xml:$results/$name.xml" || status=1
  done
  return "$status"
}

# ---- bench, torch -----------------------------------------------------------------------------------
step_bench() {
  local rc=0
  echo "== ${BENCH[*]}"
  (cd "$bundle" && "${BENCH[@]}") 2>&1 | tee "$results/bench_lstm_gpu.txt" || rc=$?
  if [ "$rc" -eq 0 ] && [ "$dry_run" = 0 ] && grep -qi "skipping the GPU benchmarks" "$results/bench_lstm_gpu.txt"; then
    echo "FAILED: the benchmark skipped on a machine with a GPU"
    rc=1
  fi
  return "$rc"
}

step_torch() {
  [ -f "${TORCH[1]}" ] || skip "no ${TORCH[1]}"
  timeout 10 python3 -c 'import torch' 2> /dev/null || skip "python3 cannot import torch"
  [ "$dry_run" = 0 ] || skip "dry run: torch imports, the loop needs a GPU"
  echo "== ${TORCH[*]}"
  PYTHONUNBUFFERED=1 "${TORCH[@]}"
}

# ---- memcheck, racecheck, synccheck ------------------------------------------------------------------
step_sanitize() {
  local tool=$1 status=0 row t binary filter sanitizer
  [ "$dry_run" = 0 ] || skip "dry run: needs a GPU"
  sanitizer=$(tool compute-sanitizer)
  [ -n "$sanitizer" ] || skip "no compute-sanitizer on PATH or in /usr/local/cuda/bin"
  for row in "${SANITIZE[@]}"; do
    read -r t binary filter <<< "$row"
    [ "$t" = "$tool" ] || continue
    echo "== compute-sanitizer --tool $tool $binary --gtest_filter=$filter"
    [ -x "$bundle/bin/$binary" ] || { echo "FAILED: $binary is not in the bundle"; status=1; continue; }
    run_gtest --no-skips "$sanitizer" --tool "$tool" --error-exitcode 1 "$bundle/bin/$binary" \
      --gtest_filter="$filter" || status=1
  done
  return "$status"
}

run_one_step() {  # in the child process, under the step's timeout
  case $1 in
    memcheck | racecheck | synccheck) step_sanitize "$1" ;;
    libs | probe | smoke | tests | bench | torch) "step_$1" ;;
    *) echo "device_run: no step $1"; exit 2 ;;
  esac
}

# ---- the driver: each step in a child process under `timeout`, then the summary -----------------------
declare -A STATUS SECS

check_budget() {
  local s total=0
  for s in "${STEPS[@]}"; do total=$((total + BUDGET[$s])); done
  if [ "$total" -gt "$MAX_TOTAL" ]; then
    echo "device_run: the step budgets add up to $total s, over $MAX_TOTAL s: edit BUDGET"
    exit 2
  fi
}

run_step() {
  local name=$1 log="$results/$1.log" start rc=0
  start=$(date +%s%N)
  echo "== $name (at most ${BUDGET[$name]} s) -> $log"
  local flags=()
  [ "$dry_run" = 0 ] || flags+=(--dry-run)
  timeout -k 5 "${BUDGET[$name]}" bash "$self" "$results" --step "$name" "${flags[@]}" > "$log" 2>&1 || rc=$?
  SECS[$name]=$(awk -v ns=$(($(date +%s%N) - start)) 'BEGIN { printf "%.1f", ns / 1e9 }')
  case $rc in
    0) STATUS[$name]="passed" ;;
    77) STATUS[$name]="skipped ($(tail -n 1 "$log" | sed 's/^skipped: //'))" ;;
    124 | 137) STATUS[$name]="timed out"; echo "timed out after ${BUDGET[$name]} s" >> "$log" ;;
    *) STATUS[$name]="FAILED" ;;
  esac
  echo "   ${STATUS[$name]} in ${SECS[$name]} s"
  if [ "${STATUS[$name]}" = FAILED ] || [ "${STATUS[$name]}" = "timed out" ]; then
    # what went wrong (the steps' own FAILED/NOT FOUND/TOO OLD lines), then how the log ends
    grep -m 10 -E 'FAILED|NOT FOUND|TOO OLD|not found|timed out' "$log" | sed 's/^/   ! /' || true
    tail -n 8 "$log" | sed 's/^/   | /'
  fi
}

summary() {
  local s failed=0
  {
    printf '%-10s %-48s %7s  %s\n' step status seconds log
    for s in "${STEPS[@]}"; do
      printf '%-10s %-48s %7s  %s\n' "$s" "${STATUS[$s]}" "${SECS[$s]}" "$results/$s.log"
    done
  } | tee "$results/summary.txt"
  for s in "${STEPS[@]}"; do
    case ${STATUS[$s]} in FAILED | "timed out") failed=1 ;; esac
  done
  return "$failed"
}

main() {
  check_budget
  if [ ! -f "$bundle/MANIFEST" ] || ! compgen -G "$bundle/bin/*" > /dev/null; then
    echo "device_run: no bundle at $bundle: make it with scripts/gpu_bundle.sh on a machine with nvcc and"
    echo "carry it (device tool: carry [\"gpu-bundle\"]), or point QF_GPU_BUNDLE at it"
    exit 2
  fi
  if [ "$dry_run" = 0 ] && ! gpu_visible; then
    echo "device_run: no GPU visible (nvidia-smi lists none): this is a dry run"
    dry_run=1
  fi
  mkdir -p "$results"
  rm -f "$results/libs.env"  # a failed libs step must not leave an older run's path in force
  echo "device_run: bundle $bundle, results $results$([ "$dry_run" = 1 ] && echo ", dry run")"
  local s rc=0
  for s in "${STEPS[@]}"; do
    run_step "$s"
    # libs wrote the library path every later step runs with
    if [ "$s" = libs ] && [ -f "$results/libs.env" ]; then
      export "$(cat "$results/libs.env")"
    fi
  done
  summary || rc=$?
  if [ -n "$archive" ]; then
    tar -czf "$archive" -C "$(dirname "$results")" "$(basename "$results")"
    echo "device_run: results packed into $archive ($(du -h "$archive" | cut -f1))"
  fi
  [ "$rc" = 0 ] && echo "device_run: all steps passed or skipped" || echo "device_run: some steps FAILED"
  return "$rc"
}

if [ -n "$step" ]; then
  run_one_step "$step"
else
  main
fi
