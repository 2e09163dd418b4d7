// The fused CPU LSTM layer. Layout is batch-first throughout; time step t of a [B, T, N] buffer is the
// strided matrix starting at t*N with row stride T*N, which GEMM addresses directly (no copies).
//
// Forward:  gates = x W_ih^T + (b_ih + b_hh)           one GEMM for all time steps
//           per step: gates_t += h_{t-1} W_hh^T        one GEMM
//                     cell_forward (pointwise)        activations kept in `gates` for backward
// The recurrence of different batch rows is independent, so rows are split over threads
// (parallel_for), each running the whole sequence with single-threaded GEMMs: no sync per step.
// Backward: per step (reverse): cell_backward, dh_{t-1} = dgates_t W_hh
//           then dx = dgates W_ih, dW_ih = dgates^T x, dW_hh = dgates^T h_prev, db = sum dgates
//           as three GEMMs and one reduction over all time steps.
#include <algorithm>
#include <memory>

#include "qf/nn/lstm_cell_math.h"
#include "qf/nn/rnn.h"
#include "qf/tensor/blas.h"
#include "qf/tensor/parallel.h"

namespace qf::nn {

namespace {

using blas::Trans;

struct Dims {
  std::int64_t batch, steps, input, hidden;
  std::int64_t gates() const { return 4 * hidden; }
};

// Everything backward needs besides the parameters.
struct Saved {
  Dims d;
  Tensor x, h0, c0, w_ih, w_hh, gates, cells, tanh_cells, output;
  std::shared_ptr<Tensor> grad_c_n;  // filled by the c_n node's backward, if c_n was used
};

// Minimum batch rows per thread: below this the split costs more than it saves.
constexpr std::int64_t kRowsPerThread = 8;

template <class T>
void forward_layer(Saved& s) {
  const auto [B, S, I, H] = s.d;
  const std::int64_t G = s.d.gates();
  T* gates = s.gates.data<T>();
  T* cells = s.cells.data<T>();
  T* tanh_cells = s.tanh_cells.data<T>();
  T* y = s.output.data<T>();
  const T* h0 = s.h0.data<T>();
  const T* c0 = s.c0.data<T>();
  // W_hh^T stored [H, 4H]: OpenBLAS packs a transposed operand several times slower than a plain one,
  // and the recurrent GEMM packs it at every step.
  std::vector<T> w_hh_t(static_cast<std::size_t>(H * G));
  for (std::int64_t g = 0; g < G; ++g)
    for (std::int64_t k = 0; k < H; ++k)
      w_hh_t[static_cast<std::size_t>(k * G + g)] = s.w_hh.data<T>()[g * H + k];

  parallel_for(B, kRowsPerThread, [&](std::int64_t b0, std::int64_t b1) {
    // Input projection of this thread's rows (all their time steps are contiguous), onto the biases.
    blas::gemm(Trans::no, Trans::yes, (b1 - b0) * S, G, I, T(1), s.x.data<T>() + b0 * S * I, I,
               s.w_ih.data<T>(), I, T(1), gates + b0 * S * G, G);
    for (std::int64_t t = 0; t < S; ++t) {
      const T* h_prev = t == 0 ? h0 + b0 * H : y + (b0 * S + t - 1) * H;
      const std::int64_t ld_h = t == 0 ? H : S * H;
      blas::gemm(Trans::no, Trans::no, b1 - b0, G, H, T(1), h_prev, ld_h, w_hh_t.data(), G, T(1),
                 gates + (b0 * S + t) * G, S * G);
      for (std::int64_t b = b0; b < b1; ++b) {
        const std::int64_t row = b * S + t;
        const T* c_prev = t == 0 ? c0 + b * H : cells + (row - 1) * H;
        lstm_math::cell_forward(H, gates + row * G, c_prev, cells + row * H, tanh_cells + row * H,
                                y + row * H);
      }
    }
  });
}

template <class T>
void backward_layer(const Saved& s, const Tensor& grad_output, Node& self) {
  const auto [B, S, I, H] = s.d;
  const std::int64_t G = s.d.gates();
  const T* gates = s.gates.data<T>();
  const T* cells = s.cells.data<T>();
  const T* tanh_cells = s.tanh_cells.data<T>();
  const T* y = s.output.data<T>();
  const T* c0 = s.c0.data<T>();
  const T* dy = grad_output.data<T>();

  Tensor dgates_t = Tensor::empty({B, S, G}, s.x.dtype());
  Tensor dh_t = Tensor::zeros({B, H}, s.x.dtype());  // gradient reaching h_t from step t+1
  Tensor dc_t =
      s.grad_c_n && s.grad_c_n->defined() ? s.grad_c_n->clone() : Tensor::zeros({B, H}, s.x.dtype());
  T* dgates = dgates_t.data<T>();
  T* dh = dh_t.data<T>();
  T* dc = dc_t.data<T>();

  // Each thread runs BPTT for its batch rows, then turns its rows' gate gradients into partial weight
  // and bias gradients (its rows of dgates are contiguous and still in cache); partials are summed
  // below in chunk order, so results are deterministic for a given thread count.
  const bool need_dx = self.inputs[0]->requires_grad, need_dw_ih = self.inputs[3]->requires_grad,
             need_dw_hh = self.inputs[4]->requires_grad,
             need_db = self.inputs[5]->requires_grad || self.inputs[6]->requires_grad;
  Tensor dx = need_dx ? Tensor::empty(s.x.shape(), s.x.dtype()) : Tensor();
  const auto max_chunks = static_cast<std::size_t>(num_threads());
  std::vector<Tensor> dw_ih_parts(max_chunks), dw_hh_parts(max_chunks), db_parts(max_chunks);
  const int chunks = parallel_for_chunks(B, kRowsPerThread, [&](int chunk, std::int64_t b0, std::int64_t b1) {
    std::vector<T> dh_total(static_cast<std::size_t>(H));
    for (std::int64_t t = S - 1; t >= 0; --t) {
      for (std::int64_t b = b0; b < b1; ++b) {
        const std::int64_t row = b * S + t;
        for (std::int64_t j = 0; j < H; ++j)
          dh_total[static_cast<std::size_t>(j)] = dy[row * H + j] + dh[b * H + j];
        const T* c_prev = t == 0 ? c0 + b * H : cells + (row - 1) * H;
        lstm_math::cell_backward(H, gates + row * G, c_prev, tanh_cells + row * H, dh_total.data(),
                                 dc + b * H, dgates + row * G);
      }
      // dh_{t-1} = dgates_t W_hh
      blas::gemm(Trans::no, Trans::no, b1 - b0, H, G, T(1), dgates + (b0 * S + t) * G, S * G,
                 s.w_hh.data<T>(), H, T(0), dh + b0 * H, H);
    }
    const std::int64_t rows = (b1 - b0) * S;
    const T* dgates_rows = dgates + b0 * S * G;
    const auto c = static_cast<std::size_t>(chunk);
    if (need_dx)
      blas::gemm(Trans::no, Trans::no, rows, I, G, T(1), dgates_rows, G, s.w_ih.data<T>(), I, T(0),
                 dx.data<T>() + b0 * S * I, I);
    if (need_dw_ih) {
      dw_ih_parts[c] = Tensor::empty(s.w_ih.shape(), s.x.dtype());
      blas::gemm(Trans::yes, Trans::no, G, I, rows, T(1), dgates_rows, G, s.x.data<T>() + b0 * S * I, I, T(0),
                 dw_ih_parts[c].data<T>(), I);
    }
    if (need_dw_hh) {
      // h_prev for row (b, t) is y[b, t-1], or h0[b] at t = 0.
      std::vector<T> h_prev(static_cast<std::size_t>(rows * H));
      const T* h0 = s.h0.data<T>();
      for (std::int64_t b = b0; b < b1; ++b) {
        T* dst = h_prev.data() + (b - b0) * S * H;
        std::copy(h0 + b * H, h0 + (b + 1) * H, dst);
        std::copy(y + b * S * H, y + (b * S + S - 1) * H, dst + H);
      }
      dw_hh_parts[c] = Tensor::empty(s.w_hh.shape(), s.x.dtype());
      blas::gemm(Trans::yes, Trans::no, G, H, rows, T(1), dgates_rows, G, h_prev.data(), H, T(0),
                 dw_hh_parts[c].data<T>(), H);
    }
    if (need_db) {
      db_parts[c] = Tensor::zeros({G}, s.x.dtype());
      T* pdb = db_parts[c].data<T>();
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t k = 0; k < G; ++k) pdb[k] += dgates_rows[r * G + k];
    }
  });

