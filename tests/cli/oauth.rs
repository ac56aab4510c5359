//! OAuth for real: `sandbox serve` as the platform, an OAuth client of a real authorization
//! server (`oidc-provider`) that connects the new configuration by authorization code + PKCE;
//! cutover's http target on app tokens by client credentials; the mailbox pre-check against
//! Graph. And proof that no secret or token lands in anything cutover or the sandbox wrote.

use std::collections::BTreeSet;
use std::io::BufRead;

use serde_json::Value;

use crate::idp::{
    API_CERT_CLIENT, API_CLIENT, API_SECRET, GRAPH_CERT_CLIENT, GRAPH_CLIENT, GRAPH_SECRET, Idp,
    PFX_PASSWORD, PLATFORM_SECRET, SANDBOX_KEY, TENANT, browse, free_port, private_key_lines,
    request,
};
use crate::support::{Run, TOKEN, TestEnv, fixture_plan};

const SERVICE_ACCOUNT: &str = "svc-sync@contoso.example";

/// A plan over the http target; `auth` is its `token = …` line or a `[target.auth]` table.
fn http_plan(url: &str, auth: &str, soak: &str) -> String {
    fixture_plan(
        "oauth-http",
        &[
            ("url", url),
            ("auth", auth),
            ("service_account", SERVICE_ACCOUNT),
            ("soak", soak),
        ],
    )
}

const FIXED_TOKEN: &str = "token = { env = \"CUTOVER_API_TOKEN\" }";

/// A demo tenant served with an identity provider; cutover holds the fixed API token.
struct Connect {
    env: TestEnv,
    idp: Idp,
    served: crate::idp::OAuthServed,
}

fn connect_env(idp_env: &[(&str, &str)], serve_env: &[(&str, &str)], flags: &[&str]) -> Connect {
    connect_env_with(idp_env, serve_env, flags, |plan| plan)
}

/// As [`connect_env`], with the plan changed by `edit` (its tenant, say).
fn connect_env_with(
    idp_env: &[(&str, &str)],
    serve_env: &[(&str, &str)],
    flags: &[&str],
    edit: impl FnOnce(String) -> String,
) -> Connect {
    let mut env = TestEnv::new().sandbox("demo", 12, "50ms");
    env.set_env("CUTOVER_API_TOKEN", TOKEN);
    let port = free_port();
    let idp = Idp::start(env.path(), port, idp_env);
    let mut serve_env = serve_env.to_vec();
    serve_env.push(("CUTOVER_SANDBOX_TOKEN", TOKEN));
    let served = env.serve_with_idp(&idp, port, &serve_env, flags);
    let plan = edit(http_plan(&served.url, FIXED_TOKEN, "0s"));
    let env = env.file("plan.toml", &plan);
    Connect { env, idp, served }
}

fn until_blocked(env: &TestEnv, extra: &[&str]) -> Run {
    let mut args = vec![
        "apply",
        "plan.toml",
        "--until-blocked",
        "--yes",
        "--poll-interval",
        "20ms",
    ];
    args.extend_from_slice(extra);
    env.run(args)
}

/// The authorization URL cutover printed.
fn authorization_url(run: &Run, issuer: &str) -> String {
    run.stdout
        .split_whitespace()
        .find(|w| w.starts_with(issuer))
        .unwrap_or_else(|| panic!("no authorization URL:\n{}", run.transcript()))
        .to_owned()
}

fn last_line(run: &Run) -> &str {
    run.stdout.lines().last().unwrap_or("")
}

fn configuration<'a>(inspect: &'a Value, name: &str) -> &'a Value {
    inspect["configurations"]
        .as_array()
        .expect("configurations")
        .iter()
        .find(|c| c["display_name"] == name)
        .unwrap_or_else(|| panic!("no configuration {name}"))
}

fn enabled_on_oauth(inspect: &Value) -> usize {
    inspect["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| {
            u["enabled"]
                .as_array()
                .is_some_and(|e| e.iter().any(|c| c == "OAuth"))
        })
        .count()
}

