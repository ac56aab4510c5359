//! One plain line per event: what a cron job's mail or a CI log should show.

use std::collections::HashMap;

use super::{Reporter, stamp};
use crate::clock::Clock;
use crate::engine::{Event, EventSink};
use crate::planner::Side;

pub(crate) struct PlainReporter {
    clock: Clock,
    from: String,
    to: String,
    /// The last gate reading printed per step, so a wait does not repeat the same line.
    last_reading: HashMap<String, (usize, usize, usize)>,
    /// The last wait printed (reason, step, until), so a wait is announced once.
    last_wait: Option<String>,
    /// Put before every line (`acme: `) when several plans share the log (`cutover fleet`).
    prefix: String,
}

impl PlainReporter {
    pub(crate) fn new(clock: Clock, from: &str, to: &str) -> Self {
        Self {
            clock,
            from: from.to_owned(),
            to: to.to_owned(),
            last_reading: HashMap::new(),
            last_wait: None,
            prefix: String::new(),
        }
    }

    /// Marks every line with `prefix` (a plan's name, in a fleet's shared log).
    pub(crate) fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    fn line(&self, text: &str) {
        super::write_stdout(&format!("{} {}{text}\n", stamp(&self.clock), self.prefix));
    }
}

/// The line for an event, or `None` for events a log does not need.
pub(crate) fn describe(event: &Event, from: &str, to: &str) -> Option<String> {
    Some(match event {
        Event::RunStarted {
            plan,
            target,
            account,
            resumed,
        } => {
            let verb = if *resumed { "resuming" } else { "starting" };
            format!("{verb} plan {plan} on {target} as {account}")
        }
        Event::Reconciled {
            step,
            action,
            users,
        } => format!(
            "{}: an interrupted {action} of {users} user(s) was settled by reading the platform back",
            step.as_deref().unwrap_or("rollout")
        ),
        Event::Planned { .. } | Event::GateReading { .. } => return None,
        Event::ConfigurationCreated { name } => {
            format!("connect: created the configuration {name:?}")
        }
        Event::Authorized { name, account } => {
            format!(
                "connect: {name:?} is connected, authorized by {}",
                account.as_deref().unwrap_or("an unknown account")
            )
        }
        Event::AuthorizationPending { name, url, account } => match url {
            Some(url) => authorization_checklist(name, url, account.as_deref()),
            None => format!("connect: {name:?} waits for an admin to authorize it on the platform"),
        },
        Event::MailboxesChecked {
            step,
            checked,
            uncleared,
        } => {
            if uncleared.is_empty() {
                format!(
                    "{step}: the OAuth app can open all {checked} mailbox(es) (mailbox pre-check)"
                )
            } else {
                let names: Vec<String> = uncleared
                    .iter()
                    .map(|d| {
                        let words = d.error.as_deref().unwrap_or(d.outcome.as_str());
                        match d.at {
                            Some(at) => format!("{} ({words}, seen at {at})", d.email),
                            None => format!("{} ({words})", d.email),
                        }
                    })
                    .collect();
                format!(
                    "{step}: the mailbox pre-check did not clear {} of {checked} mailbox(es): {}",
                    uncleared.len(),
                    names.join(", ")
                )
            }
        }
        Event::Notice { message } => format!("note: {message}"),
        Event::StepStarted {
            step,
            members,
            preexisting,
            skipped,
        } => {
            let users = members.len();
            let pre = if *preexisting > 0 {
                format!(" ({preexisting} already failing on {from:?})")
            } else {
                String::new()
            };
            let left_out = if skipped.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = skipped.iter().map(ToString::to_string).collect();
                format!(
                    "; left out by the mailbox pre-check, staying on {from:?}: {}",
                    names.join(", ")
                )
            };
            format!("{step}: started with {users} user(s){pre}{left_out}")
        }
        Event::UsersSwitched {
            step,
            side,
            enabled,
            changed,
            unchanged,
            total,
        } => {
            let configuration = match side {
                Side::From => from,
                Side::To => to,
            };
            let verb = if *enabled { "enabled" } else { "disabled" };
            let already = if *unchanged > 0 {
                format!(", {unchanged} already so")
            } else {
                String::new()
            };
            format!(
                "{step}: {verb} {configuration:?} for {total} user(s) ({changed} changed{already})"
            )
        }
        Event::SwitchCompleted { step } => {
            format!("{step}: every user switched; verifying OAuth syncs")
        }
        Event::GatePassed { step, exceptions } if exceptions.is_empty() => {
            format!("{step}: gate passed")
        }
        Event::GatePassed { step, exceptions } => {
            let mut text = format!(
                "{step}: gate passed with {} exception(s), within max_errors; they sync over {from:?} beside {to:?} until their OAuth sync is clean:",
                exceptions.len()
            );
            for f in exceptions {
                text.push_str(&format!(
                    "\n  {:<40} {:<10} {}",
                    f.email.to_string(),
                    f.outcome,
                    f.error.as_deref().unwrap_or("")
                ));
            }
            text
        }
        Event::ExceptionsRechecked { users } => {
            format!(
                "exceptions: asked the platform to re-check {users} user(s) whose OAuth sync was failing"
            )
        }
        Event::ExceptionsClosed { step, users } => {
            let names: Vec<String> = users.iter().map(ToString::to_string).collect();
            format!(
                "{step}: exception(s) healed, OAuth now syncs cleanly; {from:?} is off for them: {}",
                names.join(", ")
            )
        }
        Event::GateFailed {
            step,
            on_failure,
            failures,
        } => {
            format!(
                "{step}: GATE FAILED for {} user(s); on failure: {on_failure}",
                failures.len()
            )
        }
        Event::Reopened { step, rechecked } => {
            format!(
                "{step}: re-opened the gate after asking the platform to re-check {rechecked} user(s)"
            )
        }
        Event::Restarted { step } => {
            format!("{step}: approved again after its rollback; switching its users again")
        }
        Event::Waiting {
            reason,
            step,
            detail,
            until,
        } => {
            let until = until
                .map(|u| format!(" until {}", u.strftime("%Y-%m-%dT%H:%M:%SZ")))
                .unwrap_or_default();
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            };
            format!("{step}: waiting ({}){until}{detail}", reason.as_str())
        }
        Event::Disconnected {
            name,
            preexisting,
            accepted,
        } => {
            let mut text = format!("disconnect: {name:?} is disconnected");
            if !accepted.is_empty() {
                let names: Vec<String> = accepted.iter().map(ToString::to_string).collect();
                text.push_str(&format!(
                    "\n  accepted, on {to:?} alone and not syncing until fixed: {}",
                    names.join(", ")
                ));
            }
            if !preexisting.is_empty() {
                text.push_str(&format!(
                    "\n  {} user(s) whose {from:?} sync was already failing before their step, not syncing now either:",
                    preexisting.len()
                ));
                for f in preexisting {
                    text.push_str(&format!(
                        "\n    {:<40} {:<10} {}",
                        f.email.to_string(),
                        f.outcome,
                        f.error.as_deref().unwrap_or("")
                    ));
                }
            }
            text
        }
        Event::Done => "the rollout is complete".to_owned(),
        Event::Halted { step, reason, .. } => format!("{step}: HALTED: {reason}"),
        Event::Interrupted => {
            "interrupted: stopped at a safe point; run apply again to resume".to_owned()
        }
        Event::RunEnded {
            elapsed_ms,
            waiting_ms,
            calls,
            ..
        } => {
            let total: u64 = calls.values().sum();
            format!(
                "run took {:.1}s ({:.1}s of it waiting for syncs and time); {total} platform call(s)",
                *elapsed_ms as f64 / 1000.0,
                *waiting_ms as f64 / 1000.0
            )
        }
    })
}

