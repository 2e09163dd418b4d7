// CPU implementations of the differentiable ops in ops.h. Every op is written once as a template over
// the element type (float or double) and dispatched on the runtime dtype.
#include "qf/tensor/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels.h"
#include "qf/tensor/blas.h"

namespace qf {

namespace {

using blas::Trans;

int normalize_axis(int axis, int rank, const char* op) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) + " out of range for rank " +
                     std::to_string(rank));
  return a;
}

void check_same_dtype(const Var& a, const Var& b, const char* op) {
  if (a.dtype() != b.dtype())
    throw ShapeError(std::string(op) + ": dtypes " + to_string(a.dtype()) + " and " + to_string(b.dtype()) +
                     " differ (shapes " + to_string(a.shape()) + " and " + to_string(b.shape()) + ")");
}

// Views a shape as [outer, n, inner] around `axis`.
struct AxisSplit {
  std::int64_t outer = 1, n = 1, inner = 1;
};
AxisSplit split_at(const Shape& shape, int axis) {
  AxisSplit s;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (i < axis) s.outer *= shape[static_cast<std::size_t>(i)];
    if (i > axis) s.inner *= shape[static_cast<std::size_t>(i)];
  }
  s.n = shape[static_cast<std::size_t>(axis)];
  return s;
}

// Calls line(base) for every line along the split's middle axis: elements base + j * s.inner, j < s.n.
template <class F>
void for_each_axis_line(AxisSplit s, F&& line) {
  for (std::int64_t o = 0; o < s.outer; ++o)
    for (std::int64_t i = 0; i < s.inner; ++i) line(o * s.n * s.inner + i);
}

// Strides of `shape` aligned (from the right) to a result of rank `rank`; broadcast axes get stride 0.
std::vector<std::int64_t> broadcast_strides(const Shape& shape, std::size_t rank) {
  std::vector<std::int64_t> strides(rank, 0);
  std::int64_t stride = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::size_t src = shape.size() - 1 - i, dst = rank - 1 - i;
    strides[dst] = shape[src] == 1 ? 0 : stride;
    stride *= shape[src];
  }
  return strides;
}

// Calls row(out_offset, a_offset, b_offset, a_step, b_step, length) for each innermost row of `out`,
// where a and b are broadcast onto `out` with the given strides.
template <class F>
void for_each_broadcast_row(const Shape& out, const std::vector<std::int64_t>& sa,
                            const std::vector<std::int64_t>& sb, F&& row) {
  const std::size_t rank = out.size();
  if (rank == 0) {
    row(0, 0, 0, 0, 0, 1);
    return;
  }
  const std::int64_t len = out[rank - 1];
  const std::int64_t rows = len == 0 ? 0 : shape_numel(out) / len;
  std::vector<std::int64_t> index(rank, 0);
  std::int64_t oa = 0, ob = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    row(r * len, oa, ob, sa[rank - 1], sb[rank - 1], len);
    for (std::size_t d = rank - 1; d-- > 0;) {  // odometer over the outer axes
      ++index[d];
      oa += sa[d];
      ob += sb[d];
      if (index[d] < out[d]) break;
      oa -= sa[d] * out[d];
      ob -= sb[d] * out[d];
      index[d] = 0;
    }
  }
}

// out = f(a, b) with broadcasting.
template <class F>
Tensor broadcast_binary(const Tensor& a, const Tensor& b, const char* op, F f) {
  const Shape shape = kernels::broadcast_shape(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch(a.dtype(), [&]<class T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    if (a.shape() == b.shape()) {
      for (std::int64_t i = 0; i < out.numel(); ++i) po[i] = f(pa[i], pb[i]);
      return;
    }
    const auto sa = broadcast_strides(a.shape(), shape.size());
    const auto sb = broadcast_strides(b.shape(), shape.size());
    for_each_broadcast_row(shape, sa, sb, [&](auto o, auto ia, auto ib, auto da, auto db, auto len) {
      for (std::int64_t j = 0; j < len; ++j) po[o + j] = f(pa[ia + j * da], pb[ib + j * db]);
    });
  });
  return out;
}

// out = f(a) elementwise.
template <class F>
Tensor map_unary(const Tensor& a, F f) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  dispatch(a.dtype(), [&]<class T>() {
    const T* pa = a.data<T>();
    T* po = out.data<T>();
    for (std::int64_t i = 0; i < a.numel(); ++i) po[i] = f(pa[i]);
  });
  return out;
}

