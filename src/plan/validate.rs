//! The semantic pass: a [`RawPlan`] becomes a [`Plan`], or every reason it cannot.
//!
//! By the time this runs, the structural pass has reported and pruned every value of the wrong
//! shape, so a `None` here means "already reported" and is skipped quietly. What this pass adds is
//! meaning: the grammars inside strings, references between sections (duplicate users, unique
//! batch names, `remaining` last), CSV files, and the warnings a reviewer would raise. It is
//! static: it reads CSV files the plan names, and never the environment, secrets, network or clock.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use crate::diagnostic::{Diagnostic, SourceFile};

use super::grammar::{Email, GrammarError, PlanDuration, Share, StartTime, StepName, Window};
use super::plan::{Disconnect, FromConfig, Plan, ToConfig, Validated};
use super::raw::{
    RawBatch, RawClientCredentials, RawGate, RawPilot, RawPlan, RawPrecheck, RawSecretRef,
    RawTarget, RawThreshold, RawTo, RawUsers,
};
use super::user_file::{UnreadableFile, UserFile};
use super::{
    ApiAuth, ClientCredentials, Gate, OnDenied, OnFailure, Precheck, SandboxRef, SecretRef,
    Selector, Step, StepKind, TargetSpec, Threshold,
};

/// Builds the typed plan. Returns `None` when any error was reported (by this pass or earlier);
/// the diagnostics say why.
pub(super) fn validate(
    raw: RawPlan,
    file: &Arc<SourceFile>,
    plan_path: &Path,
    pruned: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Plan> {
    let dir = plan_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut v = Validator {
        file,
        dir: &dir,
        diagnostics,
        seen_users: HashMap::new(),
        pruned,
    };

    let name = raw
        .name
        .as_ref()
        .and_then(|n| v.grammar(n, StepName::parse, "plan::bad-name"));
    let description = raw.description.map(Spanned::into_inner).unwrap_or_default();
    let target = raw
        .target
        .map(Spanned::into_inner)
        .and_then(|t| v.target(t));
    let from = raw
        .from
        .map(Spanned::into_inner)
        .and_then(|f| f.display_name)
        .map(|d| FromConfig {
            display_name: d.into_inner().trim().to_owned(),
        });
    let to = raw
        .to
        .map(Spanned::into_inner)
        .and_then(|t| v.to(t, from.as_ref()));

    let (gate, gate_spans) = match raw.gate {
        Some(g) => v.gate(&Gate::default(), g.into_inner()),
        None => (Gate::default(), GateSpans::default()),
    };
    v.check_gate(&gate, &gate_spans, "the default gate");

    let pilot = raw.pilot.and_then(|p| v.pilot(p, &gate));
    let batch_count = raw.batch.as_ref().map_or(0, |b| b.get_ref().len());
    let mut batches = Vec::new();
    let mut batch_names: HashMap<String, Range<usize>> = HashMap::new();
    for (i, batch) in raw
        .batch
        .map(Spanned::into_inner)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if let Some(step) = v.batch(batch, &gate, i + 1 == batch_count, &mut batch_names) {
            batches.push(step);
        }
    }

    let precheck = match raw.precheck {
        Some(p) => v.precheck(p.into_inner()),
        None => Some(None),
    };

    let disconnect = raw.disconnect.map(|d| {
        let d = d.into_inner();
        let after = d
            .after
            .as_ref()
            .and_then(|a| v.grammar(a, PlanDuration::parse, "plan::bad-duration"))
            .unwrap_or(PlanDuration::ZERO);
        let approval = d.approval.as_ref().is_none_or(|a| *a.get_ref());
        if let (Some(a), Some(TargetSpec::Http { .. })) = (&d.approval, &target) {
            if !a.get_ref() {
                let warning = Diagnostic::warning(
                    "plan::unapproved-disconnect",
                    v.file,
                    a.span(),
                    "the final disconnect of a real platform will run without `cutover approve`",
                )
                .label("no sign-off before the irreversible step")
                .help(
                    "the disconnect removes the `from` credentials and cannot be undone; \
                     keep `approval = true` unless this plan runs against a sandbox",
                );
                v.diagnostics.push(warning);
            }
        }
        Disconnect { after, approval }
    });

    if v.diagnostics.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Plan {
        name: name?,
        description,
        target: target?,
        from: from?,
        to: to?,
        gate,
        pilot,
        batches,
        disconnect: disconnect?,
        precheck: precheck?,
        _validated: Validated(()),
    })
}

