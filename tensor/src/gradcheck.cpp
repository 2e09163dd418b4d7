#include "qf/tensor/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace qf {

GradCheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f,
                          const std::vector<Tensor>& inputs, double eps) {
  std::vector<Var> vars;
  for (const auto& t : inputs) vars.push_back(Var::parameter(t.to(DType::f64)));
  Var out = f(vars);
  if (out.value().numel() != 1)
    throw ShapeError("gradcheck: f must return a scalar, got " + to_string(out.shape()));
  out.backward();

  GradCheckResult result;
  for (std::size_t k = 0; k < vars.size(); ++k) {
    Tensor& x = vars[k].value();
    const Tensor analytic = vars[k].grad().defined() ? vars[k].grad() : Tensor::zeros(x.shape(), DType::f64);
    double* px = x.data<double>();
    std::vector<double> numeric(static_cast<std::size_t>(x.numel()));
    NoGradGuard no_grad;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const double saved = px[i];
      px[i] = saved + eps;
      const double up = f(vars).value().item();
      px[i] = saved - eps;
      const double down = f(vars).value().item();
      px[i] = saved;
      numeric[static_cast<std::size_t>(i)] = (up - down) / (2 * eps);
    }
    const double* pa = analytic.data<double>();
    double scale = 1e-12, worst = 0.0;
    std::int64_t worst_i = 0;
    for (std::int64_t i = 0; i < x.numel(); ++i)
      scale = std::max({scale, std::abs(pa[i]), std::abs(numeric[static_cast<std::size_t>(i)])});
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const double err = std::abs(pa[i] - numeric[static_cast<std::size_t>(i)]);
      if (std::isnan(err) || err > worst) {
        worst = std::isnan(err) ? INFINITY : err;
        worst_i = i;
      }
    }
    const double rel = worst / scale;
    if (rel >= result.max_relative_error) {
      result.max_relative_error = rel;
      std::ostringstream msg;
      msg << "input " << k << " " << to_string(x.shape()) << ", element " << worst_i << ": analytic "
          << pa[worst_i] << " vs numeric " << numeric[static_cast<std::size_t>(worst_i)];
      result.worst_input = msg.str();
    }
  }
  return result;
}

}  // namespace qf