// out = f(x, y) elementwise for same-shaped tensors.
template <class F>
Tensor map_binary(const Tensor& x, const Tensor& y, F f) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i) po[i] = f(px[i], py[i]);
  });
  return out;
}

// C[m,n] = op(A) op(B) for Tensors viewed as matrices.
Tensor gemm_tensor(const Tensor& a, Trans ta, const Tensor& b, Trans tb, std::int64_t m, std::int64_t n,
                   std::int64_t k) {
  Tensor c = Tensor::empty({m, n}, a.dtype());
  dispatch(a.dtype(), [&]<class T>() {
    const std::int64_t lda = ta == Trans::no ? k : m;
    const std::int64_t ldb = tb == Trans::no ? n : k;
    blas::gemm_parallel(ta, tb, m, n, k, T(1), a.data<T>(), lda, b.data<T>(), ldb, T(0), c.data<T>(), n);
  });
  return c;
}

// Unary op with a backward of the form grad_in = grad_out * d(x, y).
template <class F, class D>
Var unary_op(const char* name, const Var& a, F f, D derivative) {
  Tensor y = map_unary(a.value(), f);
  return record_op(name, y, {a}, [x = a.value(), y, derivative](Node& self) {
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    dispatch(x.dtype(), [&]<class T>() {
      const T* px = x.data<T>();
      const T* py = y.data<T>();
      const T* g = self.grad.data<T>();
      T* out = dx.data<T>();
      for (std::int64_t i = 0; i < x.numel(); ++i) out[i] = g[i] * derivative(px[i], py[i]);
    });
    self.inputs[0]->accumulate_grad(dx);
  });
}

}  // namespace

// ---- kernels.h -------------------------------------------------------------------------------------

namespace kernels {

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op) + ": shapes " + to_string(a) + " and " + to_string(b) +
                       " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& target) {
  if (g.shape() == target) return g;
  Tensor out = Tensor::zeros(target, g.dtype());
  const auto st = broadcast_strides(target, g.rank());
  const auto sg = broadcast_strides(g.shape(), g.rank());
  dispatch(g.dtype(), [&]<class T>() {
    const T* pg = g.data<T>();
    T* po = out.data<T>();
    for_each_broadcast_row(g.shape(), st, sg, [&](auto, auto it, auto ig, auto dt, auto dg, auto len) {
      for (std::int64_t j = 0; j < len; ++j) po[it + j * dt] += pg[ig + j * dg];
    });
  });
  return out;
}

}  // namespace kernels

// ---- linear algebra --------------------------------------------------------------------------------

Var matmul(const Var& a, const Var& b) {
  check_same_dtype(a, b, "matmul");
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const bool batched = sa.size() == 3 && sb.size() == 3;
  const bool shared_b = (sa.size() == 2 || sa.size() == 3) && sb.size() == 2;
  if ((!batched && !shared_b) || sa.back() != sb[sb.size() - 2] || (batched && sa[0] != sb[0]))
    throw ShapeError("matmul: shapes " + to_string(sa) + " and " + to_string(sb) + " do not multiply");
  const std::int64_t k = sa.back(), n = sb.back();
  if (shared_b) {
    // [.., M, K] x [K, N]: one GEMM over all leading rows.
    const std::int64_t m = a.value().numel() / std::max<std::int64_t>(k, 1);
    Shape out_shape = sa;
    out_shape.back() = n;
    Tensor c = gemm_tensor(a.value(), Trans::no, b.value(), Trans::no, m, n, k).reshape(out_shape);
    return record_op("matmul", c, {a, b}, [av = a.value(), bv = b.value(), m, n, k](Node& self) {
      const Tensor& g = self.grad;
      if (self.inputs[0]->requires_grad)
        self.inputs[0]->accumulate_grad(
            gemm_tensor(g, Trans::no, bv, Trans::yes, m, k, n).reshape(av.shape()));
      if (self.inputs[1]->requires_grad)
        self.inputs[1]->accumulate_grad(gemm_tensor(av, Trans::yes, g, Trans::no, k, n, m));
    });
  }
  const std::int64_t batch = sa[0], m = sa[1];
  Tensor c = Tensor::empty({batch, m, n}, a.dtype());
  dispatch(a.dtype(), [&]<class T>() {
    for (std::int64_t i = 0; i < batch; ++i)
      blas::gemm(Trans::no, Trans::no, m, n, k, T(1), a.value().data<T>() + i * m * k, k,
                 b.value().data<T>() + i * k * n, n, T(0), c.data<T>() + i * m * n, n);
  });
  return record_op("bmm", c, {a, b}, [av = a.value(), bv = b.value(), batch, m, n, k](Node& self) {
    Tensor da = Tensor::empty(av.shape(), av.dtype()), db = Tensor::empty(bv.shape(), bv.dtype());
    dispatch(av.dtype(), [&]<class T>() {
      const T* g = self.grad.data<T>();
      for (std::int64_t i = 0; i < batch; ++i) {
        blas::gemm(Trans::no, Trans::yes, m, k, n, T(1), g + i * m * n, n, bv.data<T>() + i * k * n, n, T(0),
                   da.data<T>() + i * m * k, k);
        blas::gemm(Trans::yes, Trans::no, k, n, m, T(1), av.data<T>() + i * m * k, k, g + i * m * n, n, T(0),
                   db.data<T>() + i * k * n, n);
      }
    });
    self.inputs[0]->accumulate_grad(da);
    self.inputs[1]->accumulate_grad(db);
  });
}

