//! The rollout report: one self-contained HTML file (inline CSS and SVG, no script, nothing
//! fetched) that opens on an air-gapped workstation and prints cleanly to PDF.
//!
//! Before a rollout starts it is the dry-run (`dry_view.rs`: the same content as
//! `plan --format markdown`); once it has started it is what happened, from the state file
//! alone (`rollout.rs`): the timeline (`timeline.rs`), every step with all its users, gate
//! verdicts, exceptions, acceptances and approvals, the disconnect's preconditions, and the
//! audit trail with its chain's verification (`provenance.rs`, the seams for the audit chain,
//! approval signatures and git provenance).
//!
//! The page is an askama template (`templates/report.html`): every value is HTML-escaped by
//! the template; the chart, written here, escapes its own text with [`escape`].

mod dry_view;
mod provenance;
mod rollout;
mod timeline;

use askama::Template;

pub(crate) use dry_view::dry_run;
pub(crate) use provenance::{
    ChainVerification, GitCommit, approval_signature, chain_verification, plan_commit,
};
pub(crate) use rollout::{Inputs, rollout};

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    #[error("cannot render the report: {0}")]
    Render(#[from] askama::Error),
}

const CSS: &str = include_str!("templates/report.css");

/// Text made safe for HTML and SVG, element content and quoted attributes alike.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A label and its value, for the header and the step facts.
pub(crate) struct Pair {
    pub(crate) label: String,
    pub(crate) value: String,
}

pub(crate) fn pair(label: impl Into<String>, value: impl Into<String>) -> Pair {
    Pair {
        label: label.into(),
        value: value.into(),
    }
}

/// A user and what went wrong, in the platform's words.
pub(crate) struct UserError {
    pub(crate) email: String,
    pub(crate) outcome: String,
    pub(crate) error: String,
    /// When, or in which verdict.
    pub(crate) context: String,
}

pub(crate) struct ExceptionView {
    pub(crate) email: String,
    pub(crate) outcome: String,
    pub(crate) error: String,
    pub(crate) opened: String,
    pub(crate) state: String,
}

pub(crate) struct AcceptView {
    pub(crate) email: String,
    pub(crate) reason: String,
    pub(crate) by: String,
    pub(crate) at: String,
}

pub(crate) struct ApprovalView {
    pub(crate) step: String,
    pub(crate) by: String,
    pub(crate) from: String,
    pub(crate) at: String,
    pub(crate) signed: String,
    /// `counts`, or `does not count: ` and why (unsigned, a self-approval under four eyes).
    pub(crate) counts: String,
}

/// One step of a started rollout.
pub(crate) struct StepView {
    pub(crate) id: String,
    pub(crate) phase: String,
    pub(crate) users: Vec<String>,
    /// Where the user list comes from.
    pub(crate) users_note: String,
    pub(crate) times: Vec<Pair>,
    pub(crate) verdicts: Vec<String>,
    pub(crate) failures: Vec<UserError>,
    pub(crate) exceptions: Vec<ExceptionView>,
    pub(crate) accepted: Vec<AcceptView>,
    pub(crate) approval: String,
    pub(crate) approvals: Vec<ApprovalView>,
}

pub(crate) struct Precondition {
    pub(crate) what: String,
    /// `held`, `not yet`, `not required`, or `checked when it runs`.
    pub(crate) held: String,
    pub(crate) detail: String,
}

pub(crate) struct DisconnectView {
    pub(crate) state: String,
    pub(crate) preconditions: Vec<Precondition>,
    pub(crate) approvals: Vec<ApprovalView>,
    pub(crate) accepted: Vec<AcceptView>,
    pub(crate) preexisting: Vec<String>,
    /// Each time the disconnect halted: why, and who held it up, in the platform's words.
    pub(crate) halts: Vec<String>,
}

pub(crate) struct AuditRow {
    pub(crate) at: String,
    pub(crate) kind: String,
    pub(crate) step: String,
    pub(crate) operator: String,
    pub(crate) detail: String,
}

pub(crate) struct AuditView {
    pub(crate) verification: String,
    pub(crate) head: Option<String>,
    pub(crate) total: usize,
    pub(crate) records: Vec<AuditRow>,
}

/// The whole page.
#[derive(Template)]
#[template(path = "report.html")]
pub(crate) struct Page {
    pub(crate) title: String,
    /// `Rollout report` or `Dry-run`.
    pub(crate) kind: &'static str,
    pub(crate) header: Vec<Pair>,
    pub(crate) standing: String,
    pub(crate) timeline_svg: String,
    pub(crate) timeline_rows: Vec<[String; 3]>,
    pub(crate) zone: String,
    pub(crate) dry: Option<dry_view::DryView>,
    pub(crate) steps: Vec<StepView>,
    pub(crate) disconnect: Option<DisconnectView>,
    pub(crate) audit: Option<AuditView>,
    pub(crate) css: &'static str,
}

impl Page {
    pub(crate) fn html(&self) -> Result<String, ReportError> {
        Ok(self.render()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }
}
