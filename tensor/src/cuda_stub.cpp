// CPU-only builds: the CUDA entry points exist and say clearly that there is no backend.
#include <stdexcept>

#include "qf/tensor/cuda.h"

namespace qf::cuda {

namespace {
[[noreturn]] void unavailable() {
  throw std::runtime_error("CUDA: this build has no CUDA backend (QF_WITH_CUDA=OFF)");
}
}  // namespace

std::byte* allocate(std::size_t) {
  unavailable();
}
void release(std::byte*, std::size_t) noexcept {}
void copy(void*, const void*, std::size_t, CopyKind) {
  unavailable();
}
void fill_bytes(void*, int, std::size_t) {
  unavailable();
}
void synchronize() {}
std::size_t cached_bytes() {
  return 0;
}
void empty_cache() {}
void set_poison_new_blocks(bool) {}

}  // namespace qf::cuda
