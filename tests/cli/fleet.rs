//! `cutover fleet apply | plan | status` over many sandbox tenants: the fleet's exit code, an
//! invalid plan that does not stop the others, a plan locked elsewhere skipped, one dry-run
//! document and one status table, and two fleet processes sharing the work while one of them
//! is killed with SIGKILL.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Run, TestEnv, fixture_plan};

/// `tNN/plan.toml` (plan `tNN`, the fast `rollout` fixture) over `tNN/tenant.db`, for each of
/// `names`, each tenant with `users` users syncing every 40 ms.
fn fleet(names: &[&str], users: usize) -> TestEnv {
    let mut env = TestEnv::new();
    for name in names {
        let plan = fixture_plan("rollout", &[])
            .replace("name = \"rollout\"", &format!("name = \"{name}\""));
        env = env.file(&format!("{name}/plan.toml"), &plan);
        let db = format!("{name}/tenant.db");
        let users = users.to_string();
        let run = env.run([
            "sandbox",
            "init",
            &db,
            "--users",
            &users,
            "--sync-interval",
            "40ms",
        ]);
        assert_eq!(run.code, 0, "{}", run.transcript());
    }
    env
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("t{i:02}")).collect()
}

fn fleet_apply(env: &TestEnv, extra: &[&str]) -> Run {
    let mut args = vec!["fleet", "apply", ".", "--poll-interval", "20ms"];
    args.extend_from_slice(extra);
    env.run(args)
}

fn inspect(env: &TestEnv, name: &str) -> Value {
    let db = format!("{name}/tenant.db");
    let run = env.run(["sandbox", "inspect", &db, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    run.json()
}

/// Every user of the tenant on OAuth alone, Basic disconnected, no violation, nobody's move
/// repeated (the sandbox's write ledger has each change once).
fn assert_migrated(env: &TestEnv, name: &str) {
    let inspect = inspect(env, name);
    for user in inspect["users"].as_array().expect("users") {
        assert_eq!(
            user["enabled"],
            serde_json::json!(["OAuth"]),
            "{name}: {user}"
        );
    }
    let basic = inspect["configurations"]
        .as_array()
        .expect("configurations")
        .iter()
        .find(|c| c["display_name"] == "Basic Auth")
        .map(|c| c["state"].clone());
    assert_eq!(basic, Some(Value::from("disconnected")), "{name}");
    assert_clean_history(&inspect, name);
}

fn assert_clean_history(inspect: &Value, name: &str) {
    assert_eq!(inspect["violations"], serde_json::json!([]), "{name}");
    let mut changes: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for write in inspect["writes"].as_array().expect("writes") {
        if let (true, Some(user)) = (write["changed"] == true, write["user"].as_str()) {
            let key = (
                user.to_owned(),
                write["op"].as_str().unwrap_or("").to_owned(),
                write["configuration"].as_str().unwrap_or("").to_owned(),
            );
            *changes.entry(key).or_default() += 1;
        }
    }
    let twice: Vec<_> = changes.into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "{name}: moved twice: {twice:?}");
}

/// Starts two `fleet apply` processes over `env`'s plans, SIGKILLs the first once `begun` says
/// it has taken enough of them (or after 30 s), and returns how the second ended.
fn kill_one_of_two(env: &TestEnv, begun: impl Fn() -> bool) -> std::process::Output {
    let args = [
        "fleet",
        "apply",
        ".",
        "--poll-interval",
        "20ms",
        "--concurrency",
        "4",
    ];
    let mut doomed = env.spawn(args);
    let survivor = env.spawn(args);
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(30) && !begun() {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        doomed.try_wait().expect("try_wait").is_none(),
        "the first process is still running when it is killed"
    );
    doomed.kill().expect("SIGKILL");
    let _ = doomed.wait();
    survivor
        .wait_with_output()
        .expect("the second process ends")
}

/// The summary line of a plan in `fleet apply`'s closing table.
fn summary_line<'a>(run: &'a Run, name: &str) -> &'a str {
    run.stdout
        .lines()
        .rev()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no summary line for {name}:\n{}", run.transcript()))
}