/// Every byte cutover and `sandbox serve` wrote — the runs' output, the state database, the
/// sandbox file, the saved dry-runs, the server's logs — holds none of the secrets and none of
/// the tokens or codes the identity provider issued.
fn assert_no_secrets(env: &TestEnv, idp: &Idp, runs: &[&Run]) {
    let mut secrets: Vec<String> = [
        PLATFORM_SECRET,
        API_SECRET,
        GRAPH_SECRET,
        SANDBOX_KEY,
        TOKEN,
        PFX_PASSWORD,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // The certificate credential's private key, line by line of its PEM body.
    secrets.extend(private_key_lines());
    let issued = idp.issued();
    assert!(!issued.is_empty(), "the identity provider issued nothing");
    secrets.extend(issued);
    let mut haystacks: Vec<(String, Vec<u8>)> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, run)| {
            [
                (format!("run {i} stdout"), run.stdout.clone().into_bytes()),
                (format!("run {i} stderr"), run.stderr.clone().into_bytes()),
            ]
        })
        .collect();
    let mut stack = vec![env.path().to_path_buf()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // The identity provider's own log of what it issued is the list we search for; the
            // certificate files hold the key by nature (they are the plan's references).
            if path
                .file_name()
                .is_some_and(|n| n == "idp-tokens.log" || n == "app.pem" || n == "app.pfx")
            {
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).expect("read file");
            haystacks.push((path.display().to_string(), bytes));
        }
    }
    assert!(files >= 4, "expected the state db, sandbox file and logs");
    for (name, bytes) in &haystacks {
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{name} holds a secret or token ({}…)",
                &secret[..4]
            );
        }
    }
}

