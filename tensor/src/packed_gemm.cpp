#include "qf/tensor/packed_gemm.h"

#include <algorithm>

#include "qf/tensor/blas.h"
#include "qf/tensor/simd.h"

namespace qf::blas {

namespace {

#ifdef QF_SIMD
using namespace simd;
constexpr int kRowBlock = kLanes == 16 ? 6 : 3;  // accumulators + 4 panel vectors within the registers
#else
constexpr int kLanes = 1;
#endif

constexpr int kVectorsPerPanel = 4;
constexpr int kPanelWidth = kLanes * kVectorsPerPanel;

#ifdef QF_SIMD
// C[R rows, one panel] (=|+=) A[R rows, k] x panel[k, kPanelWidth]; `width` <= kPanelWidth columns of
// C exist. Each C element is the same FMA chain over p = 0..k-1 whatever R is.
template <int R>
void multiply_block(std::int64_t k, const float* a, std::int64_t lda, const float* panel, float* c,
                    std::int64_t ldc, std::int64_t width, bool accumulate) {
  Vec acc[R][kVectorsPerPanel];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVectorsPerPanel; ++v) acc[r][v] = zero();
  for (std::int64_t p = 0; p < k; ++p) {
    const float* row = panel + p * kPanelWidth;
    const Vec b0 = load(row), b1 = load(row + kLanes), b2 = load(row + 2 * kLanes),
              b3 = load(row + 3 * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Vec ar = broadcast(a[r * lda + p]);
      acc[r][0] = multiply_add(ar, b0, acc[r][0]);
      acc[r][1] = multiply_add(ar, b1, acc[r][1]);
      acc[r][2] = multiply_add(ar, b2, acc[r][2]);
      acc[r][3] = multiply_add(ar, b3, acc[r][3]);
    }
  }
  if (width == kPanelWidth) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < kVectorsPerPanel; ++v) {
        float* out = c + r * ldc + v * kLanes;
        store(out, accumulate ? add(load(out), acc[r][v]) : acc[r][v]);
      }
    return;
  }
  alignas(64) float tail[kPanelWidth];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < kVectorsPerPanel; ++v) store(tail + v * kLanes, acc[r][v]);
    float* out = c + r * ldc;
    for (std::int64_t j = 0; j < width; ++j) out[j] = accumulate ? out[j] + tail[j] : tail[j];
  }
}

template <int R>
void multiply_rows(std::int64_t m, std::int64_t k, const float* a, std::int64_t lda, const float* panel,
                   float* c, std::int64_t ldc, std::int64_t width, bool accumulate) {
  std::int64_t r = 0;
  for (; r + R <= m; r += R)
    multiply_block<R>(k, a + r * lda, lda, panel, c + r * ldc, ldc, width, accumulate);
  if constexpr (R > 1)
    if (r < m) multiply_rows<R - 1>(m - r, k, a + r * lda, lda, panel, c + r * ldc, ldc, width, accumulate);
}

// C[R rows, one panel] += A^T[R rows, k] B[k, panel]: row r of A^T is column r of A (stride lda), B's
// panel rows are read in place (kPanelWidth of them, zero-padded by the caller); `width` columns of C.
template <int R>
void multiply_transposed_block(std::int64_t k, const float* a, std::int64_t lda, const float* b,
                               std::int64_t ldb, float* c, std::int64_t ldc, std::int64_t width) {
  Vec acc[R][kVectorsPerPanel];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVectorsPerPanel; ++v) acc[r][v] = zero();
  for (std::int64_t p = 0; p < k; ++p) {
    const float* row = b + p * ldb;
    const Vec b0 = load(row), b1 = load(row + kLanes), b2 = load(row + 2 * kLanes),
              b3 = load(row + 3 * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Vec ar = broadcast(a[p * lda + r]);
      acc[r][0] = multiply_add(ar, b0, acc[r][0]);
      acc[r][1] = multiply_add(ar, b1, acc[r][1]);
      acc[r][2] = multiply_add(ar, b2, acc[r][2]);
      acc[r][3] = multiply_add(ar, b3, acc[r][3]);
    }
  }
  // Fully unrolled like the loops above: a runtime index into acc would keep it in memory.
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* out = c + r * ldc;
    if (width == kPanelWidth) {
#pragma GCC unroll 4
      for (int v = 0; v < kVectorsPerPanel; ++v)
        store(out + v * kLanes, add(load(out + v * kLanes), acc[r][v]));
    } else {
      alignas(64) float tail[kPanelWidth];
#pragma GCC unroll 4
      for (int v = 0; v < kVectorsPerPanel; ++v) store(tail + v * kLanes, acc[r][v]);
      for (std::int64_t j = 0; j < width; ++j) out[j] += tail[j];
    }
  }
}

template <int R>
void multiply_transposed_rows(std::int64_t m, std::int64_t k, const float* a, std::int64_t lda,
                              const float* b, std::int64_t ldb, float* c, std::int64_t ldc,
                              std::int64_t width) {
  std::int64_t r = 0;
  for (; r + R <= m; r += R) multiply_transposed_block<R>(k, a + r, lda, b, ldb, c + r * ldc, ldc, width);
  if constexpr (R > 1)
    if (r < m) multiply_transposed_rows<R - 1>(m - r, k, a + r, lda, b, ldb, c + r * ldc, ldc, width);
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
    multiply_rows<kRowBlock>(m, k_, a, lda, base + q * k_ * kPanelWidth, c + q * kPanelWidth, ldc,
                             std::min<std::int64_t>(kPanelWidth, n_ - q * kPanelWidth), accumulate);
#endif
}

void multiply_transposed_add(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                             const float* b, std::int64_t ldb, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0 || k == 0) return;
#ifndef QF_SIMD
  gemm(Trans::yes, Trans::no, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
#else
  std::int64_t col = 0;
  for (; col + kPanelWidth <= n; col += kPanelWidth)
    multiply_transposed_rows<kRowBlock>(m, k, a, lda, b + col, ldb, c + col, ldc, kPanelWidth);
  if (col < n) {  // the last columns through a zero-padded copy, so that full vectors can be loaded
    const std::int64_t width = n - col;
    std::vector<float> padded(static_cast<std::size_t>(k * kPanelWidth), 0.0f);
    for (std::int64_t p = 0; p < k; ++p)
      std::copy_n(b + p * ldb + col, width, padded.data() + p * kPanelWidth);
    multiply_transposed_rows<kRowBlock>(m, k, a, lda, padded.data(), kPanelWidth, c + col, ldc, width);
  }
#endif
}

}  // namespace qf::blas
