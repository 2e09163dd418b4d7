#!/usr/bin/env bash
# The planted edge, found, and its control (label slow): run_pipeline with every default but the size, 100
# synthetic tickers (the default calendar, five years, and the default edge), into <work>:
#   planted SEED  stage 2's accuracy on the untouched test period >= 50 % + 0.6 x (oracle - 50 %), where the
#                 oracle is the planted edge's on the same decisions (the report stage computes it from the
#                 generator's definition, data/synthetic_universe.h: planted_oracle_accuracy), and the
#                 default backtest's Sharpe after costs > 0 (and the oracle above 53 %: an edge is planted)
#   control       --random-walk, a pure random walk with nothing planted: stage 2's test accuracy and AUC
#                 within 50 +/- 1.5 points, and the backtest's |Sharpe| < 1 (a book that never takes a
#                 position, Sharpe n/a, passes: with nothing to find, not trading is the right answer)
# Each run takes about 10 s of CPU on 2 cores.
set -euo pipefail
mode=$1 pipeline=$2 work=$3 seed=${4:-}
rm -rf "$work"
args=(--out "$work" --tickers 100 --as-of 2026-12-06 --quiet)
case $mode in
  planted) args+=(--seed "$seed") ;;
  control) args+=(--random-walk) ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
set +e
"$pipeline" "${args[@]}" | tee "$work.log"
code=${PIPESTATUS[0]}
set -e
[ "$code" -eq 0 ] || [ "$code" -eq 3 ] || { echo "run_pipeline failed ($code)"; exit 1; }  # 3: alerts

# A metric of the report's metrics.json ("null" when it has no value).
metric() {
  local value
  value=$(grep -o "\"$1\": *[-0-9.eE+nul]*" "$work/report/metrics.json" | head -1 | sed 's/^[^:]*: *//')
  [ -n "$value" ] || { echo "no metric $1 in $work/report/metrics.json" >&2; exit 1; }
  echo "$value"
}
accuracy=$(metric test_accuracy) auc=$(metric test_auc) oracle=$(metric oracle_test_accuracy)
sharpe=$(metric portfolio_sharpe)
echo "stage 2 test accuracy $accuracy, AUC $auc; the planted edge's oracle $oracle; backtest Sharpe $sharpe"
check() {  # check <awk condition> <what>: fails the test, naming what, when the condition is false
  if awk -v a="$accuracy" -v u="$auc" -v o="$oracle" -v s="$sharpe" "BEGIN { exit !($1) }"; then
    echo "ok: $2"
  else
    echo "FAILED: $2"
    exit 1
  fi
}
case $mode in
  planted)
    check "o > 0.53" "the default plants an edge: its oracle scores $oracle > 53 %"
    check "a >= 0.5 + 0.6 * (o - 0.5)" "test accuracy $accuracy >= 50 % + 0.6 x (oracle $oracle - 50 %)"
    check "s != \"null\" && s > 0" "Sharpe after costs $sharpe > 0" ;;
  control)
    check "a > 0.485 && a < 0.515" "test accuracy $accuracy within 50 +/- 1.5 points"
    check "u > 0.485 && u < 0.515" "test AUC $auc within 50 +/- 1.5 points"
    if [ "$sharpe" = null ]; then
      total=$(metric portfolio_total_return)
      awk -v t="$total" 'BEGIN { exit !(t == 0) }' || { echo "FAILED: Sharpe n/a, yet the book moved ($total)"; exit 1; }
      echo "ok: the book took no position (Sharpe n/a)"
    else
      check "s > -1 && s < 1" "|Sharpe $sharpe| < 1"
    fi ;;
esac
