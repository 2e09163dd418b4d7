// The fused CPU LSTM layer. Its input and output are batch-first ([B, T, N]: time step t is the strided
// matrix from t*N with row stride T*N, which the kernels address directly). What it saves for backward
// (gates, cells, tanh(cells), hidden states) is time-major, [T, B, N]: step t of all rows is one
// contiguous block, so the backward, which visits the steps in reverse long after the forward wrote
// them, reads whole streams the hardware prefetcher follows instead of B rows a sequence apart.
//
// Forward, float32 with SIMD (lstm_step_simd.cpp): per step one register-blocked kernel computes
//           [x_t | h_{t-1}] [W_ih | W_hh]^T + b and the cell on its accumulators.
// Forward, otherwise: gates = x W_ih^T + (b_ih + b_hh) as one GEMM for all time steps, then per step
//           gates_t += h_{t-1} W_hh^T (one GEMM) and cell_forward (pointwise).
//           Both keep the activations in `gates` for backward.
// The recurrence of different batch rows is independent, so rows are split over threads
// (parallel_for), each running the whole sequence single-threaded: no sync per step.
// Backward, per step in reverse: cell_backward, dh_{t-1} = dgates_t W_hh, dx_t = dgates_t W_ih
//           (W packed once, blas::PackedMatrix), and every few steps [dW_ih | dW_hh]^T +=
//           [x | h_prev]^T dgates and db += sum dgates over those steps, while they are in cache.
#include <algorithm>
#include <memory>
#include <optional>
#include <type_traits>

#include "lstm_cell_math.h"
#include "lstm_step_simd.h"
#include "qf/nn/rnn.h"
#include "qf/tensor/blas.h"
#include "qf/tensor/packed_gemm.h"
#include "qf/tensor/parallel.h"

namespace qf::nn {

namespace {

using blas::Trans;

struct Dims {
  std::int64_t batch, steps, input, hidden;
  std::int64_t gates() const { return 4 * hidden; }
};

// Everything backward needs besides the parameters: x, h0, c0 as given, the activations time-major.
struct Saved {
  Dims d;
  Tensor x, h0, c0, w_ih, w_hh;
  Tensor gates, cells, tanh_cells, hidden;  // [T, B, 4H] (i, f, g, o after activation), [T, B, H] x 3
  // The gradients of the layer's three outputs, parked by their nodes' backwards; each stays undefined
  // when its output was not used (a classifier on h_n sends no [B, T, H] of zeros for `output`).
  std::shared_ptr<Tensor> grad_output, grad_h_n, grad_c_n;
};

// The recurrent weights as the right operand of every time step's GEMM, B [k, n] from storage that
// holds B or (transposed) B^T: packed once per layer call for float (blas::PackedMatrix, whose
// register-blocked kernel beats a general GEMM that repacks B at every step), a plain row-major copy
// through blas::gemm for double.
template <class T>
class RecurrentWeights {
 public:
  RecurrentWeights(const T* b, std::int64_t k, std::int64_t n, bool transposed)
      : k_(k), n_(n), packed_(make_packed(b, k, n, transposed)) {
    if constexpr (!std::is_same_v<T, float>) {
      plain_.resize(static_cast<std::size_t>(k * n));
      for (std::int64_t r = 0; r < k; ++r)
        for (std::int64_t c = 0; c < n; ++c)
          plain_[static_cast<std::size_t>(r * n + c)] = transposed ? b[c * k + r] : b[r * n + c];
    }
  }
  // C [m, n] (row stride ldc) = or += A [m, k] (row stride lda) B.
  void multiply(std::int64_t m, const T* a, std::int64_t lda, T* c, std::int64_t ldc, bool accumulate) const {
    if constexpr (std::is_same_v<T, float>)
      packed_->multiply(m, a, lda, c, ldc, accumulate);
    else
      blas::gemm(Trans::no, Trans::no, m, n_, k_, T(1), a, lda, plain_.data(), n_, accumulate ? T(1) : T(0),
                 c, ldc);
  }

