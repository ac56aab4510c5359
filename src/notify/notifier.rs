//! [`Notifier`]: delivers a notification to every channel that wants it, all at once, and
//! stops 10 seconds after it began whatever answers or not; with the state database, decides
//! first what each channel should hear (`decision.rs`) and records what happened.
//!
//! It never fails and never panics: a channel that cannot be reached, a secret that is not set,
//! a ledger that cannot be written are results in the report, for the caller to show. A
//! rollout goes on whatever its notifications do.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::channel::Channel;
use super::decision::{self, Decision, Stale};
use super::delivery_error::{DeliveryError, Redactor, Undelivered};
use super::payload::Payload;
use super::{Notification, NotificationKind, command, email, slack, teams, webhook};
use crate::plan::{ChannelKind, Plan, WebhookFormat};
use crate::state::{DeliveryAttempt, DeliveryRecord, Store};

/// All of one call's deliveries end this long after it began.
pub(crate) const DELIVERY_LIMIT: Duration = Duration::from_secs(10);

/// A plan's channels, ready to deliver.
pub(crate) struct Notifier {
    channels: Vec<Channel>,
    /// The plan's folder: where commands run.
    dir: PathBuf,
    /// One HTTP client for every webhook (or why there is none).
    client: Result<reqwest::Client, reqwest::Error>,
}

/// What one channel did with one notification.
#[derive(Debug, Clone)]
pub(crate) struct ChannelResult {
    /// The channel's label (never its URL).
    pub(crate) channel: String,
    pub(crate) event_key: String,
    /// Why it was sent: a first send, a reminder or a retry (a test is a `Send`).
    pub(crate) decision: Decision,
    /// `Err` holds the reason, without secrets.
    pub(crate) outcome: Result<(), Undelivered>,
}

/// What [`Notifier::notify`] did: each delivery's result, and any trouble with the ledger.
#[derive(Debug, Clone, Default)]
pub(crate) struct NotifyReport {
    pub(crate) results: Vec<ChannelResult>,
    /// The state database could not be read or written (its message; no secret in it).
    pub(crate) problems: Vec<String>,
}

/// One delivery to make.
struct Job<'a> {
    channel: &'a Channel,
    notification: Cow<'a, Notification>,
    decision: Decision,
    /// The ledger row's failures so far.
    failures: u32,
}

