#!/usr/bin/env bash
# Builds the GPU executables on this machine (a CPU machine with nvcc) into a folder that runs on a
# GPU machine as it is (issue 23). The GPU machine lent to us has the CUDA toolkit, cuDNN (as a Python
# wheel) and no network, but none of our other dependencies (OpenBLAS, Google Benchmark...), so nothing
# is built there: this folder is carried to it beside the source tree and bench/gpu/device_run.sh runs it.
#
# Usage: scripts/gpu_bundle.sh [bundle-dir]     (default gpu-bundle; build folder: $QF_GPU_BUILD_DIR,
#                                                default build-gpu-bundle; both ignored by git)
# What it makes:
#   <bundle>/bin/  the GPU tests (label gpu in tests/CMakeLists.txt) and GPU benchmarks (bench/gpu/),
#                  stripped, for sm_90 (H100/H200) plus PTX, for any x86-64 CPU (no -march=native),
#                  the CUDA runtime linked statically, RPATH $ORIGIN/../lib;
#   <bundle>/lib/  every non-CUDA shared library they load that is not glibc's (ldd, transitively);
#                  cuBLAS and cuDNN are the GPU machine's own and are not copied;
#   <bundle>/MANIFEST  files and sizes, git commit, toolchain, and the newest GLIBC_/GLIBCXX_ versions
#                  the bundle needs (scripts/check_gpu_bundle.sh, run at the end, writes those).
# Fails if the bundle and the files git would send (tracked and untracked-not-ignored) pass 64 MiB,
# what one device call may carry.
set -euo pipefail
cd "$(dirname "$0")/.."

bundle=${1:-gpu-bundle}
build=${QF_GPU_BUILD_DIR:-build-gpu-bundle}
readonly limit_bytes=$((64 * 1024 * 1024))
readonly cuda_archs="90-real;90-virtual"
# is_glibc, is_cuda: which libraries the GPU machine brings (shared with the check).
source scripts/gpu_bundle_rules.sh

# The GPU executables, read from the CMake files so that a new GPU test or benchmark comes along:
# tests declared with qf_test(<name> LABELS ... gpu ...) and benchmarks built from bench/gpu/.
gpu_targets() {
  sed -nE 's/^[[:space:]]*qf_test\(([A-Za-z0-9_]+) LABELS ([A-Za-z0-9_]+ )*gpu[ )].*/\1/p' tests/CMakeLists.txt
  sed -nE 's/^[[:space:]]*add_executable\(([A-Za-z0-9_]+) gpu\/.*/\1/p' bench/CMakeLists.txt
}

configure() {
  # --as-needed: no NEEDED entry for a library nothing uses (HDF5, Boost when unused);
  # --disable-new-dtags: DT_RPATH rather than DT_RUNPATH, since only DT_RPATH also applies to the
  # libraries' own dependencies (libopenblas -> libgfortran), and patchelf is not needed to set it.
  # PRE_TEST: gtest_discover_tests would otherwise run every test binary after linking.
  local log="$build.configure.log"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQF_WITH_CUDA=ON -DQF_NATIVE=OFF -DQF_WERROR=OFF \
    -DQF_BUILD_TESTS=ON -DQF_BUILD_BENCH=ON -DCMAKE_CUDA_ARCHITECTURES="$cuda_archs" \
    -DCMAKE_CUDA_RUNTIME_LIBRARY=Static -DQF_CUDART_STATIC=ON \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,--as-needed -Wl,--disable-new-dtags" \
    -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON -DCMAKE_INSTALL_RPATH="\$ORIGIN/../lib" \
    -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST > "$log" 2>&1 || { cat "$log"; exit 1; }
  grep -q "QuantForge: CUDA=ON" "$log" || { cat "$log"; echo "gpu_bundle: CUDA is not enabled"; exit 1; }
}

build_targets() {
  local jobs=${QF_BUILD_JOBS:-$(nproc)}
  # shellcheck disable=SC2046  # one word per target
  cmake --build "$build" -j "$jobs" --target $(gpu_targets)
}

copy_executables() {
  local name path
  mkdir -p "$bundle/bin" "$bundle/lib"
  for name in $(gpu_targets); do
    path=$(find "$build" -type f -name "$name" -perm -u+x -print -quit)
    [ -n "$path" ] || { echo "gpu_bundle: $name was not built"; exit 1; }
    cp "$path" "$bundle/bin/$name"
    strip --strip-unneeded "$bundle/bin/$name"
  done
}

