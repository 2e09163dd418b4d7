#!/usr/bin/env bash
# Checks a GPU bundle made by scripts/gpu_bundle.sh (issue 23), on this machine, without a GPU:
#   1. every library ldd resolves for each bundled executable lies in the bundle, in CUDA's folders or
#      is one of CUDA's (cudart, cuBLAS, cuDNN, NVRTC, nvJitLink: the GPU machine has its own), or is
#      glibc's own (libc, libm, libdl, librt, libpthread, ld-linux, linux-vdso); none is "not found";
#      and no CUDA library was copied into the bundle;
#   2. records in <bundle>/MANIFEST the newest GLIBC_ and GLIBCXX_ symbol versions the bundle needs
#      (the GPU machine's glibc must be at least that; libstdc++ travels in the bundle when needed);
#   3. runs each executable: each must exit 0, skipping cleanly without a device (gtest with its GPU
#      tests skipped; bench_lstm_gpu printing that it skips).
# Usage: scripts/check_gpu_bundle.sh [bundle-dir]   (default gpu-bundle)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu_bundle_rules.sh

bundle=${1:-gpu-bundle}
readonly run_timeout=120  # seconds per executable; without a device each takes well under one
problems=0

fail() {
  echo "check_gpu_bundle: FAILED: $*"
  problems=$((problems + 1))
}

check_layout() {
  if [ ! -d "$bundle/bin" ] || [ ! -f "$bundle/MANIFEST" ]; then
    echo "check_gpu_bundle: $bundle is no bundle (no bin/ or MANIFEST): run scripts/gpu_bundle.sh"
    exit 1
  fi
  compgen -G "$bundle/bin/*" > /dev/null || { echo "check_gpu_bundle: $bundle/bin is empty"; exit 1; }
  local lib
  for lib in "$bundle"/lib/*; do
    [ -e "$lib" ] || continue
    if is_cuda "$lib"; then fail "$lib is CUDA's: the GPU machine brings its own"; fi
  done
}

# ldd's view of where each library comes from, checked against the three places allowed.
check_libraries() {
  local exe line soname path real bundle_real
  bundle_real=$(realpath "$bundle")
  for exe in "$bundle"/bin/*; do
    while IFS= read -r line; do
      if [[ $line == *"not found"* ]]; then
        fail "$(basename "$exe"): $line"
        continue
      fi
      read -r soname _ path _ <<< "$line"
      [[ $line == *"=>"* ]] || path=$soname  # linux-vdso.so.1, /lib64/ld-linux-x86-64.so.2
      real=$(realpath -m "$path")
      if [[ $real == "$bundle_real"/* ]] || is_glibc "$path" || is_cuda "$path" || is_cuda "$real"; then
        continue
      fi
      fail "$(basename "$exe") loads $soname from $path: neither in the bundle, CUDA's nor glibc's"
    done < <(ldd "$exe" 2>&1 | sed 's/^[[:space:]]*//; s/ (0x[0-9a-f]*)$//')
  done
}

# The versions block that ends MANIFEST, rewritten on each check (the lines above it are gpu_bundle.sh's).
record_versions() {
  local files file glibc glibcxx provided
  mapfile -t files < <(cd "$bundle" && find bin lib -type f 2> /dev/null | sort)
  glibc=$(cd "$bundle" && newest_needed_version GLIBC_ "${files[@]}")
  glibcxx=$(cd "$bundle" && newest_needed_version GLIBCXX_ "${files[@]}")
  provided=""
  [ -f "$bundle/lib/libstdc++.so.6" ] && provided=$(newest_defined_version GLIBCXX_ "$bundle/lib/libstdc++.so.6")
  sed -i '/^# versions/,$d' "$bundle/MANIFEST"
  {
    echo "# versions (scripts/check_gpu_bundle.sh): the newest symbol versions referenced, over bin/ and lib/"
    echo "needs: ${glibc:-none} (the GPU machine's glibc must be at least this)"
    echo "needs: ${glibcxx:-none}"
    if [ -n "$provided" ]; then
      echo "provides: $provided (lib/libstdc++.so.6 travels in the bundle and is the one loaded)"
    fi
    echo "by file (GLIBC_, GLIBCXX_):"
    for file in "${files[@]}"; do
      echo "  $file $(cd "$bundle" && newest_needed_version GLIBC_ "$file") $(cd "$bundle" && newest_needed_version GLIBCXX_ "$file")"
    done
  } >> "$bundle/MANIFEST"
  if [ -n "$provided" ] && ! version_le "${glibcxx:-GLIBCXX_0}" "$provided"; then
    fail "the bundled libstdc++ ($provided) is older than needed ($glibcxx)"
  fi
  echo "check_gpu_bundle: needs ${glibc:-no GLIBC_}, ${glibcxx:-no GLIBCXX_}${provided:+ (the bundled libstdc++ provides $provided)}"
}

# Each executable, here, where there is no GPU (or if there is one, for real): exit 0 required.
run_executables() {
  local exe name out rc
  for exe in "$bundle"/bin/*; do
    name=$(basename "$exe")
    rc=0
    case $name in
      test_*) out=$(timeout "$run_timeout" "$exe" --gtest_brief=1 2>&1) || rc=$? ;;
      *) out=$(timeout "$run_timeout" "$exe" --benchmark_min_time=0.05 2>&1) || rc=$? ;;
    esac
    if [ "$rc" -ne 0 ]; then
      fail "$name exited $rc:"
      echo "$out" | tail -n 20
      continue
    fi
    case $name in
      test_*) echo "check_gpu_bundle: $name: $(echo "$out" | grep -E '^\[ +(PASSED|SKIPPED) +\]' | paste -sd' ')" ;;
      *) if [[ ${out,,} == *skipping* ]]; then
           echo "check_gpu_bundle: $name: $(grep -i -m 1 skipping <<< "$out")"
         elif [ "$(nvidia-smi -L 2> /dev/null | grep -c '^GPU ')" -eq 0 ]; then
           fail "$name did not say it skips on a machine without a GPU:"
           echo "$out" | tail -n 20
         fi ;;
    esac
  done
}

main() {
  check_layout
  check_libraries
  record_versions
  run_executables
  if [ "$problems" -gt 0 ]; then
    echo "check_gpu_bundle: $bundle: $problems problem(s)"
    exit 1
  fi
  echo "check_gpu_bundle: $bundle: passed (libraries, versions in MANIFEST, each executable ran)"
}

main
