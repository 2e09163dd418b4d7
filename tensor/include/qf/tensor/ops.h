// Differentiable ops on Vars. Each op computes its value eagerly and, in grad mode, records how to
// send gradients back to its inputs. Binary elementwise ops broadcast like NumPy; shape errors name
// both shapes. Axes may be negative (counted from the end).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qf/tensor/autodiff.h"
#include "qf/tensor/random.h"

namespace qf {

// Linear algebra. matmul: [M,K]x[K,N]; [B,M,K]x[K,N] (weights shared over the batch);
// [B,M,K]x[B,K,N] (batched). linear: x[..., in] * w[out, in]^T + b[out] (b may be undefined).
Var matmul(const Var& a, const Var& b);
Var linear(const Var& x, const Var& w, const Var& b);

// Elementwise arithmetic with broadcasting.
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var neg(const Var& a);
Var scale(const Var& a, double factor);
Var add_scalar(const Var& a, double value);
inline Var operator+(const Var& a, const Var& b) {
  return add(a, b);
}
inline Var operator-(const Var& a, const Var& b) {
  return sub(a, b);
}
inline Var operator*(const Var& a, const Var& b) {
  return mul(a, b);
}
inline Var operator/(const Var& a, const Var& b) {
  return div(a, b);
}
inline Var operator-(const Var& a) {
  return neg(a);
}

// Elementwise functions.
Var sigmoid(const Var& a);
Var tanh(const Var& a);
Var relu(const Var& a);
Var exp(const Var& a);
Var log(const Var& a);
Var sqrt(const Var& a);
Var square(const Var& a);

// Along one axis.
Var softmax(const Var& a, int axis = -1);
Var log_softmax(const Var& a, int axis = -1);
Var sum(const Var& a, int axis, bool keepdim = false);
Var mean(const Var& a, int axis, bool keepdim = false);
Var sum(const Var& a);   // all elements, to a scalar of shape []
Var mean(const Var& a);  // all elements

// Shape.
Var concat(const std::vector<Var>& parts, int axis);
Var slice(const Var& a, int axis, std::int64_t begin, std::int64_t end);  // copy of [begin, end)
Var reshape(const Var& a, Shape shape);
Var transpose(const Var& a, int axis0, int axis1);

// Inverted dropout: keeps each element with probability 1-p and scales it by 1/(1-p).
// The identity when !training or p == 0.
Var dropout(const Var& a, double p, Rng& rng, bool training);
// Rows of weight [V, D] picked by indices; result shape is index_shape + [D].
Var embedding(const Var& weight, std::span<const std::int64_t> indices, Shape index_shape);

}  // namespace qf
