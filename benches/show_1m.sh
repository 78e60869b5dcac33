#!/usr/bin/env bash
# `retrace show` of a run of one million steps: time to the first lines (through
# `head`, which closes the pipe after 20 lines) and to the whole run written to a file,
# side by side with `cat` and `grep -c` of the same file in the same run; the history's
# load cold (`--no-cache`: parsed) and warm (its index read from the cache).
# Usage: benches/show_1m.sh   (writes target/bench-data/long-run.jsonl once, ~190 MB)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
data=target/bench-data/long-run.jsonl
if [ ! -f "$data" ]; then
  mkdir -p "$(dirname "$data")"
  python3 - "$data" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"run_id": "long-1", "step": 0, "kind": "run_start", "ts": 1763000000000,
                        "agent": "crawler", "input": {"task": "crawl every page"}}) + "\n")
    for i in range(1, 1_000_000):
        kind = ("llm_call", "tool_call", "tool_result")[i % 3]
        f.write(json.dumps({"run_id": "long-1", "step": i, "parent": i - 1, "kind": kind,
                            "name": "fetch_page", "ts": 1763000000000 + i * 10, "duration_ms": 9,
                            "input": {"url": f"https://example.com/page/{i}"},
                            "output": {"status": 200, "bytes": 1000 + i % 977}}) + "\n")
    f.write(json.dumps({"run_id": "long-1", "step": 1_000_000, "kind": "run_end",
                        "ts": 1763010000000, "outcome": "success"}) + "\n")
PY
fi
cargo build --release --quiet
cat "$data" > /dev/null   # warm the page cache
echo "input: $data, $(stat -L -c %s "$data") bytes, $(nproc) cores"
bin="$target/release/retrace"
export XDG_CACHE_HOME=$PWD/target/bench-cache-show
"$bin" ls "$data" > /dev/null   # writes the index cache
t() { /usr/bin/time -f "%e s wall, %U+%S s CPU, %M kB peak" "$@"; }
out=$(mktemp); trap 'rm -f "$out"; rm -rf "$XDG_CACHE_HOME"' EXIT
for i in 1 2 3; do
  echo "== round $i"
  echo -n "cat > /dev/null:              "; { t cat "$data" > /dev/null; } 2>&1
  echo -n "grep -c fetch_page:           "; { t grep -c fetch_page "$data" > "$out"; } 2>&1
  echo -n "retrace ls --json --no-cache: "; { t "$bin" ls "$data" --json --no-cache > /dev/null; } 2>&1
  echo -n "retrace ls --json (warm):     "; { t "$bin" ls "$data" --json > /dev/null; } 2>&1
  echo -n "show | head -n 20 --no-cache: "; { t sh -c "\"$bin\" show long-1 \"$data\" --no-cache | head -n 20 > /dev/null"; } 2>&1
  echo -n "show | head -n 20 (warm):     "; { t sh -c "\"$bin\" show long-1 \"$data\" | head -n 20 > /dev/null"; } 2>&1
  echo -n "show > file (warm):           "; { t "$bin" show long-1 "$data" > "$out"; } 2>&1
  echo -n "show --json > file (warm):    "; { t "$bin" show long-1 "$data" --json > "$out"; } 2>&1
done
