#!/usr/bin/env bash
# Word cache benchmark: reopening the 1 GB history to searchable with its caches warm
# (index cache and word cache), against cold, and side by side with `cat` and `grep -c`
# of the same file in the same run.
# Usage: benches/word_cache_1g.sh [RUNS]   (default 5; RETRACE_BENCH_FILE=PATH for another
# history). The caches live in target/bench-cache-words/ and are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shared=${RETRACE_SHARED:-../shared}
data=${RETRACE_BENCH_FILE:-target/bench-data/big.jsonl}
if [ ! -f "$data" ]; then
  mkdir -p "$(dirname "$data")"
  python3 "$shared/tools/gen_runs.py" "$data" --size 1G
fi
cargo build --release --quiet
export XDG_CACHE_HOME=$PWD/target/bench-cache-words
rm -rf "$XDG_CACHE_HOME"
trap 'rm -rf "$XDG_CACHE_HOME"' EXIT
bin=$PWD/target/release/retrace
cat "$data" > /dev/null   # warm the page cache
echo "input: $data, $(stat -L -c %s "$data") bytes, $(nproc) cores"

# In process (its own caches: a cache is read only by the build that wrote it): cold
# (word index built from the records, both caches written), then warm.
XDG_CACHE_HOME=$XDG_CACHE_HOME/in-process RETRACE_BENCH_FILE="$data" \
  cargo test --release --quiet --test word_cache -- \
  --ignored --nocapture --test-threads 1 bench_word_cache_1g 2>&1 | grep -E '^(cold|warm|word cache)'

q=SCHEMA_MISMATCH
t() { /usr/bin/time -f "%e s wall, %U+%S s CPU, %M kB peak" "$@" > /dev/null; }
# Cold, once: parse (index cache written), build the word index, write the word cache.
echo -n "cold: retrace search --index $q: "; { t "$bin" search --index "$q" "$data"; } 2>&1
echo -n "cold: same without caches:      "; { t "$bin" search --index "$q" "$data" --no-cache; } 2>&1

# Whole processes, caches warm: open the history, take the word index from its cache,
# answer one query; against `cat`, `grep -c`, and the same query without any cache
# (the records scanned), pair by pair.
farm-bench -n "$runs" --timeout 600 --vs "cat $data" -- "$bin" search "$q" "$data"
farm-bench -n "$runs" --timeout 600 --vs "grep -c $q $data" -- "$bin" search "$q" "$data"
farm-bench -n "$runs" --timeout 600 --vs "$bin search $q $data --no-cache" -- "$bin" search "$q" "$data"
