#!/usr/bin/env bash
# Compares two output folders of the same run_pipeline command (e.g. made before and after a refactor:
# issue 24 point 7) and exits non-zero on any difference. Usage: scripts/compare_outputs.sh <dirA> <dirB>
#
# What is compared, and what is left out:
#   * the list of files: identical (logs/ included);
#   * every HDF5 file (universe, checkpoints, registry, predictions, weights):
#       - data with h5diff, exactly (no tolerance; h5diff counts NaN = NaN, and -0 = +0);
#       - every object's name, type and shape and every attribute's value with `h5dump -A` (doubles
#         printed with 17 significant digits, so exactly);
#       left out: the registry's build_version attribute (project version + git commit);
#   * every other file byte for byte, after replacing in both:
#       - each run's output folder by @OUT@ (the store records its input files' paths);
#       - wall-clock timestamps (2026-12-06T19:25:54Z) by @UTC@;
#       - durations and memory: JSON values of keys ending in seconds / per_second / peak_rss_mb, and
#         the seconds and peak-memory cells of the HTML report's stage table;
#       - a version+commit string (0.1.0+08597f3);
#     left out: logs/*.log (progress lines: times, and per-ticker lines in thread order; their figures
#     are in the files compared), pipeline.lock, and in pipeline_state.txt the times, memory and the
#     hashes of stage inputs and outputs (the bytes of those files are compared here directly; the
#     registry's bytes hold the build version);
#   * when the two runs wrote to different folders, also: the store's bytes differ (it records paths),
#     so its content hash (data_hash, in study_key, the registry, training_summary.json and the
#     manifest, with the byte counts of the manifest's files under the output folder) is replaced by
#     @PATH_HASH@; run both at the same --out path (moving the first away) to compare those too.
# The output folder of a run is read from its pipeline_state.txt (stage.process.outputs), else it is the
# folder given; QF_ROOT_A / QF_ROOT_B override.
set -uo pipefail