  // Sums per-chunk partials in chunk order.
  auto reduce = [chunks](std::vector<Tensor>& parts) {
    for (int c = 1; c < chunks; ++c) parts[0].add_(parts[static_cast<std::size_t>(c)]);
    return parts[0];
  };
  if (need_dx) self.inputs[0]->accumulate_grad(std::move(dx));
  self.inputs[1]->accumulate_grad(dh_t);  // h0
  self.inputs[2]->accumulate_grad(dc_t);  // c0
  if (need_dw_ih) self.inputs[3]->accumulate_grad(reduce(dw_ih_parts));
  if (need_dw_hh) self.inputs[4]->accumulate_grad(reduce(dw_hh_parts));
  if (need_db) {
    Tensor db = reduce(db_parts);
    self.inputs[5]->accumulate_grad(db);
    self.inputs[6]->accumulate_grad(db);
  }
}

void check_layer_shapes(const Var& x, const Var& h0, const Var& c0, const Var& w_ih, const Var& w_hh,
                        const Var& b_ih, const Var& b_hh, Dims& d) {
  if (x.value().rank() != 3)
    throw ShapeError("LSTM: input must be [batch, time, features], got " + to_string(x.shape()));
  d = {x.dim(0), x.dim(1), x.dim(2), w_hh.dim(1)};
  if (d.steps < 1) throw ShapeError("LSTM: input " + to_string(x.shape()) + " has no time steps");
  const Shape expect_ih{4 * d.hidden, d.input}, expect_hh{4 * d.hidden, d.hidden}, expect_b{4 * d.hidden},
      expect_state{d.batch, d.hidden};
  if (w_ih.shape() != expect_ih)
    throw ShapeError("LSTM: weight_ih " + to_string(w_ih.shape()) + " does not match input " +
                     to_string(x.shape()) + " (expected " + to_string(expect_ih) + ")");
  if (w_hh.shape() != expect_hh)
    throw ShapeError("LSTM: weight_hh " + to_string(w_hh.shape()) + " is not [4H, H]");
  if (b_ih.shape() != expect_b || b_hh.shape() != expect_b)
    throw ShapeError("LSTM: biases " + to_string(b_ih.shape()) + ", " + to_string(b_hh.shape()) +
                     " are not [4H]");
  if (h0.shape() != expect_state || c0.shape() != expect_state)
    throw ShapeError("LSTM: initial state " + to_string(h0.shape()) + " / " + to_string(c0.shape()) +
                     " is not [batch, hidden] = " + to_string(expect_state));
}

}  // namespace

