#!/usr/bin/env bash
# Benchmark: `cutover validate` on a plan listing 50,000 users across 20 CSV files.
# Usage: bench/validate.sh [USERS] [RUNS]     (release build; prints wall times and peak memory)
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-50000}
runs=${2:-10}

cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" "$users" <<'PY'
import os, sys
work, users = sys.argv[1], int(sys.argv[2])
batches = 20
per = users // batches
lines = ['version = 1', 'name = "bench"', '[target]', 'kind = "sandbox"', 'sandbox = "demo"',
         '[from]', 'display_name = "Basic Auth"', '[to]', 'display_name = "OAuth"',
         'tenant_id = "contoso.onmicrosoft.com"', '[gate]', 'soak = "10m"', 'timeout = "2h"']
for b in range(batches):
    name = f"branch-{b:02}.csv"
    with open(os.path.join(work, name), "w") as f:
        f.write("Employee ID;Name;Email;Location\n")
        for u in range(per):
            n = b * per + u
            f.write(f'{n};"User {n}";user{n:06}@contoso.example;Branch {b}\n')
    lines += ['[[batch]]', f'name = "branch-{b:02}"', f'users = {{ file = "{name}" }}',
              'window = "Mon-Fri 18:00-22:00 America/New_York"']
lines += ['[disconnect]', 'after = "24h"']
open(os.path.join(work, "plan.toml"), "w").write("\n".join(lines) + "\n")
PY

bin=$PWD/target/release/cutover
"$bin" validate "$work/plan.toml" >/dev/null
python3 - "$bin" "$work/plan.toml" "$runs" "$users" <<'PY'
import resource, statistics, subprocess, sys, time
bin, plan, runs, users = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
times = []
for _ in range(runs):
    start = time.perf_counter()
    subprocess.run([bin, "validate", plan], check=True, stdout=subprocess.DEVNULL)
    times.append(time.perf_counter() - start)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"validate, {users} users in 20 CSV files, {runs} runs: "
      f"min {min(times)*1000:.1f} ms, median {statistics.median(times)*1000:.1f} ms, "
      f"max {max(times)*1000:.1f} ms; peak RSS {peak_kib/1024:.1f} MiB")
PY