Var linear(const Var& x, const Var& w, const Var& b) {
  check_same_dtype(x, w, "linear");
  if (w.value().rank() != 2 || x.value().rank() < 1 || x.shape().back() != w.dim(1))
    throw ShapeError("linear: input " + to_string(x.shape()) + " does not match weight " +
                     to_string(w.shape()));
  const std::int64_t in = w.dim(1), out = w.dim(0);
  if (b.defined() && b.shape() != Shape{out})
    throw ShapeError("linear: bias " + to_string(b.shape()) + " for weight " + to_string(w.shape()));
  const std::int64_t rows = x.value().numel() / std::max<std::int64_t>(in, 1);
  Shape out_shape = x.shape();
  out_shape.back() = out;
  Tensor y = Tensor::empty(out_shape, x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    T* py = y.data<T>();
    const T beta = b.defined() ? T(1) : T(0);
    if (b.defined()) {
      const T* pb = b.value().data<T>();
      for (std::int64_t r = 0; r < rows; ++r) std::copy(pb, pb + out, py + r * out);
    }
    blas::gemm_parallel(Trans::no, Trans::yes, rows, out, in, T(1), x.value().data<T>(), in,
                        w.value().data<T>(), in, beta, py, out);
  });
  return record_op("linear", y, {x, w, b}, [xv = x.value(), wv = w.value(), rows, in, out](Node& self) {
    const Tensor& g = self.grad;
    if (self.inputs[0]->requires_grad)
      self.inputs[0]->accumulate_grad(
          gemm_tensor(g, Trans::no, wv, Trans::no, rows, in, out).reshape(xv.shape()));
    if (self.inputs[1]->requires_grad)
      self.inputs[1]->accumulate_grad(gemm_tensor(g, Trans::yes, xv, Trans::no, out, in, rows));
    if (self.inputs[2]->requires_grad)
      self.inputs[2]->accumulate_grad(kernels::sum_to(g.reshape({rows, out}), {out}));
  });
}

// ---- elementwise arithmetic ------------------------------------------------------------------------

Var add(const Var& a, const Var& b) {
  check_same_dtype(a, b, "add");
  Tensor y = broadcast_binary(a.value(), b.value(), "add", [](auto x, auto z) { return x + z; });
  return record_op("add", y, {a, b}, [sa = a.shape(), sb = b.shape()](Node& self) {
    self.inputs[0]->accumulate_grad(kernels::sum_to(self.grad, sa));
    self.inputs[1]->accumulate_grad(kernels::sum_to(self.grad, sb));
  });
}

Var sub(const Var& a, const Var& b) {
  check_same_dtype(a, b, "sub");
  Tensor y = broadcast_binary(a.value(), b.value(), "sub", [](auto x, auto z) { return x - z; });
  return record_op("sub", y, {a, b}, [sa = a.shape(), sb = b.shape()](Node& self) {
    self.inputs[0]->accumulate_grad(kernels::sum_to(self.grad, sa));
    if (self.inputs[1]->requires_grad)
      self.inputs[1]->accumulate_grad(map_unary(kernels::sum_to(self.grad, sb), [](auto v) { return -v; }));
  });
}

