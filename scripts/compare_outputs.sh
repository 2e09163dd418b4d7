#!/usr/bin/env bash
# Compares two output folders of the same run_pipeline command (e.g. made before and after a refactor:
# issue 24 point 7) and exits non-zero on any difference. Usage: scripts/compare_outputs.sh <dirA> <dirB>
#
# What is compared, and what is left out:
#   * the list of files: identical (logs/ included);
#   * every HDF5 file (universe, checkpoints, registry, predictions, weights):
#       - data with h5diff, exactly (no tolerance; h5diff counts NaN = NaN, and -0 = +0), except a string
#         dataset whose name ends in _json (the store's /validation/report_json): compared as JSON, below;
#       - every object's name, type and shape and every attribute's value with `h5dump -A` (doubles
#         printed with 17 significant digits, so exactly);
#       left out: the registry's build_version attribute (project version + git commit);
#   * every .json and .jsonl file (a .jsonl file as the list of its lines' records) as parsed JSON, with
#     jq, so that layout (indentation, line breaks, spaces) does not count:
#       - the same keys in the same order, the same arrays and nesting, the same types; strings, booleans
#         and nulls exactly;
#       - numbers: equal; or, when either side is printed with 12 significant digits or fewer (the
#         writers before nlohmann/json printed %.12g), equal to 12 significant digits; and to 6 when
#         one side is 10^6 or more with 6 significant digits at most (the old training summary printed
#         its sample counts with %g: 2.03031e+06). Two files written by the nlohmann writers print full
#         precision (up to 17 digits), so their numbers must be equal unless one side needs 12 digits or
#         fewer;
#       - durations and memory: the values of keys ending in seconds / per_second / peak_rss_mb;
#   * every other file byte for byte;
#   * in text, JSON strings and HDF5 attributes, these are replaced in both before comparing:
#       - each run's output folder by @OUT@ (the store records its input files' paths);
#       - wall-clock timestamps (2026-12-06T19:25:54Z) by @UTC@;
#       - durations and memory: the seconds and peak-memory cells of the HTML report's stage table;
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
# folder given; QF_ROOT_A / QF_ROOT_B override. Needs h5diff and h5dump (hdf5-tools) and jq.
set -uo pipefail

if [ $# -ne 2 ] || [ ! -d "$1" ] || [ ! -d "$2" ]; then
  echo "usage: $0 <dirA> <dirB>  (two output folders of the same run_pipeline command)" >&2
  exit 2
fi
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
for tool in h5diff h5dump jq; do
  command -v $tool > /dev/null || { echo "$0: needs $tool (Debian: hdf5-tools, jq)" >&2; exit 2; }
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
  local dir=$1 root=$2 manifest
  [ "$ROOT_A" = "$ROOT_B" ] && return
  for manifest in "$dir"/manifest_*.json; do
    [ -f "$manifest" ] || continue
    jq -r --arg root "$root/" '(.inputs[]?, .outputs[]?) | select(.path | startswith($root)) | .hash' "$manifest"
  done | sort -u
}
HASHES_A=$(path_hashes "$A" "$ROOT_A")
HASHES_B=$(path_hashes "$B" "$ROOT_B")

