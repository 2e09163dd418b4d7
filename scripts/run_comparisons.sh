#!/usr/bin/env bash
# Research comparisons on a finished pipeline folder (default out/): the optimiser's variants side by
# side (out/portfolio_variants/backtest/comparison.html) and stage 5's enhancements switched on one at a
# time (out/stage5/, one table).
#   scripts/run_comparisons.sh [out]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
store=$out/universe.h5 registry=$out/training/registry.h5
methods=equal_weight,mean_variance,risk_parity,confidence_top_k
build/apps/portfolio_optimizer --store "$store" --registry "$registry" --out "$out/portfolio_variants" \
  --methods $methods --drawdown-control both --turnover 0.5
weights=()
for m in ${methods//,/ }; do weights+=("$out/portfolio_variants/$m/weights.h5" "$out/portfolio_variants/${m}_dd/weights.h5"); done
build/apps/run_backtest_evaluation --store "$store" --registry "$registry" \
  --out "$out/portfolio_variants/backtest" --weights "${weights[@]}"
scripts/stage5_enhancements.sh "$store" "$out/stage5" "$registry"
