//! Which notifications a run produces: a halt, a wait for a person, a gate that passed with
//! exceptions, the end of the rollout, a run that ended in an error. Each is keyed by the state
//! it describes, so the ledger sends it once per change of state, however often a scheduler
//! runs `apply` while it lasts.

use std::path::Path;

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::engine::{Event, EventSink, RunOutcome};
use crate::notify::Notification;
use crate::plan::{NotifyEvent, Plan};
use crate::state::FailingUser;

use super::CommandError;

/// Watches a run's events for what notifications name beyond its outcome: the gates that
/// passed with exceptions.
#[derive(Default)]
pub(crate) struct Noticed {
    exceptions: Vec<(String, Vec<FailingUser>)>,
}

impl EventSink for Noticed {
    fn event(&mut self, event: &Event) {
        if let Event::GatePassed { step, exceptions } = event {
            if !exceptions.is_empty() {
                self.exceptions.push((step.clone(), exceptions.clone()));
            }
        }
    }
}

/// The notifications of a run that ended with `result`, each carrying the audit chain's head
/// as the run left it.
pub(crate) fn notifications(
    plan: &Plan,
    path: &Path,
    result: &Result<RunOutcome, CommandError>,
    noticed: &Noticed,
    chain_head: Option<&str>,
    now: Timestamp,
) -> Vec<Notification> {
    let mut all = events(plan, path, result, noticed, now);
    for notification in &mut all {
        notification.chain_head = chain_head.map(str::to_owned);
    }
    all
}

fn events(
    plan: &Plan,
    path: &Path,
    result: &Result<RunOutcome, CommandError>,
    noticed: &Noticed,
    now: Timestamp,
) -> Vec<Notification> {
    let path = path.display();
    let mut all: Vec<Notification> = noticed
        .exceptions
        .iter()
        .map(|(step, users)| {
            Notification::event(
                plan,
                NotifyEvent::Exception,
                &format!("{step}:{}", fingerprint(users, "")),
                format!(
                    "{step}'s gate passed with {} exception(s) within max_errors: they sync over {:?} beside {:?} until their OAuth sync is clean",
                    users.len(),
                    plan.from.display_name,
                    plan.to.display_name
                ),
                now,
            )
            .step(step)
            .failing(users)
            .next_command(format!("cutover status {path}"))
        })
        .collect();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => {
            let message = error.to_string();
            all.push(
                Notification::event(
                    plan,
                    NotifyEvent::Error,
                    &fingerprint(&[], &message),
                    format!("the run stopped with an error: {message}"),
                    now,
                )
                .next_command(format!("cutover status {path}")),
            );
            return all;
        }
    };
    match outcome {
        RunOutcome::Done => all.push(
            Notification::event(
                plan,
                NotifyEvent::Done,
                "rollout",
                format!(
                    "the rollout is complete: {:?} is disconnected",
                    plan.from.display_name
                ),
                now,
            )
            .next_command(format!("cutover log {path}")),
        ),
        RunOutcome::Halted {
            step,
            reason,
            failures,
        } => {
            let next = if reason.contains("rolled back") {
                format!("cutover approve {path} {step}")
            } else {
                format!("cutover status {path}")
            };
            all.push(
                Notification::event(
                    plan,
                    NotifyEvent::Halted,
                    &format!("{step}:{}", fingerprint(failures, reason)),
                    format!("halted at {step}: {reason}"),
                    now,
                )
                .step(step)
                .failing(failures)
                .next_command(next),
            );
        }
        RunOutcome::Waiting {
            reason,
            step,
            detail,
            ..
        } if reason.needs_person() => {
            let batch = step.split('#').next().unwrap_or(step);
            let next = match reason.as_str() {
                "approval" => format!("cutover approve {path} {batch}"),
                "confirmation" => format!("cutover apply {path} --yes"),
                _ => format!("cutover apply {path}"),
            };
            all.push(
                Notification::event(
                    plan,
                    NotifyEvent::NeedsPerson,
                    &format!("{}:{step}", reason.as_str()),
                    format!("{step} waits for a person ({}): {detail}", reason.as_str()),
                    now,
                )
                .step(step)
                .next_command(next),
            );
        }
        RunOutcome::Waiting { .. } | RunOutcome::Interrupted { .. } => {}
    }
    all
}

/// A short digest of who and why, so a halt that lasts (the same users, the same reason) is the
/// same state, and one with other users is a new one.
fn fingerprint(users: &[FailingUser], reason: &str) -> String {
    let mut emails: Vec<String> = users.iter().map(|u| u.email.to_string()).collect();
    emails.sort();
    let mut hash = Sha256::new();
    hash.update(reason.as_bytes());
    for email in emails {
        hash.update([0]);
        hash.update(email.as_bytes());
    }
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}