impl Notifier {
    pub(crate) fn new(plan: &Plan, plan_dir: &Path) -> Self {
        let channels = plan
            .notify
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, spec)| Channel::new(i, spec))
            .collect();
        let client = reqwest::Client::builder()
            // A redirect would send the payload somewhere the plan did not name.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(DELIVERY_LIMIT)
            .timeout(DELIVERY_LIMIT)
            .user_agent(concat!("cutover/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(reqwest::Error::without_url);
        Self {
            channels,
            dir: plan_dir.to_path_buf(),
            client,
        }
    }

    pub(crate) fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Sends `notification` now to every channel whose `events` include it (every channel, for
    /// a test), without the ledger. For `cutover notify test`.
    pub(crate) async fn deliver(&self, notification: &Notification) -> Vec<ChannelResult> {
        let jobs = self
            .channels
            .iter()
            .filter(|c| wants(c, notification))
            .map(|channel| Job {
                channel,
                notification: Cow::Borrowed(notification),
                decision: Decision::Send,
                failures: 0,
            })
            .collect();
        self.run(jobs).await.into_iter().map(|(_, r)| r).collect()
    }

    /// The run loop's call, once a run has done its platform actions: `current` holds the
    /// notifications of what this run found or did (a halt, a wait for a person, the end, an
    /// error — or nothing). Each channel gets what it has not heard yet (or a reminder, or a
    /// retry of a failure, as `decision.rs` decides); what was sent is recorded.
    pub(crate) async fn notify(
        &self,
        store: &mut Store,
        current: &[Notification],
        now: Timestamp,
    ) -> NotifyReport {
        let mut report = NotifyReport::default();
        if self.channels.is_empty() {
            return report;
        }
        let ledger = match store.notification_ledger() {
            Ok(ledger) => ledger,
            Err(e) => {
                // Without the ledger every run would send again: send nothing, say why.
                report.problems.push(format!("notifications not sent: {e}"));
                return report;
            }
        };
        let mut jobs = Vec::new();
        let mut abandon = Vec::new();
        for channel in &self.channels {
            let rows: Vec<DeliveryRecord> = ledger
                .iter()
                .filter(|r| r.channel == channel.id)
                .cloned()
                .collect();
            let wanted: Vec<&Notification> = current.iter().filter(|n| wants(channel, n)).collect();
            let repeat = channel
                .spec
                .repeat
                .map(|r| Duration::from_secs(r.seconds()));
            for notification in &wanted {
                let record = rows.iter().find(|r| r.event_key == notification.key);
                let decision = decision::decide(&notification.key, record, now, repeat);
                if decision != Decision::Quiet {
                    jobs.push(Job {
                        channel,
                        notification: Cow::Borrowed(*notification),
                        decision,
                        failures: record.map_or(0, |r| r.failures),
                    });
                }
            }
            for row in rows.iter().filter(|r| r.failures > 0 && !r.abandoned) {
                if wanted.iter().any(|n| n.key == row.event_key) {
                    continue;
                }
                match decision::stale(row, &rows, now) {
                    Stale::Wait => {}
                    Stale::Abandon => abandon.push((channel.id.clone(), row.event_key.clone())),
                    Stale::Retry => match Notification::from_stored(&row.notification) {
                        Some(notification) => jobs.push(Job {
                            channel,
                            notification: Cow::Owned(notification),
                            decision: Decision::Retry,
                            failures: row.failures,
                        }),
                        None => abandon.push((channel.id.clone(), row.event_key.clone())),
                    },
                }
            }
        }
        for (channel, key) in abandon {
            if let Err(e) = store.abandon_delivery(&channel, &key) {
                report.problems.push(e.to_string());
            }
        }
        for (job, result) in self.run(jobs).await {
            let stored = job.notification.to_stored();
            let kind = job.notification.kind.as_str();
            let outcome = match &result.outcome {
                Ok(()) => Ok(()),
                Err(reason) => Err((
                    reason.0.clone(),
                    decision::next_retry(now, job.failures + 1),
                )),
            };
            let attempt = DeliveryAttempt {
                channel: &job.channel.id,
                event_key: &job.notification.key,
                kind,
                label: &job.channel.label,
                notification: &stored,
                at: now,
                outcome,
            };
            if let Err(e) = store.record_delivery(&attempt) {
                report.problems.push(e.to_string());
            }
            report.results.push(result);
        }
        report
    }

    /// Runs every job at once; all end by [`DELIVERY_LIMIT`] from now.
    async fn run<'a>(&'a self, jobs: Vec<Job<'a>>) -> Vec<(Job<'a>, ChannelResult)> {
        let deadline = Instant::now() + DELIVERY_LIMIT;
        let deliveries = jobs.iter().map(|job| async move {
            let outcome = tokio::time::timeout_at(
                deadline,
                self.deliver_one(job.channel, &job.notification, deadline),
            )
            .await
            .unwrap_or_else(|_| Err(Undelivered(DeliveryError::Deadline.to_string())));
            ChannelResult {
                channel: job.channel.label.clone(),
                event_key: job.notification.key.clone(),
                decision: job.decision,
                outcome,
            }
        });
        let results = futures_util::future::join_all(deliveries).await;
        jobs.into_iter().zip(results).collect()
    }

    async fn deliver_one(
        &self,
        channel: &Channel,
        notification: &Notification,
        deadline: Instant,
    ) -> Result<(), Undelivered> {
        let mut redactor = Redactor::default();
        let result = match &channel.spec.channel {
            ChannelKind::Webhook { url, format } => match &self.client {
                Ok(client) => {
                    let body = match format {
                        WebhookFormat::Json => {
                            serde_json::to_value(Payload::of(notification)).unwrap_or_default()
                        }
                        WebhookFormat::Slack => slack::message(notification),
                        WebhookFormat::Teams => teams::message(notification),
                    };
                    webhook::post(client, url, &body, deadline, &mut redactor).await
                }
                Err(e) => Err(DeliveryError::Client(e.to_string())),
            },
            ChannelKind::Email(settings) => {
                email::send(settings, notification, deadline, &mut redactor).await
            }
            ChannelKind::Command(words) => {
                let json = Payload::of(notification).to_json();
                command::run(words, &json, &self.dir, deadline).await
            }
        };
        result.map_err(|e| Undelivered(redactor.clean(&e.to_string())))
    }
}

fn wants(channel: &Channel, notification: &Notification) -> bool {
    match notification.kind {
        NotificationKind::Test => true,
        NotificationKind::Event(event) => channel.spec.wants(event),
    }
}