 private:
  static std::optional<blas::PackedMatrix> make_packed(const T* b, std::int64_t k, std::int64_t n,
                                                       bool transposed) {
    if constexpr (std::is_same_v<T, float>)
      return blas::PackedMatrix(b, transposed ? k : n, k, n, transposed);
    else
      return std::nullopt;
  }
  std::int64_t k_, n_;
  std::optional<blas::PackedMatrix> packed_;
  std::vector<T> plain_;
};

// C [m, n] (row stride n) += A^T B for one time step: A [k, m] (row stride lda), B [k, n] contiguous.
void weight_gradient_add(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                         const float* b, float* c) {
  blas::multiply_transposed_add(m, n, k, a, lda, b, n, c, n);
}
void weight_gradient_add(std::int64_t m, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda,
                         const double* b, double* c) {
  blas::gemm(Trans::yes, Trans::no, m, n, k, 1.0, a, lda, b, n, 1.0, c, n);
}

// Backward sums the weight gradients over this many steps at a time (see backward_layer).
constexpr std::int64_t kStepsPerWeightUpdate = 4;

// Minimum batch rows per thread: below this the split costs more than it saves.
constexpr std::int64_t kRowsPerThread = 8;

template <class T>
void forward_layer(Saved& s) {
  const auto [B, S, I, H] = s.d;
  const std::int64_t G = s.d.gates();
  T* gates = s.gates.data<T>();
  T* cells = s.cells.data<T>();
  T* tanh_cells = s.tanh_cells.data<T>();
  T* hidden = s.hidden.data<T>();
  const T* h0 = s.h0.data<T>();
  const T* c0 = s.c0.data<T>();
  const RecurrentWeights<T> w_hh_t(s.w_hh.data<T>(), H, G, /*transposed=*/true);  // h W_hh^T

  parallel_for(B, kRowsPerThread, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t t = 0; t < S; ++t) {
      const std::int64_t row0 = t * B + b0;  // this thread's first row of step t
      // gates_t (holding the biases) += x_t W_ih^T + h_{t-1} W_hh^T
      blas::gemm(Trans::no, Trans::yes, b1 - b0, G, I, T(1), s.x.data<T>() + (b0 * S + t) * I, S * I,
                 s.w_ih.data<T>(), I, T(1), gates + row0 * G, G);
      const T* h_prev = t == 0 ? h0 + b0 * H : hidden + (row0 - B) * H;
      w_hh_t.multiply(b1 - b0, h_prev, H, gates + row0 * G, G, /*accumulate=*/true);
      for (std::int64_t b = b0; b < b1; ++b) {
        const std::int64_t row = t * B + b;
        const T* c_prev = t == 0 ? c0 + b * H : cells + (row - B) * H;
        lstm_math::cell_forward(H, gates + row * G, c_prev, cells + row * H, tanh_cells + row * H,
                                hidden + row * H);
      }
    }
  });
}

// The batch-first rows the backward reads at a step (x_t, the output's gradient) sit a sequence apart:
// each is a new stream that the hardware prefetcher picks up too late, so they are fetched a few ahead.
constexpr std::int64_t kPrefetchRows = 2;
template <class T>
void prefetch(const T* p, std::int64_t count) {
  for (std::int64_t k = 0; k < count; k += 64 / static_cast<std::int64_t>(sizeof(T)))
    __builtin_prefetch(p + k);
}

