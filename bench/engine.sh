#!/usr/bin/env bash
# Benchmark: `cutover apply` moving 10,000 sandbox users through a pilot and 5 batches.
# Reports the engine's own time (wall time minus the time it waited for syncs and soaks) and
# the platform calls it made per user moved, gate polling included.
# Usage: bench/engine.sh [USERS] [SYNC_INTERVAL] [POLL]   (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-10000}
interval=${2:-200ms}
poll=${3:-100ms}

# CUTOVER_BIN=PATH measures another build (an earlier release, say).
[ -n "${CUTOVER_BIN:-}" ] || cargo build --release --quiet
bin=${CUTOVER_BIN:-$PWD/target/release/cutover}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" sandbox init "$work/tenant.db" --users "$users" --sync-interval "$interval" >/dev/null
cat > "$work/plan.toml" <<'TOML'
version = 1
name = "bench-engine"
[target]
kind = "sandbox"
sandbox = "tenant.db"
[from]
display_name = "Basic Auth"
[to]
display_name = "OAuth"
tenant_id = "contoso.onmicrosoft.com"
[gate]
soak = "0s"
timeout = "10m"
[pilot]
users = { group = "IT" }
[[batch]]
name = "east"
users = { location = "East" }
[[batch]]
name = "west"
users = { location = "West" }
[[batch]]
name = "central"
users = { location = "Central" }
[[batch]]
name = "north"
users = { location = "North" }
[[batch]]
name = "rest"
users = "remaining"
[disconnect]
approval = false
TOML

"$bin" apply "$work/plan.toml" --format json --poll-interval "$poll" > "$work/events.jsonl"
python3 - "$work/events.jsonl" "$users" "$work" "$bin" <<'PY'
import json, subprocess, sys
events = [json.loads(l) for l in open(sys.argv[1])]
users = int(sys.argv[2])
end = next(e for e in events if e["event"] == "run_ended")
done = any(e["event"] == "done" for e in events)
calls = end["calls"]
total = sum(calls.values())
engine_ms = end["elapsed_ms"] - end["waiting_ms"]
inspect = json.loads(subprocess.run([sys.argv[4], "sandbox", "inspect", f"{sys.argv[3]}/tenant.db", "--format", "json"],
                                    check=True, capture_output=True).stdout)
moved = sum(1 for u in inspect["users"] if u["enabled"] == ["OAuth"])
print(f"apply, {users} users, pilot + 5 batches: done={done}, {moved} users on OAuth alone, "
      f"violations={len(inspect['violations'])}")
print(f"wall {end['elapsed_ms']/1000:.1f} s, of which waiting for syncs {end['waiting_ms']/1000:.1f} s; "
      f"engine itself {engine_ms/1000:.2f} s ({engine_ms/users*1000:.0f} us per user)")
print(f"platform calls: {total} ({total/users:.3f} per user moved): " +
      ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
PY
