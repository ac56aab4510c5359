#!/usr/bin/env bash
# Benchmark: 10,000 user moves through `cutover apply` over the http target, against
# `cutover sandbox serve` with 20 ms of latency per request and a rate limit of 200 requests/s
# (429 + Retry-After beyond it; every answer states the quota as RateLimit-Policy and what its
# window has left as RateLimit), bulk calls of at most 25 users. Run twice: with the adaptive
# concurrency bound, and with --max-concurrency 1 (a sequential, one-request-at-a-time client).
# Usage: bench/http.sh [USERS] [RATE] [LATENCY] [MAX_BULK]   (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-10000}
rate=${2:-200}
latency=${3:-20ms}
bulk=${4:-25}

# CUTOVER_BIN=PATH measures another build (an earlier release, say). SERVE_BIN=PATH serves
# with another build: one from before `sandbox serve` stated what is left (`RateLimit`) shows
# the client pacing by the quota alone; one from before it stated its quota (`RateLimit-Policy`),
# the client against a platform that only answers 429 with Retry-After.
[ -n "${CUTOVER_BIN:-}" ] || cargo build --release --quiet
bin=${CUTOVER_BIN:-$PWD/target/release/cutover}
serve_bin=${SERVE_BIN:-$bin}
work=$(mktemp -d)
server=
trap '[ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
export CUTOVER_SANDBOX_TOKEN=bench-token CUTOVER_API_TOKEN=bench-token

run() {
  local label=$1; shift
  rm -rf "$work/run" && mkdir -p "$work/run"
  "$bin" sandbox init "$work/run/tenant.db" --users "$users" --sync-interval 200ms >/dev/null
  "$serve_bin" sandbox serve "$work/run/tenant.db" --listen 127.0.0.1:0 --latency "$latency" \
      --rate-limit "$rate" --max-bulk "$bulk" > "$work/run/serve.out" &
  server=$!
  for _ in $(seq 50); do grep -q listening "$work/run/serve.out" 2>/dev/null && break; sleep 0.1; done
  local url
  url=$(sed -n 's/^listening on //p' "$work/run/serve.out")
  cat > "$work/run/plan.toml" <<TOML
version = 1
name = "bench-http"
[target]
kind = "http"
url = "$url"
token = { env = "CUTOVER_API_TOKEN" }
[from]
display_name = "Basic Auth"
[to]
display_name = "OAuth"
tenant_id = "contoso.onmicrosoft.com"
[gate]
soak = "0s"
timeout = "10m"
[[batch]]
name = "everyone"
users = "remaining"
[disconnect]
approval = false
TOML
  local start end
  start=$(date +%s.%N)
  # `--yes`: a real target's disconnect with `approval = false` asks for it.
  "$bin" apply "$work/run/plan.toml" --yes --poll-interval 200ms --format json "$@" > "$work/run/events.jsonl"
  end=$(date +%s.%N)
  kill -TERM "$server"; wait "$server" || true; server=
  "$bin" sandbox inspect "$work/run/tenant.db" --format json > "$work/run/inspect.json"
  python3 - "$label" "$start" "$end" "$work/run/serve.out" "$work/run/events.jsonl" "$rate" "$users" "$work/run/inspect.json" "$bulk" <<'PY'
import json, re, sys
from datetime import datetime
label, start, end, serve_out, events, rate, users, inspect_path, bulk = sys.argv[1:10]
wall = float(end) - float(start)
summary = open(serve_out).read().splitlines()[-1]
served = int(re.search(r"served (\d+) requests", summary).group(1))
throttled = int(re.search(r"(\d+) throttled", summary).group(1))
ended = [json.loads(l) for l in open(events) if '"run_ended"' in l][-1]
done = any('"event":"done"' in l for l in open(events))
achieved = served / wall
print(f"{label}: done={done}, {users} users moved in {wall:.1f} s; {served} requests served "
      f"({achieved:.0f}/s = {achieved / int(rate) * 100:.0f}% of the {rate}/s limit), {throttled} answered 429; "
      f"the rate limit alone bounds this work at {served / int(rate):.1f} s; "
      f"waited for syncs {ended['waiting_ms'] / 1000:.1f} s")
# The goal of issue 15: wall time beyond the sync waits against that bound.
beyond = wall - ended['waiting_ms'] / 1000
print(f"{label}: beyond sync waits {beyond:.2f} s = {beyond / (served / int(rate)):.2f}x the rate-limit bound")
# The bulk writes alone: each enable/disable request carried up to `bulk` users.
writes = [w for w in json.load(open(inspect_path))["writes"] if w["op"] in ("enable", "disable")]
times = sorted(datetime.fromisoformat(w["at"].replace("Z", "+00:00")).timestamp() for w in writes)
requests = -(-len(writes) // int(bulk))
span = times[-1] - times[0]
print(f"{label}: bulk writes: {requests} requests over {span:.1f} s = {requests / span:.0f}/s "
      f"({requests / span / int(rate) * 100:.0f}% of the limit; the span includes the engine's time between the two bulk calls)")
PY
}

run "adaptive concurrency"
run "sequential client   " --max-concurrency 1
