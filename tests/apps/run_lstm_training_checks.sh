#!/usr/bin/env bash
# End-to-end checks of run_lstm_training on a small store (ctest runs each mode as its own test):
#   reference  a full run (2 threads) into <work>/reference
#   resume     a run ended abruptly (--abort-after) and rerun must give the reference registry; a rerun
#              with another --execution is refused, naming both modes
#   mpi        2 MPI ranks (1 thread each) must give the reference registry (skipped, exit 77, without mpirun)
#   search     a grid of 2 trials: both scored, one selected
#   bad_input  a missing store and an unknown feature: exit 1 with a message naming them
set -euo pipefail
mode=$1 app=$2 store=$3 work=$4
base=(--store "$store" --epochs 2 --folds 2 --window 20 --min-train 100)
common=("${base[@]}" --hidden 8 --features returns)
# OpenMPI refuses root without these; its allocations are not ours to leak-check.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
same_registry() {
  h5diff -q "$work/reference/registry.h5" "$1/registry.h5" ||
    { echo "registry $1 differs from the reference"; h5diff -r "$work/reference/registry.h5" "$1/registry.h5" | head -20; exit 1; }
  cmp "$work/reference/coverage.csv" "$1/coverage.csv"
}
case $mode in
  reference)
    rm -rf "$work/reference"
    "$app" "${common[@]}" --quiet --threads 2 --out "$work/reference"
    grep -q "coverage:" "$work/reference/summary.txt"
    test -s "$work/reference/registry.h5" ;;
  resume)
    rm -rf "$work/resume"
    # One thread, so that exactly 5 units are finished when it ends; the rerun uses 2.
    set +e; "$app" "${common[@]}" --quiet --threads 1 --out "$work/resume" --abort-after 5; code=$?; set -e
    [ "$code" -eq 137 ] || { echo "the aborted run exited $code, not 137"; exit 1; }
    [ ! -e "$work/resume/registry.h5" ] || { echo "an aborted run wrote a registry"; exit 1; }
    log=$("$app" "${common[@]}" --threads 2 --out "$work/resume" 2>&1 >/dev/null)
    echo "$log" | grep "resumed"
    echo "$log" | grep -q "(5 resumed from checkpoints)" || { echo "the rerun did not resume 5 units"; exit 1; }
    same_registry "$work/resume"
    # Resuming into it with another execution mode is refused, naming both.
    set +e; log=$("$app" "${common[@]}" --quiet --execution close --out "$work/resume" 2>&1); code=$?; set -e
    echo "$log"
    [ "$code" -eq 1 ] && echo "$log" | grep -q "the folder's execution=next_open, this run's execution=close" ||
      { echo "a resume with another execution mode was not refused naming both"; exit 1; } ;;
  mpi)
    command -v mpirun > /dev/null || { echo "no mpirun: skipped"; exit 77; }
    rm -rf "$work/mpi"
    mpirun -n 2 --oversubscribe "$app" "${common[@]}" --quiet --threads 1 --out "$work/mpi"
    jq -e '.ranks == 2' "$work/mpi/training_summary.json" ||
      { echo "not an MPI build or not 2 ranks:"; cat "$work/mpi/training_summary.json"; exit 77; }
    same_registry "$work/mpi" ;;
  search)
    rm -rf "$work/search"
    "$app" "${base[@]}" --features returns --quiet --hidden 4,8 --out "$work/search"
    [ "$(wc -l < "$work/search/trials.csv")" -eq 3 ] || { cat "$work/search/trials.csv"; exit 1; }
    [ "$(awk -F, 'NR > 1 { s += $NF } END { print s }' "$work/search/trials.csv")" -eq 1 ] ;;
  bad_input)
    set +e
    out=$("$app" --store "$work/no_such_store.h5" --out "$work/bad" 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "bad input: .*no_such_store.h5" || exit 1
    out=$("$app" "${base[@]}" --hidden 8 --features returns,rsi_15 --out "$work/bad" 2>&1); code=$?
    echo "$out"; [ $code -eq 1 ] && echo "$out" | grep -q "feature 'rsi_15' is not in the store" || exit 1 ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