#[test]
fn a_halted_plan_and_a_done_plan_exit_3_and_lines_name_their_plan() {
    let env = fleet(&["t01", "t02"], 12);
    let deny = env.run([
        "sandbox",
        "deny-access",
        "t02/tenant.db",
        "ana@contoso.example",
    ]);
    assert_eq!(deny.code, 0, "{}", deny.transcript());
    let run = fleet_apply(&env, &[]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert_migrated(&env, "t01");
    assert!(summary_line(&run, "t01").contains("done"), "{}", run.stdout);
    assert!(
        summary_line(&run, "t02").contains("halted: pilot"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("t02: halted: pilot"), "{}", run.stdout);
    // Off a terminal every event line is marked with its plan, after the time.
    for line in run.stdout.lines().filter(|l| l.starts_with("20")) {
        let marked = line.split_once(' ').map(|(_, rest)| rest).unwrap_or("");
        assert!(
            marked.starts_with("t01: ") || marked.starts_with("t02: "),
            "{line}"
        );
    }
    assert!(run.stdout.ends_with("exit 3\n"), "{}", run.stdout);
}

#[test]
fn an_invalid_plan_is_reported_exit_2_and_the_others_still_run() {
    let env = fleet(&["t01"], 12).file("broken/plan.toml", "version = 1\nname = \"broken\"\n");
    let run = fleet_apply(&env, &["--format", "json"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("broken/plan.toml:1:1"),
        "the diagnostic names its place:\n{}",
        run.stderr
    );
    assert_migrated(&env, "t01");
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let (last, events) = events.split_last().expect("events");
    assert!(
        events.iter().all(|e| e["plan"] == "t01"),
        "each event names its plan"
    );
    assert_eq!(last["event"], "fleet_ended");
    assert_eq!(last["exit_code"], 2);
    let codes: BTreeMap<String, i64> = last["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .map(|p| {
            (
                p["plan"].as_str().unwrap_or("").to_owned(),
                p["exit_code"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(codes.get("t01"), Some(&0), "{codes:?}");
    assert_eq!(codes.get("./broken/plan.toml"), Some(&2), "{codes:?}");
}

#[test]
fn a_plan_locked_by_another_process_is_skipped_not_waited_for() {
    let env = fleet(&["t01", "t02"], 12);
    // A long soak keeps a plain `apply` of t02 waiting in-process, holding t02's lock.
    let slow = fixture_plan("rollout", &[])
        .replace("name = \"rollout\"", "name = \"t02\"")
        .replace("soak = \"0s\"", "soak = \"10m\"")
        .replace("timeout = \"1m\"", "timeout = \"1h\"");
    let env = env.file("t02/plan.toml", &slow);
    let mut holder = env.spawn(["apply", "t02/plan.toml", "--poll-interval", "50ms"]);
    let state = env.path().join("t02/.cutover/t02.state.db");
    let mut skipped = None;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        if !state.exists() {
            continue;
        }
        let run = fleet_apply(&env, &[]);
        if summary_line(&run, "t02").contains("skipped") {
            skipped = Some(run);
            break;
        }
    }
    let _ = holder.kill();
    let _ = holder.wait();
    let run = skipped.expect("t02 was skipped while another process held its lock");
    // Done and run elsewhere: the fleet waits (4), it is not locked out (5).
    assert_eq!(run.code, 4, "{}", run.transcript());
    assert!(
        summary_line(&run, "t02").contains(&format!("pid {}", holder.id())),
        "the holder is named:\n{}",
        run.stdout
    );
    assert_migrated(&env, "t01");
    assert!(
        run.stdout.contains("1 run elsewhere, 1 done"),
        "{}",
        run.stdout
    );
}

#[test]
fn fleet_plan_is_one_document_with_every_plan() {
    let env = fleet(&["t01", "t02", "t03"], 12).file("bad/plan.toml", "version = 1\n");
    let json = env.run(["fleet", "plan", ".", "--format", "json"]);
    assert_eq!(
        json.code,
        2,
        "an invalid plan makes the document exit 2:\n{}",
        json.transcript()
    );
    let doc = json.json();
    let plans = doc["plans"].as_array().expect("plans");
    let names: Vec<&str> = plans.iter().filter_map(|p| p["plan"].as_str()).collect();
    assert_eq!(names, ["./bad/plan.toml", "t01", "t02", "t03"]);
    for plan in &plans[1..] {
        assert_eq!(plan["status"], "ready", "{plan}");
        assert_eq!(plan["users"], 12, "every user of every step: {plan}");
        assert_eq!(plan["dry_run"]["plan"]["name"], plan["plan"], "{plan}");
    }
    assert_eq!(plans[0]["status"], "invalid");

    let md = env.run([
        "fleet",
        "plan",
        "t01/plan.toml",
        "t02/plan.toml",
        "t03/plan.toml",
        "--format",
        "markdown",
        "--now",
        "2026-12-01T12:00:00Z",
    ]);
    assert_eq!(md.code, 0, "{}", md.transcript());
    assert!(
        md.stdout.starts_with("# Fleet dry-run: 3 plan(s)"),
        "{}",
        md.stdout
    );
    for name in ["t01", "t02", "t03"] {
        assert!(
            md.stdout.contains(&format!("| `{name}` |")),
            "summary row {name}"
        );
        // Both at the same moment: a document read a second apart may say another time.
        let single = env.run([
            "plan",
            &format!("{name}/plan.toml"),
            "--format",
            "markdown",
            "--now",
            "2026-12-01T12:00:00Z",
        ]);
        // Each plan's part is its own `cutover plan` document, as the board would read it alone
        // (the digest line aside: it is the same, as the platform did not change).
        assert!(
            md.stdout.contains(single.stdout.trim_end()),
            "{name}'s dry-run in full"
        );
    }
    let text = env.run(["fleet", "plan", ".", "--now", "2026-12-01T12:00:00Z"]);
    assert_eq!(text.code, 2, "{}", text.transcript());
    for name in ["t01", "t02", "t03"] {
        assert!(
            text.stdout
                .contains(&format!("==== {name} (./{name}/plan.toml) ====")),
            "{}",
            text.stdout
        );
    }
    assert!(text.stdout.contains("INVALID"), "{}", text.stdout);
    // Nothing was written to any tenant.
    for name in ["t01", "t02", "t03"] {
        assert_eq!(
            inspect(&env, name)["writes"],
            serde_json::json!([]),
            "{name}"
        );
    }
}

#[test]
fn fleet_status_is_one_table_from_the_state_alone() {
    let env = fleet(&["t01", "t02"], 12);
    let deny = env.run([
        "sandbox",
        "deny-access",
        "t02/tenant.db",
        "ana@contoso.example",
    ]);
    assert_eq!(deny.code, 0);
    assert_eq!(fleet_apply(&env, &[]).code, 3);
    // The platforms gone: status reads nothing but the state.
    for name in ["t01", "t02"] {
        std::fs::remove_file(env.path().join(name).join("tenant.db")).expect("remove sandbox");
    }
    let text = env.run(["fleet", "status", "."]);
    assert_eq!(text.code, 3, "{}", text.transcript());
    let lines: Vec<&str> = text.stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["PLAN", "STEP", "STATE", "WAITING", "EXCEPTIONS", "HOLDER"]
    );
    let row = |name: &str| -> Vec<&str> {
        lines
            .iter()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default()
    };
    assert_eq!(
        row("t01"),
        ["t01", "disconnect", "done", "-", "0", "-"],
        "{}",
        text.stdout
    );
    assert_eq!(
        row("t02"),
        ["t02", "pilot", "halted", "-", "0", "-"],
        "{}",
        text.stdout
    );
    let json = env.run(["fleet", "status", ".", "--format", "json"]);
    assert_eq!(json.code, 3, "{}", json.transcript());
    let plans = json.json()["plans"].clone();
    assert_eq!(plans[0]["plan"], "t01");
    assert_eq!(plans[0]["state"], "done");
    assert_eq!(plans[0]["exit_code"], 0);
    assert_eq!(plans[1]["state"], "halted");
    assert_eq!(plans[1]["exit_code"], 3);
    assert_eq!(plans[1]["step"], "pilot");
}

/// Two `fleet apply` processes over the same 20 tenants at once, one killed with SIGKILL
/// mid-run, then a rerun: every tenant complete, no move repeated, no violation.
#[test]
fn two_fleet_processes_share_the_work_and_one_killed_is_resumed() {
    let names = names(20);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let env = fleet(&refs, 12);
    // Kill it once it has taken some plans (their state files exist) and before it is done.
    let survived = kill_one_of_two(&env, || {
        refs.iter()
            .filter(|n| {
                env.path()
                    .join(n)
                    .join(format!(".cutover/{n}.state.db"))
                    .exists()
            })
            .count()
            >= 6
    });
    let code = survived.status.code();
    // It skipped what the killed one held (4), or found it all its own to finish (0).
    assert!(code == Some(0) || code == Some(4), "{survived:?}");
    for name in &refs {
        assert_clean_history(&inspect(&env, name), name);
    }
    let rerun = fleet_apply(&env, &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.transcript());
    for name in &refs {
        assert_migrated(&env, name);
    }
    let status = env.run(["fleet", "status", ".", "--format", "json"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    assert!(
        Path::new(env.path())
            .join("t01/.cutover/t01.state.db")
            .exists()
    );
}

/// Three tenants of one multi-tenant platform (`sandbox serve --tenant`), one rate limit for
/// all: the fleet shares one request budget for them and every tenant completes, each on its
/// own sandbox (the root one untouched).
#[test]
fn tenants_of_one_platform_over_http_share_its_rate_limit_and_complete() {
    let tenants = ["t01", "t02", "t03"];
    let mut env = fleet(&tenants, 12).sandbox("demo", 4, "40ms");
    env.set_env("CUTOVER_API_TOKEN", crate::support::TOKEN);
    let mut flags = vec!["--rate-limit".to_owned(), "60".to_owned()];
    for name in tenants {
        flags.push("--tenant".to_owned());
        flags.push(format!("{name}={name}/tenant.db"));
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let served = env.serve(&flags);
    let mut env = env;
    for name in tenants {
        let url = format!("{}/tenants/{name}", served.url);
        let plan = fixture_plan("over-http", &[("url", &url), ("rest_size", "12")])
            .replace("name = \"over-http\"", &format!("name = \"{name}\""));
        env = env.file(&format!("{name}/plan.toml"), &plan);
    }
    let run = fleet_apply(&env, &["--yes", "--rate-limit", "100"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    for name in tenants {
        assert_migrated(&env, name);
    }
    assert_eq!(
        env.inspect()["writes"],
        serde_json::json!([]),
        "the root tenant is another tenant"
    );
    drop(served);
}

/// SIGTERM stops every plan of a running fleet at a safe point: the process ends by the signal,
/// every lock is given back, and the next run resumes.
#[test]
fn sigterm_stops_every_plan_and_gives_back_every_lock() {
    let env = fleet(&["t01", "t02"], 12);
    let mut env = env;
    for name in ["t01", "t02"] {
        let slow = fixture_plan("rollout", &[])
            .replace("name = \"rollout\"", &format!("name = \"{name}\""))
            .replace("soak = \"0s\"", "soak = \"10m\"")
            .replace("timeout = \"1m\"", "timeout = \"1h\"");
        env = env.file(&format!("{name}/plan.toml"), &slow);
    }
    let mut running = env.spawn(["fleet", "apply", ".", "--poll-interval", "20ms"]);
    let held = |env: &TestEnv| -> usize {
        let status = env.run(["fleet", "status", ".", "--format", "json"]).json();
        status["plans"]
            .as_array()
            .map_or(0, |p| p.iter().filter(|p| !p["holder"].is_null()).count())
    };
    let started = std::time::Instant::now();
    while held(&env) < 2 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(held(&env), 2, "both plans run, each under its lock");
    let pid = running.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(kill.is_ok_and(|s| s.success()));
    let status = running.wait().expect("the fleet ends");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15),
        "{status:?}"
    );
    assert_eq!(held(&env), 0, "every lock given back");
    let next = fleet_apply(&env, &["--until-blocked"]);
    assert_eq!(next.code, 4, "{}", next.transcript());
    assert!(
        next.stdout.contains("t01: waiting: soak pilot until "),
        "{}",
        next.stdout
    );
}

/// The same, with every plan's state in one PostgreSQL database (`CUTOVER_STATE`): two
/// processes share the fleet through the database's run locks, the one killed with SIGKILL
/// loses its locks with its sessions, and a rerun finishes what it held.
#[test]
fn two_fleet_processes_share_one_postgresql_database_and_one_killed_is_resumed() {
    use crate::pg_server::{OPS_PASSWORD, server};
    let names = names(20);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut env = fleet(&refs, 12);
    let pg = server();
    let schema = pg.fresh_schema("fleet");
    env.set_env("CUTOVER_STATE", &pg.ops_url(&schema));
    env.set_env("PGPASSWORD", OPS_PASSWORD);
    let begun = || {
        pg.psql(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}' AND tablename = 'rollouts'"
        )) == "1"
            && pg
                .psql(&format!("SELECT count(*) FROM {schema}.rollouts"))
                .parse::<usize>()
                .is_ok_and(|n| n >= 6)
    };
    let survived = kill_one_of_two(&env, begun);
    let code = survived.status.code();
    assert!(code == Some(0) || code == Some(4), "{survived:?}");
    for name in &refs {
        assert_clean_history(&inspect(&env, name), name);
    }
    let rerun = fleet_apply(&env, &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.transcript());
    for name in &refs {
        assert_migrated(&env, name);
        assert!(
            !env.path()
                .join(format!("{name}/.cutover/{name}.state.db"))
                .exists(),
            "{name}'s state is on PostgreSQL, not in a file"
        );
    }
    assert_eq!(
        pg.psql(&format!("SELECT count(*) FROM {schema}.rollouts")),
        "20",
        "one rollout per plan"
    );
    let status = env.run(["fleet", "status", ".", "--format", "json"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    for name in &refs {
        let log = env.run(["log", &format!("{name}/plan.toml"), "--verify"]);
        assert_eq!(log.code, 0, "{name}: {}", log.transcript());
    }
}

#[test]
fn a_state_file_for_the_whole_fleet_is_refused() {
    let mut env = fleet(&["t01"], 12);
    env.set_env("CUTOVER_STATE", "one.state.db");
    let refused = fleet_apply(&env, &[]);
    assert_eq!(refused.code, 2, "{}", refused.transcript());
    assert!(refused.stderr.contains("postgres://"), "{}", refused.stderr);
}
