#!/usr/bin/env bash
# End-to-end checks of run_pipeline on a small synthetic universe (ctest runs each mode):
#   rerun      a full run from a config file; a rerun skips every stage; --from predict reruns the last
#              three and gives the same bytes; --status prints the state
#   daily      daily update mode: 5 new days appended, the models kept (retrain not due) and reloaded
#              for the new days, the day's report written; then a due retrain
#   alerts     a rule that fires: the JSON log, the report, the user's command (with the alert in its
#              environment) and exit status 3
#   faults     SIGKILL at a random point of each stage, then a rerun: the outputs equal an
#              uninterrupted run's, every HDF5 file left behind opens, and no temporary remains
#   bad_input  a missing input folder, an unknown option, a corrupt price file (the failing stage and
#              its log are named), a second pipeline on a locked folder
set -euo pipefail
mode=$1 pipeline=$2 generator=$3 work=$4
mkdir -p "$work"
config=$work/small.cfg
cat > "$config" <<'EOF'
# A small pipeline: 40 synthetic tickers, tiny models.
tickers = 40
seed = 7
[train]
args = --epochs 2 --hidden 8 --window 20 --features returns --folds 2 --min-train 100
[optimise]
methods = equal_weight
args = --lookback 60
EOF
# run_pipeline's exit status: 0 or 3 (alerts) both mean every stage finished.
run() { set +e; "$pipeline" "$@"; local code=$?; set -e; [ $code -eq 0 ] || [ $code -eq 3 ] || return $code; }
same_outputs() {  # the outputs of two pipeline folders are equal
  h5diff "$1/training/registry.h5" "$2/training/registry.h5"
  h5diff "$1/prediction/predictions.h5" "$2/prediction/predictions.h5"
  h5diff "$1/portfolio/equal_weight/weights.h5" "$2/portfolio/equal_weight/weights.h5"
  cmp "$1/backtest/daily.csv" "$2/backtest/daily.csv"
  cmp "$1/prediction/predictions.csv" "$2/prediction/predictions.csv"
}

