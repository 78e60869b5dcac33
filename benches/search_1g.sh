#!/usr/bin/env bash
# Search benchmark over the 1 GB synthetic history: the text index's build time and
# memory, and query latencies after indexing.
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

# End to end, one process per query: load, build the text index on every core, search.
# --stats reports each phase on stderr; /usr/bin/time the peak memory of it all.
for query in 'SCHEMA_MISMATCH' 'refnd polcy'; do
  echo "== retrace search '$query' --stats"
  { /usr/bin/time -f "peak RSS: %M kB, wall: %e s" \
      "$target/release/retrace" search "$query" "$data" --stats --limit 20 > /dev/null; } 2>&1
done
echo "== retrace ls --json (the history alone), for comparison"
{ /usr/bin/time -f "peak RSS: %M kB, wall: %e s" "$target/release/retrace" ls "$data" --json > /dev/null; } 2>&1

# In process, index built once: each query 7 times (median, min, max).
echo "== queries after indexing"
RETRACE_BENCH_FILE="$data" cargo test --release --quiet --test search -- \
  --ignored --nocapture --test-threads 1 bench_search_1g 2>&1 | grep -E '^(load|text index|query)'
