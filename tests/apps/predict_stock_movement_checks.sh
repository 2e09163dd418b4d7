#!/usr/bin/env bash
# End-to-end checks of predict_stock_movement on the stage-2 test registries (ctest runs each mode):
#   ensemble   two members (the reference study and the small search), stacked and Platt-calibrated:
#              predictions.h5, predictions.csv and summary.json; then stage 3 takes its /regime_exposure
#              (--regime) and stage 4 backtests its predictions (--registry); the reported day is the
#              store's last (unlabelled) day, predicted by the reloaded models; --no-live stops a day before;
#              --fold-members adds the CV fold models
#   headlines  the synthetic store's headlines (process_new_data writes them beside the generated prices;
#              their tone follows the next day's return) join the ensemble as a member
#   bad_input  a missing registry, a regime table of the wrong length, a date outside the test period,
#              a headlines file with a bad date (exit 1 naming file, line and field)
set -euo pipefail
mode=$1 app=$2 optimizer=$3 backtest=$4 store=$5 reference=$6 search=$7 work=$8
mkdir -p "$work"
case $mode in
  ensemble)
    rm -rf "$work/ensemble"
    "$app" --store "$store" --registry "$reference" "$search" --out "$work/ensemble" --ensemble stacking \
      --calibration platt --rows 5 | tee "$work/ensemble.log"
    for f in predictions.h5 predictions.csv summary.json; do test -s "$work/ensemble/$f"; done
    grep -q "2 member(s), ensemble stacking, calibration platt, regime 2-state HMM (filtered)" "$work/ensemble.log"
    head -1 "$work/ensemble/predictions.csv" | grep -q "^date,ticker,probability,raw_probability,expected_return,confidence,abstain,disagreement,regime,regime_probability,member:reference,member:search$"
    [ "$(grep -c . "$work/ensemble/predictions.csv")" -gt 10 ]
    jq -e '.ensemble.stacking_coefficients | length == 3 and all(type == "number")' "$work/ensemble/summary.json"
    jq -e '.test.calibrated.count >= 1' "$work/ensemble/summary.json"
    grep -q "reference/registry.h5: [1-9][0-9]* predictions for .* from its reloaded models" "$work/ensemble.log"
    live_day=$(jq -r .day "$work/ensemble/summary.json")
    jq -e --arg day "$live_day" '.test_period.last == $day' "$work/ensemble/summary.json"
    [ "$(sed -n 2p "$work/ensemble/predictions.csv" | cut -d, -f1)" = "$live_day" ]
    "$app" --store "$store" --registry "$reference" --out "$work/ensemble_saved" --no-live --rows 1 > "$work/saved.log"
    saved_day=$(jq -r .day "$work/ensemble_saved/summary.json")
    [[ "$saved_day" < "$live_day" ]] && ! grep -q "reloaded" "$work/saved.log"
    # A fold ensemble: the reference study's final models and its 2 CV fold models.
    "$app" --store "$store" --registry "$reference" --fold-members --out "$work/folds" --rows 1 | tee "$work/folds.log"
    grep -q "3 member(s), ensemble mean" "$work/folds.log"
    head -1 "$work/folds/predictions.csv" | grep -q ",member:reference,member:reference#fold0,member:reference#fold1$"
    "$optimizer" --store "$store" --registry "$work/ensemble/predictions.h5" --out "$work/ensemble/portfolio" \
      --methods equal_weight --lookback 60 --regime "$work/ensemble/predictions.h5"
    test -s "$work/ensemble/portfolio/equal_weight/weights.h5"
    "$backtest" --store "$store" --registry "$work/ensemble/predictions.h5" --out "$work/ensemble/backtest"
    test -s "$work/ensemble/backtest/report.html" ;;
  headlines)
    rm -rf "$work/headlines"
    headlines=$(dirname "$store")/synthetic/headlines.csv
    head -1 "$headlines" | grep -q "^date,ticker,text$"
    "$app" --store "$store" --registry "$reference" --out "$work/headlines" --headlines "$headlines" \
      --ensemble stacking --calibration platt --rows 3 | tee "$work/headlines.log"
    grep -q "headlines: [1-9][0-9]* read from .*headlines.csv, 0 outside" "$work/headlines.log"
    # The bag-of-words scorer, trained on a small PhraseBank-format file.
    for k in 1 2 3; do
      printf 'Shares jump after strong profit@positive\nThe company beats estimates and raises guidance@positive\n'
      printf 'Shares fall after weak results@negative\nIt misses estimates and cuts guidance@negative\n'
      printf 'The company names a new board member@neutral\nIt schedules an earnings call@neutral\n'
    done > "$work/phrases.txt"
    "$app" --store "$store" --registry "$reference" --out "$work/headlines_bow" --headlines "$headlines" \
      --scorer bag_of_words --scorer-train "$work/phrases.txt" --rows 1 | tee "$work/headlines_bow.log"
    grep -q "bag-of-words scorer: 18 texts" "$work/headlines_bow.log"
    grep -q "2 member(s) (one of them headline sentiment)" "$work/headlines_bow.log"
    grep -q "2 member(s) (one of them headline sentiment)" "$work/headlines.log"
    head -1 "$work/headlines/predictions.csv" | grep -q ",member:reference,member:sentiment$" ;;
  bad_input)
    set +e
    out=$("$app" --store "$store" --registry "$work/no_registry.h5" --out "$work/bad" 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "bad input: .*no_registry.h5" || exit 1
    out=$("$app" --store "$store" --registry "$reference" --out "$work/bad" --regime-exposure 1,0.5,0.2 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "one value per state (2)" || exit 1
    out=$("$app" --store "$store" --registry "$reference" --out "$work/bad" --date 1999-01-04 2>&1); code=$?
    echo "$out"; [ $code -eq 2 ] && echo "$out" | grep -q "not a day of the test period" || exit 1
    printf 'date,ticker,text\n2019-13-01,AAA,shares jump\n' > "$work/headlines.csv"
    out=$("$app" --store "$store" --registry "$reference" --out "$work/bad" --headlines "$work/headlines.csv" 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "bad input: .*headlines.csv:2: field 'date'" || exit 1
    test ! -e "$work/bad/predictions.h5" ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