Var mul(const Var& a, const Var& b) {
  check_same_dtype(a, b, "mul");
  Tensor y = broadcast_binary(a.value(), b.value(), "mul", [](auto x, auto z) { return x * z; });
  return record_op("mul", y, {a, b}, [av = a.value(), bv = b.value()](Node& self) {
    auto times = [](auto x, auto z) { return x * z; };
    if (self.inputs[0]->requires_grad)
      self.inputs[0]->accumulate_grad(
          kernels::sum_to(broadcast_binary(self.grad, bv, "mul", times), av.shape()));
    if (self.inputs[1]->requires_grad)
      self.inputs[1]->accumulate_grad(
          kernels::sum_to(broadcast_binary(self.grad, av, "mul", times), bv.shape()));
  });
}

Var div(const Var& a, const Var& b) {
  check_same_dtype(a, b, "div");
  Tensor y = broadcast_binary(a.value(), b.value(), "div", [](auto x, auto z) { return x / z; });
  return record_op("div", y, {a, b}, [av = a.value(), bv = b.value(), y](Node& self) {
    Tensor g_over_b = broadcast_binary(self.grad, bv, "div", [](auto x, auto z) { return x / z; });
    if (self.inputs[0]->requires_grad) self.inputs[0]->accumulate_grad(kernels::sum_to(g_over_b, av.shape()));
    if (self.inputs[1]->requires_grad) {  // d(a/b)/db = -y/b
      Tensor gb = map_binary(g_over_b, y, [](auto x, auto z) { return -x * z; });
      self.inputs[1]->accumulate_grad(kernels::sum_to(gb, bv.shape()));
    }
  });
}

Var neg(const Var& a) {
  return scale(a, -1.0);
}

Var scale(const Var& a, double factor) {
  return unary_op(
      "scale", a, [factor](auto x) { return static_cast<decltype(x)>(factor) * x; },
      [factor](auto x, auto) { return static_cast<decltype(x)>(factor); });
}

Var add_scalar(const Var& a, double value) {
  return unary_op(
      "add_scalar", a, [value](auto x) { return x + static_cast<decltype(x)>(value); },
      [](auto x, auto) { return decltype(x)(1); });
}

// ---- elementwise functions -------------------------------------------------------------------------

Var sigmoid(const Var& a) {
  return unary_op(
      "sigmoid", a, [](auto x) { return decltype(x)(1) / (decltype(x)(1) + std::exp(-x)); },
      [](auto, auto y) { return y * (decltype(y)(1) - y); });
}

Var tanh(const Var& a) {
  return unary_op(
      "tanh", a, [](auto x) { return std::tanh(x); }, [](auto, auto y) { return decltype(y)(1) - y * y; });
}

Var relu(const Var& a) {
  return unary_op(
      "relu", a, [](auto x) { return x > 0 ? x : decltype(x)(0); },
      [](auto x, auto) { return x > 0 ? decltype(x)(1) : decltype(x)(0); });
}

Var exp(const Var& a) {
  return unary_op(
      "exp", a, [](auto x) { return std::exp(x); }, [](auto, auto y) { return y; });
}

Var log(const Var& a) {
  return unary_op(
      "log", a, [](auto x) { return std::log(x); }, [](auto x, auto) { return decltype(x)(1) / x; });
}

Var sqrt(const Var& a) {
  return unary_op(
      "sqrt", a, [](auto x) { return std::sqrt(x); }, [](auto, auto y) { return decltype(y)(0.5) / y; });
}

Var square(const Var& a) {
  return unary_op(
      "square", a, [](auto x) { return x * x; }, [](auto x, auto) { return decltype(x)(2) * x; });
}

// ---- along one axis --------------------------------------------------------------------------------

namespace {

// softmax (log_space = false) or log-softmax (true) of x along the split's middle axis.
Tensor softmax_forward(const Tensor& x, AxisSplit s, bool log_space) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for_each_axis_line(s, [&](std::int64_t base) {
      T peak = -std::numeric_limits<T>::infinity();
      for (std::int64_t j = 0; j < s.n; ++j) peak = std::max(peak, px[base + j * s.inner]);
      T total = 0;
      for (std::int64_t j = 0; j < s.n; ++j) total += std::exp(px[base + j * s.inner] - peak);
      const T log_total = std::log(total);
      for (std::int64_t j = 0; j < s.n; ++j) {
        const T shifted = px[base + j * s.inner] - peak - log_total;
        py[base + j * s.inner] = log_space ? shifted : std::exp(shifted);
      }
    });
  });
  return y;
}

}  // namespace