/// Where each gate key was written, so a conflict between them points at the right one.
#[derive(Debug, Default, Clone)]
struct GateSpans {
    soak: Option<Range<usize>>,
    timeout: Option<Range<usize>>,
    /// A duration that did not parse: comparing the other one with a default would mislead.
    broken: bool,
}

/// Where a user was first named, for the message about the second time. The place is kept
/// as a span and turned into `PATH:LINE:COLUMN` only if a duplicate is reported: computing it
/// for every user would scan the file once per user.
struct Seen {
    step: String,
    file: Arc<SourceFile>,
    span: Range<usize>,
}

struct Validator<'a> {
    file: &'a Arc<SourceFile>,
    dir: &'a Path,
    diagnostics: &'a mut Vec<Diagnostic>,
    seen_users: HashMap<Email, Seen>,
    /// Dotted paths of keys an earlier pass reported and removed: present, but not usable.
    pruned: &'a [String],
}

impl Validator<'_> {
    fn was_pruned(&self, path: &str) -> bool {
        self.pruned.iter().any(|p| p == path)
    }

    fn error(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
        label: &str,
        help: impl Into<String>,
    ) {
        let d = Diagnostic::error(code, self.file, span, message)
            .label(label)
            .help(help);
        self.diagnostics.push(d);
    }

    /// Parses a string value with one of the plan's grammars, reporting a failure at the
    /// offending characters where the grammar can tell which they are.
    fn grammar<T>(
        &mut self,
        value: &Spanned<String>,
        parse: fn(&str) -> Result<T, GrammarError>,
        code: &'static str,
    ) -> Option<T> {
        match parse(value.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = self.inner_span(value, e.at.clone());
                let d = Diagnostic::error(code, self.file, span, e.message)
                    .label("here")
                    .help(e.help);
                self.diagnostics.push(d);
                None
            }
        }
    }

    /// Maps a range inside a string's content to the file, when the string is written without
    /// escapes (so content and source line up); otherwise the whole value.
    fn inner_span(&self, value: &Spanned<String>, at: Option<Range<usize>>) -> Range<usize> {
        let span = value.span();
        let Some(at) = at else { return span };
        let text = self.file.text();
        let content = span.start + 1..span.end.saturating_sub(1);
        // Same length and no escapes: the characters line up one to one. (Comparing the text
        // itself would fail where a secret was masked.)
        let source = text.get(content.clone()).unwrap_or("");
        let multiline = text
            .get(span.start..)
            .is_some_and(|t| t.starts_with("\"\"\"") || t.starts_with("'''"));
        let verbatim =
            !multiline && source.len() == value.get_ref().len() && !source.contains('\\');
        // Grammars count bytes; widen to whole characters so a label never splits one.
        let value_text = value.get_ref();
        let mut at = at.start.min(value_text.len())..at.end.min(value_text.len());
        while !value_text.is_char_boundary(at.start) {
            at.start -= 1;
        }
        while !value_text.is_char_boundary(at.end) {
            at.end += 1;
        }
        if verbatim {
            content.start + at.start..content.start + at.end
        } else {
            span
        }
    }

    fn target(&mut self, raw: RawTarget) -> Option<TargetSpec> {
        let kind = raw.kind.as_ref()?;
        let kind_span = kind.span();
        match kind.get_ref().as_str() {
            "sandbox" => {
                for (key, span) in [
                    ("url", raw.url.as_ref().map(Spanned::span)),
                    ("token", raw.token.as_ref().map(Spanned::span)),
                    ("auth", raw.auth.as_ref().map(Spanned::span)),
                ] {
                    if let Some(span) = span {
                        self.error(
                            "plan::misplaced-key",
                            span,
                            format!("`{key}` applies only to `kind = \"http\"`"),
                            "not used by a sandbox target",
                            format!(
                                "remove `{key}`, or set `kind = \"http\"` to use the platform's API"
                            ),
                        );
                    }
                }
                let Some(sandbox) = raw.sandbox else {
                    if self.was_pruned("target.sandbox") {
                        return None;
                    }
                    self.error(
                        "plan::missing-key",
                        kind_span,
                        "a sandbox target needs `sandbox`",
                        "kind is \"sandbox\"",
                        "add `sandbox = \"demo\"` (a scenario name) or the path of a file made by `cutover sandbox init`",
                    );
                    return None;
                };
                let written = sandbox.get_ref().trim().to_owned();
                let is_scenario = !written.is_empty()
                    && written
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                let sandbox = if is_scenario {
                    SandboxRef::Scenario(written)
                } else {
                    let path = self.dir.join(&written);
                    SandboxRef::File { written, path }
                };
                Some(TargetSpec::Sandbox { sandbox })
            }
            "http" => {
                if let Some(sandbox) = &raw.sandbox {
                    self.error(
                        "plan::misplaced-key",
                        sandbox.span(),
                        "`sandbox` applies only to `kind = \"sandbox\"`",
                        "not used by an http target",
                        "remove `sandbox`, or set `kind = \"sandbox\"`",
                    );
                }
                let url = match &raw.url {
                    Some(url) => self.grammar(url, parse_api_url, "plan::bad-url"),
                    None if self.was_pruned("target.url") => None,
                    None => {
                        self.error(
                            "plan::missing-key",
                            kind_span.clone(),
                            "an http target needs `url`",
                            "kind is \"http\"",
                            "add `url = \"https://scheduling.example.org/api/admin/v1\"`: the admin API's base URL",
                        );
                        None
                    }
                };
                let auth = match (raw.token, raw.auth) {
                    (Some(token), None) => self.secret_ref(token.into_inner()).map(ApiAuth::Token),
                    (None, Some(auth)) => self
                        .client_credentials(auth.into_inner())
                        .map(ApiAuth::ClientCredentials),
                    (Some(token), Some(_)) => {
                        self.error(
                            "plan::conflicting-keys",
                            token.span(),
                            "an http target takes `token` or `[target.auth]`, not both",
                            "one of the two",
                            "keep `token` for a fixed API token, or `[target.auth]` for OAuth client credentials",
                        );
                        None
                    }
                    (None, None)
                        if self.was_pruned("target.token") || self.was_pruned("target.auth") =>
                    {
                        None
                    }
                    (None, None) => {
                        self.error(
                            "plan::missing-key",
                            kind_span,
                            "an http target needs `token` or `[target.auth]`",
                            "kind is \"http\"",
                            "add `token = { env = \"CUTOVER_API_TOKEN\" }` and keep the token in that environment \
                             variable, or a `[target.auth]` table with OAuth client credentials",
                        );
                        None
                    }
                };
                Some(TargetSpec::Http {
                    url: url?,
                    auth: auth?,
                })
            }
            _ => None, // Not one of the enum's values: reported by the structural pass.
        }
    }

    /// OAuth client credentials (`[target.auth]`, `[precheck]`); `None` when a part is wrong.
    fn client_credentials(&mut self, raw: RawClientCredentials) -> Option<ClientCredentials> {
        let token_url = raw
            .token_url
            .as_ref()
            .and_then(|u| self.grammar(u, parse_secure_url, "plan::bad-url"));
        // Missing keys were reported by the structural pass; blank ones are reported here.
        let client_id = raw
            .client_id
            .and_then(|c| self.not_blank(c, "client_id", "the app registration's client id"));
        let client_secret = raw
            .client_secret
            .and_then(|secret| self.secret_ref(secret.into_inner()));
        let mut scopes = Vec::new();
        let mut blank_scope = false;
        for scope in raw.scopes.map(Spanned::into_inner).unwrap_or_default() {
            match self.not_blank(
                scope,
                "scopes",
                "a scope such as `https://graph.microsoft.com/.default`",
            ) {
                Some(scope) => scopes.push(scope),
                None => blank_scope = true,
            }
        }
        if scopes.is_empty() || blank_scope {
            return None;
        }
        Some(ClientCredentials {
            token_url: token_url?,
            client_id: client_id?,
            client_secret: client_secret?,
            scopes,
        })
    }

    /// A string that must hold more than spaces.
    fn not_blank(&mut self, value: Spanned<String>, key: &str, example: &str) -> Option<String> {
        let span = value.span();
        let text = value.into_inner().trim().to_owned();
        if text.is_empty() {
            self.error(
                "plan::blank-value",
                span,
                format!("`{key}` is blank"),
                "only spaces",
                format!("write {example}"),
            );
            return None;
        }
        Some(text)
    }

    fn precheck(&mut self, raw: RawPrecheck) -> Option<Option<Precheck>> {
        let enabled = raw.mailbox_access.as_ref().is_some_and(|m| *m.get_ref());
        let graph_url = match &raw.graph_url {
            Some(url) => self.grammar(url, parse_secure_url, "plan::bad-url"),
            None => Some("https://graph.microsoft.com/v1.0".to_owned()),
        };
        let on_denied = match raw.on_denied.as_ref().map(|o| o.get_ref().as_str()) {
            Some("skip") => OnDenied::Skip,
            _ => OnDenied::Block,
        };
        let credentials = RawClientCredentials {
            token_url: raw.token_url,
            client_id: raw.client_id,
            client_secret: raw.client_secret,
            scopes: Some(raw.scopes.unwrap_or_else(|| {
                Spanned::new(
                    0..0,
                    vec![Spanned::new(
                        0..0,
                        "https://graph.microsoft.com/.default".to_owned(),
                    )],
                )
            })),
        };
        let credentials = self.client_credentials(credentials);
        Some(enabled.then_some(Precheck {
            graph_url: graph_url?,
            credentials: credentials?,
            on_denied,
        }))
    }

    fn secret_ref(&mut self, raw: RawSecretRef) -> Option<SecretRef> {
        match (raw.env, raw.file) {
            (Some(env), None) => {
                let name = env.get_ref();
                let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if valid {
                    Some(SecretRef::Env(name.clone()))
                } else {
                    self.error(
                        "plan::bad-secret-ref",
                        env.span(),
                        format!("\"{name}\" is not an environment variable name"),
                        "here",
                        "name the variable that holds the secret, such as \"CUTOVER_API_TOKEN\" \
                         (letters, digits and _, not starting with a digit)",
                    );
                    None
                }
            }
            (None, Some(file)) => {
                let written = file.get_ref().clone();
                let path = self.dir.join(&written);
                Some(SecretRef::File { written, path })
            }
            // Both or neither: the structural pass reported the shape.
            _ => None,
        }
    }

    fn to(&mut self, raw: RawTo, from: Option<&FromConfig>) -> Option<ToConfig> {
        let display = raw.display_name?;
        let display_name = display.get_ref().trim().to_owned();
        if let Some(from) = from {
            if from.display_name.eq_ignore_ascii_case(&display_name) {
                self.error(
                    "plan::same-configuration",
                    display.span(),
                    format!("`to` and `from` both name the configuration \"{display_name}\""),
                    "same as [from] display_name",
                    "`to` is the new OAuth configuration; give it its own Display Name, such as \"OAuth\"",
                );
            }
        }
        let tenant_id = raw.tenant_id.and_then(|t| {
            let span = t.span();
            let value = t.into_inner();
            if is_tenant_id(value.trim()) {
                Some(value.trim().to_owned())
            } else {
                self.error(
                    "plan::bad-tenant",
                    span,
                    format!("\"{value}\" is not a tenant ID"),
                    "here",
                    "use the tenant's domain, such as \"contoso.onmicrosoft.com\", or its GUID",
                );
                None
            }
        });
        let service_address = raw
            .service_address
            .as_ref()
            .and_then(|s| self.grammar(s, parse_service_address, "plan::bad-url"));
        let service_account = raw
            .service_account
            .as_ref()
            .and_then(|s| self.grammar(s, Email::parse, "plan::bad-email"));
        let ok = raw.service_address.is_none() == service_address.is_none()
            && raw.service_account.is_none() == service_account.is_none();
        ok.then_some(())?;
        Some(ToConfig {
            display_name,
            tenant_id: tenant_id?,
            exchange_version: raw.exchange_version.map(Spanned::into_inner),
            service_address,
            service_account,
        })
    }

    /// Applies a gate table's keys over `base`.
    fn gate(&mut self, base: &Gate, raw: RawGate) -> (Gate, GateSpans) {
        let mut gate = *base;
        let mut spans = GateSpans::default();
        if let Some(soak) = &raw.soak {
            spans.soak = Some(soak.span());
            match self.grammar(soak, PlanDuration::parse, "plan::bad-duration") {
                Some(d) => gate.soak = d,
                None => spans.broken = true,
            }
        }
        if let Some(timeout) = &raw.timeout {
            spans.timeout = Some(timeout.span());
            let parsed = self.grammar(timeout, PlanDuration::parse, "plan::bad-duration");
            spans.broken |= parsed.is_none();
            if let Some(d) = parsed {
                if d.is_zero() {
                    self.error(
                        "plan::zero-timeout",
                        timeout.span(),
                        "a gate's timeout cannot be zero",
                        "here",
                        "give syncs time to happen: the platform pulls every ~5 minutes, up to 60; such as \"1h\"",
                    );
                }
                gate.timeout = d;
            }
        }
        if let Some(max) = raw.max_errors {
            let span = max.span();
            match max.into_inner() {
                RawThreshold::Count(n) => match u64::try_from(n) {
                    Ok(n) => gate.max_errors = Threshold::Count(n),
                    Err(_) => self.error(
                        "plan::out-of-range",
                        span,
                        "`max_errors` cannot be negative",
                        "here",
                        "use a count of users (0 or more) or a share such as \"2%\"",
                    ),
                },
                RawThreshold::Share(text) => {
                    let spanned = Spanned::new(span, text);
                    if let Some(share) = self.grammar(&spanned, Share::parse, "plan::bad-share") {
                        gate.max_errors = Threshold::Share(share);
                    }
                }
            }
        }
        if let Some(on_failure) = raw.on_failure {
            gate.on_failure = match on_failure.get_ref().as_str() {
                "rollback" => OnFailure::Rollback,
                _ => OnFailure::Halt,
            };
        }
        if let Some(count) = raw.count_preexisting {
            gate.count_preexisting = count.into_inner();
        }
        (gate, spans)
    }

    fn check_gate(&mut self, gate: &Gate, spans: &GateSpans, whose: &str) {
        if gate.soak > gate.timeout && !gate.timeout.is_zero() && !spans.broken {
            let Some(span) = spans.soak.clone().or_else(|| spans.timeout.clone()) else {
                return;
            };
            self.error(
                "plan::soak-after-timeout",
                span,
                format!(
                    "{whose} can never pass: its soak ({}) is longer than its timeout ({})",
                    gate.soak, gate.timeout
                ),
                "soak longer than timeout",
                "the gate fails at its timeout, so the soak must end before it; shorten `soak` or lengthen `timeout`",
            );
        }
    }

    fn step_gate(&mut self, base: &Gate, raw: Option<Spanned<RawGate>>, step: &str) -> Gate {
        let Some(raw) = raw else { return *base };
        let (gate, spans) = self.gate(base, raw.into_inner());
        if spans.soak.is_some() || spans.timeout.is_some() {
            self.check_gate(&gate, &spans, &format!("the gate of `{step}`"));
        }
        gate
    }

    fn pilot(&mut self, raw: Spanned<RawPilot>, base: &Gate) -> Option<Step> {
        let raw = raw.into_inner();
        let users = raw.users.and_then(|u| {
            if matches!(u.get_ref(), RawUsers::Remaining) {
                self.error(
                    "plan::remaining-in-pilot",
                    u.span(),
                    "the pilot cannot be \"remaining\"",
                    "here",
                    "the pilot is a small first group: list a few users, or use `{ group = \"...\" }`",
                );
                return None;
            }
            self.users(u, "pilot")
        });
        let gate = self.step_gate(base, raw.gate, "pilot");
        Some(Step {
            name: StepName::parse("pilot").ok()?,
            kind: StepKind::Pilot,
            users: users?,
            approval: raw.approval.is_some_and(Spanned::into_inner),
            not_before: None,
            window: None,
            max_size: None,
            gate,
        })
    }

    fn batch(
        &mut self,
        raw: Spanned<RawBatch>,
        base: &Gate,
        is_last: bool,
        names: &mut HashMap<String, Range<usize>>,
    ) -> Option<Step> {
        let raw = raw.into_inner();
        let name = raw.name.as_ref().and_then(|n| {
            let name = self.grammar(n, StepName::parse, "plan::bad-name")?;
            if matches!(name.as_str(), "pilot" | "disconnect") {
                self.error(
                    "plan::reserved-name",
                    n.span(),
                    format!("`{name}` is reserved for the {name} step"),
                    "reserved",
                    "give the batch another name, such as \"first-wave\"",
                );
                return None;
            }
            if let Some(first) = names.get(name.as_str()) {
                let (line, column) = self.file.line_column(first.start);
                self.error(
                    "plan::duplicate-batch",
                    n.span(),
                    format!("two batches are named `{name}` (the first at line {line}, column {column})"),
                    "used again here",
                    "batch names are how `approve` and `rollback` pick a batch; make each one unique",
                );
                return None;
            }
            names.insert(name.as_str().to_owned(), n.span());
            Some(name)
        });
        let step_label = name
            .as_ref()
            .map_or_else(|| "this batch".to_owned(), |n| format!("batch `{n}`"));
        let step_id = raw
            .name
            .as_ref()
            .map_or_else(|| "this batch".to_owned(), |n| n.get_ref().clone());

        let users = raw.users.and_then(|u| {
            if matches!(u.get_ref(), RawUsers::Remaining) && !is_last {
                self.error(
                    "plan::remaining-not-last",
                    u.span(),
                    format!("only the last batch can take the \"remaining\" users, and {step_label} is not last"),
                    "not the last batch",
                    "move this batch to the end of the file, or list its users",
                );
                return None;
            }
            self.users(u, &step_id)
        });
        let not_before = raw
            .not_before
            .as_ref()
            .and_then(|t| self.grammar(t, StartTime::parse, "plan::bad-time"));
        let window = raw
            .window
            .as_ref()
            .and_then(|w| self.grammar(w, Window::parse, "plan::bad-window"));
        let max_size = raw.max_size.as_ref().and_then(|m| {
            let n = u32::try_from(*m.get_ref()).ok().and_then(NonZeroU32::new);
            if n.is_none() {
                self.error(
                    "plan::out-of-range",
                    m.span(),
                    "`max_size` must be at least 1",
                    "here",
                    "the largest number of users switched in one gated wave, such as 200",
                );
            }
            n
        });
        let gate = self.step_gate(base, raw.gate, &step_id);
        let complete = raw.not_before.is_none() == not_before.is_none()
            && raw.window.is_none() == window.is_none()
            && raw.max_size.is_none() == max_size.is_none();
        complete.then_some(())?;
        Some(Step {
            name: name?,
            kind: StepKind::Batch,
            users: users?,
            approval: raw.approval.is_some_and(Spanned::into_inner),
            not_before,
            window,
            max_size,
            gate,
        })
    }

    fn users(&mut self, raw: Spanned<RawUsers>, step: &str) -> Option<Selector> {
        match raw.into_inner() {
            RawUsers::Remaining => Some(Selector::Remaining),
            RawUsers::Location(l) => Some(Selector::Location {
                location: l.into_inner().trim().to_owned(),
            }),
            RawUsers::Group(g) => Some(Selector::Group {
                group: g.into_inner().trim().to_owned(),
            }),
            RawUsers::List(items) => {
                let mut emails = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in &items {
                    match self.grammar(item, Email::parse, "plan::bad-email") {
                        Some(email) => {
                            if self.claim(&email, step, self.file.clone(), item.span()) {
                                emails.push(email);
                            } else {
                                ok = false;
                            }
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Selector::Emails { emails })
            }
            RawUsers::File(f) => {
                let written = f.get_ref().clone();
                let path = self.dir.join(&written);
                let display = if Path::new(&written).is_absolute() {
                    written.clone()
                } else {
                    display_path(self.dir, &written)
                };
                let before = self.diagnostics.len();
                let mut file_diagnostics = Vec::new();
                let read = UserFile::read(&display, &path, &mut file_diagnostics);
                self.diagnostics.extend(file_diagnostics);
                let users = match read {
                    Ok(users) => users,
                    Err(e) => {
                        let (message, help) = match e {
                            UnreadableFile::Missing => (
                                format!("the user file `{display}` does not exist"),
                                format!(
                                    "relative paths resolve against the plan's folder ({}); check the name",
                                    display_dir(self.dir)
                                ),
                            ),
                            UnreadableFile::NotUtf8 => (
                                format!("the user file `{display}` is not UTF-8 text"),
                                "export the sheet as \"CSV UTF-8\"".to_owned(),
                            ),
                            UnreadableFile::Io(e) => (
                                format!("the user file `{display}` cannot be read: {e}"),
                                "check that the path names a readable file".to_owned(),
                            ),
                        };
                        self.error("plan::bad-user-file", f.span(), message, "this file", help);
                        return None;
                    }
                };
                let mut emails = Vec::with_capacity(users.emails.len());
                for listed in &users.emails {
                    if self.claim(&listed.email, step, users.file.clone(), listed.span.clone()) {
                        emails.push(listed.email.clone());
                    }
                }
                let clean = self.diagnostics[before..].iter().all(|d| !d.is_error());
                clean.then_some(Selector::File {
                    file: written,
                    path,
                    emails,
                })
            }
        }
    }

    /// Records that `step` names `email`; false (and a diagnostic) if a step already did.
    fn claim(
        &mut self,
        email: &Email,
        step: &str,
        file: Arc<SourceFile>,
        span: Range<usize>,
    ) -> bool {
        if let Some(seen) = self.seen_users.get(email) {
            let (line, column) = seen.file.line_column(seen.span.start);
            let first = format!("{}:{line}:{column}", seen.file.name());
            let (message, help) = if seen.step == step {
                (
                    format!("`{email}` is listed twice in `{step}` (first at {first})"),
                    "remove one of the two".to_owned(),
                )
            } else {
                (
                    format!(
                        "`{email}` is in both `{}` and `{step}` (first at {first})",
                        seen.step
                    ),
                    "a user can move in only one step; remove them from one of the two".to_owned(),
                )
            };
            let d = Diagnostic::error("plan::duplicate-user", &file, span, message)
                .label("listed again here")
                .help(help);
            self.diagnostics.push(d);
            return false;
        }
        let seen = Seen {
            step: step.to_owned(),
            file,
            span,
        };
        self.seen_users.insert(email.clone(), seen);
        true
    }
}

/// The plan's folder joined with a relative path, as a user would type it.
fn display_path(dir: &Path, written: &str) -> String {
    if dir.as_os_str().is_empty() {
        written.to_owned()
    } else {
        dir.join(written).display().to_string()
    }
}

fn display_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        dir.display().to_string()
    }
}

