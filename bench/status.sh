#!/usr/bin/env bash
# Benchmark: `cutover status` of a rollout of USERS sandbox users, read from the state database
# alone (no platform, no credentials), in text and JSON. The rollout runs first (a pilot, five
# batches in waves of 1,000 and the disconnect), so the state holds every step, every move and
# the audit trail of a finished rollout of that size; the sandbox file is then removed, to show
# status never reads it.
# Usage: bench/status.sh [USERS] [RUNS]   (release build; CUTOVER_BIN=PATH measures another)
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-50000}
runs=${2:-21}

if [[ -z "${CUTOVER_BIN:-}" ]]; then
  cargo build --release --quiet
  bin=$PWD/target/release/cutover
else
  bin=$CUTOVER_BIN
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" sandbox init "$work/tenant.db" --users "$users" --sync-interval 100ms >/dev/null
cat > "$work/plan.toml" <<'TOML'
version = 1
name = "bench-status"
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
max_size = 1000
[[batch]]
name = "west"
users = { location = "West" }
max_size = 1000
[[batch]]
name = "central"
users = { location = "Central" }
max_size = 1000
[[batch]]
name = "north"
users = { location = "North" }
max_size = 1000
[[batch]]
name = "rest"
users = "remaining"
max_size = 1000
[disconnect]
approval = false
TOML

"$bin" apply "$work/plan.toml" --poll-interval 50ms >/dev/null || {
  echo "the rollout did not finish (exit $?)" >&2
  exit 1
}
rm "$work/tenant.db"

python3 - "$bin" "$work/plan.toml" "$runs" "$users" <<'PY'
import statistics, subprocess, sys, time
bin, plan, runs, users = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for fmt in ["text", "json"]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([bin, "status", plan, "--format", fmt], capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"status exited {done.returncode}: {done.stderr.decode()}")
    times.sort()
    print(f"status --format {fmt}, {users} users, finished rollout: median {statistics.median(times)*1000:.0f} ms, "
          f"fastest {times[0]*1000:.0f} ms, slowest {times[-1]*1000:.0f} ms over {runs} runs")
PY
