// The process's thread budget and a parallel loop over it.
//
// All parallelism is ours: OpenBLAS is kept single-threaded, and large GEMMs are split over our
// threads by blas::gemm_parallel. One owner avoids two thread pools competing for the same cores
// (OpenBLAS's idle workers spin), which made two threads slower than one on small LSTM shapes.
#pragma once

#include <cstdint>
#include <functional>

namespace qf {

void set_num_threads(int threads);  // default: the number of hardware threads
int num_threads();

// Calls body(begin, end) on disjoint chunks covering [0, n): one chunk per thread (at most
// num_threads(), each at least `grain` long), the caller running the first. Nested calls run
// serially. Exceptions from any chunk are rethrown on the caller's thread.
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body);

// As parallel_for, also passing each chunk's index (0-based, in order of `begin`), e.g. to write
// per-chunk partial results that the caller then reduces in a fixed order. Returns the chunk count,
// which is at most num_threads().
int parallel_for_chunks(std::int64_t n, std::int64_t grain,
                        const std::function<void(int chunk, std::int64_t begin, std::int64_t end)>& body);

// While alive, parallel_for on this thread runs serially: for a task that is one of many already
// spread over the threads, or one that must give the same bits whatever the thread count (summation
// order inside a model then never depends on how many threads there are).
class SerialRegion {
 public:
  SerialRegion();
  ~SerialRegion();
  SerialRegion(const SerialRegion&) = delete;
  SerialRegion& operator=(const SerialRegion&) = delete;

 private:
  bool previous_;
};

}  // namespace qf
