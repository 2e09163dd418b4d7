#include "qf/tensor/packed_gemm.h"

#include <algorithm>

#include "qf/tensor/blas.h"
#include "qf/tensor/simd.h"

namespace qf::blas {

namespace {

#ifdef QF_SIMD
using namespace simd;
constexpr int kRowBlock = kTileRows;  // the register tile's rows (simd.h)
#else
constexpr int kLanes = 1;
#endif

constexpr int kVectorsPerPanel = 4;
constexpr int kPanelWidth = kLanes * kVectorsPerPanel;

#ifdef QF_SIMD
// C[R rows, one panel] (=|+=) A[R rows, k] B[k, panel], A(r, p) = a[r * a_row + p * a_col] (so
// A^T B is the same kernel with the strides swapped), B's rows ldb apart with kPanelWidth readable
// columns; `width` <= kPanelWidth columns of C exist. Each C element is the same FMA chain over
// p = 0..k-1 whatever R is.
template <int R>
void multiply_block(std::int64_t k, const float* a, std::int64_t a_row, std::int64_t a_col, const float* b,
                    std::int64_t ldb, float* c, std::int64_t ldc, std::int64_t width, bool accumulate) {
  Vec acc[R][kVectorsPerPanel];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVectorsPerPanel; ++v) acc[r][v] = zero();
  accumulate_tile<R>(acc, k, a, a_row, a_col, b, ldb);
  // Fully unrolled like the loops above: a runtime index into acc would keep it in memory.
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* out = c + r * ldc;
    if (width == kPanelWidth) {
#pragma GCC unroll 4
      for (int v = 0; v < kVectorsPerPanel; ++v) {
        float* o = out + v * kLanes;
        store(o, accumulate ? add(load(o), acc[r][v]) : acc[r][v]);
      }
    } else {
      alignas(64) float tail[kPanelWidth];
#pragma GCC unroll 4
      for (int v = 0; v < kVectorsPerPanel; ++v) store(tail + v * kLanes, acc[r][v]);
      for (std::int64_t j = 0; j < width; ++j) out[j] = accumulate ? out[j] + tail[j] : tail[j];
    }
  }
}

// All m rows of C for one panel: blocks of R rows, then the remainder with a smaller block.
template <int R>
void multiply_rows(std::int64_t m, std::int64_t k, const float* a, std::int64_t a_row, std::int64_t a_col,
                   const float* b, std::int64_t ldb, float* c, std::int64_t ldc, std::int64_t width,
                   bool accumulate) {
  std::int64_t r = 0;
  for (; r + R <= m; r += R)
    multiply_block<R>(k, a + r * a_row, a_row, a_col, b, ldb, c + r * ldc, ldc, width, accumulate);
  if constexpr (R > 1)
    if (r < m)
      multiply_rows<R - 1>(m - r, k, a + r * a_row, a_row, a_col, b, ldb, c + r * ldc, ldc, width,
                           accumulate);
}
#endif

}  // namespace

PackedMatrix::PackedMatrix(const float* b, std::int64_t ldb, std::int64_t k, std::int64_t n, bool transposed)
    : k_(k), n_(n), panels_(static_cast<std::size_t>((n + kPanelWidth - 1) / kPanelWidth * k * kPanelWidth)) {
  const auto at = [&](std::int64_t row, std::int64_t col) {
    return transposed ? b[col * ldb + row] : b[row * ldb + col];
  };
#ifndef QF_SIMD
  source_.resize(static_cast<std::size_t>(k * n));
  for (std::int64_t row = 0; row < k; ++row)
    for (std::int64_t col = 0; col < n; ++col)
      source_[static_cast<std::size_t>(row * n + col)] = at(row, col);
  return;
#endif
  const std::int64_t panels = (n + kPanelWidth - 1) / kPanelWidth;
  float* base = panels_.data();
  for (std::int64_t q = 0; q < panels; ++q)
    for (std::int64_t row = 0; row < k; ++row)
      for (std::int64_t j = 0; j < kPanelWidth && q * kPanelWidth + j < n; ++j)
        base[(q * k + row) * kPanelWidth + j] = at(row, q * kPanelWidth + j);
}

bool PackedMatrix::vectorised() {
#ifdef QF_SIMD
  return true;
#else
  return false;
#endif
}

void PackedMatrix::multiply(std::int64_t m, const float* a, std::int64_t lda, float* c, std::int64_t ldc,
                            bool accumulate) const {
  if (m == 0 || n_ == 0) return;
#ifndef QF_SIMD
  gemm(Trans::no, Trans::no, m, n_, k_, 1.0f, a, lda, source_.data(), n_, accumulate ? 1.0f : 0.0f, c, ldc);
#else
  const float* base = panels_.data();
  // Panel by panel: one panel (k x 64 floats, 16 kB at k = 64) stays in L1 for all rows.
  for (std::int64_t q = 0; q * kPanelWidth < n_; ++q)
    multiply_rows<kRowBlock>(m, k_, a, lda, 1, base + q * k_ * kPanelWidth, kPanelWidth, c + q * kPanelWidth,
                             ldc, std::min<std::int64_t>(kPanelWidth, n_ - q * kPanelWidth), accumulate);
#endif
}

void multiply_transposed_add(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                             const float* b, std::int64_t ldb, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0 || k == 0) return;
#ifndef QF_SIMD
  gemm(Trans::yes, Trans::no, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
#else
  // B's panel is read once per block of rows, m / kRowBlock times. In place its rows sit ldb apart
  // (1 kB for 4H = 256), so they crowd a few cache sets and each pass comes from L2; copied
  // contiguous, kDepth rows at a time (16 kB), it stays in L1 beside A's lines for all the blocks.
  constexpr std::int64_t kDepth = 16384 / (kPanelWidth * static_cast<std::int64_t>(sizeof(float)));
  AlignedBuffer packed(static_cast<std::size_t>(kDepth * kPanelWidth));
  for (std::int64_t col = 0; col < n; col += kPanelWidth) {
    const std::int64_t width = std::min<std::int64_t>(kPanelWidth, n - col);
    for (std::int64_t p0 = 0; p0 < k; p0 += kDepth) {
      const std::int64_t depth = std::min(kDepth, k - p0);
      for (std::int64_t p = 0; p < depth; ++p)  // zero past `width`, so that full vectors can be loaded
        std::fill(std::copy_n(b + (p0 + p) * ldb + col, width, packed.data() + p * kPanelWidth),
                  packed.data() + (p + 1) * kPanelWidth, 0.0f);
      multiply_rows<kRowBlock>(m, depth, a + p0 * lda, 1, lda, packed.data(), kPanelWidth, c + col, ldc,
                               width,
                               /*accumulate=*/true);
    }
  }
#endif
}

}  // namespace qf::blas
