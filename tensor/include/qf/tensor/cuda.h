// CUDA device memory for Tensor storage: a caching allocator (freed blocks are kept by size and
// reused, as training allocates the same buffers every step) and host/device copies on the
// backend's stream. Declared in every build; without QF_WITH_CUDA each call throws a clear error.
#pragma once

#include <cstddef>

namespace qf::cuda {

enum class CopyKind { host_to_device, device_to_host, device_to_device };

std::byte* allocate(std::size_t bytes);
void release(std::byte* block, std::size_t bytes) noexcept;
void copy(void* destination, const void* source, std::size_t bytes, CopyKind kind);
void fill_bytes(void* destination, int byte, std::size_t bytes);  // e.g. 0xFF poisons floats with NaN
void synchronize();                                               // waits for the backend's stream
std::size_t cached_bytes();                                       // held by the allocator for reuse
void empty_cache();
// For tests: while on, every block allocate() hands out (new or reused) is first filled with 0xFF,
// NaN as floats, so that an element a kernel fails to write cannot pass a comparison.
void set_poison_new_blocks(bool on);

}  // namespace qf::cuda
