#!/usr/bin/env bash
# Regenerates docs/report.png, the README's picture of a real report: a sandbox rollout whose
# pilot halts on a denied mailbox, whose `east` passes with an exception that heals later, and
# which finishes after its disconnect was approved. Needs /usr/bin/chromium and Node (npm ci
# here installs the pinned playwright-core). Not run by the tests.
#
#   bash tests/browser/readme-screenshot.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
cargo build --quiet
cutover="$repo/target/debug/cutover"
(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed -e 's/{from}/Basic Auth/' -e 's/{soak}/2s/' -e 's/{max_errors}/1/' \
    -e 's/{disconnect_approval}/true/' tests/fixtures/plans/cases/exceptions/plan.toml \
    > "$work/plan.toml"
cd "$work"
"$cutover" sandbox init tenant.db --scenario demo --users 30 --sync-interval 200ms >/dev/null
east_user="$("$cutover" plan plan.toml --format json | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const step = JSON.parse(s).steps.find((x) => x.id === "east");
    process.stdout.write(step.detail.members[1].email);
  });')"
apply() { "$cutover" apply plan.toml --poll-interval 100ms >/dev/null || true; }
"$cutover" sandbox deny-access tenant.db ben@contoso.example "$east_user" >/dev/null
apply                                                     # the pilot's gate fails: halted
"$cutover" sandbox allow-access tenant.db ben@contoso.example >/dev/null
apply                                                     # east passes with its exception
"$cutover" approve plan.toml disconnect --by "CAB-1234 (J. Doe)" >/dev/null
apply                                                     # the disconnect halts on the exception
"$cutover" sandbox allow-access tenant.db "$east_user" >/dev/null
apply                                                     # healed, disconnected, done
"$cutover" report plan.toml -o report.html
node "$repo/tests/browser/screenshot.js" report.html "$repo/docs/report.png"
echo "wrote docs/report.png"
