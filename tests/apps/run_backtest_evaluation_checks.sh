#!/usr/bin/env bash
# End-to-end checks of run_backtest_evaluation on the stage-2 test registry (ctest runs each mode):
#   report     the app writes the report, metrics and daily series, and prints the scorecard
#   browser    headless Chromium renders report.html: the charts are drawn (paths and bars in the DOM,
#              a non-trivial screenshot) and the page logs nothing to the console (skipped, exit 77,
#              without chromium)
#   bad_input  a missing registry: exit 1 naming it; a registry made for another execution or horizon:
#              exit 1 naming both
set -euo pipefail
mode=$1 app=$2 store=$3 registry=$4 work=$5
case $mode in
  report)
    rm -rf "$work/report"
    out=$("$app" --store "$store" --registry "$registry" --out "$work/report" --long 10)
    echo "$out"
    echo "$out" | grep -q "scorecard (out of sample, after costs)"
    for f in report.html metrics.json metrics.csv daily.csv; do test -s "$work/report/$f"; done
    jq -e '.scorecard[0].name == "accuracy"' "$work/report/metrics.json"
    # P&L before and after costs: printed, in metrics.json (net = gross - costs = the total return, costs
    # paid) and on the report's first screen (scorecard, P&L, equity vs benchmark, then the metrics).
    echo "$out" | grep -q "P&L over the period: .* of capital before costs, costs .* after costs"
    jq -e '.pnl.costs > 0 and ((.pnl.gross - .pnl.costs - .pnl.net) | . * . < 1e-20)
           and ((.pnl.net - .strategy.total_return) | . * . < 1e-18)' "$work/report/metrics.json"
    grep -q '<p id="pnl">P&amp;L over the period' "$work/report/report.html"
    [ "$(grep -o '<h2>[A-Z][a-z]*' "$work/report/report.html" | head -3 | tr '\n' ' ')" = "<h2>Scorecard <h2>Equity <h2>Metrics " ]
    [ "$(grep -c . "$work/report/daily.csv")" -gt 100 ] ;;
  browser)
    browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
    [ -n "$browser" ] || { echo "no chromium: skipped"; exit 77; }
    page="$work/report/report.html"
    test -s "$page"
    flags=(--headless=new --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0)
    timeout 120 "$browser" "${flags[@]}" --dump-dom "file://$page" > "$work/dom.html" 2> "$work/browser.log"
    timeout 120 "$browser" "${flags[@]}" --window-size=1000,3000 --screenshot="$work/report.png" "file://$page" \
      > /dev/null 2>> "$work/browser.log"
    series=$(grep -o '<path class="series"[^>]*d="M[0-9]' "$work/dom.html" | wc -l)
    bars=$(grep -o '<rect class="bar"' "$work/dom.html" | wc -l)
    charts=$(grep -o '<svg id="[a-z_]*" class="chart"' "$work/dom.html" | wc -l)
    echo "charts $charts, drawn series $series, bars $bars"
    [ "$charts" -ge 9 ] && [ "$series" -ge 10 ] && [ "$bars" -ge 40 ] || { echo "charts are not drawn"; exit 1; }
    if grep "CONSOLE" "$work/browser.log"; then echo "the report logs to the console (errors?)"; exit 1; fi
    [ "$(stat -c %s "$work/report.png")" -gt 50000 ] || { echo "the screenshot is (nearly) blank"; exit 1; } ;;
  bad_input)
    set +e
    out=$("$app" --store "$store" --registry "$work/no_registry.h5" --out "$work/bad" 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "bad input: .*no_registry.h5" || exit 1
    # A registry trained for next_open, backtested at another execution or horizon: refused, naming both.
    for flags in "--execution next_close" "--horizon 3"; do
      out=$("$app" --store "$store" --registry "$registry" --out "$work/bad" $flags 2>&1); code=$?
      echo "$out"
      [ $code -eq 1 ] && echo "$out" | grep -q "made for execution next_open, horizon 1" &&
        echo "$out" | grep -q "asks for execution" || { echo "$flags was not refused naming both"; exit 1; }
    done ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
