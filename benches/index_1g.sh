#!/usr/bin/env bash
# Index benchmark: `retrace ls --json` over the 1 GB synthetic history.
# Usage: benches/index_1g.sh [RUNS]   (default 5). Prints each run and the median.
# The history is written once to target/bench-data/ by ../shared/tools/gen_runs.py.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shared=${RETRACE_SHARED:-../shared}
data=target/bench-data/big.jsonl
mkdir -p target/bench-data
if [ ! -f "$data" ]; then
  python3 "$shared/tools/gen_runs.py" "$data" --size 1G
fi
cargo build --release --quiet
size=$(stat -L -c %s "$data")
cat "$data" > /dev/null   # warm the page cache, as for the reference figures
echo "input: $data, $size bytes"
walls=()
for i in $(seq "$runs"); do
  out=$( { /usr/bin/time -f "%e %M" target/release/retrace ls "$data" --json > /dev/null; } 2>&1 )
  read -r wall rss_kb <<<"$out"
  walls+=("$wall")
  awk -v i="$i" -v w="$wall" -v k="$rss_kb" -v s="$size" 'BEGIN {
    printf "run %d: %s s wall, %d MB peak RSS (%.1f%% of input), %.0f MB/s\n",
      i, w, k / 1024, k * 1024 * 100 / s, s / 1048576 / w }'
done
median=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
echo "median wall: $median s"
