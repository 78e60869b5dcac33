#!/usr/bin/env bash
# Watch benchmark: how long from appending a line to a watched file until
# `retrace watch --json` prints it (file events and --poll), and the CPU the watcher
# uses while nothing changes. Usage: benches/watch_latency.sh [SAMPLES] (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
python3 - "${1:-100}" <<'PY'
import json, os, subprocess, sys, tempfile, time, statistics

samples = int(sys.argv[1])
binary = os.path.abspath("target/release/retrace")
ticks = os.sysconf("SC_CLK_TCK")

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks

def measure(extra):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "agent.jsonl")
        open(log, "w").close()
        p = subprocess.Popen([binary, "watch", d, "--json", "--new-only", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.5)
        lat = []
        for i in range(samples):
            line = json.dumps({"run_id": "bench", "kind": "tool_call", "step": i, "name": f"s{i}"})
            t0 = time.perf_counter()
            with open(log, "a") as f:
                f.write(line + "\n")
            while True:
                ev = json.loads(p.stdout.readline())
                if ev.get("event") == "step" and ev.get("name") == f"s{i}":
                    break
            lat.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.02)
        c0 = cpu_seconds(p.pid)
        time.sleep(10)
        idle = cpu_seconds(p.pid) - c0
        p.kill()
        lat.sort()
        return (statistics.median(lat), lat[int(len(lat) * 0.99) - 1], lat[-1], idle / 10 * 100)

for name, extra in [("file events", []), ("--poll", ["--poll"])]:
    p50, p99, worst, idle = measure(extra)
    print(f"{name:12} append→printed: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms; "
          f"idle CPU {idle:.2f}% of a core")
PY