template <class T>
void backward_layer(const Saved& s, Node& self) {
  const auto [B, S, I, H] = s.d;
  const std::int64_t G = s.d.gates();
  const T* gates = s.gates.data<T>();
  const T* cells = s.cells.data<T>();
  const T* tanh_cells = s.tanh_cells.data<T>();
  const T* hidden = s.hidden.data<T>();
  const T* c0 = s.c0.data<T>();
  const T* dy = s.grad_output->defined() ? s.grad_output->data<T>() : nullptr;  // null: all zeros

  // dh: the gradient reaching h_t from above step t (h_n's at the last step), dc likewise for c_t.
  auto initial = [&](const std::shared_ptr<Tensor>& g) {
    return g->defined() ? g->clone() : Tensor::zeros({B, H}, s.x.dtype());
  };
  Tensor dh_t = initial(s.grad_h_n), dc_t = initial(s.grad_c_n);
  T* dh = dh_t.data<T>();
  T* dc = dc_t.data<T>();
  const T* x = s.x.data<T>();
  const T* h0 = s.h0.data<T>();

  // Each thread runs BPTT for its batch rows and, at every step, turns that step's gate gradients
  // (a [rows, 4H] block that stays in cache) into dh_{t-1}, dx_t and its share of the weight and bias
  // gradients. Per-thread partials are summed below in chunk order, so results are deterministic for
  // a given thread count.
  const bool need_dx = self.inputs[0]->requires_grad, need_dw_ih = self.inputs[3]->requires_grad,
             need_dw_hh = self.inputs[4]->requires_grad,
             need_db = self.inputs[5]->requires_grad || self.inputs[6]->requires_grad;
  Tensor dx = need_dx ? Tensor::empty(s.x.shape(), s.x.dtype()) : Tensor();
  const RecurrentWeights<T> w_hh(s.w_hh.data<T>(), G, H, /*transposed=*/false);
  std::optional<RecurrentWeights<T>> w_ih;
  if (need_dx) w_ih.emplace(s.w_ih.data<T>(), G, I, /*transposed=*/false);
  const auto max_chunks = static_cast<std::size_t>(num_threads());
  std::vector<Tensor> dw_ih_parts(max_chunks), dw_hh_parts(max_chunks), db_parts(max_chunks);
  const int chunks = parallel_for_chunks(B, kRowsPerThread, [&](int chunk, std::int64_t b0, std::int64_t b1) {
    const std::int64_t rows = b1 - b0;
    // The gate gradients and [x_t | h_{t-1}] of the last few steps (kStepsPerWeightUpdate of them: a
    // longer sum per weight-gradient call, still within L2), and [dW_ih | dW_hh]^T [I + H, 4H] and the
    // bias gradient of these rows.
    std::vector<T> dh_total(static_cast<std::size_t>(H)),
        dgates(static_cast<std::size_t>(kStepsPerWeightUpdate * rows * G)),
        step_inputs(static_cast<std::size_t>(kStepsPerWeightUpdate * rows * (I + H))),
        dw_t(static_cast<std::size_t>((I + H) * G)), db(static_cast<std::size_t>(G));
    std::int64_t pending = 0;  // steps held in dgates / step_inputs
    for (std::int64_t t = S - 1; t >= 0; --t) {
      T* dgates_step = dgates.data() + pending * rows * G;
      for (std::int64_t b = b0; b < b1; ++b) {
        const std::int64_t row = t * B + b, input_row = b * S + t;  // time-major, batch-first
        if (dy) {
          if (b + kPrefetchRows < b1) prefetch(dy + (input_row + kPrefetchRows * S) * H, H);
          for (std::int64_t j = 0; j < H; ++j)
            dh_total[static_cast<std::size_t>(j)] = dy[input_row * H + j] + dh[b * H + j];
        } else {
          std::copy_n(dh + b * H, H, dh_total.data());
        }
        const T* c_prev = t == 0 ? c0 + b * H : cells + (row - B) * H;
        lstm_math::cell_backward(H, gates + row * G, c_prev, tanh_cells + row * H, dh_total.data(),
                                 dc + b * H, dgates_step + (b - b0) * G);
      }
      // dh_{t-1} = dgates_t W_hh, dx_t = dgates_t W_ih
      w_hh.multiply(rows, dgates_step, G, dh + b0 * H, H, /*accumulate=*/false);
      if (need_dx) w_ih->multiply(rows, dgates_step, G, dx.data<T>() + (b0 * S + t) * I, S * I, false);
      // [x_t | h_{t-1}] (h_{-1} = h0) copied contiguous: in place, its rows sit a sequence apart.
      for (std::int64_t b = b0; b < b1; ++b) {
        const std::int64_t input_row = b * S + t;
        if (b + kPrefetchRows < b1) prefetch(x + (input_row + kPrefetchRows * S) * I, I);
        T* dst = step_inputs.data() + (pending * rows + b - b0) * (I + H);
        std::copy_n(x + input_row * I, I, dst);
        std::copy_n(t == 0 ? h0 + b * H : hidden + ((t - 1) * B + b) * H, H, dst + I);
      }
      if (++pending < kStepsPerWeightUpdate && t > 0) continue;
      // [dW_ih | dW_hh]^T += [x | h_prev]^T dgates, db += sum dgates over the held steps.
      const std::int64_t held = pending * rows;
      if (need_dw_ih || need_dw_hh)
        weight_gradient_add(I + H, G, held, step_inputs.data(), I + H, dgates.data(), dw_t.data());
      if (need_db)
        for (std::int64_t r = 0; r < held; ++r)
          for (std::int64_t k = 0; k < G; ++k)
            db[static_cast<std::size_t>(k)] += dgates[static_cast<std::size_t>(r * G + k)];
      pending = 0;
    }
    const auto c = static_cast<std::size_t>(chunk);
    const auto transposed = [&](std::int64_t first, std::int64_t count) {  // rows of dw_t -> [4H, count]
      Tensor part = Tensor::empty({G, count}, s.x.dtype());
      T* out = part.data<T>();
      for (std::int64_t k = 0; k < count; ++k)
        for (std::int64_t g = 0; g < G; ++g)
          out[g * count + k] = dw_t[static_cast<std::size_t>((first + k) * G + g)];
      return part;
    };
    if (need_dw_ih) dw_ih_parts[c] = transposed(0, I);
    if (need_dw_hh) dw_hh_parts[c] = transposed(I, H);
    if (need_db) {
      db_parts[c] = Tensor::empty({G}, s.x.dtype());
      std::copy(db.begin(), db.end(), db_parts[c].data<T>());
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

LSTMLayerOutput lstm_layer_fused(const Var& x, const Var& h0, const Var& c0, const Var& weight_ih,
                                 const Var& weight_hh, const Var& bias_ih, const Var& bias_hh,
                                 bool sequence_output) {
  auto s = std::make_shared<Saved>();
  check_layer_shapes(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, s->d);
  const auto [B, S, I, H] = s->d;
  const DType dtype = x.dtype();
  s->x = x.value();
  s->h0 = h0.value();
  s->c0 = c0.value();
  s->w_ih = weight_ih.value();
  s->w_hh = weight_hh.value();
  s->gates = Tensor::empty({S, B, 4 * H}, dtype);
  s->cells = Tensor::empty({S, B, H}, dtype);
  s->tanh_cells = Tensor::empty({S, B, H}, dtype);
  s->hidden = Tensor::empty({S, B, H}, dtype);
  dispatch(dtype, [&]<class T>() {
    if constexpr (std::is_same_v<T, float> && lstm_simd::available()) {
      const lstm_simd::PackedLSTMWeights packed(
          weight_ih.value().data<float>(), weight_hh.value().data<float>(), bias_ih.value().data<float>(),
          bias_hh.value().data<float>(), I, H);
      const lstm_simd::LSTMForwardBuffers buffers{B,
                                                  S,
                                                  s->x.data<float>(),
                                                  s->h0.data<float>(),
                                                  s->c0.data<float>(),
                                                  s->gates.data<float>(),
                                                  s->cells.data<float>(),
                                                  s->tanh_cells.data<float>(),
                                                  s->hidden.data<float>()};
      parallel_for(B, kRowsPerThread, [&](std::int64_t b0, std::int64_t b1) {
        lstm_simd::forward_rows(packed, buffers, b0, b1);
      });
      return;
    }
    // Both biases are added once, into the buffer the input GEMMs accumulate onto.
    T* gates = s->gates.data<T>();
    const T* bi = bias_ih.value().data<T>();
    const T* bh = bias_hh.value().data<T>();
    for (std::int64_t k = 0; k < 4 * H; ++k) gates[k] = bi[k] + bh[k];
    for (std::int64_t r = 1; r < B * S; ++r) std::copy(gates, gates + 4 * H, gates + r * 4 * H);
    forward_layer<T>(*s);
  });

  // The batch-first output, and h_n and c_n (the last step's states, contiguous in time-major).
  Tensor output = sequence_output ? Tensor::empty({B, S, H}, dtype) : Tensor(),
         h_n = Tensor::empty({B, H}, dtype), c_n = Tensor::empty({B, H}, dtype);
  dispatch(dtype, [&]<class T>() {
    const T* hidden = s->hidden.data<T>();
    if (sequence_output)
      for (std::int64_t t = 0; t < S; ++t)
        for (std::int64_t b = 0; b < B; ++b)
          std::copy_n(hidden + (t * B + b) * H, H, output.data<T>() + (b * S + t) * H);
    std::copy_n(hidden + (S - 1) * B * H, B * H, h_n.data<T>());
    std::copy_n(s->cells.data<T>() + (S - 1) * B * H, B * H, c_n.data<T>());
  });

  // One node runs the layer's backward; its value is a placeholder. The three outputs are nodes over it
  // that park their gradients in `s` and wake it with a one-element gradient: in reverse topological
  // order they all run before it, and it reads only the gradients that exist.
  s->grad_output = std::make_shared<Tensor>();
  s->grad_h_n = std::make_shared<Tensor>();
  s->grad_c_n = std::make_shared<Tensor>();
  const Var layer =
      record_op("lstm_fused", Tensor::zeros({1}, dtype), {x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh},
                [s](Node& self) { dispatch(s->x.dtype(), [&]<class T>() { backward_layer<T>(*s, self); }); });
  const auto output_of_layer = [&](const char* op, Tensor value, const std::shared_ptr<Tensor>& slot) {
    return record_op(op, std::move(value), {layer}, [slot](Node& self) {
      *slot = std::move(self.grad);
      Node& layer_node = *self.inputs[0];
      layer_node.accumulate_grad(Tensor::zeros({1}, layer_node.value.dtype()));
    });
  };
  return {sequence_output ? output_of_layer("lstm_fused_output", std::move(output), s->grad_output) : Var(),
          output_of_layer("lstm_fused_h_n", std::move(h_n), s->grad_h_n),
          output_of_layer("lstm_fused_c_n", std::move(c_n), s->grad_c_n)};
}

LSTMLayerOutput lstm_layer_composed(const Var& x, const Var& h0, const Var& c0, const Var& weight_ih,
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
  return {concat(outputs, 1), h, c};
}

}  // namespace qf::nn