/// Runs `apply` (waiting in-process), handing each line it prints to `react` as it comes, the
/// way an operator watching it would act.
fn apply_reacting(env: &TestEnv, mut react: impl FnMut(&str)) -> Run {
    let mut child = env.spawn(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    let stdout = child.stdout.take().expect("stdout");
    let mut printed = String::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        react(&line);
        printed.push_str(&line);
        printed.push('\n');
    }
    let output = child.wait_with_output().expect("apply ends");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: printed,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn connect_waits_for_the_code_and_pkce_exchange_then_runs_to_the_end() {
    let Connect { env, idp, served } = connect_env(&[], &[], &[]);
    // `apply` without --until-blocked waits in-process while the admin signs in.
    let mut url = None;
    let run = apply_reacting(&env, |line| {
        if url.is_some() {
            return;
        }
        if let Some(found) = line.split_whitespace().find(|w| w.starts_with(&idp.issuer)) {
            url = Some(found.to_owned());
            let (ok, page) = browse(found, &[]);
            assert!(ok, "{page}");
            assert!(
                page.contains(&format!("Authorized as {SERVICE_ACCOUNT}")),
                "{page}"
            );
        }
    });
    assert_eq!(run.code, 0, "{}", run.transcript());
    let stdout = &run.stdout;
    let url = url.unwrap_or_else(|| panic!("no authorization URL:\n{stdout}"));

    // The platform asked for the code flow with PKCE (S256), a state, and the service account.
    for part in [
        "response_type=code",
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "login_hint=svc-sync%40contoso.example",
        "domain_hint=contoso.example",
        // `consent` would not stop a browser session signing in whoever it holds.
        "prompt=select_account",
        "scope=openid+profile+email+offline_access",
    ] {
        assert!(url.contains(part), "{part} missing from {url}");
    }
    // The seed's checklist, with the account to sign in as.
    for part in [
        "private (incognito)",
        "sign out of every Microsoft session",
        SERVICE_ACCOUNT,
    ] {
        assert!(stdout.contains(part), "{part}:\n{stdout}");
    }
    assert!(
        stdout.contains(&format!("authorized by {SERVICE_ACCOUNT}")),
        "{stdout}"
    );
    let inspect = env.inspect();
    assert_eq!(
        configuration(&inspect, "OAuth")["authorized_account"],
        SERVICE_ACCOUNT
    );
    assert_eq!(enabled_on_oauth(&inspect), 12);
    served.stop();
    assert_no_secrets(&env, &idp, &[&run]);
}

#[test]
fn the_wrong_account_is_refused_and_reauthorize_starts_over() {
    let Connect { env, idp, served } = connect_env(&[], &[], &[]);
    let first = until_blocked(&env, &[]);
    assert_eq!(first.code, 6, "{}", first.transcript());
    assert!(
        last_line(&first).starts_with("waiting: authorization connect"),
        "{}",
        first.transcript()
    );
    let url = authorization_url(&first, &idp.issuer);

    // The admin was still signed in as themselves: the platform connects as that account.
    let (ok, page) = browse(&url, &["--account", "alex.admin@contoso.example"]);
    assert!(ok, "{page}");
    let refused = until_blocked(&env, &[]);
    assert_eq!(refused.code, 3, "{}", refused.transcript());
    let text = refused.transcript();
    for part in [
        "alex.admin@contoso.example",
        SERVICE_ACCOUNT,
        "--reauthorize",
        "private window",
    ] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
    assert_eq!(enabled_on_oauth(&env.inspect()), 0, "nobody switched");

    // Starting over gives a new authorization (a new state), which the right account completes.
    let again = until_blocked(&env, &["--reauthorize"]);
    assert_eq!(again.code, 6, "{}", again.transcript());
    let second_url = authorization_url(&again, &idp.issuer);
    assert_ne!(second_url, url);
    let (ok, page) = browse(&second_url, &[]);
    assert!(ok, "{page}");
    let done = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    assert_eq!(enabled_on_oauth(&env.inspect()), 12);
    served.stop();
    assert_no_secrets(&env, &idp, &[&first, &refused, &again, &done]);
}

/// Each case: what the identity provider really answers, as cutover then says it.
#[test]
fn oauth_errors_from_the_authorization_server_are_reported_in_plain_words() {
    struct Case {
        name: &'static str,
        idp_env: &'static [(&'static str, &'static str)],
        serve_env: &'static [(&'static str, &'static str)],
        flags: &'static [&'static str],
        browser: &'static [&'static str],
        expect: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "denied consent",
            idp_env: &[],
            serve_env: &[],
            flags: &[],
            browser: &["--deny"],
            expect: &["access_denied", "consent was declined"],
        },
        Case {
            name: "wrong client secret",
            idp_env: &[],
            serve_env: &[("CUTOVER_SANDBOX_OAUTH_SECRET", "not-the-platform-secret")],
            flags: &[],
            browser: &[],
            expect: &[
                "invalid_client",
                "refused the platform's client id or secret",
            ],
        },
        Case {
            name: "wrong PKCE verifier",
            idp_env: &[],
            serve_env: &[],
            flags: &["--wrong-pkce-verifier"],
            browser: &[],
            expect: &["invalid_grant", "PKCE verifier did not match"],
        },
        Case {
            name: "expired code",
            idp_env: &[("IDP_CODE_TTL", "1")],
            serve_env: &[],
            flags: &[],
            browser: &["--pause-before-callback", "2500"],
            expect: &["invalid_grant", "authorization code expired"],
        },
    ];
    for case in cases {
        let Connect { env, idp, served } = connect_env(case.idp_env, case.serve_env, case.flags);
        let first = until_blocked(&env, &[]);
        assert_eq!(first.code, 6, "{}: {}", case.name, first.transcript());
        let url = authorization_url(&first, &idp.issuer);
        let (ok, page) = browse(&url, case.browser);
        assert!(!ok, "{}: the platform accepted it: {page}", case.name);
        let halted = until_blocked(&env, &[]);
        assert_eq!(halted.code, 3, "{}: {}", case.name, halted.transcript());
        let text = halted.transcript();
        assert!(
            text.contains("authorizing \"OAuth\" failed"),
            "{}: {text}",
            case.name
        );
        for part in case.expect {
            assert!(text.contains(part), "{}: {part}:\n{text}", case.name);
            assert!(
                page.contains(part),
                "{}: the browser page: {part}:\n{page}",
                case.name
            );
        }
        assert_eq!(enabled_on_oauth(&env.inspect()), 0, "{}", case.name);
        drop(served);
    }
}

