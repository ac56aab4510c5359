#!/usr/bin/env bash
# Benchmark: what one gate poll costs the engine, for the same small step in tenants of
# different sizes. The plan is a pilot of 3 users and a batch of 1, each soaked for SOAK while
# the engine polls every 20 ms; each size is run with that soak and with none, and the
# difference in engine time (wall minus waits) over the difference in polls is the cost of a
# poll. A poll reads only its step's users from the platform (`users_query`); what it costs
# beyond that is the engine's decision. Two shapes of plan, each size run with both:
# - `listed`: every other user is in no step, so the run ends halted at the disconnect;
# - `csv`: every other user is in a last batch listed in a CSV file (a plan as large as the
#   tenant), which waits for its approval, so the run ends there.
# Either ending is the same with and without the soak.
# Usage: bench/poll.sh [SOAK] [SIZES...]   (release build; defaults: 2s, 2000 200000;
# SHAPES="listed csv" picks the shapes)
set -euo pipefail
cd "$(dirname "$0")/.."
soak=${1:-2s}
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(2000 200000)

# CUTOVER_BIN=PATH measures another build.
[ -n "${CUTOVER_BIN:-}" ] || cargo build --release --quiet
bin=${CUTOVER_BIN:-$PWD/target/release/cutover}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One apply of USERS users with SOAK, in SHAPE: prints "engine_ms polls".
run() {
  local users=$1 soak=$2 shape=$3 dir=$work/$1-$2-$3
  mkdir -p "$dir"
  "$bin" sandbox init "$dir/tenant.db" --users "$users" --sync-interval 50ms >/dev/null
  python3 - "$dir" "$soak" "$shape" <<'PY'
import sqlite3, sys
dir, soak, shape = sys.argv[1:4]
emails = [r[0] for r in sqlite3.connect(f"{dir}/tenant.db").execute("SELECT email FROM users ORDER BY id")]
pilot = ", ".join(f'"{e}"' for e in emails[:3])
rest = ""
if shape == "csv":
    open(f"{dir}/rest.csv", "w").write("email\n" + "".join(f"{e}\n" for e in emails[4:]))
    rest = '[[batch]]\nname = "rest"\nusers = { file = "rest.csv" }\napproval = true\n'
open(f"{dir}/plan.toml", "w").write(f"""version = 1
name = "bench-poll"
[target]
kind = "sandbox"
sandbox = "tenant.db"
[from]
display_name = "Basic Auth"
[to]
display_name = "OAuth"
tenant_id = "contoso.onmicrosoft.com"
[gate]
soak = "{soak}"
timeout = "10m"
[pilot]
users = [{pilot}]
[[batch]]
name = "one"
users = ["{emails[3]}"]
{rest}[disconnect]
approval = false
""")
PY
  # The disconnect halts, as it should: every other user is still on `from`, in no step.
  (cd "$dir" && "$bin" apply plan.toml --format json --poll-interval 20ms > events.jsonl 2>/dev/null) || true
  python3 - "$dir/events.jsonl" <<'PY'
import json, sys
ended = [json.loads(l) for l in open(sys.argv[1]) if '"run_ended"' in l][-1]
# Every decision reads the configurations once: the soak's extra reads of them are its polls
# (a build from before `users_query` polled by paging through the tenant instead).
print(ended["elapsed_ms"] - ended["waiting_ms"], ended["calls"].get("configurations", 0))
PY
}

for shape in ${SHAPES:-listed csv}; do
  for users in "${sizes[@]}"; do
    read -r base_ms base_polls < <(run "$users" 0s "$shape")
    read -r soak_ms soak_polls < <(run "$users" "$soak" "$shape")
    polls=$((soak_polls - base_polls))
    python3 -c "
users, base, soaked, polls = $users, $base_ms, $soak_ms, $polls
print(f'$shape, {users:,} users: {polls} polls of a 3-user and a 1-user step cost {soaked - base} ms of engine time, '
      f'{(soaked - base) / max(polls, 1):.2f} ms a poll (engine {base} ms without them)')"
  done
done
