#!/usr/bin/env bash
# Search benchmark over the 1 GB synthetic history: one-shot `retrace search` (the
# query's words looked for by the load itself, no word index) side by side with `cat`,
# `grep -c` and `retrace ls --json` on the same file, commands alternating round by
# round, medians of the wall times and ratios; with --no-cache (a cold start: every
# byte parsed) and with a warm index cache (the load reads the cache; the records are
# then scanned once). Then the word index's build time and memory, and query latencies
# after indexing.
# Usage: benches/search_1g.sh   (RETRACE_BENCH_FILE=PATH to use another history,
#        ROUNDS=N rounds, default 5; NO_INDEX=1 skips the word-index part)
# Without RETRACE_BENCH_FILE the history is written once to target/bench-data/ by
# ../shared/tools/gen_runs.py, as for benches/index_1g.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${RETRACE_SHARED:-../shared}
target=${CARGO_TARGET_DIR:-target}
data=${RETRACE_BENCH_FILE:-target/bench-data/big.jsonl}
rounds=${ROUNDS:-5}
if [ ! -f "$data" ]; then
  mkdir -p "$(dirname "$data")"
  python3 "$shared/tools/gen_runs.py" "$data" --size 1G
fi
cargo build --release --quiet
bin="$target/release/retrace"
cat "$data" > /dev/null   # warm the page cache
echo "input: $data, $(stat -L -c %s "$data") bytes, $(nproc) cores, $rounds rounds"

# The warm index cache lives under target/, never in ~/.cache.
export XDG_CACHE_HOME="$PWD/$target/bench-cache"
"$bin" ls "$data" --json > /dev/null   # writes the index cache

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
names=()
commands=()
add() { names+=("$1"); shift; commands+=("$*"); }
add "cat"                                cat "$data"
add "grep -c SCHEMA_MISMATCH"             grep -c SCHEMA_MISMATCH "$data"
add "ls --json, --no-cache"               "$bin" ls "$data" --json --no-cache
for query in SCHEMA_MISMATCH '"refund policy"' 'refnd polcy'; do
  add "search '$query', --no-cache"       "$bin" search "$query" "$data" --limit 20 --no-cache
done
add "ls --json, warm cache"               "$bin" ls "$data" --json
for query in SCHEMA_MISMATCH '"refund policy"' 'refnd polcy'; do
  add "search '$query', warm cache"       "$bin" search "$query" "$data" --limit 20
done

# One run of each command per round, in turn (a slow moment of the shared machine
# then touches every command alike). Queries with spaces are passed as one argument.
run() {
  local i=$1
  case "${names[$i]}" in
    search*) local query=${names[$i]#search \'}; query=${query%%\', *}
             local cache=(); [[ ${names[$i]} == *no-cache ]] && cache=(--no-cache)
             /usr/bin/time -f "%e %M" -o "$work/t" "$bin" search "$query" "$data" --limit 20 "${cache[@]}" > "$work/out" ;;
    cat)     /usr/bin/time -f "%e %M" -o "$work/t" ${commands[$i]} > /dev/null ;;
    # Not to /dev/null: grep stops at the first match when it sees that.
    *)       /usr/bin/time -f "%e %M" -o "$work/t" ${commands[$i]} > "$work/out" ;;
  esac
  cat "$work/t" >> "$work/$i"
}
for round in $(seq "$rounds"); do
  for i in "${!names[@]}"; do run "$i"; done
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
grep_median=$(awk '{print $1}' "$work/1" | median)
ls_median=$(awk '{print $1}' "$work/2" | median)
printf "%-40s %9s %10s %9s %9s\n" "command" "median s" "peak MB" "÷ grep" "÷ ls"
for i in "${!names[@]}"; do
  m=$(awk '{print $1}' "$work/$i" | median)
  peak=$(awk '{print $2}' "$work/$i" | median)
  awk -v n="${names[$i]}" -v m="$m" -v p="$peak" -v g="$grep_median" -v l="$ls_median" \
    'BEGIN {printf "%-40s %9.2f %10.0f %9.2f %9.2f\n", n, m, p/1024, m/g, m/l}'
done

[ "${NO_INDEX:-}" = 1 ] && exit 0
# In process, index built once: each query 7 times (median, min, max).
echo "== queries after indexing"
RETRACE_BENCH_FILE="$data" cargo test --release --quiet --test search -- \
  --ignored --nocapture --test-threads 1 bench_search_1g 2>&1 | grep -E '^(load|text index|query)'
