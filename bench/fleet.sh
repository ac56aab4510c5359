#!/usr/bin/env bash
# Benchmark: `cutover fleet apply` over TENANTS tenants of USERS users each, all served by one
# `cutover sandbox serve` (each tenant at /tenants/<name>/) behind one rate limit of RATE
# requests/s (429 + Retry-After beyond it), users syncing every 500 ms. Run twice from fresh
# tenants: one host (one fleet process, --rate-limit RATE), then two hosts (two fleet processes
# at once over the same plans and state, each --rate-limit 0.45 x RATE, or PER_HOST). Prints each
# run's wall time against the rate-limit floor (requests served ÷ RATE). SKIP_ONE=1 skips the
# one-host run.
# Usage: bench/fleet.sh [TENANTS] [USERS] [RATE] [CONCURRENCY]   (release build; not in CI)
# CUTOVER_BIN=PATH measures another build.
set -euo pipefail
cd "$(dirname "$0")/.."
tenants=${1:-200}
users=${2:-500}
rate=${3:-200}
concurrency=${4:-64}

if [ -z "${CUTOVER_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${CUTOVER_BIN:-$PWD/target/release/cutover}
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill -TERM "$server" 2>/dev/null; rm -rf "$work"' EXIT
export CUTOVER_SANDBOX_TOKEN=bench-token CUTOVER_API_TOKEN=bench-token

names() { for i in $(seq -w 1 "$tenants"); do echo "t$i"; done; }

# Fresh tenants and a server for them; sets $server and $url.
setup() {
  rm -rf "$work/run" && mkdir -p "$work/run/plans"
  "$bin" sandbox init "$work/run/root.db" --users 2 >/dev/null
  local flags=()
  for name in $(names); do
    mkdir -p "$work/run/plans/$name"
    "$bin" sandbox init "$work/run/plans/$name/tenant.db" --users "$users" --sync-interval 500ms >/dev/null
    flags+=(--tenant "$name=$work/run/plans/$name/tenant.db")
  done
  "$bin" sandbox serve "$work/run/root.db" --listen 127.0.0.1:0 --rate-limit "$rate" \
      "${flags[@]}" > "$work/run/serve.out" &
  server=$!
  for _ in $(seq 100); do grep -q listening "$work/run/serve.out" 2>/dev/null && break; sleep 0.1; done
  url=$(sed -n 's/^listening on //p' "$work/run/serve.out")
  for name in $(names); do
    cat > "$work/run/plans/$name/plan.toml" <<TOML
version = 1
name = "$name"
[target]
kind = "http"
url = "$url/tenants/$name"
token = { env = "CUTOVER_API_TOKEN" }
[from]
display_name = "Basic Auth"
[to]
display_name = "OAuth"
tenant_id = "contoso.onmicrosoft.com"
[gate]
soak = "0s"
timeout = "30m"
[[batch]]
name = "everyone"
users = "remaining"
[disconnect]
approval = false
TOML
  done
}

# Stops the server; prints the run's figures and checks every tenant is complete.
report() {
  local label=$1 start=$2 end=$3
  kill -TERM "$server"; wait "$server" || true
  server=
  local incomplete=0
  for name in $(names); do
    "$bin" sandbox inspect "$work/run/plans/$name/tenant.db" --format json |
      python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if all(u["enabled"]==["OAuth"] for u in d["users"]) and not d["violations"] else 1)' ||
      incomplete=$((incomplete + 1))
  done
  python3 - "$label" "$start" "$end" "$work/run/serve.out" "$rate" "$tenants" "$users" "$incomplete" <<'PY'
import re, sys
label, start, end, serve_out, rate, tenants, users, incomplete = sys.argv[1:9]
wall = float(end) - float(start)
summary = open(serve_out).read().splitlines()[-1]
served = int(re.search(r"served (\d+) requests", summary).group(1))
throttled = int(re.search(r"(\d+) throttled", summary).group(1))
floor = served / int(rate)
print(f"{label}: {tenants} tenants x {users} users in {wall:.1f} s wall; {served} requests served, "
      f"{throttled} answered 429; the rate limit alone bounds them at {floor:.1f} s "
      f"(wall = {wall / floor:.2f}x the floor, {served / wall:.0f} req/s of {rate}); "
      f"incomplete tenants: {incomplete}")
PY
}

if [ -z "${SKIP_ONE:-}" ]; then
setup
start=$(date +%s.%N)
"$bin" fleet apply "$work/run/plans" --yes --poll-interval 500ms --concurrency "$concurrency" \
    --rate-limit "$rate" > "$work/run/one.out" 2>&1 || true
end=$(date +%s.%N)
report "one host " "$start" "$end"
fi

# Each host gets a little under half the limit: two pacers at exactly half each still meet in
# the server's one-second window now and then, and every 429 pauses a whole process.
setup
half=${PER_HOST:-$((rate * 45 / 100))}
echo "two hosts: --rate-limit $half each"
start=$(date +%s.%N)
"$bin" fleet apply "$work/run/plans" --yes --poll-interval 500ms --concurrency "$concurrency" \
    --rate-limit "$half" > "$work/run/a.out" 2>&1 &
a=$!
"$bin" fleet apply "$work/run/plans" --yes --poll-interval 500ms --concurrency "$concurrency" \
    --rate-limit "$half" > "$work/run/b.out" 2>&1 &
b=$!
wait "$a" || true
wait "$b" || true
end=$(date +%s.%N)
# A plan one host skipped was the other's to finish: `report` checks that every tenant is done.
skipped=$(cat "$work/run/a.out" "$work/run/b.out" | grep -c '^t[0-9]*: skipped: ' || true)
ran_a=$(grep -c '^t[0-9]* *0 *done' "$work/run/a.out" || true)
ran_b=$(grep -c '^t[0-9]* *0 *done' "$work/run/b.out" || true)
echo "two hosts: plans completed by each: $ran_a and $ran_b; skipped because the other held them: $skipped"
report "two hosts" "$start" "$end"
