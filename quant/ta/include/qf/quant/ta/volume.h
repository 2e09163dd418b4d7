// Module ta, volume indicators (TA-Lib's volume group): OBV, the accumulation/distribution line, the
// Chaikin oscillator.
// Every function follows the conventions of qf/quant/ta/indicators.h (causal, `<name>_lookback`, the NaN
// rule, argument checks). The code, in the same order: src/volume.cpp; its registry rows at its end.
#pragma once

#include <span>

namespace qf::quant::ta {

// On-balance volume, starting from the first bar's volume.
int obv_lookback();
void obv(std::span<const double> close, std::span<const double> volume, std::span<double> out);
// Chaikin accumulation/distribution line.
int ad_lookback();
void ad(std::span<const double> high, std::span<const double> low, std::span<const double> close,
        std::span<const double> volume, std::span<double> out);
// Chaikin oscillator: EMA(fast) - EMA(slow) of the AD line, both seeded with the first AD value.
int adosc_lookback(int fast, int slow);
void adosc(std::span<const double> high, std::span<const double> low, std::span<const double> close,
           std::span<const double> volume, int fast, int slow, std::span<double> out);

}  // namespace qf::quant::ta