/// The sandbox's serve log: the summary it prints when stopped.
fn serve_summary(env: &TestEnv) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(env.path()).expect("dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("serve-") && name.ends_with(".out") {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    text
}

fn unauthorized_count(summary: &str) -> u64 {
    let at = summary
        .find(" unauthorized (401)")
        .unwrap_or_else(|| panic!("no summary: {summary}"));
    summary[..at]
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count: {summary}"))
}

/// Users on at least one configuration: those a rollout moves (`part-migrated` has two on
/// neither, whom no plan can move).
fn movable(inspect: &Value) -> usize {
    inspect["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["enabled"].as_array().is_some_and(|e| !e.is_empty()))
        .count()
}

/// An already-connected OAuth configuration (`part-migrated`), so the API runs on app tokens
/// alone, with no fixed token anywhere.
fn app_token_env(token_ttl: &str, soak: &str) -> (TestEnv, Idp, crate::idp::OAuthServed) {
    let mut env = TestEnv::new().sandbox("part-migrated", 24, "50ms");
    env.set_env("CUTOVER_API_SECRET", API_SECRET);
    let port = free_port();
    let idp = Idp::start(env.path(), port, &[("IDP_TOKEN_TTL", token_ttl)]);
    let served = env.serve_with_idp(&idp, port, &[], &[]);
    let auth = format!(
        "\n[target.auth]\ntoken_url = \"{}\"\nclient_id = \"{API_CLIENT}\"\nclient_secret = {{ env = \"CUTOVER_API_SECRET\" }}\nscopes = [\"platform.admin\"]",
        idp.token_url()
    );
    // The adopted configuration was connected by hand, by whoever: the plan names nobody.
    let plan = http_plan(&served.url, &auth, soak)
        .replace(&format!("service_account = \"{SERVICE_ACCOUNT}\"\n"), "");
    let env = env.file("plan.toml", &plan);
    (env, idp, served)
}

#[test]
fn the_http_target_runs_on_app_tokens_refreshed_before_they_expire() {
    // Tokens live 4 s, so a run of several seconds needs fresh ones: fetched ahead of expiry,
    // never discovered by a refusal.
    let (env, idp, served) = app_token_env("4", "3s");
    let expected = movable(&env.inspect());
    let run = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        idp.issued().len() >= 2,
        "one token for the whole run: {:?}",
        idp.issued().len()
    );
    served.stop();
    assert_eq!(unauthorized_count(&serve_summary(&env)), 0);
    assert_eq!(enabled_on_oauth(&env.inspect()), expected);
    assert_no_secrets(&env, &idp, &[&run]);

    // Without the secret, the run stops before anything, naming the variable, not a value.
    let mut missing = TestEnv::new().file(
        "plan.toml",
        &std::fs::read_to_string(env.path().join("plan.toml")).expect("plan"),
    );
    missing.set_env("CUTOVER_API_SECRET", "");
    let refused = missing.run(["apply", "plan.toml"]);
    assert_eq!(refused.code, 1, "{}", refused.transcript());
    assert!(
        refused.stderr.contains("CUTOVER_API_SECRET"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_revoked_app_token_is_replaced_once_and_the_call_retried() {
    let (env, idp, served) = app_token_env("3600", "4s");
    let mut revoked = 0;
    let run = apply_reacting(&env, |line| {
        if revoked == 0 && line.contains("pilot: every user switched") {
            // The pilot soaks for 4 s, polling the platform: revoke the token it holds.
            revoked = idp.revoke_all();
            assert!(revoked >= 1);
        }
    });
    let stdout = &run.stdout;
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(revoked >= 1, "the pilot never soaked:\n{stdout}");
    // One token, then exactly one more, fetched after the refusal.
    assert_eq!(idp.issued().len(), 2, "{stdout}");
    served.stop();
    assert_eq!(unauthorized_count(&serve_summary(&env)), 1);
}

/// `access-policy` leaves four mailboxes out of the OAuth app's access policy.
fn precheck_env(on_denied: &str) -> (TestEnv, Idp, crate::idp::OAuthServed, BTreeSet<String>) {
    let mut env = TestEnv::new().sandbox("access-policy", 48, "50ms");
    env.set_env("CUTOVER_GRAPH_SECRET", GRAPH_SECRET);
    let port = free_port();
    let idp = Idp::start(env.path(), port, &[]);
    // Graph is served by the same sandbox; the plan's target is the sandbox file itself.
    let served = env.serve_with_idp(&idp, port, &[], &[]);
    let denied: BTreeSet<String> = env.inspect()["faults"]
        .as_array()
        .expect("faults")
        .iter()
        .filter(|f| f["fault"] == "deny_access")
        .map(|f| f["user"].as_str().expect("user").to_owned())
        .collect();
    assert_eq!(denied.len(), 4);
    let plan = fixture_plan(
        "precheck",
        &[
            ("url", &served.url),
            ("token_url", &idp.token_url()),
            ("graph_client", GRAPH_CLIENT),
            ("on_denied", on_denied),
        ],
    );
    let env = env.file("plan.toml", &plan);
    (env, idp, served, denied)
}

fn user<'a>(inspect: &'a Value, email: &str) -> &'a Value {
    inspect["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("no user {email}"))
}

#[test]
fn the_mailbox_precheck_names_every_denied_mailbox_and_blocks_the_switch() {
    let (env, idp, served, denied) = precheck_env("block");

    // The dry-run asks Graph and names exactly the denied mailboxes, with when it saw them.
    let dry = env.run(["plan", "plan.toml", "--format", "json"]);
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    let json = dry.json();
    let named: BTreeSet<String> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "mailbox-access-denied")
        .flat_map(|f| f["users"].as_array().expect("users").clone())
        .map(|u| u.as_str().expect("email").to_owned())
        .collect();
    assert_eq!(named, denied, "{}", dry.stdout);
    let text = env.run(["plan", "plan.toml"]);
    assert!(
        text.stdout.contains("403 ErrorAccessDenied"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("seen at"), "{}", text.stdout);

    // `apply` halts at the first step with a denied member, before switching it: `east`.
    let run = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert!(run.stdout.contains("HALTED at east"), "{}", run.stdout);
    let inspect = env.inspect();
    let in_east: Vec<&String> = denied
        .iter()
        .filter(|e| user(&inspect, e)["location"] == "East")
        .collect();
    assert!(!in_east.is_empty());
    for email in &in_east {
        assert!(
            run.stdout.contains(email.as_str()),
            "{email}:\n{}",
            run.stdout
        );
    }
    let never_switched = |inspect: &Value| {
        for email in &denied {
            assert_eq!(
                user(inspect, email)["enabled"],
                serde_json::json!(["Basic Auth"])
            );
        }
        for write in inspect["writes"].as_array().expect("writes") {
            if let Some(email) = write["user"].as_str() {
                assert!(
                    !(denied.contains(email) && write["op"] == "enable"),
                    "a denied mailbox was switched: {write}"
                );
            }
        }
    };
    never_switched(&inspect);
    // `status` does not call Graph, but shows the halt from what the run saw (for monitoring).
    let status = env.run(["status", "plan.toml"]);
    assert_eq!(status.code, 3, "{}", status.transcript());
    for email in &in_east {
        assert!(
            status.stdout.contains(email.as_str()),
            "{email}:\n{}",
            status.stdout
        );
    }

    // The Exchange admin widens the policy for east's users only: east runs, `rest` halts.
    let mut allow = vec!["sandbox", "allow-access", "tenant.db"];
    allow.extend(in_east.iter().map(|e| e.as_str()));
    assert_eq!(env.run(&allow).code, 0);
    let again = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    assert_eq!(again.code, 3, "{}", again.transcript());
    assert!(again.stdout.contains("HALTED at rest"), "{}", again.stdout);
    let inspect = env.inspect();
    for email in denied.iter().filter(|e| !in_east.contains(e)) {
        assert!(
            again.stdout.contains(email.as_str()),
            "{email}:\n{}",
            again.stdout
        );
        assert_eq!(
            user(&inspect, email)["enabled"],
            serde_json::json!(["Basic Auth"])
        );
    }
    // Then for everyone: the rollout completes.
    let mut allow = vec!["sandbox", "allow-access", "tenant.db"];
    allow.extend(denied.iter().map(String::as_str));
    assert_eq!(env.run(&allow).code, 0);
    let done = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    assert_eq!(enabled_on_oauth(&env.inspect()), 48);
    served.stop();
    assert_no_secrets(&env, &idp, &[&dry, &text, &run, &again, &done]);
}

#[test]
fn skipped_denied_mailboxes_stay_on_basic_and_the_rest_move() {
    let (env, idp, served, denied) = precheck_env("skip");
    let run = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    // The denied users stay on Basic, so the disconnect refuses to strand them.
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert!(run.stdout.contains("left out"), "{}", run.stdout);
    let inspect = env.inspect();
    for u in inspect["users"].as_array().expect("users") {
        let email = u["email"].as_str().expect("email");
        let expected = if denied.contains(email) {
            "Basic Auth"
        } else {
            "OAuth"
        };
        assert_eq!(u["enabled"], serde_json::json!([expected]), "{email}");
    }
    assert_eq!(inspect["violations"], Value::Array(vec![]));
    served.stop();
    assert_no_secrets(&env, &idp, &[&run]);
}

#[test]
fn open_hands_the_authorization_url_to_the_desktop_browser() {
    let Connect {
        mut env,
        idp,
        served,
    } = connect_env(&[], &[], &[]);
    // The desktop's opener, standing in for a browser: it records what it was asked to open.
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let opener = bin.join("xdg-open");
    std::fs::write(
        &opener,
        "#!/bin/sh\nd=$(dirname \"$0\")\nprintf '%s' \"$1\" > \"$d/opening\" && mv \"$d/opening\" \"$d/opened\"\n",
    )
    .expect("opener");
    std::process::Command::new("chmod")
        .args(["+x", &opener.display().to_string()])
        .status()
        .expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    env.set_env("PATH", &path);
    let run = until_blocked(&env, &["--open"]);
    assert_eq!(run.code, 6, "{}", run.transcript());
    let url = authorization_url(&run, &idp.issuer);
    let opened = bin.join("opened");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !opened.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(&opened).expect("opened"), url);
    drop(served);
}

#[test]
fn a_callback_completes_once_and_tokens_work_only_where_they_were_issued_for() {
    let Connect { env, idp, served } = connect_env(&[], &[], &[]);
    let first = until_blocked(&env, &[]);
    assert_eq!(first.code, 6, "{}", first.transcript());
    let url = authorization_url(&first, &idp.issuer);
    let (ok, page) = browse(&url, &[]);
    assert!(ok, "{page}");
    let callback = page
        .lines()
        .find_map(|l| l.strip_prefix("callback "))
        .expect("the callback URL")
        .to_owned();

    // Replayed (a reload, a stolen URL): refused, and the connection stands.
    let (status, body) = request("GET", &callback, &[], "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("already used"), "{body}");
    // A forged state, and none at all: refused too.
    let forged = callback.replace("state=", "state=x");
    assert_eq!(request("GET", &forged, &[], "").0, 400);
    let bare = format!("{}/oauth/callback?code=abc", served.url);
    assert_eq!(request("GET", &bare, &[], "").0, 400);
    let inspect = env.inspect();
    assert_eq!(configuration(&inspect, "OAuth")["state"], "connected");
    assert_eq!(
        configuration(&inspect, "OAuth")["authorized_account"],
        SERVICE_ACCOUNT
    );

    // App tokens: the API accepts only its own audience, Graph only Graph's.
    let api = idp.app_token(API_CLIENT, API_SECRET, "platform.admin");
    let graph = idp.app_token(
        GRAPH_CLIENT,
        GRAPH_SECRET,
        "https://graph.microsoft.com/.default",
    );
    let bearer = |token: &str| format!("Bearer {token}");
    let whoami = format!("{}/whoami", served.url);
    let calendar = format!(
        "{}/graph/v1.0/users/ana@contoso.example/calendar",
        served.url
    );
    assert_eq!(
        request("GET", &whoami, &[("Authorization", &bearer(&api))], "").0,
        200
    );
    assert_eq!(
        request("GET", &whoami, &[("Authorization", &bearer(&graph))], "").0,
        401
    );
    assert_eq!(
        request("GET", &calendar, &[("Authorization", &bearer(&graph))], "").0,
        200
    );
    assert_eq!(
        request("GET", &calendar, &[("Authorization", &bearer(&api))], "").0,
        401
    );
    assert_eq!(
        request("GET", &calendar, &[("Authorization", &bearer(TOKEN))], "").0,
        401
    );
    drop(served);
}

/// The plan's tenant as Entra ID names it: the GUID the identity provider's `tid` carries.
fn guid_tenant(plan: String) -> String {
    plan.replace(
        "tenant_id = \"contoso.onmicrosoft.com\"",
        &format!("tenant_id = \"{TENANT}\""),
    )
}

#[test]
fn entra_shaped_id_tokens_connect_the_right_account_and_refuse_the_wrong_one_naming_both() {
    // No `email_verified`, a pairwise `sub`: the account is `preferred_username`.
    let entra = [("IDP_SHAPE", "entra")];
    let Connect { env, idp, served } = connect_env_with(&entra, &[], &[], guid_tenant);
    let first = until_blocked(&env, &[]);
    assert_eq!(first.code, 6, "{}", first.transcript());
    let url = authorization_url(&first, &idp.issuer);
    let (ok, page) = browse(&url, &["--account", "alex.admin@contoso.example"]);
    assert!(ok, "{page}");
    assert!(
        page.contains("Authorized as alex.admin@contoso.example"),
        "{page}"
    );
    let refused = until_blocked(&env, &[]);
    assert_eq!(refused.code, 3, "{}", refused.transcript());
    let text = refused.transcript();
    for part in [
        "alex.admin@contoso.example",
        SERVICE_ACCOUNT,
        "--reauthorize",
    ] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
    assert_eq!(enabled_on_oauth(&env.inspect()), 0, "nobody switched");

    let again = until_blocked(&env, &["--reauthorize"]);
    assert_eq!(again.code, 6, "{}", again.transcript());
    let (ok, page) = browse(&authorization_url(&again, &idp.issuer), &[]);
    assert!(ok, "{page}");
    assert!(
        page.contains(&format!("Authorized as {SERVICE_ACCOUNT}")),
        "{page}"
    );
    let done = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let inspect = env.inspect();
    assert_eq!(
        configuration(&inspect, "OAuth")["authorized_account"],
        SERVICE_ACCOUNT
    );
    assert_eq!(enabled_on_oauth(&inspect), 12);
    served.stop();
    assert_no_secrets(&env, &idp, &[&first, &refused, &again, &done]);
}

#[test]
fn a_sign_in_to_another_tenant_is_refused_even_as_the_right_name() {
    let other = [
        ("IDP_SHAPE", "entra"),
        ("IDP_TENANT", "0b7d4c2e-1f3a-4b5c-9d8e-7f6a5b4c3d2e"),
    ];
    let Connect { env, idp, served } = connect_env_with(&other, &[], &[], guid_tenant);
    let first = until_blocked(&env, &[]);
    assert_eq!(first.code, 6, "{}", first.transcript());
    let (ok, page) = browse(&authorization_url(&first, &idp.issuer), &[]);
    assert!(
        !ok,
        "the platform accepted a sign-in to another tenant: {page}"
    );
    let halted = until_blocked(&env, &[]);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    let text = halted.transcript();
    for part in [
        "0b7d4c2e-1f3a-4b5c-9d8e-7f6a5b4c3d2e",
        TENANT,
        "authorizing \"OAuth\" failed",
    ] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
    assert_eq!(enabled_on_oauth(&env.inspect()), 0);
    drop(served);
}

/// The test certificate, copied beside the plan as the plan's references name it.
fn with_certificates(env: TestEnv) -> TestEnv {
    let dir = crate::support::repo().join("tests/fixtures/certificates");
    let pem = std::fs::read(dir.join("app.pem")).expect("app.pem");
    let pfx = std::fs::read(dir.join("app.pfx")).expect("app.pfx");
    std::fs::write(env.path().join("app.pem"), pem).expect("copied");
    std::fs::write(env.path().join("app.pfx"), pfx).expect("copied");
    env
}

#[test]
fn certificate_credentials_get_app_tokens_for_the_api_and_the_precheck() {
    // The API: RS256 assertions signed with the PEM certificate's key.
    let mut env = with_certificates(TestEnv::new().sandbox("part-migrated", 24, "50ms"));
    env.set_env("CUTOVER_PFX_PASSWORD", PFX_PASSWORD);
    let port = free_port();
    let idp = Idp::start(env.path(), port, &[]);
    let served = env.serve_with_idp(&idp, port, &[], &[]);
    let auth = format!(
        "\n[target.auth]\ntoken_url = \"{}\"\nclient_id = \"{API_CERT_CLIENT}\"\ncertificate = {{ file = \"app.pem\" }}\nassertion_algorithm = \"RS256\"\nscopes = [\"platform.admin\"]",
        idp.token_url()
    );
    let plan = http_plan(&served.url, &auth, "0s")
        .replace(&format!("service_account = \"{SERVICE_ACCOUNT}\"\n"), "");
    let env = env.file("plan.toml", &plan);
    let expected = movable(&env.inspect());
    let run = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(enabled_on_oauth(&env.inspect()), expected);
    assert!(!idp.issued().is_empty());

    // The pre-check: PS256 assertions signed with the PKCS#12 file's key, opened with its
    // password; the sandbox's Graph denies `access-policy`'s four mailboxes.
    let mut pre = with_certificates(TestEnv::new().sandbox("access-policy", 48, "50ms"));
    pre.set_env("CUTOVER_PFX_PASSWORD", PFX_PASSWORD);
    let port = free_port();
    let pre_idp = Idp::start(pre.path(), port, &[]);
    let pre_served = pre.serve_with_idp(&pre_idp, port, &[], &[]);
    let plan = fixture_plan(
        "precheck",
        &[
            ("url", &pre_served.url),
            ("token_url", &pre_idp.token_url()),
            ("graph_client", GRAPH_CERT_CLIENT),
            ("on_denied", "block"),
        ],
    )
    .replace(
        "client_secret = { env = \"CUTOVER_GRAPH_SECRET\" }",
        "certificate = { file = \"app.pfx\" }\ncertificate_password = { env = \"CUTOVER_PFX_PASSWORD\" }",
    );
    let pre = pre.file("plan.toml", &plan);
    let dry = pre.run(["plan", "plan.toml", "--format", "json"]);
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    let denied = dry.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "mailbox-access-denied")
        .map(|f| f["users"].as_array().map_or(0, Vec::len))
        .sum::<usize>();
    assert!(
        denied >= 1,
        "Graph answered the certificate's token:\n{}",
        dry.stdout
    );

    // A wrong password says so, naming the reference, not the password.
    let mut wrong = with_certificates(
        TestEnv::new()
            .sandbox("access-policy", 48, "50ms")
            .file("plan.toml", &plan),
    );
    wrong.set_env("CUTOVER_PFX_PASSWORD", "not-the-password");
    let refused = wrong.run(["plan", "plan.toml"]);
    assert_ne!(refused.code, 0, "{}", refused.transcript());
    assert!(
        refused.stderr.contains("the password does not open it"),
        "{}",
        refused.transcript()
    );
    assert!(
        refused.stderr.contains("app.pfx"),
        "{}",
        refused.transcript()
    );

    served.stop();
    pre_served.stop();
    assert_no_secrets(&env, &idp, &[&run]);
    assert_no_secrets(&pre, &pre_idp, &[&dry, &refused]);
}
