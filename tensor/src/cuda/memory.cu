// Device memory: a caching allocator, and copies and fills on the backend's stream: the legacy default
// stream, which every kernel and cuBLAS / cuDNN call of the backend uses too, so that a copy waits for
// the kernels before it and a reused block is not filled while queued kernels still touch it.
#include <cuda_runtime.h>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "qf/tensor/cuda.h"
#include "qf/tensor/cuda_check.h"

namespace qf::cuda {

namespace {

// Blocks are rounded to 512 bytes; freed ones wait in a multimap by size. Never destroyed, so that
// tensors freed during static destruction do not touch a dead allocator.
struct Cache {
  std::mutex mutex;
  std::multimap<std::size_t, std::byte*> free_blocks;
  std::size_t cached = 0;
};
Cache& cache() {
  static Cache& c = *new Cache;  // NOLINT: deliberately immortal
  return c;
}
std::size_t rounded(std::size_t bytes) {
  return (std::max<std::size_t>(bytes, 1) + 511) / 512 * 512;
}

cudaStream_t stream() {
  return cudaStreamLegacy;
}

std::atomic<bool> poison_new_blocks{false};

std::byte* handed_out(std::byte* block, std::size_t size) {
  if (poison_new_blocks.load(std::memory_order_relaxed)) {
    check(cudaMemsetAsync(block, 0xFF, size, stream()), "poison");
    check(cudaStreamSynchronize(stream()), "poison");
  }
  return block;
}

}  // namespace

std::byte* allocate(std::size_t bytes) {
  const std::size_t size = rounded(bytes);
  Cache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    if (auto it = c.free_blocks.find(size); it != c.free_blocks.end()) {
      std::byte* block = it->second;
      c.free_blocks.erase(it);
      c.cached -= size;
      return handed_out(block, size);
    }
  }
  void* block = nullptr;
  if (cudaMalloc(&block, size) != cudaSuccess) {  // out of memory: free the cache and retry once
    cudaGetLastError();
    empty_cache();
    check(cudaMalloc(&block, size), "cudaMalloc");
  }
  return handed_out(static_cast<std::byte*>(block), size);
}

void release(std::byte* block, std::size_t bytes) noexcept {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.free_blocks.emplace(rounded(bytes), block);
  c.cached += rounded(bytes);
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  for (auto& [size, block] : c.free_blocks) cudaFree(block);
  c.free_blocks.clear();
  c.cached = 0;
}

std::size_t cached_bytes() {
  std::lock_guard lock(cache().mutex);
  return cache().cached;
}

void copy(void* destination, const void* source, std::size_t bytes, CopyKind kind) {
  const cudaMemcpyKind k = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                              : cudaMemcpyDeviceToDevice;
  check(cudaMemcpyAsync(destination, source, bytes, k, stream()), "copy");
  check(cudaStreamSynchronize(stream()), "copy");  // host buffers may be pageable and reused at once
}

void fill_bytes(void* destination, int byte, std::size_t bytes) {
  check(cudaMemsetAsync(destination, byte, bytes, stream()), "fill");
  check(cudaStreamSynchronize(stream()), "fill");
}

void set_poison_new_blocks(bool on) {
  poison_new_blocks.store(on, std::memory_order_relaxed);
}

void synchronize() {
  check(cudaStreamSynchronize(stream()), "synchronize");
}

}  // namespace qf::cuda
