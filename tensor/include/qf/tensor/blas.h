// Row-major GEMM through OpenBLAS (CBLAS), for float and double, plus its thread count.
// Shapes follow the BLAS convention: op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are the
// row strides of the stored (untransposed) matrices, which lets callers address strided sub-matrices
// (e.g. one time step of a batch-first sequence) without copies.
#pragma once

#include <cstdint>
#include <span>

namespace qf::blas {

enum class Trans : bool { no = false, yes = true };

void gemm(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc);
void gemm(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
          std::int64_t ldc);

// y = alpha op(A) x + beta y, A row-major [m, n] with row stride lda.
void gemv(Trans trans_a, std::int64_t m, std::int64_t n, double alpha, const double* a, std::int64_t lda,
          const double* x, double beta, double* y);

// Cholesky factorisation of a symmetric positive definite [n, n] matrix in place (LAPACK dpotrf; only
// one triangle is read and overwritten). Returns 0, or the 1-based order of the first leading minor
// that is not positive definite.
int cholesky_factor(std::int64_t n, double* a);
// The inverse of a symmetric positive definite matrix in place, both triangles (dpotrf + dpotri); the
// return value as cholesky_factor's.
int cholesky_inverse(std::int64_t n, double* a);
// LU with partial pivoting of a general (e.g. an indefinite KKT) matrix in place (LAPACK dgetrf), for
// any number of lu_solve calls. Returns 0, or > 0 when A is singular.
int lu_factor(std::int64_t n, double* a, std::span<int> pivots);
// Solves A x = b in place of b with the factor and pivots of lu_factor (dgetrs).
void lu_solve(std::int64_t n, const double* factor, std::span<const int> pivots, double* b);
// Solves A x = b in place of b with the factor of cholesky_factor.
void cholesky_solve(std::int64_t n, const double* factor, double* b);

// C = alpha op(A) op(B) + beta C with the rows of C split over qf::parallel_for (serial when small
// or already inside a parallel region).
template <class T>
void gemm_parallel(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                   const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                   std::int64_t ldc);

// The kernel family OpenBLAS chose for this CPU at load time (e.g. "Haswell", "SkylakeX").
const char* core_name();
// The family to ask for instead (through OPENBLAS_CORETYPE, which OpenBLAS reads only when it loads),
// or nullptr when its choice is already the best: OpenBLAS 0.3.21 does not know newer AVX-512 CPUs
// (e.g. AMD Zen 5) and falls back to its AVX2 Haswell kernels, at half the sgemm speed of its
// AVX-512 SkylakeX kernels on them (measured: docs/performance.md).
const char* better_core();

// OpenBLAS's own thread count. qf::set_num_threads keeps it at 1 (see qf/tensor/parallel.h).
void set_num_threads(int threads);
int num_threads();

}  // namespace qf::blas
