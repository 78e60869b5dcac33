#!/usr/bin/env bash
# Index cache benchmark: reopening the 1 GB history with a warm cache, against a cold one
# (parsed and the cache written), no cache at all, and `cat`, in the same run; `show` of
# one run (the history fully loaded, one run printed) with the warm cache.
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
time_of() { { /usr/bin/time -f "%e %M %U %S" "$@" > /dev/null; } 2>&1 | tail -n 1; }
declare -A walls
for i in $(seq "$runs"); do
  rm -rf "$XDG_CACHE_HOME"
  for what in cold warm show-warm no-cache cat; do
    case $what in
      cold|warm) out=$(time_of "$bin" ls "$data" --json) ;;
      show-warm) out=$(time_of "$bin" show run-00000000 "$data") ;;
      no-cache) out=$(time_of "$bin" ls "$data" --json --no-cache) ;;
      cat) out=$(time_of cat "$data") ;;
    esac
    read -r wall rss_kb user sys <<<"$out"
    walls[$what]+="$wall "
    printf 'run %d %-9s %6s s wall %5s+%-5s s CPU %5d MiB peak\n' "$i" "$what" "$wall" "$user" "$sys" $((rss_kb / 1024))
  done
done
for what in cold warm show-warm no-cache cat; do
  median=$(tr ' ' '\n' <<<"${walls[$what]}" | grep . | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  echo "median $what: $median s"
done