case $mode in
  rerun)
    out=$work/rerun; rm -rf "$out"
    run --config "$config" --out "$out" --quiet | tee "$work/rerun1.log"
    for f in universe.h5 training/registry.h5 prediction/predictions.h5 portfolio/equal_weight/weights.h5 \
             backtest/report.html report/index.html report/metrics.json pipeline_state.txt; do test -s "$out/$f"; done
    grep -q "report -> $out/report/index.html" "$work/rerun1.log"
    [ "$(grep -c ' running (log' "$work/rerun1.log")" -eq 5 ]
    # The closing lines: the scorecard (4 targets), the P&L before and after costs, what it means.
    grep -Eq "scorecard \(backtest, out of sample, after costs\): [0-4] of 4 plan targets met" "$work/rerun1.log"
    [ "$(grep -Ec '^  (accuracy|annual_return|max_drawdown|sharpe) ' "$work/rerun1.log")" -eq 4 ]
    grep -q "P&L .* of capital before costs, .* costs, .* after costs" "$work/rerun1.log"
    grep -q "run_pipeline: The synthetic universe carries a planted edge (an oracle that knows it scores [0-9.]* %); it was \(NOT \)\?recovered: test accuracy" "$work/rerun1.log"
    # The daily report: the backtest report's page head, the first screen in order (scorecard, P&L,
    # equity vs benchmark, the data's findings), the monitored days' charts, counts as integers and days
    # as days, the predictions with the calibrated and the raw probability.
    page=$out/report/index.html
    grep -q "<style>" "$page" && grep -q 'class="chart"' "$page"
    [ "$(grep -o '<h2>[A-Z][a-z]*' "$page" | grep -v Alerts | head -4 | tr '\n' ' ')" = "<h2>Scorecard <h2>Equity <h2>Data <h2>The " ]
    grep -q '<p id="pnl">P&amp;L, % of capital: -\?[0-9.]* % before costs' "$page"
    grep -q '<svg id="live_accuracy"' "$page" && grep -q '<svg id="recent_equity"' "$page"
    grep -q '<td>tickers</td><td>40</td>' "$page" && grep -Eq '<td>data_age_days</td><td>[0-9]+ days?</td>' "$page"
    grep -q '<th>P(up), calibrated</th><th>P(up), raw (breaks ties)</th>' "$page"
    grep -q '<ul id="findings">' "$page" && grep -q '<li>Validation: [0-9]* finding(s)' "$page"
    run --config "$config" --out "$out" --quiet | tee "$work/rerun2.log"
    [ "$(grep -c 'up to date' "$work/rerun2.log")" -eq 5 ]
    cp "$out/prediction/predictions.h5" "$work/predictions_before.h5"
    run --config "$config" --out "$out" --quiet --from predict | tee "$work/rerun3.log"
    [ "$(grep -c 'up to date' "$work/rerun3.log")" -eq 2 ] && [ "$(grep -c ' running (log' "$work/rerun3.log")" -eq 3 ]
    h5diff "$work/predictions_before.h5" "$out/prediction/predictions.h5"
    # A changed training option reruns training and everything after it.
    run --config "$config" --out "$out" --quiet --train.args "--epochs 1 --hidden 8 --window 20 --features returns --folds 2 --min-train 100" \
      | tee "$work/rerun4.log"
    grep -q "process  up to date" "$work/rerun4.log" && grep -q "train    running" "$work/rerun4.log"
    "$pipeline" --out "$out" --status | tee "$work/status.log"
    grep -q "data          up to 2014-10-31 (1260 trading days)" "$work/status.log"
    grep -q "models        trained .* on data up to 2014-10-31 (0 trading days old)" "$work/status.log"
    grep -Eq "stage\.train\.inputs = .*universe\.h5:[0-9a-f]{16}" "$out/pipeline_state.txt" ;;
  daily)
    rm -rf "$work/daily"; mkdir -p "$work/daily"
    "$generator" --out "$work/daily/full" --tickers 30 --days 700 --seed 3 > /dev/null
    cp -r "$work/daily/full" "$work/daily/feed"
    for f in "$work"/daily/feed/prices/*.csv "$work/daily/feed/index.csv"; do head -n -5 "$f" > "$f.cut"; mv "$f.cut" "$f"; done
    # The small configuration on the feed (its synthetic-universe keys are then unused).
    { printf 'input = %s\nconstituents = %s\nbenchmark = %s\nretrain-every = 10\n' "$work/daily/feed/prices" \
        "$work/daily/feed/constituents.csv" "$work/daily/feed/index.csv"; cat "$config"; } > "$work/daily/daily.cfg"
    out=$work/daily/out
    run --config "$work/daily/daily.cfg" --out "$out" --quiet
    first_day=$(sed -n 's/^data.last_day = //p' "$out/pipeline_state.txt")
    # The day's new rows arrive.
    cp "$work"/daily/full/prices/*.csv "$work/daily/feed/prices/"; cp "$work/daily/full/index.csv" "$work/daily/feed/"
    run --config "$work/daily/daily.cfg" --out "$out" --quiet --update | tee "$work/daily/update.log"
    grep -q "train    kept: retrain not due (models 5 of 10 trading days old" "$work/daily/update.log"
    grep -q "predictions for .* from its reloaded models" "$out/logs/predict.log"
    new_day=$(sed -n 's/^data.last_day = //p' "$out/pipeline_state.txt")
    [[ "$first_day" < "$new_day" ]]
    test -s "$out/report/$new_day.html" && test -s "$out/report/$first_day.html"
    grep -q "data up to $new_day" "$out/report/index.html"
    [ "$(sed -n 2p "$out/prediction/predictions.csv" | cut -d, -f1)" = "$new_day" ]
    # With a shorter schedule the same models are due.
    run --config "$work/daily/daily.cfg" --out "$out" --quiet --update --retrain-every 3 | tee "$work/daily/due.log"
    grep -q "train    running" "$work/daily/due.log"
    "$pipeline" --out "$out" --status | grep -q "on data up to $new_day (0 trading days old)" ;;
  alerts)
    out=$work/alerts; rm -rf "$out"; rm -f "$work/alerts_received.txt"
    set +e
    "$pipeline" --config "$config" --out "$out" --quiet --alert.min-coverage 1.5 --alert.max-drawdown 0 \
      --alert.max-feature-psi 0 --alert.command "echo \"\$QF_ALERT_METRIC|\$QF_ALERT_MESSAGE|\$QF_ALERT_REPORT\" >> $work/alerts_received.txt" \
      > "$work/alerts.log" 2>&1
    code=$?; set -e
    cat "$work/alerts.log"
    [ $code -eq 3 ]
    grep -q "^coverage|coverage 0.975 < 1.5|.*report/index.html$" "$work/alerts_received.txt"
    jq -e -s 'any(.[]; .metric == "coverage" and .value == 0.975 and .threshold == 1.5)' "$out/alerts.jsonl"
    grep -q 'class="alert">coverage 0.975 &lt; 1.5' "$out/report/index.html"
    "$pipeline" --out "$out" --status | grep -q "last alerts   coverage 0.975 < 1.5"
    # Without the rule nothing fires and the exit status is 0.
    "$pipeline" --config "$config" --out "$out" --quiet --alert.max-drawdown 0 --alert.max-feature-psi 0 \
      --alert.min-live-accuracy 0 --alert.max-brier-drift 0 > /dev/null ;;
  faults)
    # Every run uses the same folder (the store records its source paths), the reference moved aside.
    ref=$work/faults_reference out=$work/faults_run; rm -rf "$ref" "$out"
    run --config "$config" --out "$out" --quiet > /dev/null
    mv "$out" "$ref"
    # Each stage's length in the uninterrupted run, from its state manifest.
    stages=(process train predict optimise backtest)
    mapfile -t seconds < <(for s in "${stages[@]}"; do sed -n "s/^stage\.$s\.seconds = //p" "$ref/pipeline_state.txt"; done)
    trial=0
    for k in 0 1 2 3 4; do
      for repeat in 1 2; do
        trial=$((trial + 1)); rm -rf "$out"
        setsid "$pipeline" --config "$config" --out "$out" --quiet > "$work/faults_$trial.log" 2>&1 &
        pid=$!
        # Wait for the stage to start (the state manifest says so), then kill at a random point of it.
        for _ in $(seq 2000); do
          grep -q "^stage\.${stages[$k]}\.status = running" "$out/pipeline_state.txt" 2> /dev/null && break
          kill -0 "$pid" 2> /dev/null || break
          sleep 0.002
        done
        delay=$(awk -v d="${seconds[$k]}" -v r="$RANDOM" 'BEGIN { printf "%.3f", d * r / 32768 }')
        sleep "$delay"
        kill -KILL -- -"$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
        running=$(sed -n 's/^stage\.\([a-z]*\)\.status = running$/\1/p' "$out/pipeline_state.txt" 2> /dev/null || true)
        echo "trial $trial: aimed at ${stages[$k]} (+$delay s), killed in: ${running:-none (between stages or done)}"
        # Whatever is left opens: no half-written file under its final name.
        find "$out" -name '*.h5' ! -name '*.tmp.*' -print0 | xargs -0 -r -n1 h5ls > /dev/null
        run --config "$config" --out "$out" --quiet > "$work/faults_${trial}_rerun.log"
        same_outputs "$ref" "$out"
        [ -z "$(find "$out" -name '*.tmp.*')" ]
      done
    done ;;
  bad_input)
    set +e
    out=$("$pipeline" --input "$work/no_such_folder" --out "$work/bad" 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "bad input: .*no_such_folder" || exit 1
    out=$("$pipeline" --out "$work/bad" --no-such-option 2>&1); code=$?
    echo "$out"; [ $code -eq 2 ] || exit 1
    out=$("$pipeline" --out "$work/bad" --from somewhere 2>&1); code=$?
    echo "$out"; [ $code -eq 2 ] && echo "$out" | grep -q "expected one of process" || exit 1
    mkdir -p "$work/bad_feed"
    printf 'date,open,high,low,close,volume,Name\n2019-01-02,1,1,1,1,100,AAA\n\x00\x01\x02 not a price row\n' > "$work/bad_feed/AAA_data.csv"
    out=$("$pipeline" --input "$work/bad_feed" --out "$work/bad" --quiet 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "stage process failed (exit status 1); see .*logs/process.log" || exit 1
    grep -q "AAA_data.csv" "$work/bad/logs/process.log" || exit 1
    # A second pipeline on a folder in use is refused.
    exec 9> "$work/bad/pipeline.lock"; flock 9
    out=$("$pipeline" --config "$config" --out "$work/bad" 2>&1); code=$?
    exec 9>&-
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "another run_pipeline is working in" || exit 1 ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
