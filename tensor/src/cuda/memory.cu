// Device memory: a caching allocator and copies on one stream (the backend's).
#include <cuda_runtime.h>

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
  static cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    check(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking), "stream");
    return created;
  }();
  return s;
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
      return block;
    }
  }
  void* block = nullptr;
  if (cudaMalloc(&block, size) != cudaSuccess) {  // out of memory: free the cache and retry once
    cudaGetLastError();
    empty_cache();
    check(cudaMalloc(&block, size), "cudaMalloc");
  }
  return static_cast<std::byte*>(block);
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

void synchronize() {
  check(cudaStreamSynchronize(stream()), "synchronize");
}

}  // namespace qf::cuda
