#!/usr/bin/env bash
# Stage 5's enhancements switched on one at a time, each backtested out of sample by stage 4 (its
# default top-k rule and costs) on predict_stock_movement's output, and the regime's exposure through
# stage 3 (mean-variance with and without --regime). Prints one table; the runs stay in <out>.
#   scripts/stage5_enhancements.sh <store> <out> <registry> [<more registries, the ensemble's members>]
set -euo pipefail
store=$1 out=$2 registry=$3
shift 3
extra=("$@")
b=build/apps
mkdir -p "$out"
run() {  # name, predict_stock_movement options...
  local name=$1
  shift
  $b/predict_stock_movement --store "$store" --out "$out/$name" --rows 0 "$@" > "$out/$name.log"
  $b/run_backtest_evaluation --store "$store" --registry "$out/$name/predictions.h5" --out "$out/$name/backtest" \
    > "$out/$name/backtest.log"
}
none=(--calibration none --no-regime --regime-threshold 0,0)
run base --registry "$registry" "${none[@]}"
run calibration_platt --registry "$registry" --calibration platt --no-regime --regime-threshold 0,0
run calibration_isotonic --registry "$registry" --calibration isotonic --no-regime --regime-threshold 0,0
run abstention --registry "$registry" --calibration none --no-regime
run regime_confidence --registry "$registry" --calibration none
if [ ${#extra[@]} -gt 0 ]; then
  run ensemble_mean --registry "$registry" "${extra[@]}" "${none[@]}" --ensemble mean
  run ensemble_stacking --registry "$registry" "${extra[@]}" "${none[@]}" --ensemble stacking
  run all --registry "$registry" "${extra[@]}" --ensemble stacking --calibration isotonic
fi
# The regime's exposure through stage 3: mean-variance on the base predictions, without and with it.
for v in off on; do
  regime=()
  [ $v = on ] && regime=(--regime "$out/regime_confidence/predictions.h5")
  $b/portfolio_optimizer --store "$store" --registry "$out/base/predictions.h5" --out "$out/regime_exposure_$v" \
    --methods mean_variance --turnover 0.5 "${regime[@]}" > "$out/regime_exposure_$v.log"
  rm -rf "$out/regime_exposure_$v/mean_variance_regime_$v"  # named apart in the comparison
  mv "$out/regime_exposure_$v/mean_variance" "$out/regime_exposure_$v/mean_variance_regime_$v"
done
$b/run_backtest_evaluation --store "$store" --registry "$out/base/predictions.h5" --out "$out/regime_exposure" \
  --weights "$out/regime_exposure_off/mean_variance_regime_off/weights.h5" \
  "$out/regime_exposure_on/mean_variance_regime_on/weights.h5" \
  > "$out/regime_exposure.log"
metric() { grep "^$2," "$1" | cut -d, -f2; }
printf "%-20s %9s %9s %9s %8s %8s %8s %9s\n" variant accuracy brier coverage return sharpe max_dd turnover
for dir in "$out"/*/backtest; do
  name=$(basename "$(dirname "$dir")")
  m=$dir/metrics.csv
  s=$out/$name/summary.json
  brier=$(python3 -c "import json;d=json.load(open('$s'));print('%.5f'%d['test']['calibrated']['brier'])" 2>/dev/null || echo "?")
  coverage=$(python3 -c "import json;d=json.load(open('$s'));print('%.3f'%d['test']['coverage'])" 2>/dev/null || echo "?")
  printf "%-20s %9.4f %9s %9s %8.4f %8.3f %8.4f %9.4f\n" "$name" "$(metric "$m" accuracy)" "$brier" "$coverage" \
    "$(metric "$m" annual_return)" "$(metric "$m" sharpe)" "$(metric "$m" max_drawdown)" "$(metric "$m" mean_daily_turnover)"
done
echo "regime exposure through stage 3 (mean-variance on the base predictions):"
cut -d, -f1-7 "$out/regime_exposure/comparison.csv"