namespace {

Var softmax_op(const Var& a, int axis, bool log_space) {
  const char* name = log_space ? "log_softmax" : "softmax";
  const AxisSplit s = split_at(a.shape(), normalize_axis(axis, a.value().rank(), name));
  Tensor y = softmax_forward(a.value(), s, log_space);
  return record_op(name, y, {a}, [y, s, log_space](Node& self) {
    Tensor dx = Tensor::empty(y.shape(), y.dtype());
    dispatch(y.dtype(), [&]<class T>() {
      const T* py = y.data<T>();
      const T* g = self.grad.data<T>();
      T* d = dx.data<T>();
      for_each_axis_line(s, [&](std::int64_t base) {
        // softmax:     dx = y * (g - sum_j g_j y_j)
        // log-softmax: dx = g - exp(y) * sum_j g_j
        T total = 0;
        for (std::int64_t j = 0; j < s.n; ++j)
          total += log_space ? g[base + j * s.inner] : g[base + j * s.inner] * py[base + j * s.inner];
        for (std::int64_t j = 0; j < s.n; ++j) {
          const std::int64_t k = base + j * s.inner;
          d[k] = log_space ? g[k] - std::exp(py[k]) * total : py[k] * (g[k] - total);
        }
      });
    });
    self.inputs[0]->accumulate_grad(std::move(dx));
  });
}

}  // namespace

Var softmax(const Var& a, int axis) {
  return softmax_op(a, axis, false);
}
Var log_softmax(const Var& a, int axis) {
  return softmax_op(a, axis, true);
}

Var sum(const Var& a, int axis, bool keepdim) {
  const int ax = normalize_axis(axis, a.value().rank(), "sum");
  const AxisSplit s = split_at(a.shape(), ax);
  Shape out_shape = a.shape();
  if (keepdim) {
    out_shape[static_cast<std::size_t>(ax)] = 1;
  } else {
    out_shape.erase(out_shape.begin() + ax);
  }
  Tensor y = Tensor::zeros(out_shape, a.dtype());
  dispatch(a.dtype(), [&]<class T>() {
    const T* px = a.value().data<T>();
    T* py = y.data<T>();
    for (std::int64_t o = 0; o < s.outer; ++o)
      for (std::int64_t j = 0; j < s.n; ++j)
        for (std::int64_t i = 0; i < s.inner; ++i) py[o * s.inner + i] += px[(o * s.n + j) * s.inner + i];
  });
  return record_op("sum", y, {a}, [shape = a.shape(), s](Node& self) {
    Tensor dx = Tensor::empty(shape, self.grad.dtype());
    dispatch(dx.dtype(), [&]<class T>() {
      const T* g = self.grad.data<T>();
      T* d = dx.data<T>();
      for (std::int64_t o = 0; o < s.outer; ++o)
        for (std::int64_t j = 0; j < s.n; ++j)
          std::copy(g + o * s.inner, g + (o + 1) * s.inner, d + (o * s.n + j) * s.inner);
    });
    self.inputs[0]->accumulate_grad(dx);
  });
}

Var mean(const Var& a, int axis, bool keepdim) {
  const std::int64_t n = a.dim(axis);
  return scale(sum(a, axis, keepdim), 1.0 / static_cast<double>(std::max<std::int64_t>(n, 1)));
}

Var sum(const Var& a) {
  Tensor y = Tensor::empty({}, a.dtype());
  dispatch(a.dtype(), [&]<class T>() {
    T total = 0;
    for (T v : a.value().span<T>()) total += v;
    *y.data<T>() = total;
  });
  return record_op("sum_all", y, {a}, [shape = a.shape()](Node& self) {
    self.inputs[0]->accumulate_grad(Tensor::full(shape, self.grad.item(), self.grad.dtype()));
  });
}

Var mean(const Var& a) {
  return scale(sum(a), 1.0 / static_cast<double>(std::max<std::int64_t>(a.value().numel(), 1)));
}

// ---- shape -----------------------------------------------------------------------------------------

