# shellcheck shell=bash
# Sourced by scripts/gpu_bundle.sh, scripts/check_gpu_bundle.sh and bench/gpu/device_run.sh: which
# shared libraries a GPU machine brings itself, so that a bundle leaves them out.

# glibc's own libraries: every Linux has them, and they must match the machine's loader.
is_glibc() {
  [[ $(basename "$1") =~ ^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libmvec)[.-] ]]
}

# CUDA's: the driver, runtime, cuBLAS, cuDNN, NVRTC, nvJitLink: the GPU machine's own versions (from
# its CUDA folder or its Python wheels) are the ones that match its driver.
is_cuda() {
  [[ $1 == /usr/local/cuda* ]] ||
    [[ $(basename "$1") =~ ^lib(cuda|cudart|cublas|cublasLt|cudnn[a-z_]*|nvrtc[a-z-]*|nvJitLink)\.so ]]
}

# The newest of the symbol versions with prefix $1 (GLIBC_, GLIBCXX_) that the given ELF files
# reference without defining (objdump -T: *UND* entries); empty when none.
newest_needed_version() {
  local prefix=$1
  shift
  objdump -T "$@" 2>/dev/null | awk '$0 ~ /\*UND\*/' | grep -oE "\\b${prefix}[0-9][0-9.]*" | sort -uV | tail -n 1
}

# The newest of the symbol versions with prefix $1 that the given ELF files define.
newest_defined_version() {
  local prefix=$1
  shift
  objdump -T "$@" 2>/dev/null | awk '$0 !~ /\*UND\*/' | grep -oE "\\b${prefix}[0-9][0-9.]*" | sort -uV | tail -n 1
}

# Whether version $1 (e.g. GLIBC_2.34) is at most $2 (e.g. GLIBC_2.39).
version_le() {
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | sed -n 1p)" = "$1" ]
}