/// A tenant is named by a domain (`contoso.onmicrosoft.com`) or a GUID.
fn is_tenant_id(text: &str) -> bool {
    let is_guid = text.len() == 36
        && text.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let is_domain = text.contains('.')
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    is_guid || is_domain
}

/// The admin API's base URL: `http(s)://host[:port][/path]`, with no credentials in it.
fn parse_api_url(text: &str) -> Result<String, GrammarError> {
    let help = "write the API's base URL, such as \"https://scheduling.example.org/api/admin/v1\"";
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return Err(GrammarError::new(
            format!("\"{text}\" is not an http(s) URL"),
            help,
        ));
    };
    check_authority(text, rest, help)?;
    Ok(text.trim_end_matches('/').to_owned())
}

/// Where a client secret or a token travels (an identity provider, Graph): `https://`, or plain
/// `http://` on the loopback interface only (a test server on the same machine).
fn parse_secure_url(text: &str) -> Result<String, GrammarError> {
    let url = parse_api_url(text)?;
    if url.starts_with("http://") && !crate::oauth::is_secure_url(&url) {
        return Err(GrammarError::new(
            "client secrets and tokens would travel in the clear over http://",
            "use the https:// URL (plain http:// is accepted only on 127.0.0.1 or localhost)",
        ));
    }
    Ok(url)
}