# Every library ldd resolves for the executables (ldd lists the transitive closure), less glibc's and
# CUDA's, copied under its soname (what the loader looks for).
copy_libraries() {
  local exe soname path
  for exe in "$bundle"/bin/*; do
    while read -r soname path; do
      is_glibc "$path" || is_cuda "$path" || [ -e "$bundle/lib/$soname" ] || cp -L "$path" "$bundle/lib/$soname"
    done < <(ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
  done
}

# The files a device call would send besides the carried bundle: git's tracked and untracked,
# not-ignored files (the tool's own rule). Files deleted but still tracked count nothing.
tree_bytes() {
  { git ls-files -z --cached --others --exclude-standard 2> /dev/null || true; } |
    { xargs -0 -r stat -c %s -- 2> /dev/null || true; } | awk '{ s += $1 } END { print s + 0 }'
}

write_manifest() {
  local commit dirty cudnn
  commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  dirty=""
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then dirty=" (with uncommitted changes)"; fi
  cudnn=$(sed -nE 's/^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ([0-9]+).*/\2/p' \
    "$(sed -n 's/^QF_CUDNN_INCLUDE_DIR:PATH=//p' "$build/CMakeCache.txt")/cudnn_version.h" 2>/dev/null | paste -sd.)
  {
    echo "# QuantForge GPU bundle, made by scripts/gpu_bundle.sh; run it with bench/gpu/device_run.sh"
    echo "commit: $commit$dirty"
    echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), gcc $(gcc -dumpfullversion)"
    echo "cuda: $(nvcc_path --version | sed -n 's/.*release \([0-9.]*\), \(V[0-9.]*\).*/\1 (\2)/p'), runtime linked statically, architectures $cuda_archs"
    echo "cudnn: ${cudnn:-none} (headers built against; libcudnn.so.9 comes from the GPU machine)"
    echo "from the GPU machine: $(cuda_sonames | paste -sd' ')"
    echo "files (bytes):"
    (cd "$bundle" && find bin lib -type f -printf '  %s %p\n' | sort -k2)
    echo "total: $(du -sb "$bundle" | cut -f1) bytes"
  } > "$bundle/MANIFEST"
}

nvcc_path() {
  if command -v nvcc > /dev/null; then nvcc "$@"; else /usr/local/cuda/bin/nvcc "$@"; fi
}

# The CUDA libraries the executables load (NEEDED, directly or through each other), by soname.
cuda_sonames() {
  local exe
  for exe in "$bundle"/bin/*; do
    ldd "$exe" | awk '$2 == "=>" { print $1, $3 }'
  done | while read -r soname path; do
    if is_cuda "$path"; then echo "$soname"; fi
  done | sort -u
}

check_size() {
  local bundle_b tree_b total
  bundle_b=$(du -sb "$bundle" | cut -f1)
  tree_b=$(tree_bytes)
  total=$((bundle_b + tree_b))
  awk -v b="$bundle_b" -v t="$tree_b" -v l="$limit_bytes" 'BEGIN {
    printf "gpu_bundle: bundle %.1f MiB + source tree %.1f MiB = %.1f MiB (limit %d MiB)\n",
           b / 1048576, t / 1048576, (b + t) / 1048576, l / 1048576 }'
  if [ "$total" -gt "$limit_bytes" ]; then
    echo "gpu_bundle: FAILED: over the $((limit_bytes / 1048576)) MiB a device call carries"
    exit 1
  fi
}

main() {
  local start=$SECONDS
  echo "== gpu_bundle: configure $build (Release, CUDA $cuda_archs, no -march=native, static cudart)"
  configure
  echo "== gpu_bundle: build $(gpu_targets | paste -sd' ')"
  build_targets
  echo "== gpu_bundle: copy into $bundle"
  # Replaces an earlier bundle, and nothing else: a folder with other files in it is left alone.
  if [ -d "$bundle" ] && [ ! -f "$bundle/MANIFEST" ] && [ -n "$(ls -A "$bundle")" ]; then
    echo "gpu_bundle: $bundle exists and is no bundle (no MANIFEST): not replacing it"
    exit 1
  fi
  rm -rf "$bundle"
  copy_executables
  copy_libraries
  write_manifest
  check_size
  echo "== gpu_bundle: check (scripts/check_gpu_bundle.sh $bundle)"
  scripts/check_gpu_bundle.sh "$bundle"
  echo "gpu_bundle: $bundle ready in $((SECONDS - start)) s; on the GPU machine (carry [\"$bundle\"]):"
  echo "  bench/gpu/device_run.sh /tmp/gpu-results --archive \"\$OUT/gpu-results.tar.gz\""
}

main
