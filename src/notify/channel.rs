//! A plan's notification channel with the two names cutover gives it: a stable id for the
//! ledger (a digest of its kind and settings, which hold secret *references* only) and a label
//! for people (`status`, `notify test`), which never shows a webhook URL.

use sha2::{Digest, Sha256};

use crate::plan::{ChannelKind, NotifyChannel};

#[derive(Debug, Clone)]
pub(crate) struct Channel {
    /// 16 hex digits; the same channel keeps it when others are added or moved.
    pub(crate) id: String,
    /// `#2 slack webhook (environment variable CUTOVER_SLACK_WEBHOOK)`.
    pub(crate) label: String,
    pub(crate) spec: NotifyChannel,
}

impl Channel {
    /// The plan's `index`-th (0-based) `[[notify]]` entry.
    pub(crate) fn new(index: usize, spec: NotifyChannel) -> Self {
        // `ChannelKind` serializes references (`{"env": "NAME"}`), never what they point at.
        let canonical = serde_json::to_string(&spec.channel).unwrap_or_default();
        let digest = Sha256::digest(canonical.as_bytes());
        let id = digest
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let label = format!("#{} {}", index + 1, describe(&spec.channel));
        Self { id, label, spec }
    }
}

fn describe(kind: &ChannelKind) -> String {
    match kind {
        ChannelKind::Webhook { url, format } => {
            format!("{} webhook ({})", format.as_str(), url.describe())
        }
        ChannelKind::Email(email) => {
            let to: Vec<String> = email.to.iter().map(ToString::to_string).collect();
            format!(
                "email to {} via {}:{} ({})",
                to.join(", "),
                email.host,
                email.port,
                email.tls.as_str()
            )
        }
        ChannelKind::Command(words) => {
            format!("command {}", words.first().map_or("", String::as_str))
        }
    }
}
