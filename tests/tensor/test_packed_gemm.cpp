// blas::PackedMatrix against a float64 reference on awkward shapes (row and column tails, strided A
// and C, both storage orders of B, overwrite and accumulate), and the property the LSTM's
// bit-reproducibility rests on: a row's result does not depend on how many rows share the call.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "qf/tensor/packed_gemm.h"

namespace {

std::vector<float> random_values(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(gen);
  return v;
}

}  // namespace

TEST(PackedGemm, MatchesAFloat64ReferenceOnEveryTail) {
  for (bool transposed : {false, true})
    for (std::int64_t m : {1, 5, 6, 7, 13, 64})
      for (std::int64_t k : {1, 7, 64})
        for (std::int64_t n : {1, 17, 64, 65, 256})
          for (bool accumulate : {false, true}) {
            const std::int64_t lda = k + 3, ldc = n + 5, ldb = transposed ? k + 2 : n + 1;
            const auto a = random_values(static_cast<std::size_t>(m * lda), 1);
            const auto b = random_values(static_cast<std::size_t>((transposed ? n : k) * ldb), 2);
            auto c = random_values(static_cast<std::size_t>(m * ldc), 3);
            const auto c_before = c;
            qf::blas::PackedMatrix(b.data(), ldb, k, n, transposed)
                .multiply(m, a.data(), lda, c.data(), ldc, accumulate);
            for (std::int64_t i = 0; i < m; ++i)
              for (std::int64_t j = 0; j < n; ++j) {
                double expect = accumulate ? c_before[static_cast<std::size_t>(i * ldc + j)] : 0.0;
                for (std::int64_t p = 0; p < k; ++p)
                  expect += double(a[static_cast<std::size_t>(i * lda + p)]) *
                            b[static_cast<std::size_t>(transposed ? j * ldb + p : p * ldb + j)];
                ASSERT_NEAR(c[static_cast<std::size_t>(i * ldc + j)], expect, 1e-5 * (1.0 + std::abs(expect)))
                    << "m " << m << " k " << k << " n " << n << " at " << i << "," << j;
              }
            // Padding between rows of C is never written.
            for (std::int64_t i = 0; i < m; ++i)
              for (std::int64_t j = n; j < ldc; ++j)
                ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)],
                          c_before[static_cast<std::size_t>(i * ldc + j)]);
          }
}

TEST(PackedGemm, ARowsResultDoesNotDependOnItsNeighbours) {
  const std::int64_t m = 64, k = 64, n = 256;
  const auto a = random_values(static_cast<std::size_t>(m * k), 4);
  const auto b = random_values(static_cast<std::size_t>(k * n), 5);
  const qf::blas::PackedMatrix packed(b.data(), n, k, n, false);
  std::vector<float> all(static_cast<std::size_t>(m * n)), one(static_cast<std::size_t>(n));
  packed.multiply(m, a.data(), k, all.data(), n, false);
  for (std::int64_t i : {0, 5, 6, 37, 63}) {
    packed.multiply(1, a.data() + i * k, k, one.data(), n, false);
    for (std::int64_t j = 0; j < n; ++j)
      ASSERT_EQ(one[static_cast<std::size_t>(j)], all[static_cast<std::size_t>(i * n + j)]) << i << "," << j;
  }
}

// C += A^T B, the LSTM's weight gradient: depths that span several of its L1-sized blocks, column
// tails, and strides everywhere.
TEST(PackedGemm, TransposedAddMatchesAFloat64Reference) {
  for (std::int64_t m : {1, 5, 7, 80})
    for (std::int64_t k : {1, 7, 129, 300})
      for (std::int64_t n : {1, 17, 32, 65, 256}) {
        const std::int64_t lda = m + 3, ldb = n + 1, ldc = n + 5;
        const auto a = random_values(static_cast<std::size_t>(k * lda), 6);
        const auto b = random_values(static_cast<std::size_t>(k * ldb), 7);
        auto c = random_values(static_cast<std::size_t>(m * ldc), 8);
        const auto c_before = c;
        qf::blas::multiply_transposed_add(m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc);
        for (std::int64_t i = 0; i < m; ++i) {
          for (std::int64_t j = 0; j < n; ++j) {
            double expect = c_before[static_cast<std::size_t>(i * ldc + j)];
            for (std::int64_t p = 0; p < k; ++p)
              expect +=
                  double(a[static_cast<std::size_t>(p * lda + i)]) * b[static_cast<std::size_t>(p * ldb + j)];
            ASSERT_NEAR(c[static_cast<std::size_t>(i * ldc + j)], expect, 1e-5 * (1.0 + std::abs(expect)))
                << "m " << m << " k " << k << " n " << n << " at " << i << "," << j;
          }
          for (std::int64_t j = n; j < ldc; ++j)
            ASSERT_EQ(c[static_cast<std::size_t>(i * ldc + j)],
                      c_before[static_cast<std::size_t>(i * ldc + j)]);
        }
      }
}