namespace {

// For a tensor split as [outer, n, inner] around an axis: gather copies rows [begin, begin+len) of
// that axis into a compact block; scatter writes such a block back.
template <class T>
void gather_axis_block(const T* full, AxisSplit s, std::int64_t begin, std::int64_t len, T* block) {
  for (std::int64_t o = 0; o < s.outer; ++o) {
    const T* from = full + (o * s.n + begin) * s.inner;
    std::copy(from, from + len * s.inner, block + o * len * s.inner);
  }
}
template <class T>
void scatter_axis_block(const T* block, AxisSplit s, std::int64_t begin, std::int64_t len, T* full) {
  for (std::int64_t o = 0; o < s.outer; ++o) {
    const T* from = block + o * len * s.inner;
    std::copy(from, from + len * s.inner, full + (o * s.n + begin) * s.inner);
  }
}

}  // namespace

Var concat(const std::vector<Var>& parts, int axis) {
  if (parts.empty()) throw ShapeError("concat: no inputs");
  const int ax = normalize_axis(axis, parts[0].value().rank(), "concat");
  Shape out_shape = parts[0].shape();
  out_shape[static_cast<std::size_t>(ax)] = 0;
  for (const auto& p : parts) {
    check_same_dtype(parts[0], p, "concat");
    Shape expect = parts[0].shape(), got = p.shape();
    if (got.size() != expect.size())
      throw ShapeError("concat: shapes " + to_string(expect) + " and " + to_string(got) + " differ in rank");
    expect[static_cast<std::size_t>(ax)] = got[static_cast<std::size_t>(ax)];
    if (expect != got)
      throw ShapeError("concat: shapes " + to_string(parts[0].shape()) + " and " + to_string(got) +
                       " differ off axis " + std::to_string(axis));
    out_shape[static_cast<std::size_t>(ax)] += got[static_cast<std::size_t>(ax)];
  }
  Tensor y = Tensor::empty(out_shape, parts[0].dtype());
  const AxisSplit s = split_at(out_shape, ax);
  std::vector<std::int64_t> begins;
  dispatch(y.dtype(), [&]<class T>() {
    std::int64_t begin = 0;
    for (const auto& p : parts) {
      const std::int64_t len = p.dim(ax);
      scatter_axis_block(p.value().data<T>(), s, begin, len, y.data<T>());
      begins.push_back(begin);
      begin += len;
    }
  });
  return record_op("concat", y, parts, [s, ax, begins](Node& self) {
    for (std::size_t i = 0; i < self.inputs.size(); ++i) {
      Node& in = *self.inputs[i];
      if (!in.requires_grad) continue;
      Tensor dx = Tensor::empty(in.value.shape(), in.value.dtype());
      dispatch(dx.dtype(), [&]<class T>() {
        gather_axis_block(self.grad.data<T>(), s, begins[i], in.value.dim(ax), dx.data<T>());
      });
      in.accumulate_grad(dx);
    }
  });
}

Var slice(const Var& a, int axis, std::int64_t begin, std::int64_t end) {
  const int ax = normalize_axis(axis, a.value().rank(), "slice");
  const std::int64_t n = a.dim(ax);
  if (begin < 0 || end > n || begin > end)
    throw ShapeError("slice: range [" + std::to_string(begin) + ", " + std::to_string(end) + ") on axis " +
                     std::to_string(axis) + " of shape " + to_string(a.shape()));
  const AxisSplit s = split_at(a.shape(), ax);
  Shape out_shape = a.shape();
  out_shape[static_cast<std::size_t>(ax)] = end - begin;
  Tensor y = Tensor::empty(out_shape, a.dtype());
  dispatch(y.dtype(),
           [&]<class T>() { gather_axis_block(a.value().data<T>(), s, begin, end - begin, y.data<T>()); });
  return record_op("slice", y, {a}, [shape = a.shape(), s, begin, end](Node& self) {
    Tensor dx = Tensor::zeros(shape, self.grad.dtype());
    dispatch(dx.dtype(), [&]<class T>() {
      scatter_axis_block(self.grad.data<T>(), s, begin, end - begin, dx.data<T>());
    });
    self.inputs[0]->accumulate_grad(dx);
  });
}

Var reshape(const Var& a, Shape shape) {
  Tensor y = a.value().reshape(std::move(shape));
  return record_op("reshape", y, {a}, [in_shape = a.shape()](Node& self) {
    self.inputs[0]->accumulate_grad(self.grad.reshape(in_shape));
  });
}

