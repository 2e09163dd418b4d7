// The SIMD vocabulary of the CPU's hand-written kernels (blas::PackedMatrix, the fused LSTM step):
// one vector type for the widest instruction set the file is compiled for (AVX-512: 16 floats; AVX2 +
// FMA: 8), thin named wrappers over its intrinsics, and exp / sigmoid / tanh on whole vectors.
// QF_SIMD is defined when a vector type exists; code without it falls back to plain loops or BLAS.
//
// exp follows qf::fast_exp (Cody-Waite reduction, the same degree-6 polynomial); tanh is a rational
// fit (no exp); divisions become a reciprocal estimate refined by Newton steps (an AVX-512 division
// costs about as much as the rest of a sigmoid). Accuracy is within a few ulp
// (tests/tensor/test_simd.cpp).
#pragma once

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps() and trip -Wuninitialized when inlined
// (GCC bug 105593); the warning points into the intrinsic headers, so it is silenced for them only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qf::simd {

// A zero-initialised float buffer whose data() is 64-byte aligned, so that no vector load of a packed
// operand splits a cache line. Movable, not copyable (a copy could land on another alignment).
class AlignedBuffer {
 public:
  explicit AlignedBuffer(std::size_t size) : storage_(size + kPad, 0.0f) {
    while (reinterpret_cast<std::uintptr_t>(storage_.data() + offset_) % 64 != 0) ++offset_;
  }
  AlignedBuffer(AlignedBuffer&&) noexcept = default;
  AlignedBuffer& operator=(AlignedBuffer&&) noexcept = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  float* data() { return storage_.data() + offset_; }
  const float* data() const { return storage_.data() + offset_; }

 private:
  static constexpr std::size_t kPad = 16;
  std::vector<float> storage_;
  std::size_t offset_ = 0;
};

