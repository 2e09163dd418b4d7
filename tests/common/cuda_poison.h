// CUDA tests: while a PoisonNewDeviceBlocks lives, every device block the allocator hands out (new or
// reused from its cache) starts NaN-filled, so that an element a kernel fails to write shows up as NaN,
// which no comparison passes, whichever allocation gets which block.
#pragma once

#include "qf/tensor/cuda.h"

namespace qf::test_support {

class PoisonNewDeviceBlocks {
 public:
  PoisonNewDeviceBlocks() { cuda::set_poison_new_blocks(true); }
  ~PoisonNewDeviceBlocks() { cuda::set_poison_new_blocks(false); }
  PoisonNewDeviceBlocks(const PoisonNewDeviceBlocks&) = delete;
  PoisonNewDeviceBlocks& operator=(const PoisonNewDeviceBlocks&) = delete;
};

}  // namespace qf::test_support
