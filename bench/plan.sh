#!/usr/bin/env bash
# Benchmark: `cutover plan` (the dry-run) against its floor, at 50,000 and 200,000 users.
# The plan: a pilot, a batch read from a CSV file, 18 batches selected by attributes
# (overlapping locations and groups) and the remaining users, every batch in waves of 1,000.
# The floor (bench/plan_floor.py) parses the same TOML and CSV and reads the same SQLite rows,
# and does nothing else. Both run RUNS times per size, interleaved; medians side by side.
# Usage: bench/plan.sh [RUNS] [SIZES...]   (release build; defaults: 5 runs, 50000 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(50000 200000)

# CUTOVER_BIN=PATH measures another build (an earlier release, say) against the same floor.
[ -n "${CUTOVER_BIN:-}" ] || cargo build --release --quiet
bin=${CUTOVER_BIN:-$PWD/target/release/cutover}
floor=$PWD/bench/plan_floor.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for users in "${sizes[@]}"; do
  dir=$work/$users
  mkdir -p "$dir"
  "$bin" sandbox init "$dir/tenant.db" --users "$users" --sync-interval 2s >/dev/null
  python3 - "$dir" <<'PY'
import sqlite3, sys
work = sys.argv[1]
emails = [r[0] for r in sqlite3.connect(f"{work}/tenant.db").execute("SELECT email FROM users ORDER BY id")]
pilot = emails[:2]
with open(f"{work}/first.csv", "w", newline="") as f:
    f.write("Name,Email,Location\r\n")
    for i, email in enumerate(emails[2::50]):
        f.write(f'"User {i}",{email},Somewhere\r\n')
selectors = [("location", l) for l in ["East", "West", "Central", "North"]] + \
            [("group", g) for g in ["IT", "Managers", "Sales", "Support", "Operations", "Finance"]]
lines = ['version = 1', 'name = "bench-plan"', '[target]', 'kind = "sandbox"', 'sandbox = "tenant.db"',
         '[from]', 'display_name = "Basic Auth"', '[to]', 'display_name = "OAuth"',
         'tenant_id = "contoso.onmicrosoft.com"', '[gate]', 'soak = "30m"', 'timeout = "3h"', 'max_errors = "1%"',
         '[pilot]', f'users = ["{pilot[0]}", "{pilot[1]}"]',
         '[[batch]]', 'name = "first"', 'users = { file = "first.csv" }', 'max_size = 1000']
for i in range(18):
    key, value = selectors[i % len(selectors)]
    lines += ['[[batch]]', f'name = "batch-{i:02}"', f'users = {{ {key} = "{value}" }}', 'max_size = 1000',
              'window = "Mon-Fri 18:00-22:00 America/New_York"']
lines += ['[[batch]]', 'name = "everyone-else"', 'users = "remaining"', 'max_size = 1000',
          '[disconnect]', 'after = "24h"']
open(f"{work}/plan.toml", "w").write("\n".join(lines) + "\n")
PY
  # One run of each first: the output is checked, and SQLite's pages are in the cache for all.
  "$bin" plan "$dir/plan.toml" --now 2026-12-07T12:00:00Z > /dev/null
  python3 "$floor" "$dir/plan.toml" > /dev/null
done

python3 - "$bin" "$floor" "$runs" "$work" "${sizes[@]}" <<'PY'
import os, resource, statistics, subprocess, sys, time
bin, floor, runs, work, sizes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]

def timed(argv):
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start

for users in sizes:
    plan = os.path.join(work, users, "plan.toml")
    times = {"text": [], "json": [], "floor": []}
    for _ in range(runs):
        for fmt in ["text", "json"]:
            times[fmt].append(timed([bin, "plan", plan, "--format", fmt, "--now", "2026-12-07T12:00:00Z"]))
        times["floor"].append(timed([sys.executable, floor, plan]))
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"plan, {int(users):,} users, 20 batches in waves, {runs} runs: "
          f"text {median['text']*1000:.0f} ms ({median['text']/median['floor']:.2f}x), "
          f"json {median['json']*1000:.0f} ms ({median['json']/median['floor']:.2f}x), "
          f"floor {median['floor']*1000:.0f} ms (medians)")
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"peak RSS of any run: {peak:.1f} MiB")
PY
