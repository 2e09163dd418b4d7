#include "qf/tensor/blas.h"

#include <cblas.h>

#include <algorithm>
#include <string>
#include <vector>

#include "qf/tensor/parallel.h"

extern "C" {  // LAPACK, from OpenBLAS (which bundles it)
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dgetrf_(const int* m, const int* n, double* a, const int* lda, int* ipiv, int* info);
void dgetrs_(const char* trans, const int* n, const int* nrhs, const double* a, const int* lda,
             const int* ipiv, double* b, const int* ldb, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda, double* b,
             const int* ldb, int* info);
}

namespace qf::blas {

namespace {
CBLAS_TRANSPOSE to_cblas(Trans t) {
  return t == Trans::yes ? CblasTrans : CblasNoTrans;
}
}  // namespace

void gemm(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, to_cblas(trans_a), to_cblas(trans_b), static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

void gemm(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
          std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, to_cblas(trans_a), to_cblas(trans_b), static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

template <class T>
void gemm_parallel(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                   const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                   std::int64_t ldc) {
  // Splitting pays off from about a million multiply-adds per thread.
  const std::int64_t grain = std::max<std::int64_t>(16, (1 << 20) / std::max<std::int64_t>(n * k, 1));
  qf::parallel_for(m, grain, [&](std::int64_t r0, std::int64_t r1) {
    const T* a_rows = trans_a == Trans::no ? a + r0 * lda : a + r0;  // row r of op(A)
    gemm(trans_a, trans_b, r1 - r0, n, k, alpha, a_rows, lda, b, ldb, beta, c + r0 * ldc, ldc);
  });
}
template void gemm_parallel<float>(Trans, Trans, std::int64_t, std::int64_t, std::int64_t, float,
                                   const float*, std::int64_t, const float*, std::int64_t, float, float*,
                                   std::int64_t);
template void gemm_parallel<double>(Trans, Trans, std::int64_t, std::int64_t, std::int64_t, double,
                                    const double*, std::int64_t, const double*, std::int64_t, double, double*,
                                    std::int64_t);

void gemv(Trans trans_a, std::int64_t m, std::int64_t n, double alpha, const double* a, std::int64_t lda,
          const double* x, double beta, double* y) {
  cblas_dgemv(CblasRowMajor, to_cblas(trans_a), static_cast<int>(m), static_cast<int>(n), alpha, a,
              static_cast<int>(lda), x, 1, beta, y, 1);
}

// Row-major storage of a symmetric matrix is its column-major storage too, so LAPACK's column-major
// routines apply as they are ('L' here is the row-major upper triangle).
int cholesky_factor(std::int64_t n, double* a) {
  const char uplo = 'L';
  int order = static_cast<int>(n), lda = order, info = 0;
  dpotrf_(&uplo, &order, a, &lda, &info);
  return info;
}

void cholesky_solve(std::int64_t n, const double* factor, double* b) {
  const char uplo = 'L';
  int order = static_cast<int>(n), lda = order, columns = 1, info = 0;
  dpotrs_(&uplo, &order, &columns, factor, &lda, b, &lda, &info);
}

int cholesky_inverse(std::int64_t n, double* a) {
  const char uplo = 'L';
  int order = static_cast<int>(n), lda = order, info = 0;
  dpotrf_(&uplo, &order, a, &lda, &info);
  if (info != 0) return info;
  dpotri_(&uplo, &order, a, &lda, &info);
  // dpotri fills one triangle (the row-major upper one here): mirror it.
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < i; ++j) a[i * n + j] = a[j * n + i];
  return info;
}

int lu_factor(std::int64_t n, double* a, std::span<int> pivots) {
  int order = static_cast<int>(n), info = 0;
  dgetrf_(&order, &order, a, &order, pivots.data(), &info);
  return info;
}

void lu_solve(std::int64_t n, const double* factor, std::span<const int> pivots, double* b) {
  // Row-major storage is the transpose to LAPACK: solve with A' = A^T (the KKT matrices are symmetric,
  // but this keeps the function right for any matrix).
  int order = static_cast<int>(n), columns = 1, info = 0;
  dgetrs_("T", &order, &columns, factor, &order, pivots.data(), b, &order, &info);
}

void set_num_threads(int threads) {
  openblas_set_num_threads(threads);
}
int num_threads() {
  return openblas_get_num_threads();
}

const char* core_name() {
  return openblas_get_corename();
}

const char* better_core() {
#if defined(__x86_64__)
  const std::string core = core_name();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (avx512 && (core == "Haswell" || core == "Zen" || core == "Prescott" || core == "Core2"))
    return "SkylakeX";
#endif
  return nullptr;
}

}  // namespace qf::blas
