#!/usr/bin/env bash
# Index cache benchmark: reopening the 1 GB history with a warm cache, against a cold one
# (parsed and the cache written), no cache at all, and `cat`, in the same run.
# Usage: benches/cache_1g.sh [RUNS]   (default 5). Prints each run and the medians.
# The history is written once to target/bench-data/ by ../shared/tools/gen_runs.py
# (RETRACE_SHARED); the cache lives in target/bench-cache/ and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shared=${RETRACE_SHARED:-../shared}
data=target/bench-data/big.jsonl
mkdir -p target/bench-data
if [ ! -f "$data" ]; then
  if [ ! -f "$shared/tools/gen_runs.py" ]; then
    echo "skipped: $shared/tools/gen_runs.py not found (set RETRACE_SHARED)"; exit 0
  fi
  python3 "$shared/tools/gen_runs.py" "$data" --size 1G
fi
cargo build --release --quiet
export XDG_CACHE_HOME=$PWD/target/bench-cache
trap 'rm -rf "$XDG_CACHE_HOME"' EXIT
bin=target/release/retrace
cat "$data" > /dev/null   # warm the page cache
time_of() { { /usr/bin/time -f "%e %M" "$@" > /dev/null; } 2>&1 | tail -n 1; }
declare -A walls
for i in $(seq "$runs"); do
  rm -rf "$XDG_CACHE_HOME"
  for what in cold warm no-cache cat; do
    case $what in
      cold|warm) out=$(time_of "$bin" ls "$data" --json) ;;
      no-cache) out=$(time_of "$bin" ls "$data" --json --no-cache) ;;
      cat) out=$(time_of cat "$data") ;;
    esac
    read -r wall rss_kb <<<"$out"
    walls[$what]+="$wall "
    printf 'run %d %-9s %6s s wall %5d MB peak\n' "$i" "$what" "$wall" $((rss_kb / 1024))
  done
done
for what in cold warm no-cache cat; do
  median=$(tr ' ' '\n' <<<"${walls[$what]}" | grep . | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  echo "median $what: $median s"
done