/// The Exchange service address: an `https://` URL.
fn parse_service_address(text: &str) -> Result<String, GrammarError> {
    let help = "write the EWS URL, such as \"https://outlook.office365.com/EWS/Exchange.asmx\"";
    let Some(rest) = text.strip_prefix("https://") else {
        let message = if text.starts_with("http://") {
            "the Exchange service address must use https://".to_owned()
        } else {
            format!("\"{text}\" is not an https URL")
        };
        return Err(GrammarError::new(message, help));
    };
    check_authority(text, rest, help)?;
    Ok(text.to_owned())
}

fn check_authority(text: &str, rest: &str, help: &str) -> Result<(), GrammarError> {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let start = text.len() - rest.len();
    if let Some(at) = authority.rfind('@') {
        return Err(GrammarError::new(
            "a URL in a plan cannot carry credentials",
            "remove the user and password from the URL; secrets belong in a reference such as `{ env = \"NAME\" }`",
        )
        .at(start..start + at));
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host.is_empty() || text.contains(char::is_whitespace) {
        return Err(GrammarError::new(format!("\"{text}\" has no host"), help));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants() {
        for (text, ok) in [
            ("contoso.onmicrosoft.com", true),
            ("contoso.example", true),
            ("72f988bf-86f1-41af-91ab-2d7cd011db47", true),
            ("contoso", false),
            ("contoso..com", false),
            ("-contoso.com", false),
            ("72f988bf86f141af91ab2d7cd011db47", false),
            ("contoso.com/", false),
        ] {
            assert_eq!(is_tenant_id(text), ok, "{text}");
        }
    }

    #[test]
    fn urls() {
        assert!(
            parse_api_url("https://x.example/api/v1/")
                .is_ok_and(|u| u == "https://x.example/api/v1")
        );
        assert!(parse_api_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_api_url("ftp://x.example").is_err());
        assert!(parse_api_url("https://").is_err());
        assert!(
            parse_api_url("https://admin:hunter2@x.example").is_err_and(|e| e.at == Some(8..21))
        );
        assert!(parse_service_address("http://mail.example/EWS/Exchange.asmx").is_err());
    }
}