#if defined(__AVX512F__)
#define QF_SIMD 1
using Vec = __m512;
constexpr int kLanes = 16;
inline Vec load(const float* p) {
  return _mm512_loadu_ps(p);
}
inline void store(float* p, Vec v) {
  _mm512_storeu_ps(p, v);
}
inline Vec broadcast(float x) {
  return _mm512_set1_ps(x);
}
inline Vec multiply_add(Vec a, Vec b, Vec c) {  // a b + c
  return _mm512_fmadd_ps(a, b, c);
}
inline Vec negative_multiply_add(Vec a, Vec b, Vec c) {  // c - a b
  return _mm512_fnmadd_ps(a, b, c);
}
inline Vec add(Vec a, Vec b) {
  return _mm512_add_ps(a, b);
}
inline Vec subtract(Vec a, Vec b) {
  return _mm512_sub_ps(a, b);
}
inline Vec multiply(Vec a, Vec b) {
  return _mm512_mul_ps(a, b);
}
inline Vec minimum(Vec a, Vec b) {
  return _mm512_min_ps(a, b);
}
inline Vec maximum(Vec a, Vec b) {
  return _mm512_max_ps(a, b);
}
inline Vec zero() {
  return _mm512_setzero_ps();
}
inline Vec round_to_integer(Vec x) {
  return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline Vec times_power_of_two(Vec p, Vec n) {  // p 2^n for integral n, the product a normal float
  return _mm512_scalef_ps(p, n);
}
inline Vec reciprocal_estimate(Vec d) {  // relative error below 2^-14
  return _mm512_rcp14_ps(d);
}
constexpr int kReciprocalRefinements = 1;  // one Newton step takes 2^-14 to correct rounding
constexpr int kTileRows = 6;  // 6 x 4 accumulators + 4 weight vectors + a broadcast: 29 of 32 registers
inline Vec absolute(Vec x) {
  return _mm512_abs_ps(x);
}
inline Vec copy_sign(Vec magnitude, Vec sign) {  // |magnitude| with sign's sign bit
  const __m512i bit = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  return _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(magnitude), _mm512_and_si512(_mm512_castps_si512(sign), bit)));
}
inline Vec select_less(Vec a, Vec b, Vec if_less, Vec otherwise) {  // a < b ? if_less : otherwise
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), otherwise, if_less);
}
#elif defined(__AVX2__) && defined(__FMA__)
#define QF_SIMD 1
using Vec = __m256;
constexpr int kLanes = 8;
inline Vec load(const float* p) {
  return _mm256_loadu_ps(p);
}
inline void store(float* p, Vec v) {
  _mm256_storeu_ps(p, v);
}
inline Vec broadcast(float x) {
  return _mm256_set1_ps(x);
}
inline Vec multiply_add(Vec a, Vec b, Vec c) {
  return _mm256_fmadd_ps(a, b, c);
}
inline Vec negative_multiply_add(Vec a, Vec b, Vec c) {
  return _mm256_fnmadd_ps(a, b, c);
}
inline Vec add(Vec a, Vec b) {
  return _mm256_add_ps(a, b);
}
inline Vec subtract(Vec a, Vec b) {
  return _mm256_sub_ps(a, b);
}
inline Vec multiply(Vec a, Vec b) {
  return _mm256_mul_ps(a, b);
}
inline Vec minimum(Vec a, Vec b) {
  return _mm256_min_ps(a, b);
}
inline Vec maximum(Vec a, Vec b) {
  return _mm256_max_ps(a, b);
}
inline Vec zero() {
  return _mm256_setzero_ps();
}
inline Vec round_to_integer(Vec x) {
  return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline Vec times_power_of_two(Vec p, Vec n) {
  // n added to p's exponent field: 3 instructions against 9 for two multiplications by 2^(n/2), and
  // exact wherever the product is a normal float, which is all exp asks (see there).
  const __m256i exponent_step = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), exponent_step));
}
inline Vec reciprocal_estimate(Vec d) {  // relative error below 1.5 * 2^-12
  return _mm256_rcp_ps(d);
}
// From 1.5 * 2^-12 (AMD's estimate is 2^-12 short even at powers of two) one Newton step falls short
// of correct rounding: 1 / 2 came out 0.49999997. Two reach it.
constexpr int kReciprocalRefinements = 2;
constexpr int kTileRows = 3;  // 3 x 4 accumulators + 3 broadcasts + 1 weight vector: 16 of 16 registers
inline Vec absolute(Vec x) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
}
inline Vec copy_sign(Vec magnitude, Vec sign) {
  return _mm256_or_ps(magnitude, _mm256_and_ps(sign, _mm256_set1_ps(-0.0f)));
}
inline Vec select_less(Vec a, Vec b, Vec if_less, Vec otherwise) {
  return _mm256_blendv_ps(otherwise, if_less, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
}
#endif

#ifdef QF_SIMD
// The register tile of every hand-written GEMM-like kernel: acc[r][v] += A(r, p) B(p, v) for p < k, R
// rows (kTileRows at most) x 4 vectors, A(r, p) = a[r * a_row + p * a_col], B's row p the 4 vectors
// at b + p * ldb. The caller initialises acc and unrolls every loop over it (a runtime index would
// keep it in memory).
template <int R>
[[gnu::always_inline]] inline void accumulate_tile(Vec (&acc)[R][4], std::int64_t k, const float* a,
                                                   std::int64_t a_row, std::int64_t a_col, const float* b,
                                                   std::int64_t ldb) {
#pragma GCC unroll 2
  for (std::int64_t p = 0; p < k; ++p) {
    const float* row = b + p * ldb;
    if constexpr (kLanes == 8) {
      // AVX2 has 16 registers: the R broadcasts stay, one weight vector at a time (12 + 3 + 1 at R = 3).
      Vec ar[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) ar[r] = broadcast(a[r * a_row + p * a_col]);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) {
        const Vec bv = load(row + v * kLanes);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r][v] = multiply_add(ar[r], bv, acc[r][v]);
      }
    } else {
      // AVX-512 has 32: the 4 weight vectors stay, one broadcast at a time.
      const Vec b0 = load(row), b1 = load(row + kLanes), b2 = load(row + 2 * kLanes),
                b3 = load(row + 3 * kLanes);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const Vec ar = broadcast(a[r * a_row + p * a_col]);
        acc[r][0] = multiply_add(ar, b0, acc[r][0]);
        acc[r][1] = multiply_add(ar, b1, acc[r][1]);
        acc[r][2] = multiply_add(ar, b2, acc[r][2]);
        acc[r][3] = multiply_add(ar, b3, acc[r][3]);
      }
    }
  }
}