namespace {

// Copies x into a new tensor with axes a0 and a1 swapped.
Tensor swap_axes(const Tensor& x, int a0, int a1) {
  Shape out_shape = x.shape();
  std::swap(out_shape[static_cast<std::size_t>(a0)], out_shape[static_cast<std::size_t>(a1)]);
  std::vector<std::int64_t> in_strides = broadcast_strides(x.shape(), x.shape().size());
  // Size-1 axes got stride 0 above; that is harmless since their index is always 0.
  std::swap(in_strides[static_cast<std::size_t>(a0)], in_strides[static_cast<std::size_t>(a1)]);
  Tensor y = Tensor::empty(out_shape, x.dtype());
  const std::vector<std::int64_t> unit(out_shape.size(), 0);
  dispatch(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for_each_broadcast_row(out_shape, in_strides, unit, [&](auto o, auto ix, auto, auto dx, auto, auto len) {
      for (std::int64_t j = 0; j < len; ++j) py[o + j] = px[ix + j * dx];
    });
  });
  return y;
}

}  // namespace

Var transpose(const Var& a, int axis0, int axis1) {
  const int a0 = normalize_axis(axis0, a.value().rank(), "transpose");
  const int a1 = normalize_axis(axis1, a.value().rank(), "transpose");
  Tensor y = swap_axes(a.value(), a0, a1);
  return record_op("transpose", y, {a},
                   [a0, a1](Node& self) { self.inputs[0]->accumulate_grad(swap_axes(self.grad, a0, a1)); });
}

Var dropout(const Var& a, double p, Rng& rng, bool training) {
  if (p < 0.0 || p >= 1.0)
    throw std::invalid_argument("dropout: p must be in [0, 1), got " + std::to_string(p));
  if (!training || p == 0.0) return a;
  Tensor mask = Tensor::empty(a.shape(), a.dtype());
  const double keep_scale = 1.0 / (1.0 - p);
  dispatch(mask.dtype(), [&]<class T>() {
    for (T& m : mask.span<T>()) m = rng.uniform() < p ? T(0) : static_cast<T>(keep_scale);
  });
  Tensor y = map_binary(a.value(), mask, [](auto x, auto m) { return x * m; });
  return record_op("dropout", y, {a}, [mask](Node& self) {
    self.inputs[0]->accumulate_grad(map_binary(self.grad, mask, [](auto g, auto m) { return g * m; }));
  });
}

Var embedding(const Var& weight, std::span<const std::int64_t> indices, Shape index_shape) {
  if (weight.value().rank() != 2)
    throw ShapeError("embedding: weight must be [V, D], got " + to_string(weight.shape()));
  if (shape_numel(index_shape) != static_cast<std::int64_t>(indices.size()))
    throw ShapeError("embedding: " + std::to_string(indices.size()) + " indices for index shape " +
                     to_string(index_shape));
  const std::int64_t vocab = weight.dim(0), width = weight.dim(1);
  for (auto i : indices)
    if (i < 0 || i >= vocab)
      throw ShapeError("embedding: index " + std::to_string(i) + " outside vocabulary of " +
                       std::to_string(vocab));
  Shape out_shape = index_shape;
  out_shape.push_back(width);
  Tensor y = Tensor::empty(out_shape, weight.dtype());
  dispatch(y.dtype(), [&]<class T>() {
    const T* w = weight.value().data<T>();
    for (std::size_t r = 0; r < indices.size(); ++r)
      std::copy(w + indices[r] * width, w + (indices[r] + 1) * width,
                y.data<T>() + static_cast<std::int64_t>(r) * width);
  });
  std::vector<std::int64_t> saved(indices.begin(), indices.end());
  return record_op("embedding", y, {weight}, [saved, vocab, width](Node& self) {
    Tensor dw = Tensor::zeros({vocab, width}, self.grad.dtype());
    dispatch(dw.dtype(), [&]<class T>() {
      const T* g = self.grad.data<T>();
      T* d = dw.data<T>();
      for (std::size_t r = 0; r < saved.size(); ++r)
        for (std::int64_t j = 0; j < width; ++j)
          d[saved[r] * width + j] += g[static_cast<std::int64_t>(r) * width + j];
    });
    self.inputs[0]->accumulate_grad(dw);
  });
}

}  // namespace qf
