#!/usr/bin/env bash
# The model recipe through the real apps: run_lstm_training and predict_stock_movement built again with
# the toy model linked in by qf_add_models() (what cmake -DQF_MODEL_SOURCES=... does to the apps)
# train it by name and rebuild it from the registry; the apps as built without it refuse the name.
set -euo pipefail
train_toy=$1 predict_toy=$2 train_plain=$3 predict_plain=$4 store=$5 work=$6
rm -rf "$work" && mkdir -p "$work"
args=(--store "$store" --model toy_last_and_mean --epochs 2 --folds 2 --window 20 --min-train 100 --hidden 8
      --features returns --quiet)

# Without the toy, the name is unknown and the error lists the known ones.
set +e; log=$("$train_plain" "${args[@]}" --out "$work/plain" 2>&1); code=$?; set -e
echo "$log"
[ "$code" -eq 1 ] && echo "$log" | grep -q "unknown architecture 'toy_last_and_mean' (known: .*lstm" ||
  { echo "run_lstm_training without the toy did not refuse it"; exit 1; }

# Stage 2 trains it by name: the trial table and the registry say which architecture.
"$train_toy" "${args[@]}" --out "$work/train"
grep -q ",toy_last_and_mean," "$work/train/trials.csv" || { cat "$work/train/trials.csv"; exit 1; }
first=$(h5ls "$work/train/registry.h5/models" | awk 'NR == 1 { print $1 }')
h5dump -a "/models/$first/architecture" "$work/train/registry.h5" | grep -q '"toy_last_and_mean"' ||
  { echo "the registry's model is not the toy"; h5dump -A "$work/train/registry.h5" | head -40; exit 1; }

# Stage 5 rebuilds it from the registry to predict the store's last (unlabelled) day.
"$predict_toy" --store "$store" --registry "$work/train/registry.h5" --out "$work/predict" --rows 1 | tee "$work/predict.log"
grep -q "predictions for .* from its reloaded models" "$work/predict.log"
set +e; log=$("$predict_plain" --store "$store" --registry "$work/train/registry.h5" --out "$work/predict_plain" 2>&1)
code=$?; set -e
echo "$log"
[ "$code" -ne 0 ] && echo "$log" | grep -q "unknown architecture 'toy_last_and_mean'" ||
  { echo "predict_stock_movement without the toy did not refuse it"; exit 1; }
