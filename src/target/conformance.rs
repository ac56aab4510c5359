//! One conformance suite for every [`Target`]: the embedded sandbox, and the `http` target talking
//! to `sandbox serve` over a real socket. Whatever the engine relies on is checked here against
//! both, so the two implementations cannot drift apart.

use std::path::Path;

use super::{
    AuthType, ConfigurationState, NewConfiguration, SyncOutcome, Target, TargetError, WriteResult,
    observe,
};
use crate::clock::Clock;
use crate::plan::grammar::Email;
use crate::sandbox::{Fault, SandboxFile, SandboxTarget, Scenario, ScenarioOptions};

fn email(text: &str) -> Email {
    Email::parse(text).unwrap_or_else(|e| panic!("{text}: {}", e.message))
}

/// A fresh demo tenant of `users` users syncing every 20 ms.
fn tenant(dir: &Path, users: usize) -> std::path::PathBuf {
    let path = dir.join("tenant.db");
    let scenario = Scenario::find("demo").expect("demo");
    let tenant = scenario.tenant(ScenarioOptions {
        users: Some(users),
        sync_interval_ms: Some(20),
    });
    SandboxFile::create(&path, &tenant, "demo", Clock::real().now_ms()).expect("sandbox");
    path
}

/// The contract, checked against `target`. `file` is the same tenant, for scenario controls.
async fn conformance<T: Target>(target: &T, file: &Path) {
    let identity = target.whoami().await.expect("whoami");
    assert_eq!(identity.role, "admin");

    // Paging: every user exactly once, in email order, across pages.
    let mut seen: Vec<String> = Vec::new();
    loop {
        let page = target
            .users(seen.last().map(String::as_str), 7)
            .await
            .expect("users");
        assert!(page.users.len() <= 7);
        seen.extend(page.users.iter().map(|u| u.email.to_string()));
        if !page.more {
            break;
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "email order, no repeats"
    );
    let observed = observe(target).await.expect("observe");
    assert_eq!(observed.users().len(), 25);
    bulk_read(target, observed.users()).await;

    let list = target.configurations().await.expect("configurations");
    assert_eq!(list.free_slots, 1);
    let basic = list
        .configurations
        .iter()
        .find(|c| c.display_name == "Basic Auth")
        .expect("Basic Auth")
        .clone();
    assert_eq!(
        (basic.auth_type, basic.state),
        (AuthType::Basic, ConfigurationState::Connected)
    );

    // Creating is idempotent by display name: a retried call cannot make two.
    let new = NewConfiguration {
        display_name: "OAuth".to_owned(),
        auth_type: AuthType::Oauth,
        tenant_id: "contoso.onmicrosoft.com".to_owned(),
        exchange_version: Some("Exchange2016".to_owned()),
        service_address: None,
        login_hint: Some("svc-sync@contoso.example".to_owned()),
    };
    let oauth = target.create_configuration(&new).await.expect("create");
    assert_eq!(oauth.state, ConfigurationState::PendingAuthorization);
    let again = target
        .create_configuration(&new)
        .await
        .expect("create again");
    assert_eq!(again.id, oauth.id);
    assert_eq!(target.configurations().await.expect("list").free_slots, 0);
    let third = NewConfiguration {
        display_name: "Third".to_owned(),
        ..new.clone()
    };
    assert!(
        matches!(
            target.create_configuration(&third).await,
            Err(TargetError::Conflict(_))
        ),
        "no free slot"
    );

    let authorization = target
        .authorization(&oauth.id, false)
        .await
        .expect("authorize");
    assert_eq!(authorization.state, ConfigurationState::Connected);
    assert_eq!(
        authorization.account.as_deref(),
        Some("svc-sync@contoso.example")
    );
    // Starting over authorizes again (on its own, with no identity provider configured).
    let again = target
        .authorization(&oauth.id, true)
        .await
        .expect("reauthorize");
    assert_eq!(again.state, ConfigurationState::Connected);
    assert!(matches!(
        target.authorization("999", false).await,
        Err(TargetError::NotFound(_))
    ));
    // A Basic configuration is never authorized with OAuth (its account must not change).
    let basic = target
        .configurations()
        .await
        .expect("list")
        .configurations
        .into_iter()
        .find(|c| c.auth_type == AuthType::Basic)
        .expect("the Basic configuration");
    assert!(matches!(
        target.authorization(&basic.id, true).await,
        Err(TargetError::Conflict(_))
    ));

    // Bulk writes: one result per user, in order; repeats are `unchanged`; unknown users are
    // reported, not fatal.
    let users = [
        email("ana@contoso.example"),
        email("ben@contoso.example"),
        email("nobody@contoso.example"),
    ];
    let results = target
        .set_enabled(&oauth.id, &users, true)
        .await
        .expect("enable");
    let kinds: Vec<WriteResult> = results.iter().map(|r| r.result.clone()).collect();
    assert_eq!(
        kinds,
        [
            WriteResult::Changed,
            WriteResult::Changed,
            WriteResult::NotFound
        ]
    );
    assert_eq!(
        results.iter().map(|r| r.email.clone()).collect::<Vec<_>>(),
        users
    );
    let repeat = target
        .set_enabled(&oauth.id, &users[..2], true)
        .await
        .expect("enable again");
    assert!(repeat.iter().all(|r| r.result == WriteResult::Unchanged));
    let off = target
        .set_enabled(&basic.id, &users[..2], false)
        .await
        .expect("disable");
    assert!(off.iter().all(|r| r.result == WriteResult::Changed));
    assert!(matches!(
        target.set_enabled("999", &users, true).await,
        Err(TargetError::NotFound(_))
    ));

    // Larger than one bulk limit: still one logical call, results in order.
    let everyone: Vec<Email> = seen.iter().map(|e| email(e)).collect();
    let results = target
        .set_enabled(&oauth.id, &everyone, true)
        .await
        .expect("enable all");
    assert_eq!(results.len(), everyone.len());
    assert_eq!(
        results.iter().map(|r| r.email.clone()).collect::<Vec<_>>(),
        everyone
    );

    // Sync: an OAuth attempt appears after the switch; a denied mailbox fails; a re-check
    // re-runs at once.
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    let observed = observe(target).await.expect("observe");
    let ana = observed.user(&users[0]).expect("ana");
    assert_eq!(ana.enabled, std::slice::from_ref(&oauth.id));
    assert_eq!(
        ana.sync.get(&oauth.id).map(|s| s.outcome),
        Some(SyncOutcome::Ok)
    );
    let mut control = SandboxFile::open(file).expect("control");
    control
        .set_user_fault(Fault::DenyAccess, &users[..1], true, Clock::real().now_ms())
        .expect("deny");
    target
        .recheck(&oauth.id, &users[..1])
        .await
        .expect("recheck");
    let observed = observe(target).await.expect("observe");
    let result = observed
        .user(&users[0])
        .and_then(|u| u.sync.get(&oauth.id))
        .expect("attempt");
    assert_eq!(result.outcome, SyncOutcome::Error);
    assert_eq!(result.code.as_deref(), Some("ErrorAccessDenied"));
    assert!(
        result
            .error
            .as_deref()
            .is_some_and(|e| e.contains("Access is denied"))
    );

    // Disconnect is idempotent, and a disconnected configuration is gone from `observed`.
    let everyone_back: Vec<Email> = everyone.clone();
    target
        .set_enabled(&basic.id, &everyone_back, false)
        .await
        .expect("disable basic");
    target.disconnect(&basic.id).await.expect("disconnect");
    target
        .disconnect(&basic.id)
        .await
        .expect("disconnect again");
    let observed = observe(target).await.expect("observe");
    assert!(observed.configuration("Basic Auth").is_none());
    assert!(control.violations().expect("violations").is_empty());
}

/// Who is enabled on what, with their attributes: what two readings moments apart agree on (the
/// tenant syncs every 20 ms, so the latest attempts differ).
fn assignments(
    users: &[super::PlatformUser],
) -> Vec<(String, String, Vec<String>, Vec<super::ConfigurationId>)> {
    users
        .iter()
        .map(|u| {
            (
                u.email.to_string(),
                u.location.to_string(),
                u.groups.to_vec(),
                u.enabled.clone(),
            )
        })
        .collect()
}

/// The bulk read by email: what a page shows of each user asked for, in email order, each once,
/// unknown emails left out, however many are asked for at once (more than a page's worth here).
async fn bulk_read<T: Target>(target: &T, everyone: &[super::PlatformUser]) {
    let mut asked: Vec<Email> = (0..1_200)
        .map(|i| email(&format!("nobody-{i}@contoso.example")))
        .collect();
    // Backwards and twice over: the answer is in email order all the same, each user once.
    asked.extend(everyone.iter().rev().map(|u| u.email.clone()));
    asked.extend(everyone.iter().step_by(3).map(|u| u.email.clone()));
    let found = target.users_by_email(&asked).await.expect("users by email");
    assert_eq!(
        assignments(&found),
        assignments(everyone),
        "every known user, as a page shows them"
    );
    let some = [everyone[4].email.clone(), everyone[1].email.clone()];
    let found = target.users_by_email(&some).await.expect("two users");
    assert_eq!(
        assignments(&found),
        assignments(&[everyone[1].clone(), everyone[4].clone()])
    );
    let unknown = [email("nobody@contoso.example")];
    assert!(
        target
            .users_by_email(&unknown)
            .await
            .expect("unknown")
            .is_empty()
    );
    assert!(target.users_by_email(&[]).await.expect("none").is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn the_sandbox_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = tenant(dir.path(), 25);
    let target = SandboxTarget::open(&file, Clock::real()).expect("open");
    conformance(&target, &file).await;
}

/// The http target of a platform whose contract predates `POST /users/query` reads the users
/// asked for by paging, and answers as one that has it does.
#[tokio::test(flavor = "current_thread")]
async fn the_http_target_pages_when_the_platform_has_no_bulk_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = tenant(dir.path(), 25);
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "conformance-token\n").expect("token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server_target = SandboxTarget::open(&file, Clock::real()).expect("open");
    let faults = crate::serve::Faults {
        max_bulk: 4,
        seed: 7,
        without_users_query: true,
        ..crate::serve::Faults::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve::serve(
        listener,
        server_target,
        crate::serve::ServeOptions {
            token: Some("conformance-token".to_owned()),
            faults,
            identity: None,
        },
        async {
            let _ = stopped.await;
        },
    ));
    let token = crate::plan::ApiAuth::Token(crate::plan::SecretRef::File {
        written: "token".to_owned(),
        path: token_file,
    });
    let target = crate::http_target::HttpTarget::new(&format!("http://{address}/"), &token, false)
        .expect("client");
    let observed = observe(&target).await.expect("observe");
    bulk_read(&target, observed.users()).await;
    // Paging by cursor, twice: the second read asks for every page at once (by the first
    // read's cursors) and answers the same.
    for _ in 0..2 {
        let mut paged: Vec<super::PlatformUser> = Vec::new();
        loop {
            let after = paged.last().map(|u| u.email.to_string());
            let page = target.users(after.as_deref(), 7).await.expect("users");
            let more = page.more;
            paged.extend(page.users);
            if !more {
                break;
            }
        }
        assert_eq!(assignments(&paged), assignments(observed.users()));
    }
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_http_target_over_sandbox_serve_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = tenant(dir.path(), 25);
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "conformance-token\n").expect("token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server_target = SandboxTarget::open(&file, Clock::real()).expect("open");
    // A small bulk limit, so one logical call spans several requests.
    let faults = crate::serve::Faults {
        max_bulk: 4,
        seed: 7,
        ..crate::serve::Faults::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve::serve(
        listener,
        server_target,
        crate::serve::ServeOptions {
            token: Some("conformance-token".to_owned()),
            faults,
            identity: None,
        },
        async {
            let _ = stopped.await;
        },
    ));
    let token = crate::plan::ApiAuth::Token(crate::plan::SecretRef::File {
        written: "token".to_owned(),
        path: token_file,
    });
    let target = crate::http_target::HttpTarget::new(&format!("http://{address}/"), &token, false)
        .expect("client");
    conformance(&target, &file).await;

    // Credentials are checked: a wrong token is refused and named by its source, not its value.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-token").expect("token");
    let wrong = crate::plan::ApiAuth::Token(crate::plan::SecretRef::File {
        written: "wrong".to_owned(),
        path: wrong,
    });
    let refused = crate::http_target::HttpTarget::new(&format!("http://{address}"), &wrong, false)
        .expect("client");
    match refused.whoami().await {
        Err(TargetError::Unauthorized(message)) => {
            assert!(
                message.contains("file wrong") && !message.contains("not-the-token"),
                "{message}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let _ = stop.send(());
    let _ = server.await;
}

#[test]
fn plain_http_is_for_loopback_only() {
    let token = crate::plan::ApiAuth::Token(crate::plan::SecretRef::File {
        written: "t".to_owned(),
        path: "/nonexistent".into(),
    });
    let refused =
        crate::http_target::HttpTarget::new("http://scheduling.example.org/api", &token, false);
    assert!(refused.is_err_and(|e| e.to_string().contains("--allow-insecure-http")));
}
