#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the plan's stages that exist so far on
# the embedded default (the built-in synthetic 518-stock universe):
#   process_new_data   -> out/universe.h5 (+ validation report and state manifest)
#   run_lstm_training  -> out/training/registry.h5 (+ coverage, trials, folds, scorecard in summary.txt)
#   portfolio_optimizer -> out/portfolio/<method>[_dd]/weights.h5 (+ decisions.csv with each day's reasons)
#   run_backtest_evaluation -> out/backtest/report.html (+ metrics.json/csv, daily.csv, the scorecard), and
#                      out/portfolio/backtest/comparison.html: the optimiser's variants side by side
#   predict_stock_movement -> out/prediction/predictions.h5 (+ predictions.csv, summary.json): calibrated,
#                      regime-aware predictions; out/stage5/: each enhancement switched on alone, backtested;
#                      out/prediction_headlines/: with synthetic headlines (the sentiment path)
# Extra arguments go to process_new_data (e.g. --input ../shared/data/sp500_5yr ...). A rerun without
# arguments updates the store in place (nothing changes: the same content hash) and stage 2 resumes
# from its checkpoints; a run with arguments rebuilds the store and restarts stage 2.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
if [ $# -eq 0 ] && [ -f out/universe.h5 ]; then
  build/apps/process_new_data --out out --update
  build/apps/run_lstm_training --store out/universe.h5 --out out/training
else
  build/apps/process_new_data --out out "$@"
  build/apps/run_lstm_training --store out/universe.h5 --out out/training --restart
fi
build/apps/run_backtest_evaluation --store out/universe.h5 --registry out/training/registry.h5 --out out/backtest
methods=equal_weight,mean_variance,risk_parity,confidence_top_k
build/apps/portfolio_optimizer --store out/universe.h5 --registry out/training/registry.h5 --out out/portfolio \
  --methods $methods --drawdown-control both --turnover 0.5
weights=()
for m in ${methods//,/ }; do weights+=(out/portfolio/$m/weights.h5 out/portfolio/${m}_dd/weights.h5); done
build/apps/run_backtest_evaluation --store out/universe.h5 --registry out/training/registry.h5 \
  --out out/portfolio/backtest --weights "${weights[@]}"
build/apps/predict_stock_movement --store out/universe.h5 --registry out/training/registry.h5 --out out/prediction
scripts/stage5_enhancements.sh out/universe.h5 out/stage5 out/training/registry.h5
# The sentiment path end to end on the synthetic default: its generated headlines, whose tone follows the
# next day's return (plus noise), join the ensemble.
if [ -f out/synthetic/headlines.csv ]; then
  build/apps/predict_stock_movement --store out/universe.h5 --registry out/training/registry.h5 \
    --out out/prediction_headlines --headlines out/synthetic/headlines.csv --ensemble stacking --calibration platt
fi
