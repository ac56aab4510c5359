#!/usr/bin/env bash
# Benchmark: the mailbox pre-check of `cutover plan` over USERS mailboxes — an app token from a
# real identity provider (oidc-provider, tests/oidc), then one Graph calendar call per user to
# `cutover sandbox serve` (every call's token introspected at the provider), 8 at a time.
# Usage: bench/precheck.sh [USERS]   (release build; needs Node 20 with npm)
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-10000}

cargo build --release --quiet
npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error >/dev/null
bin=$PWD/target/release/cutover
work=$(mktemp -d)
cleanup() {
  kill "$idp" "$server" 2>/dev/null || true
  rm -rf "$work"
}
idp=
server=
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export IDP_CLIENTS='[
  {"client_id":"scheduling-platform","client_secret":"bench-platform-secret","grant_types":["authorization_code","refresh_token"],"redirect_uris":["http://127.0.0.1:'"$port"'/oauth/callback"]},
  {"client_id":"bench-graph","client_secret":"bench-graph-secret","grant_types":["client_credentials"],"redirect_uris":[],"response_types":[]}]'
IDP_PORT=0 node tests/oidc/idp.js > "$work/idp.out" 2>/dev/null &
idp=$!
for _ in $(seq 100); do grep -q issuer "$work/idp.out" 2>/dev/null && break; sleep 0.1; done
issuer=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["issuer"])' "$work/idp.out")

"$bin" sandbox init "$work/tenant.db" --scenario access-policy --users "$users" >/dev/null
CUTOVER_SANDBOX_OAUTH_SECRET=bench-platform-secret CUTOVER_SANDBOX_KEY=bench-key-0123456789abcdef0123456789 \
  "$bin" sandbox serve "$work/tenant.db" --listen "127.0.0.1:$port" --oauth-issuer "$issuer" > "$work/serve.out" &
server=$!
for _ in $(seq 50); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done

cat > "$work/plan.toml" <<TOML
version = 1
name = "bench-precheck"
[target]
kind = "sandbox"
sandbox = "tenant.db"
[from]
display_name = "Basic Auth"
[to]
display_name = "OAuth"
tenant_id = "contoso.onmicrosoft.com"
[[batch]]
name = "everyone"
users = "remaining"
[disconnect]
[precheck]
mailbox_access = true
graph_url = "http://127.0.0.1:$port/graph/v1.0"
token_url = "$issuer/token"
client_id = "bench-graph"
client_secret = { env = "BENCH_GRAPH_SECRET" }
TOML

export BENCH_GRAPH_SECRET=bench-graph-secret
for i in 1 2 3; do
  start=$(date +%s.%N)
  "$bin" plan "$work/plan.toml" --format json > "$work/plan.json"
  end=$(date +%s.%N)
  python3 - "$start" "$end" "$users" "$work/plan.json" <<'PY'
import json, sys
start, end, users, path = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
plan = json.load(open(path))
denied = sum(len(f["users"]) for f in plan["findings"] if f["code"] == "mailbox-access-denied")
seconds = end - start
print(f"plan with the mailbox pre-check of {users} users: {seconds:.2f}s "
      f"({users / seconds:.0f} mailboxes/s), {denied} denied mailboxes named")
PY
done