std::pair<Var, Var> lstm_layer_fused(const Var& x, const Var& h0, const Var& c0, const Var& weight_ih,
                                     const Var& weight_hh, const Var& bias_ih, const Var& bias_hh) {
  auto s = std::make_shared<Saved>();
  check_layer_shapes(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, s->d);
  const auto [B, S, I, H] = s->d;
  const DType dtype = x.dtype();
  s->x = x.value();
  s->h0 = h0.value();
  s->c0 = c0.value();
  s->w_ih = weight_ih.value();
  s->w_hh = weight_hh.value();
  s->gates = Tensor::empty({B, S, 4 * H}, dtype);
  s->cells = Tensor::empty({B, S, H}, dtype);
  s->tanh_cells = Tensor::empty({B, S, H}, dtype);
  s->output = Tensor::empty({B, S, H}, dtype);
  s->grad_c_n = std::make_shared<Tensor>();
  dispatch(dtype, [&]<class T>() {
    // Both biases are added once, into the buffer the input GEMM accumulates onto.
    T* gates = s->gates.data<T>();
    const T* bi = bias_ih.value().data<T>();
    const T* bh = bias_hh.value().data<T>();
    for (std::int64_t k = 0; k < 4 * H; ++k) gates[k] = bi[k] + bh[k];
    for (std::int64_t r = 1; r < B * S; ++r) std::copy(gates, gates + 4 * H, gates + r * 4 * H);
    forward_layer<T>(*s);
  });

  // c_n is the last step's cell state; copied out since `cells` belongs to the saved state.
  Tensor c_n = Tensor::empty({B, H}, dtype);
  dispatch(dtype, [&]<class T>() {
    for (std::int64_t b = 0; b < B; ++b)
      std::copy_n(s->cells.data<T>() + (b * S + S - 1) * H, H, c_n.data<T>() + b * H);
  });

  Var output = record_op("lstm_fused", s->output, {x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh},
                         [s](Node& self) {
                           dispatch(s->x.dtype(), [&]<class T>() { backward_layer<T>(*s, self.grad, self); });
                         });
  // c_n depends on the layer's output node so that, in reverse topological order, its gradient is
  // parked in the shared slot before the fused backward runs (which it forces with a zero gradient).
  Var cell_state = record_op("lstm_fused_c_n", c_n, {output}, [slot = s->grad_c_n](Node& self) {
    *slot = self.grad.clone();
    Node& out = *self.inputs[0];
    out.accumulate_grad(Tensor::zeros(out.value.shape(), out.value.dtype()));
  });
  return {output, cell_state};
}

std::pair<Var, Var> lstm_layer_composed(const Var& x, const Var& h0, const Var& c0, const Var& weight_ih,
                                        const Var& weight_hh, const Var& bias_ih, const Var& bias_hh) {
  Dims d{};
  check_layer_shapes(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, d);
  const std::int64_t H = d.hidden;
  const Var projected = linear(x, weight_ih, bias_ih);  // [B, T, 4H]
  Var h = h0, c = c0;
  std::vector<Var> outputs;
  for (std::int64_t t = 0; t < d.steps; ++t) {
    const Var gates =
        reshape(slice(projected, 1, t, t + 1), {d.batch, 4 * H}) + linear(h, weight_hh, bias_hh);
    const Var i = sigmoid(slice(gates, 1, 0, H));
    const Var f = sigmoid(slice(gates, 1, H, 2 * H));
    const Var g = tanh(slice(gates, 1, 2 * H, 3 * H));
    const Var o = sigmoid(slice(gates, 1, 3 * H, 4 * H));
    c = f * c + i * g;
    h = o * tanh(c);
    outputs.push_back(reshape(h, {d.batch, 1, H}));
  }
  return {concat(outputs, 1), c};
}

}  // namespace qf::nn
