#!/usr/bin/env bash
# Benchmark: `cutover plan` (the dry-run) on a 50,000-user sandbox with 20 batches selected by
# attributes (overlapping locations and groups, then the remaining users in waves).
# Usage: bench/plan.sh [USERS] [RUNS]     (release build; prints wall times and peak memory)
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-50000}
runs=${2:-5}

cargo build --release --quiet
bin=$PWD/target/release/cutover
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" sandbox init "$work/tenant.db" --users "$users" --sync-interval 2s >/dev/null
python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
selectors = [("location", l) for l in ["East", "West", "Central", "North"]] + \
            [("group", g) for g in ["IT", "Managers", "Sales", "Support", "Operations", "Finance"]]
lines = ['version = 1', 'name = "bench-plan"', '[target]', 'kind = "sandbox"', 'sandbox = "tenant.db"',
         '[from]', 'display_name = "Basic Auth"', '[to]', 'display_name = "OAuth"',
         'tenant_id = "contoso.onmicrosoft.com"', '[gate]', 'soak = "30m"', 'timeout = "3h"', 'max_errors = "1%"',
         '[pilot]', 'users = ["ana@contoso.example", "ben@contoso.example"]']
for i in range(19):
    key, value = selectors[i % len(selectors)]
    lines += ['[[batch]]', f'name = "batch-{i:02}"', f'users = {{ {key} = "{value}" }}', 'max_size = 1000',
              'window = "Mon-Fri 18:00-22:00 America/New_York"']
lines += ['[[batch]]', 'name = "everyone-else"', 'users = "remaining"', 'max_size = 1000',
          '[disconnect]', 'after = "24h"']
open(f"{work}/plan.toml", "w").write("\n".join(lines) + "\n")
PY

python3 - "$bin" "$work/plan.toml" "$runs" "$users" <<'PY'
import resource, statistics, subprocess, sys, time
bin, plan, runs, users = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for fmt in ["text", "json"]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([bin, "plan", plan, "--format", fmt, "--now", "2026-12-07T12:00:00Z"],
                       check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    print(f"plan --format {fmt}, {users} users, 20 batches: "
          f"min {min(times)*1000:.0f} ms, median {statistics.median(times)*1000:.0f} ms")
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"peak RSS of any run: {peak:.1f} MiB")
PY
