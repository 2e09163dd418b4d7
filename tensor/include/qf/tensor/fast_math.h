// Branch-free float32 exp, sigmoid and tanh that compilers vectorise (loops of them become SIMD).
// Accuracy: exp within 2 ulp on [-87, 88] (Cephes' minimax polynomial after Cody-Waite range
// reduction); tanh and sigmoid within a few ulp everywhere (tests/tensor/test_simd.cpp, FastMath).
// The standard library's scalar calls dominate an LSTM's pointwise work otherwise.
#pragma once

#include <bit>
#include <cstdint>

namespace qf {

inline float fast_exp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  // x = n ln2 + r with |r| <= ln2 / 2; ln2 split in two so that n * ln2_hi is exact.
  const float n =
      static_cast<float>(static_cast<std::int32_t>(x * 1.44269504088896341f + (x >= 0 ? 0.5f : -0.5f)));
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // Scale by 2^n in two halves so that n = 128 (x near 88.7) does not overflow the exponent field.
  const std::int32_t half = static_cast<std::int32_t>(n) >> 1;
  const float s1 = std::bit_cast<float>((half + 127) << 23);
  const float s2 = std::bit_cast<float>((static_cast<std::int32_t>(n) - half + 127) << 23);
  return p * s1 * s2;
}

inline float fast_sigmoid(float x) {
  return 1.0f / (1.0f + fast_exp(-x));
}

inline float fast_tanh(float x) {
  const float a = std::bit_cast<float>(std::bit_cast<std::uint32_t>(x) & 0x7fffffffu);  // |x|
  // Small |x|: odd Taylor series (error below 1 ulp for |x| < 0.125), avoiding 1 - e cancellation.
  const float a2 = a * a;
  const float series =
      a * (1.0f + a2 * (-1.0f / 3 + a2 * (2.0f / 15 + a2 * (-17.0f / 315 + a2 * (62.0f / 2835)))));
  const float e = fast_exp(-2.0f * a);
  const float big = (1.0f - e) / (1.0f + e);
  const float small = static_cast<float>(a < 0.125f);  // 1 or 0: an arithmetic blend, not a branch
  const float magnitude = small * series + (1.0f - small) * big;
  // Put x's sign back on (bit operations keep the loop free of branches, so it vectorises).
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(magnitude) |
                              (std::bit_cast<std::uint32_t>(x) & 0x80000000u));
}

}  // namespace qf
