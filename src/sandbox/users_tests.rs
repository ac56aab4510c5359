//! The users read back from the tables, a page at a time and after changes.

use rusqlite::Connection;

use super::*;
use crate::sandbox::{Scenario, ScenarioOptions};

/// A sandbox of `scenario`, and another connection to its file, as a second process (or a
/// hand edit) would have.
fn sandbox(scenario: &str) -> (tempfile::TempDir, SandboxFile, Connection) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tenant.db");
    let tenant = Scenario::find(scenario)
        .expect("scenario")
        .tenant(ScenarioOptions::default());
    SandboxFile::create(&path, &tenant, scenario, 0).expect("create");
    let file = SandboxFile::open(&path).expect("open");
    let other = Connection::open(&path).expect("second connection");
    (dir, file, other)
}

fn everyone(file: &SandboxFile, now_ms: i64) -> Vec<PlatformUser> {
    file.users(None, usize::MAX, now_ms).expect("users").0
}

#[test]
fn a_bad_email_in_the_file_is_an_error_that_names_its_row() {
    let (dir, file, other) = sandbox("demo");
    // Read once first: what the view kept of the row must not hide the edit.
    assert_eq!(everyone(&file, 0).len(), 48);
    for (edit, why) in [
        (
            "UPDATE users SET email = 'ana at contoso' WHERE id = 3",
            "is not an email address",
        ),
        (
            "UPDATE users SET email = X'616e61' WHERE id = 3",
            "its email is not text",
        ),
    ] {
        other.execute_batch(edit).expect("edit");
        for error in [
            file.users(None, 10, 0).map(|_| ()),
            file.users_by_email(&[Email::parse("ana@contoso.example").expect("email")], 0)
                .map(|_| ()),
        ] {
            let Err(error) = error else {
                panic!("{edit}: read a bad email");
            };
            assert!(
                matches!(error, SandboxError::BadUser { id: 3, .. }),
                "{error:?}"
            );
            let message = error.to_string();
            assert!(
                message.contains(&dir.path().join("tenant.db").display().to_string())
                    && message.contains("user 3 of table `users`")
                    && message.contains(why),
                "{message}"
            );
        }
    }
    other
        .execute_batch("UPDATE users SET email = 'ana.again@contoso.example' WHERE id = 3")
        .expect("edit");
    assert_eq!(everyone(&file, 0).len(), 48);
}

/// The cursors a first page gives are the `after`s a reader paging one page after another
/// asks with, every one.
#[test]
fn page_cursors_are_where_each_later_page_begins() {
    let (_dir, file, _other) = sandbox("messy");
    let total = everyone(&file, 0).len();
    for limit in [1, 7, 10, total - 1, total, total + 3] {
        for first in [None, Some(everyone(&file, 0)[2].email.to_string())] {
            let mut afters = Vec::new();
            let mut after = first.clone();
            loop {
                let (page, more) = file.users(after.as_deref(), limit, 0).expect("page");
                if !more || page.is_empty() {
                    break;
                }
                after = page.last().map(|u| u.email.to_string());
                afters.extend(after.clone());
            }
            let cursors = file.page_cursors(first.as_deref(), limit).expect("cursors");
            assert_eq!(cursors, afters, "limit {limit} after {first:?}");
        }
    }
}

#[test]
fn a_page_shows_what_the_tables_hold() {
    // messy: mailboxes gone for users 5 and 23, a non-primary email for 31, users 40-41 on
    // nothing. Add a second configuration some users are on, and an assignment to one the
    // tenant does not have.
    let (_dir, file, other) = sandbox("messy");
    other
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO configurations (display_name, auth_type, state, created_ms)
             VALUES ('OAuth', 'oauth', 'connected', 0);
             INSERT INTO assignments (user_id, configuration_id, enabled_ms)
             SELECT id, 2, 0 FROM users WHERE id % 3 = 0;
             INSERT INTO assignments (user_id, configuration_id, enabled_ms) VALUES (4, 99, 0);",
        )
        .expect("edit");
    let now_ms = 86_400_000;
    let users = everyone(&file, now_ms);
    let mut rows = other
        .prepare("SELECT id, email, location, groups FROM users ORDER BY email")
        .expect("prepare");
    let rows: Vec<(i64, String, String, String)> = rows
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(users.len(), rows.len());
    let mut enabled_on = other
        .prepare(
            "SELECT configuration_id FROM assignments
             WHERE user_id = ?1 AND configuration_id IN (SELECT id FROM configurations)
             ORDER BY configuration_id",
        )
        .expect("prepare");
    let faulty: Vec<String> = other
        .prepare("SELECT email FROM faults")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(faulty.len(), 3);
    for (user, (id, email, location, groups)) in users.iter().zip(&rows) {
        assert_eq!(user.email.as_str(), email);
        assert_eq!(&*user.location, location.as_str());
        assert_eq!(user.groups[..], parse_groups(groups)[..]);
        let enabled: Vec<String> = enabled_on
            .query_map([id], |r| Ok(r.get::<_, i64>(0)?.to_string()))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(user.enabled, enabled, "{email}");
        // A day on: every user has synced on what they are on, the faulty ones badly.
        assert_eq!(user.sync.iter().count(), enabled.len(), "{email}");
        let basic = user.sync("1").map(|s| s.outcome);
        if faulty.contains(email) {
            assert_ne!(basic, Some(crate::target::SyncOutcome::Ok), "{email}");
        } else if !enabled.is_empty() {
            assert!(
                user.sync
                    .iter()
                    .all(|(_, s)| s.outcome == crate::target::SyncOutcome::Ok),
                "{email}"
            );
        }
    }
}

