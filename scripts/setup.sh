#!/usr/bin/env bash
# Installs the Debian packages QuantForge builds with, if any are missing. Idempotent and quiet when
# everything is already there. The CUDA toolkit is optional (found under /usr/local/cuda when present).
set -euo pipefail

packages=(build-essential cmake libopenblas-dev libhdf5-dev hdf5-tools libboost-program-options-dev
          libgtest-dev libgmock-dev libbenchmark-dev libopenmpi-dev openmpi-bin chromium
          clang libclang-rt-14-dev valgrind nlohmann-json3-dev jq)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