/// The seed's procedure for the sign-in, where the wrong account is the classic mistake: a
/// browser still signed in to Microsoft authorizes whoever that is, without asking.
fn authorization_checklist(name: &str, url: &str, account: Option<&str>) -> String {
    // The platform chose the URL: nothing in it may drive the terminal.
    let url: String = url.chars().filter(|c| !c.is_control()).collect();
    let who = account.map_or_else(
        || "the service account".to_owned(),
        |a| format!("the service account {a}"),
    );
    format!(
        "connect: {name:?} needs authorization. Open this URL in a private (incognito) browser window:\n  \
         {url}\n  \
         1. sign out of every Microsoft session in that browser first (Outlook, Teams, the Azure portal);\n  \
         2. sign in as {who}, not as yourself: the platform syncs calendars as whoever signs in;\n  \
         3. accept the consent. cutover sees the result on the platform and goes on (or names the account that signed in)."
    )
}

impl EventSink for PlainReporter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::GateReading {
                step,
                verified,
                counted,
                failing,
                pending,
                ..
            } => {
                let key = (*verified, *failing, *pending);
                if self.last_reading.get(step) != Some(&key) {
                    self.last_reading.insert(step.clone(), key);
                    self.line(&format!("{step}: {verified} of {counted} user(s) verified, {failing} failing, {pending} pending"));
                }
            }
            Event::Waiting {
                reason,
                step,
                until,
                ..
            } => {
                let key = format!("{} {step} {until:?}", reason.as_str());
                if self.last_wait.as_deref() != Some(key.as_str()) {
                    if let Some(text) = describe(event, &self.from, &self.to) {
                        self.line(&text);
                    }
                    self.last_wait = Some(key);
                }
            }
            other => {
                self.last_wait = None;
                if let Some(text) = describe(other, &self.from, &self.to) {
                    self.line(&text);
                }
            }
        }
    }
}

impl Reporter for PlainReporter {}
