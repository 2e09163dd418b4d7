#!/usr/bin/env bash
# End-to-end checks of portfolio_optimizer on the stage-2 test registry (ctest runs each mode):
#   compare    four methods, each with and without drawdown control: weights.h5, decisions.csv and
#              weights.csv per variant; then run_backtest_evaluation compares the eight side by side
#   bad_input  infeasible constraints (exit 1 naming them), a missing registry, a regime file of the
#              wrong length (exit 1 naming the file)
set -euo pipefail
mode=$1 app=$2 backtest=$3 store=$4 registry=$5 work=$6
methods=equal_weight,mean_variance,risk_parity,confidence_top_k
case $mode in
  compare)
    rm -rf "$work/compare"
    "$app" --store "$store" --registry "$registry" --out "$work/compare" --methods $methods \
      --drawdown-control both --lookback 60 --turnover 0.5 --min-position 0.005
    files=()
    for m in ${methods//,/ }; do
      for v in "$m" "${m}_dd"; do
        for f in weights.h5 decisions.csv weights.csv; do test -s "$work/compare/$v/$f"; done
        head -1 "$work/compare/$v/decisions.csv" | grep -q "binding,rules"
        [ "$(grep -c . "$work/compare/$v/decisions.csv")" -gt 20 ]
        files+=("$work/compare/$v/weights.h5")
      done
    done
    "$backtest" --store "$store" --registry "$registry" --out "$work/compare/backtest" --weights "${files[@]}"
    test -s "$work/compare/backtest/comparison.html"
    [ "$(grep -c . "$work/compare/backtest/comparison.csv")" -eq 9 ]
    [ "$(grep -c '<svg id="[a-z]*" class="chart"' "$work/compare/backtest/comparison.html")" -eq 3 ]
    [ "$(grep -c '<path class="series"' "$work/compare/backtest/comparison.html")" -eq 26 ]  # equity and drawdown: 8 + the benchmark; exposure: 8
    for v in equal_weight mean_variance_dd risk_parity confidence_top_k_dd; do
      grep -q "<td style=\"text-align:left\">$v</td>" "$work/compare/backtest/comparison.html"
      test -s "$work/compare/backtest/$v/report.html"
    done
    # The default turnover control is a 40 % limit: the default run's weights are --turnover 0.4's.
    help=$("$app" --help)  # (not piped into grep -q: pipefail and SIGPIPE)
    echo "$help" | grep -q -- "--turnover arg (=0.4)"
    "$app" --store "$store" --registry "$registry" --out "$work/default" --lookback 60 --methods confidence_top_k
    "$app" --store "$store" --registry "$registry" --out "$work/limit" --lookback 60 --methods confidence_top_k \
      --turnover 0.4
    h5diff "$work/default/confidence_top_k/weights.h5" "$work/limit/confidence_top_k/weights.h5" ;;
  bad_input)
    set +e
    out=$("$app" --store "$store" --registry "$registry" --out "$work/bad" --lookback 60 --name-cap 0.0001 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "infeasible constraints: net exposure (lower), .*upper bounds of" || exit 1
    out=$("$app" --store "$store" --registry "$work/no_registry.h5" --out "$work/bad" 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "bad input: .*no_registry.h5" || exit 1
    python3 - "$work/regime.h5" <<'PY' 2>/dev/null || { echo "no h5py: regime file check skipped"; exit 0; }
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["/regime_exposure"] = np.ones(3)
PY
    out=$("$app" --store "$store" --registry "$registry" --out "$work/bad" --lookback 60 --regime "$work/regime.h5" 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "bad input: .*regime.h5.*3 values" ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
