#!/usr/bin/env bash
# Search benchmark over the 1 GB synthetic history: one-shot `retrace search` (records
# scanned, no word index) against `cat` and `grep -c`; then the word index's build
# time and memory, and query latencies after indexing.
# Usage: benches/search_1g.sh   (RETRACE_BENCH_FILE=PATH to use another history)
# Without RETRACE_BENCH_FILE the history is written once to target/bench-data/ by
# ../shared/tools/gen_runs.py, as for benches/index_1g.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${RETRACE_SHARED:-../shared}
target=${CARGO_TARGET_DIR:-target}
data=${RETRACE_BENCH_FILE:-target/bench-data/big.jsonl}
if [ ! -f "$data" ]; then
  mkdir -p "$(dirname "$data")"
  python3 "$shared/tools/gen_runs.py" "$data" --size 1G
fi
cargo build --release --quiet
cat "$data" > /dev/null   # warm the page cache
echo "input: $data, $(stat -L -c %s "$data") bytes, $(nproc) cores"

# End to end, one process per query, side by side with `cat` and `grep -c` of the same
# file in the same round (ratios are what to read on a shared machine): load, scan the
# records for the query (no word index), search. --stats reports each phase on stderr.
out=$(mktemp); trap 'rm -f "$out"' EXIT
t() { /usr/bin/time -f "%e s wall, %M kB peak" "$@"; }
for round in 1 2 3; do
  echo "== round $round"
  echo -n "cat > /dev/null:                      "; { t cat "$data" > /dev/null; } 2>&1
  echo -n "grep -c SCHEMA_MISMATCH:              "; { t grep -c SCHEMA_MISMATCH "$data" > "$out"; } 2>&1
  echo -n "retrace ls --json:                    "; { t "$target/release/retrace" ls "$data" --json > "$out"; } 2>&1
  for query in 'SCHEMA_MISMATCH' '"refund policy"' 'refnd polcy'; do
    printf "retrace search %-22s " "'$query':"
    { t "$target/release/retrace" search "$query" "$data" --limit 20 > "$out"; } 2>&1
  done
done

# In process, index built once: each query 7 times (median, min, max).
echo "== queries after indexing"
RETRACE_BENCH_FILE="$data" cargo test --release --quiet --test search -- \
  --ignored --nocapture --test-threads 1 bench_search_1g 2>&1 | grep -E '^(load|text index|query)'
