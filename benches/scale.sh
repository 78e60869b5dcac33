#!/usr/bin/env bash
# Cost that grows linearly: `retrace ls --json` (load) and a one-shot `retrace search`
# on generated histories of 1, 2 and 4 GB, with `cat` and `grep -c` of the same file in
# the same round; prints time and peak memory per GB for each size and how far apart
# the per-GB figures are (max/min - 1: the target is within 15%).
# Usage: benches/scale.sh [ROUNDS]   (default 3; medians over the rounds)
# The histories are written once by ../shared/tools/gen_runs.py into
# $RETRACE_BENCH_DIR (default target/bench-data/; about 7 GB); both --no-cache (parsing)
# and the warm index cache are measured, the cache under target/bench-cache/.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shared=${RETRACE_SHARED:-../shared}
dir=${RETRACE_BENCH_DIR:-target/bench-data}
target=${CARGO_TARGET_DIR:-target}
bin="$target/release/retrace"
export XDG_CACHE_HOME="$PWD/target/bench-cache"
mkdir -p "$dir" "$XDG_CACHE_HOME"
if [ ! -f "$shared/tools/gen_runs.py" ]; then
  echo "skipped: $shared/tools/gen_runs.py not found (set RETRACE_SHARED)"
  exit 0
fi
declare -A files=([1]="$dir/big.jsonl" [2]="$dir/big-2g.jsonl" [4]="$dir/big-4g.jsonl")
for gb in 1 2 4; do
  if [ ! -f "${files[$gb]}" ]; then
    python3 "$shared/tools/gen_runs.py" "${files[$gb]}" --size "${gb}G"
  fi
done
cargo build --release --quiet

# One measurement: "<wall s> <user+sys s> <peak kB>".
# Output goes to a file: GNU grep stops at the first match when it writes to /dev/null.
measure() {
  local out
  out=$( { /usr/bin/time -f "%e %U %S %M" "$@" > "$sink"; } 2>&1 | tail -n 1)
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' <<<"$out"
}
median() { sort -n | sed -n "$(( (rounds + 1) / 2 ))p"; }

results=$(mktemp); table=$(mktemp); sink=$(mktemp); trap 'rm -f "$results" "$table" "$sink"' EXIT
for gb in 1 2 4; do
  cat "${files[$gb]}" > /dev/null                  # warm the page cache
  "$bin" ls "${files[$gb]}" --json > /dev/null     # write the index cache
done
# Sizes alternate inside each round, so that a change in the machine's load between
# rounds weighs on every size alike.
for round in $(seq "$rounds"); do
  for gb in 1 2 4; do
    data=${files[$gb]}
    bytes=$(stat -L -c %s "$data")
    # Warm this file's pages again, untimed: the machine may have reclaimed them while
    # the other sizes ran, and a read from disk is not what this measures.
    cat "$data" > /dev/null
    for name in cat grep-c ls-no-cache ls-warm-cache search-no-cache; do
      case $name in
        cat) cmd=(cat "$data") ;;
        grep-c) cmd=(grep -c SCHEMA_MISMATCH "$data") ;;
        ls-no-cache) cmd=("$bin" ls "$data" --json --no-cache) ;;
        ls-warm-cache) cmd=("$bin" ls "$data" --json) ;;
        search-no-cache) cmd=("$bin" search SCHEMA_MISMATCH "$data" --no-cache --limit 20) ;;
      esac
      echo "$gb $bytes $name $(measure "${cmd[@]}")" >> "$results"
    done
  done
done

echo "rounds: $rounds, $(nproc) cores; medians; per GB = figure / (bytes / 1e9)"
printf "%-16s %4s %10s %10s %10s %12s %12s\n" command GB wall cpu peak-MB wall/GB peak-MB/GB
for name in cat grep-c ls-no-cache ls-warm-cache search-no-cache; do
  for gb in 1 2 4; do
    rows=$(awk -v g="$gb" -v n="$name" '$1 == g && $3 == n' "$results")
    bytes=$(head -n 1 <<<"$rows" | awk '{ print $2 }')
    wall=$(awk '{ print $4 }' <<<"$rows" | median)
    cpu=$(awk '{ print $5 }' <<<"$rows" | median)
    peak=$(awk '{ print $6 }' <<<"$rows" | median)
    awk -v n="$name" -v g="$gb" -v b="$bytes" -v w="$wall" -v c="$cpu" -v p="$peak" 'BEGIN {
      gbs = b / 1e9
      printf "%-16s %4s %9.2fs %9.2fs %10.0f %11.3fs %12.1f\n", n, g, w, c, p / 1024, w / gbs, p / 1024 / gbs }'
  done
done > "$table"
cat "$table"
# cat and grep keep a constant few MB whatever the size: their memory has no per-GB cost.
awk '
  { wall[$1] = wall[$1] " " $6 + 0; peak[$1] = peak[$1] " " $7 + 0 }
  function spread(list,   n, a, i, lo, hi) {
    n = split(list, a, " "); lo = a[1]; hi = a[1]
    for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
    return lo > 0 ? (hi / lo - 1) * 100 : 0
  }
  END {
    print ""
    print "spread of the per-GB figures over 1, 2 and 4 GB (max/min - 1; target <= 15%):"
    split("cat grep-c ls-no-cache ls-warm-cache search-no-cache", order, " ")
    for (i = 1; i <= 5; i++) {
      n = order[i]
      if (n == "cat" || n == "grep-c") printf "  %-16s time %5.1f%%\n", n, spread(wall[n])
      else printf "  %-16s time %5.1f%%   peak memory %5.1f%%\n", n, spread(wall[n]), spread(peak[n])
    }
  }' "$table"
