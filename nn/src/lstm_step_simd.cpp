#include "lstm_step_simd.h"

#include <algorithm>

namespace qf::nn::lstm_simd {

namespace {

constexpr int kGates = 4;  // i, f, g, o: the four vectors of a panel row
#ifdef QF_SIMD
using namespace simd;
constexpr int kRowBlock = kTileRows;  // the register tile's rows (simd.h)
#else
constexpr int kLanes = 1;
#endif
constexpr int kPanelWidth = kGates * kLanes;

}  // namespace

PackedLSTMWeights::PackedLSTMWeights(const float* weight_ih, const float* weight_hh, const float* bias_ih,
                                     const float* bias_hh, std::int64_t input, std::int64_t hidden)
    : input_(input),
      hidden_(hidden),
      panels_((hidden + kLanes - 1) / kLanes),
      weights_(static_cast<std::size_t>(panels_ * (input + hidden) * kPanelWidth)),
      bias_(static_cast<std::size_t>(panels_ * kPanelWidth)) {
  const std::int64_t rows = input + hidden;
  for (std::int64_t q = 0; q < panels_; ++q)
    for (int v = 0; v < kGates; ++v)
      for (int l = 0; l < kLanes; ++l) {
        const std::int64_t unit = q * kLanes + l;
        if (unit >= hidden) continue;  // zero padding
        const std::int64_t gate_row = v * hidden + unit;
        for (std::int64_t p = 0; p < rows; ++p)
          weights_.data()[(q * rows + p) * kPanelWidth + v * kLanes + l] =
              p < input ? weight_ih[gate_row * input + p] : weight_hh[gate_row * hidden + (p - input)];
        bias_.data()[q * kPanelWidth + v * kLanes + l] = bias_ih[gate_row] + bias_hh[gate_row];
      }
}

const float* PackedLSTMWeights::panel(std::int64_t q) const {
  return weights_.data() + q * (input_ + hidden_) * kPanelWidth;
}
const float* PackedLSTMWeights::bias(std::int64_t q) const {
  return bias_.data() + q * kPanelWidth;
}

#ifdef QF_SIMD
namespace {

// Where the R rows of one block read and write at one time step: row r's x_t is x + r * ldx, its
// h_{t-1} and c_{t-1} are h + r * ld_state and c + r * ld_state; its outputs are row r of the step's
// time-major blocks.
struct BlockIO {
  const float* x;
  std::int64_t ldx;
  const float* h;
  const float* c;
  std::int64_t ld_state;
  float* gates;
  float* cells;
  float* tanh_cells;
  float* hidden;
};

Vec load_units(const float* p, std::int64_t units) {
  if (units == kLanes) return load(p);
  alignas(64) float tail[kLanes] = {};
  std::copy_n(p, units, tail);
  return load(tail);
}

void store_units(float* p, Vec v, std::int64_t units) {
  if (units == kLanes) return store(p, v);
  alignas(64) float tail[kLanes];
  store(tail, v);
  std::copy_n(tail, units, p);
}

// Panel q (units u0 .. u0 + units) for R rows at one step.
template <int R>
void step_block(const PackedLSTMWeights& w, std::int64_t q, const BlockIO& io) {
  const std::int64_t I = w.input(), H = w.hidden(), G = kGates * H, u0 = q * kLanes;
  const std::int64_t units = std::min<std::int64_t>(kLanes, H - u0);
  const float* panel = w.panel(q);
  const float* bias = w.bias(q);
  Vec acc[R][kGates];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kGates; ++v) acc[r][v] = load(bias + v * kLanes);
  accumulate_tile<R>(acc, I, io.x, io.ldx, 1, panel, kPanelWidth);
  accumulate_tile<R>(acc, H, io.h, io.ld_state, 1, panel + I * kPanelWidth, kPanelWidth);
  // The cell (the arithmetic of lstm_math::cell_forward_element) from an L1 copy of the accumulators:
  // with all 4R of them live the compiler has no registers left for the activations' constants and
  // temporaries. Each activation is a chain of some 25 dependent instructions, so they run one gate
  // at a time across the R rows: R independent chains in flight instead of one row's few.
  alignas(64) float pre[R][kGates][kLanes];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kGates; ++v) store(pre[r][v], acc[r][v]);
#pragma GCC unroll 4
  for (int v = 0; v < kGates; ++v)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Vec z = load(pre[r][v]);
      const Vec a = v == 2 ? tanh(z) : sigmoid(z);
      store(pre[r][v], a);
      store_units(io.gates + r * G + v * H + u0, a, units);
    }
  alignas(64) float cell[R][kLanes];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const Vec c = add(multiply(load(pre[r][1]), load_units(io.c + r * io.ld_state + u0, units)),
                      multiply(load(pre[r][0]), load(pre[r][2])));
    store(cell[r], c);
    store_units(io.cells + r * H + u0, c, units);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const Vec tanh_c = tanh(load(cell[r]));
    store_units(io.tanh_cells + r * H + u0, tanh_c, units);
    store_units(io.hidden + r * H + u0, multiply(load(pre[r][3]), tanh_c), units);
  }
}

template <int R>
void step_rows(const PackedLSTMWeights& w, std::int64_t q, std::int64_t rows, BlockIO io) {
  const std::int64_t H = w.hidden(), G = kGates * H;
  std::int64_t r = 0;
  for (; r + R <= rows; r += R) {
    step_block<R>(w, q, io);
    io.x += R * io.ldx;
    io.h += R * io.ld_state;
    io.c += R * io.ld_state;
    io.gates += R * G;
    io.cells += R * H;
    io.tanh_cells += R * H;
    io.hidden += R * H;
  }
  if constexpr (R > 1)
    if (r < rows) step_rows<R - 1>(w, q, rows - r, io);
}

}  // namespace

void forward_rows(const PackedLSTMWeights& w, const LSTMForwardBuffers& buf, std::int64_t b0,
                  std::int64_t b1) {
  const std::int64_t B = buf.batch, S = buf.steps, I = w.input(), H = w.hidden(), G = kGates * H;
  for (std::int64_t t = 0; t < S; ++t) {
    const std::int64_t row0 = t * B + b0;  // the first row's index in the time-major [S*B, .] buffers
    BlockIO io{buf.x + (b0 * S + t) * I,
               S * I,
               t == 0 ? buf.h0 + b0 * H : buf.hidden + (row0 - B) * H,
               t == 0 ? buf.c0 + b0 * H : buf.cells + (row0 - B) * H,
               H,
               buf.gates + row0 * G,
               buf.cells + row0 * H,
               buf.tanh_cells + row0 * H,
               buf.hidden + row0 * H};
    // Panel by panel: one panel ((I + H) x 4 L floats, 20 kB at I = 16, H = 64) stays in L1 for all rows.
    for (std::int64_t q = 0; q < w.panels(); ++q) step_rows<kRowBlock>(w, q, b1 - b0, io);
  }
}
#else
void forward_rows(const PackedLSTMWeights&, const LSTMForwardBuffers&, std::int64_t, std::int64_t) {}
#endif

}  // namespace qf::nn::lstm_simd
