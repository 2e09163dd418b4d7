// A float32 GEMM for small matrices whose right operand is reused many times: C [m, n] = (or +=)
// A [m, k] B, with B [k, n] packed once into column panels. An LSTM multiplies the same recurrent
// weights at each of its 60 time steps; a general GEMM packs B again on every call, and at these sizes
// (m = 64 batch rows, k = 64, n = 256) packing costs as much as the arithmetic. A is read in place
// through its row stride (one time step of a batch-first sequence), so nothing is copied per call.
//
// The kernel keeps a block of C (rows x one panel of 4 SIMD vectors) in registers across the whole k
// loop: AVX-512 (16 lanes, 6 rows) or AVX2 + FMA (8 lanes, 3 rows), chosen at compile time; other
// targets fall back to blas::gemm. Results depend only on the inputs (fixed summation order), not
// on the thread count or on where in the batch a row sits.
#pragma once

#include <cstdint>
#include <vector>

#include "qf/tensor/simd.h"

namespace qf::blas {

class PackedMatrix {
 public:
  // Packs B [k, n] stored row-major with row stride ldb; transposed: the storage holds B^T [n, k]
  // (row stride ldb) instead, e.g. an LSTM's W_hh [4H, H] for h W_hh^T.
  PackedMatrix(const float* b, std::int64_t ldb, std::int64_t k, std::int64_t n, bool transposed);

  // C = A B (accumulate = false) or C += A B, A [m, k] with row stride lda, C with row stride ldc.
  void multiply(std::int64_t m, const float* a, std::int64_t lda, float* c, std::int64_t ldc,
                bool accumulate) const;

  std::int64_t rows() const { return k_; }
  std::int64_t cols() const { return n_; }
  static bool vectorised();  // false where multiply falls back to blas::gemm (no AVX2/AVX-512)

 private:
  std::int64_t k_, n_;
  std::vector<float> source_;   // B row-major [k, n], kept for the fallback
  simd::AlignedBuffer panels_;  // [panel][k][panel width], zero-padded past n
};

// C [m, n] += A^T B for A [k, m] and B [k, n], all row-major with the given row strides and read in
// place: a weight gradient summed one time step at a time (A = the step's inputs, B = its gate
// gradients, k = the batch rows), while B is still in L1, instead of one large GEMM over a [B*T, 4H]
// buffer that no cache holds. The same register blocking as PackedMatrix; blas::gemm without SIMD.
void multiply_transposed_add(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                             const float* b, std::int64_t ldb, float* c, std::int64_t ldc);

}  // namespace qf::blas
