// The gate arithmetic shared by the CPU path and the CUDA kernels (lstm_cell_math.h), checked on the
// CPU in every build: float (fast exp/tanh) against a float64 evaluation of the textbook formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lstm_cell_math.h"
#include "qf/tensor/random.h"

using namespace qf::nn::lstm_math;

TEST(LSTMCellMath, ForwardElementMatchesTheDefinition) {
  // Inputs are rounded to float first so both sides see the same numbers; |c| <= 3 and |h| <= 1 here,
  // so an absolute bound of a few float ulps at that scale is the contract.
  qf::Rng rng(1);
  double worst = 0;
  auto draw = [&](double scale) {
    return static_cast<double>(static_cast<float>(scale * (2 * rng.uniform() - 1)));
  };
  for (int n = 0; n < 20000; ++n) {
    const double i = draw(4), f = draw(4), g = draw(4), o = draw(4), c_prev = draw(2);
    const auto r =
        cell_forward_element<float>(static_cast<float>(i), static_cast<float>(f), static_cast<float>(g),
                                    static_cast<float>(o), static_cast<float>(c_prev));
    auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
    const double c = sig(f) * c_prev + sig(i) * std::tanh(g);
    const double h = sig(o) * std::tanh(c);
    worst = std::max({worst, std::abs(r.c - c), std::abs(r.h - h)});
  }
  EXPECT_LT(worst, 2e-6);
}

TEST(LSTMCellMath, BackwardElementMatchesFiniteDifferences) {
  // Loss L = a*h + b*c for fixed a, b; compare the analytic pre-activation gradients with central
  // differences of the float64 forward.
  const double pre[4] = {0.3, -0.7, 0.9, 0.1}, c_prev = 0.4, a = 1.3, b = -0.6;
  auto loss = [&](const double* p) {
    const auto r = cell_forward_element<double>(p[0], p[1], p[2], p[3], c_prev);
    return a * r.h + b * r.c;
  };
  const auto f = cell_forward_element<double>(pre[0], pre[1], pre[2], pre[3], c_prev);
  const auto d = cell_backward_element<double>(f.i, f.f, f.g, f.o, c_prev, f.tanh_c, a, b);
  const double analytic[4] = {d.di, d.df, d.dg, d.d_o};
  for (int k = 0; k < 4; ++k) {
    double up[4], down[4];
    std::copy(pre, pre + 4, up);
    std::copy(pre, pre + 4, down);
    up[k] += 1e-6;
    down[k] -= 1e-6;
    EXPECT_NEAR(analytic[k], (loss(up) - loss(down)) / 2e-6, 1e-8) << "gate " << k;
  }
  // dc_prev: d/dc_prev of L.
  auto loss_c = [&](double cp) {
    const auto r = cell_forward_element<double>(pre[0], pre[1], pre[2], pre[3], cp);
    return a * r.h + b * r.c;
  };
  EXPECT_NEAR(d.dc_prev, (loss_c(c_prev + 1e-6) - loss_c(c_prev - 1e-6)) / 2e-6, 1e-8);
}

// The per-unit forms the CUDA kernels call (one thread per unit, in place on a row's [4H] gates) give
// exactly what the CPU's row loops give.
TEST(LSTMCellMath, UnitFormsEqualTheRowLoops) {
  constexpr std::int64_t H = 13;
  qf::Rng rng(3);
  std::vector<float> gates(4 * H), c_prev(H), tanh_c(H), dh(H), dc(H);
  for (float& v : gates) v = static_cast<float>(4 * rng.uniform() - 2);
  for (auto* v : {&c_prev, &dh, &dc})
    for (float& x : *v) x = static_cast<float>(2 * rng.uniform() - 1);
  std::vector<float> row_gates = gates, c(H), h(H), unit_gates = gates;
  cell_forward(H, row_gates.data(), c_prev.data(), c.data(), tanh_c.data(), h.data());
  for (std::int64_t j = 0; j < H; ++j) {
    const auto r = cell_forward_unit(unit_gates.data(), H, j, c_prev[j]);
    EXPECT_EQ(r.c, c[j]) << j;
    EXPECT_EQ(r.tanh_c, tanh_c[j]) << j;
    EXPECT_EQ(r.h, h[j]) << j;
  }
  EXPECT_EQ(unit_gates, row_gates);
  std::vector<float> row_dgates(4 * H), unit_dgates(4 * H), row_dc = dc;
  cell_backward(H, row_gates.data(), c_prev.data(), tanh_c.data(), dh.data(), row_dc.data(),
                row_dgates.data());
  for (std::int64_t j = 0; j < H; ++j)
    EXPECT_EQ(
        cell_backward_unit(row_gates.data(), H, j, c_prev[j], tanh_c[j], dh[j], dc[j], unit_dgates.data()),
        row_dc[j])
        << j;
  EXPECT_EQ(unit_dgates, row_dgates);
}