// 1 / d for finite positive d: the estimate and kReciprocalRefinements Newton steps in the form
// r + r (1 - d r), whose residual 1 - d r is exact in an FMA; the form r (2 - d r) rounds 2 - d r
// first and left 1 / 1 and 1 / 2 an ulp short with AVX2's coarser estimate (sigmoid(0) = 0.49999997).
inline Vec reciprocal(Vec d) {
  Vec r = reciprocal_estimate(d);
#pragma GCC unroll 2
  for (int step = 0; step < kReciprocalRefinements; ++step)
    r = multiply_add(r, negative_multiply_add(d, r, broadcast(1.0f)), r);
  return r;
}

inline Vec exp(Vec x) {
  // Clamped with x as the second operand: min/max return it when either is NaN, so NaN propagates.
  x = minimum(broadcast(88.7f), maximum(broadcast(-87.3f), x));
  const Vec n = round_to_integer(multiply(x, broadcast(1.44269504088896341f)));
  // x = n ln2 + r with ln2 split in two so that n * ln2_hi is exact.
  const Vec r = negative_multiply_add(n, broadcast(-2.12194440e-4f),
                                      negative_multiply_add(n, broadcast(0.693359375f), x));
  Vec p = broadcast(1.9875691500e-4f);
  p = multiply_add(p, r, broadcast(1.3981999507e-3f));
  p = multiply_add(p, r, broadcast(8.3334519073e-3f));
  p = multiply_add(p, r, broadcast(4.1665795894e-2f));
  p = multiply_add(p, r, broadcast(1.6666665459e-1f));
  p = multiply_add(p, r, broadcast(5.0000001201e-1f));
  p = add(multiply_add(p, multiply(r, r), r), broadcast(1.0f));
  // p = e^r lies in [0.70, 1.42] and e^x = p 2^n is a normal float: n reaches 128 only for x above
  // 88.37, where r < 0 and p < 1; -126 only for x below -86.99, where r > 0 and p > 1.
  return times_power_of_two(p, n);
}

inline Vec sigmoid(Vec x) {
  return reciprocal(add(broadcast(1.0f), exp(subtract(zero(), x))));
}

inline Vec tanh(Vec x) {
  // A rational minimax fit x P(x^2) / Q(x^2) (Eigen's and XLA's float tanh): 11 FMAs and a reciprocal,
  // against two series and an exp for the exp form. Beyond |x| = 7.9053 tanh rounds to +-1 in float;
  // there it is set to +-1 exactly; the clamp takes x as its second operand, so NaN propagates.
  const Vec limit = broadcast(7.90531110763549805f), saturated = copy_sign(broadcast(1.0f), x);
  const Vec magnitude = absolute(x);
  x = minimum(limit, maximum(broadcast(-7.90531110763549805f), x));
  const Vec x2 = multiply(x, x);
  Vec p = broadcast(-2.76076847742355e-16f);
  p = multiply_add(p, x2, broadcast(2.00018790482477e-13f));
  p = multiply_add(p, x2, broadcast(-8.60467152213735e-11f));
  p = multiply_add(p, x2, broadcast(5.12229709037114e-08f));
  p = multiply_add(p, x2, broadcast(1.48572235717979e-05f));
  p = multiply_add(p, x2, broadcast(6.37261928875436e-04f));
  p = multiply_add(p, x2, broadcast(4.89352455891786e-03f));
  Vec q = broadcast(1.19825839466702e-06f);
  q = multiply_add(q, x2, broadcast(1.18534705686654e-04f));
  q = multiply_add(q, x2, broadcast(2.26843463243900e-03f));
  q = multiply_add(q, x2, broadcast(4.89352518554385e-03f));
  return select_less(limit, magnitude, saturated, multiply(multiply(x, p), reciprocal(q)));
}
#endif

}  // namespace qf::simd