if [ $# -ne 2 ] || [ ! -d "$1" ] || [ ! -d "$2" ]; then
  echo "usage: $0 <dirA> <dirB>  (two output folders of the same run_pipeline command)" >&2
  exit 2
fi
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
for tool in h5diff h5dump; do
  command -v $tool > /dev/null || { echo "$0: needs $tool (Debian: hdf5-tools)" >&2; exit 2; }
done

root_of() {  # the --out folder the run wrote to
  local dir=$1 state=$1/pipeline_state.txt line
  line=$(grep -m1 '^stage.process.outputs = ' "$state" 2> /dev/null | sed 's/^stage.process.outputs = //')
  if [ -n "$line" ]; then dirname "${line%%:*}"; else echo "$dir"; fi
}
ROOT_A=${QF_ROOT_A:-$(root_of "$A")}
ROOT_B=${QF_ROOT_B:-$(root_of "$B")}

# Hashes of files under the output folder as the manifest records them (only when the roots differ).
path_hashes() {
  local dir=$1 root=$2
  [ "$ROOT_A" = "$ROOT_B" ] && return
  grep -ho "{\"path\": \"$root/[^\"]*\", \"bytes\": [0-9]*, \"hash\": \"[0-9a-f]*\"" \
    "$dir"/manifest_*.json 2> /dev/null | sed -E 's/.*"hash": "([0-9a-f]+)"/\1/' | sort -u
}
HASHES_A=$(path_hashes "$A" "$ROOT_A")
HASHES_B=$(path_hashes "$B" "$ROOT_B")

# normalise <root> <hashes>: stdin -> stdout
normalise() {
  local root=$1 hashes=$2 h script
  script="s#${root}#@OUT@#g"
  script+=';s#[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z#@UTC@#g'
  script+=';s#("[A-Za-z_]*(seconds|per_second|peak_rss_mb)"): *[-+0-9.eEnaif]+#\1: @T@#g'
  script+=';s#(<tr><td>[a-z_]+</td><td>[a-z_ ]*</td>)<td>[^<]*</td><td>[^<]*</td>#\1<td>@T@</td><td>@RSS@</td>#g'
  script+=';s#[0-9]+\.[0-9]+\.[0-9]+\+([0-9a-f]{7,40}|nogit|unknown)#@BUILD@#g'
  for h in $hashes; do script+=";s#${h}#@PATH_HASH@#g"; done
  if [ -n "$hashes" ]; then script+=';s#("path": "@OUT@/[^"]*", "bytes": )[0-9]+#\1@BYTES@#g'; fi
  sed -E "$script"
}

failures=0
fail() {
  echo "DIFFERENT: $*"
  failures=$((failures + 1))
}

# 1. The same files.
list() { (cd "$1" && find . -type f ! -name pipeline.lock | LC_ALL=C sort); }
if ! diff <(list "$A") <(list "$B") > /tmp/compare_outputs.$$.list; then
  fail "the file lists (< only in $A, > only in $B):"
  cat /tmp/compare_outputs.$$.list
fi
rm -f /tmp/compare_outputs.$$.list

# h5dump of one object or of every attribute, normalised, without the line that names the file.
dump() {  # dump <file> <root> <hashes> <h5dump options...>
  local file=$1 root=$2 hashes=$3
  shift 3
  h5dump -w 0 -m '%.17g' "$@" "$file" 2>&1 | tail -n +2 | normalise "$root" "$hashes"
}

compare_h5() {
  local rel=$1 a=$A/$1 b=$B/$1 item kind path report
  if ! diff -q <(dump "$a" "$ROOT_A" "$HASHES_A" -A) <(dump "$b" "$ROOT_B" "$HASHES_B" -A) > /dev/null; then
    fail "$rel: objects or attributes (diff <(h5dump -A -m %.17g $a) <(h5dump -A -m %.17g $b)):"
    diff <(dump "$a" "$ROOT_A" "$HASHES_A" -A) <(dump "$b" "$ROOT_B" "$HASHES_B" -A) | head -20
  fi
  h5diff "$a" "$b" > /dev/null 2>&1
  case $? in
    0) return ;;
    1) ;;
    *) fail "$rel: h5diff could not compare the files"; return ;;
  esac
  # Differences found: attributes are judged above; a dataset may differ only by the output folder
  # named in its strings (the store's file lists and validation report).
  report=$(h5diff -v1 "$a" "$b" 2>&1 | awk '
    /^dataset: </ { item = "d " substr($2, 2, length($2) - 2); next }
    /^attribute: </ { item = ""; next }
    /^[0-9]+ differences? found/ { if (item != "" && $1 > 0) print item; item = ""; next }
    /is an empty dataset|Some objects are not comparable/ { next }  # empty on both sides: shapes compared above
    /[Nn]ot comparable/ { print "x " $0 }')
  while read -r kind path; do
    [ -z "$kind" ] && continue
    if [ "$kind" = x ]; then
      fail "$rel: h5diff: $path"
    elif ! diff -q <(dump "$a" "$ROOT_A" "$HASHES_A" -d "$path") <(dump "$b" "$ROOT_B" "$HASHES_B" -d "$path") \
      > /dev/null; then
      fail "$rel: dataset $path (h5diff -r $a $b $path)"
    fi
  done <<< "$report"
}

compare_text() {
  local rel=$1 a=$A/$1 b=$B/$1
  cmp -s "$a" "$b" && return
  local filter=cat
  if [ "$rel" = ./pipeline_state.txt ]; then
    filter="grep -vE '(_utc|\\.seconds|\\.peak_rss_mb|\\.inputs|\\.outputs|\\.key|started_key) = '"
  fi
  if ! cmp -s <(eval "$filter" < "$a" | normalise "$ROOT_A" "$HASHES_A") \
    <(eval "$filter" < "$b" | normalise "$ROOT_B" "$HASHES_B"); then
    fail "$rel:"
    diff <(eval "$filter" < "$a" | normalise "$ROOT_A" "$HASHES_A") \
      <(eval "$filter" < "$b" | normalise "$ROOT_B" "$HASHES_B") | cut -c1-300 | head -10
  fi
}

compared=0
while read -r rel; do
  [ -f "$B/$rel" ] || continue
  case $rel in
    ./logs/*.log) continue ;;
    *.h5) compare_h5 "$rel" ;;
    *) compare_text "$rel" ;;
  esac
  compared=$((compared + 1))
done < <(list "$A")

if [ $failures -ne 0 ]; then
  echo "compare_outputs: $failures difference(s) between $A and $B"
  exit 1
fi
echo "compare_outputs: $compared files identical (as above) between $A and $B (runs in $ROOT_A and $ROOT_B)"