#[test]
fn a_reading_after_changes_is_what_a_first_reading_is() {
    let (dir, mut file, other) = sandbox("part-migrated");
    let now_ms = 10_000;
    let first = everyone(&file, now_ms);
    let fresh = |now_ms| {
        everyone(
            &SandboxFile::open(&dir.path().join("tenant.db")).expect("open"),
            now_ms,
        )
    };
    assert_eq!(first, fresh(now_ms));

    // Written by this connection: assignments change, users do not, and the users read
    // before are kept.
    let roster = |file: &SandboxFile| file.cached_view().map(|v| Arc::clone(&v.roster));
    let before = roster(&file).expect("a view");
    let emails: Vec<Email> = first.iter().take(5).map(|u| u.email.clone()).collect();
    file.set_enabled("2", &emails, true, now_ms)
        .expect("enable");
    file.recheck("1", &emails[..2], now_ms).expect("recheck");
    let after_write = everyone(&file, now_ms + 5_000);
    assert_ne!(after_write, first);
    assert_eq!(after_write, fresh(now_ms + 5_000));
    assert!(roster(&file).is_some_and(|r| Arc::ptr_eq(&r, &before)));

    // Any other write of this connection's reads the users again.
    file.set_user_fault(crate::sandbox::Fault::Throttle, &emails[..1], true, now_ms)
        .expect("fault");
    let after_fault = everyone(&file, now_ms + 5_000);
    assert_eq!(after_fault, fresh(now_ms + 5_000));
    let read_again = roster(&file).expect("a view");
    assert!(!Arc::ptr_eq(&read_again, &before));

    // Edited by another process: an email changed (and so the order), a user added, one
    // removed, an attribute changed, a fault switched on.
    other
        .execute_batch(
            "UPDATE users SET email = 'zz-last@contoso.example' WHERE id = 2;
             INSERT INTO users (email, name, location, groups) VALUES ('aaa@contoso.example', 'A', 'East', '[\"IT\"]');
             DELETE FROM assignments WHERE user_id = 7;
             DELETE FROM users WHERE id = 7;
             UPDATE users SET location = 'North', groups = '[\"Sales\",\"IT\"]' WHERE id = 9;
             INSERT INTO faults (fault, email, since_ms) SELECT 'throttle', email, 0 FROM users WHERE id = 12;",
        )
        .expect("edit");
    let edited = everyone(&file, now_ms + 5_000);
    assert_eq!(edited, fresh(now_ms + 5_000));
    assert!(roster(&file).is_some_and(|r| !Arc::ptr_eq(&r, &read_again)));
    assert_eq!(edited.len(), first.len());
    assert_eq!(edited[0].email.as_str(), "aaa@contoso.example");
    assert_eq!(
        edited.last().map(|u| u.email.as_str()),
        Some("zz-last@contoso.example")
    );
    assert!(edited.windows(2).all(|w| w[0].email < w[1].email));
}

#[test]
fn groups_read_as_json_does() {
    for json in [
        "[]",
        "[\"IT\"]",
        "[\"IT\",\"Staff\"]",
        "[\"IT\", \"Staff\"]",
        "[\"a,b\",\"c\"]",
        "[\"say \\\"hi\\\"\"]",
        "[\"\"]",
        "not json",
        "",
        "[1]",
    ] {
        let expected: Vec<String> = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(parse_groups(json), expected, "{json:?}");
    }
}