# normalise <root> <hashes>: stdin -> stdout
normalise() {
  local root=$1 hashes=$2 h script
  script="s#${root}#@OUT@#g"
  script+=';s#[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z#@UTC@#g'
  script+=';s#(<tr><td>[a-z_]+</td><td>[a-z_ ]*</td>)<td>[^<]*</td><td>[^<]*</td>#\1<td>@T@</td><td>@RSS@</td>#g'
  script+=';s#[0-9]+\.[0-9]+\.[0-9]+\+([0-9a-f]{7,40}|nogit|unknown)#@BUILD@#g'
  for h in $hashes; do script+=";s#${h}#@PATH_HASH@#g"; done
  sed -E "$script"
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
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

# A JSON document (or JSON Lines records, as one list) as one line per leaf: path, type, value (tab
# separated), after normalise and, in jq, the durations and (roots differ) the manifest's byte counts of
# files under the output folder replaced.
json_leaves() {  # json_leaves <file> <root> <hashes>
  local file=$1 root=$2 hashes=$3
  tr -d '\000' < "$file" | normalise "$root" "$hashes" | jq -s -r --arg bytes "${hashes:+yes}" '
    walk(if type == "object" then
           with_entries(if (.key | test("(seconds|per_second|peak_rss_mb)$")) then .value = "@T@" else . end)
           | if $bytes == "yes" and (.path | type) == "string" and (.path | startswith("@OUT@/")) and has("bytes")
             then .bytes = "@BYTES@" else . end
         else . end)
    | tostream
    | if length == 2 then [(.[0] | tojson), (.[1] | type), (.[1] | tojson)] else [(.[0] | tojson), "end", ""] end
    | @tsv' 2>&1 || echo "not JSON: $file"
}

# Compares two JSON files leaf by leaf (numbers as the header says); prints up to 10 differences.
same_json() {  # same_json <fileA> <fileB>
  awk -F '\t' '
    function digits(s) {  # significant digits of a number as jq prints it (shortest round trip)
      sub(/^-/, "", s); sub(/[eE].*/, "", s); sub(/\./, "", s); sub(/^0+/, "", s); sub(/0+$/, "", s)
      return length(s) ? length(s) : 1
    }
    function old_g6(s) {  # a count of 10^6 or more with 6 digits at most: an old %g print (2.03031e+06)
      return digits(s) <= 6 && (s + 0 >= 1e6 || s + 0 <= -1e6)
    }
    function same_number(a, b,   p, fmt) {
      if (a + 0 == b + 0) return 1
      if (digits(a) > 12 && digits(b) > 12) return 0  # both full precision: equal or different
      p = (old_g6(a) || old_g6(b)) ? 6 : 12
      fmt = "%." (p - 1) "e"
      return sprintf(fmt, a + 0) == sprintf(fmt, b + 0)
    }
    NR == FNR { a[FNR] = $0; pa[FNR] = $1; ta[FNR] = $2; va[FNR] = $3; na = FNR; next }
    {
      nb = FNR
      if (FNR > na) { if (shown++ < 10) print "  only in B: " $0; bad = 1; next }
      if ($0 == a[FNR]) next
      if ($1 == pa[FNR] && $2 == "number" && ta[FNR] == "number" && same_number(va[FNR], $3)) next
      if (shown++ < 10) print "  A: " a[FNR] "\n  B: " $0
      bad = 1
    }
    END {
      for (k = nb + 1; k <= na; k++) { if (shown++ < 10) print "  only in A: " a[k]; bad = 1 }
      exit bad
    }' "$1" "$2"
}

compare_json() {  # compare_json <label> <fileA> <fileB>
  local rel=$1 a=$2 b=$3 out
  out=$(same_json <(json_leaves "$a" "$ROOT_A" "$HASHES_A") <(json_leaves "$b" "$ROOT_B" "$HASHES_B")) ||
    { fail "$rel (as JSON; path, type, value):"; echo "$out"; }
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
    elif [[ $path == *_json ]]; then  # a JSON document in a string: its bytes, compared as JSON
      h5dump -d "$path" -b NATIVE -o "$TMP/a.json" "$a" > /dev/null 2>&1
      h5dump -d "$path" -b NATIVE -o "$TMP/b.json" "$b" > /dev/null 2>&1
      compare_json "$rel: dataset $path" "$TMP/a.json" "$TMP/b.json"
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
    *.json | *.jsonl) cmp -s "$A/$rel" "$B/$rel" || compare_json "$rel" "$A/$rel" "$B/$rel" ;;
    *) compare_text "$rel" ;;
  esac
  compared=$((compared + 1))
done < <(list "$A")

if [ $failures -ne 0 ]; then
  echo "compare_outputs: $failures difference(s) between $A and $B"
  exit 1
fi
echo "compare_outputs: $compared files identical (as above) between $A and $B (runs in $ROOT_A and $ROOT_B)"
