//! `[[notify]]`: each entry one channel — a webhook (its URL a secret reference, its `format`),
//! an SMTP email, or a command — with the events it receives and how often it reminds.
//!
//! Only the shape and the grammars are checked: validation reads no secret and connects to
//! nothing. Whether a channel delivers is `cutover notify test`'s to find out.

use std::net::IpAddr;
use std::path::PathBuf;

use toml::Spanned;

use crate::plan::grammar::{Email, PlanDuration};
use crate::plan::is_loopback_host;
use crate::plan::notify::{
    ChannelKind, EmailChannel, NotifyChannel, NotifyEvent, SmtpLogin, SmtpTls, WebhookFormat,
};
use crate::plan::raw::{RawEmail, RawNotify};

use super::validator::Validator;

impl Validator<'_> {
    /// Every entry that validated; each mistake is reported.
    pub(super) fn notify(
        &mut self,
        raw: Option<Spanned<Vec<Spanned<RawNotify>>>>,
    ) -> Vec<NotifyChannel> {
        let entries = raw.map(Spanned::into_inner).unwrap_or_default();
        entries
            .into_iter()
            .filter_map(|entry| self.notify_entry(entry))
            .collect()
    }

    fn notify_entry(&mut self, entry: Spanned<RawNotify>) -> Option<NotifyChannel> {
        let span = entry.span();
        let raw = entry.into_inner();
        let given: Vec<(&str, std::ops::Range<usize>)> = [
            ("webhook", raw.webhook.as_ref().map(Spanned::span)),
            ("email", raw.email.as_ref().map(Spanned::span)),
            ("command", raw.command.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .filter_map(|(key, span)| span.map(|s| (key, s)))
        .collect();
        match given.as_slice() {
            [] => {
                let reported = ["webhook", "email", "command"]
                    .iter()
                    .any(|k| self.was_pruned(&format!("notify.{k}")));
                if !reported {
                    self.error(
                        "plan::missing-key",
                        span.start..span.start,
                        "a `[[notify]]` entry needs one of `webhook`, `email` or `command`",
                        "this entry sends nowhere",
                        "add `webhook = { env = \"CUTOVER_WEBHOOK_URL\" }`, an `email = { … }` \
                         table, or `command = [\"/path/to/program\"]`: one channel per entry",
                    );
                }
                return None;
            }
            [_] => {}
            [(first, _), (second, second_span), ..] => {
                self.error(
                    "plan::conflicting-keys",
                    second_span.clone(),
                    format!("a `[[notify]]` entry takes one channel, not `{first}` and `{second}`"),
                    "a second channel",
                    "write another `[[notify]]` entry for each channel",
                );
                return None;
            }
        }
        if let (Some(format), None) = (&raw.format, &raw.webhook) {
            self.error(
                "plan::misplaced-key",
                format.span(),
                "`format` applies only to a `webhook` channel",
                "not used by this channel",
                "remove `format`: emails and commands have their own shape",
            );
        }
        let events = self.notify_events(raw.events);
        let repeat = raw.repeat.as_ref().and_then(|r| self.repeat(r));
        let channel = if let Some(webhook) = raw.webhook {
            let url = self.secret_ref(webhook.into_inner());
            let format = match raw.format.as_ref().map(|f| f.get_ref().as_str()) {
                Some("slack") => WebhookFormat::Slack,
                Some("teams") => WebhookFormat::Teams,
                _ => WebhookFormat::Json,
            };
            url.map(|url| ChannelKind::Webhook { url, format })
        } else if let Some(email) = raw.email {
            self.email(email).map(ChannelKind::Email)
        } else {
            raw.command.and_then(|c| self.command(c))
        };
        if raw.repeat.is_some() && repeat.is_none() {
            return None;
        }
        Some(NotifyChannel {
            channel: channel?,
            events: events?,
            repeat,
        })
    }

    fn notify_events(
        &mut self,
        raw: Option<Spanned<Vec<Spanned<String>>>>,
    ) -> Option<Vec<NotifyEvent>> {
        let Some(raw) = raw else {
            return Some(NotifyEvent::ALL.to_vec());
        };
        let mut events = Vec::new();
        let mut ok = true;
        for name in raw.into_inner() {
            // Names outside the enum were reported (and removed) by the structural pass.
            let Some(event) = NotifyEvent::parse(name.get_ref()) else {
                continue;
            };
            if events.contains(&event) {
                self.error(
                    "plan::duplicate-event",
                    name.span(),
                    format!("`events` lists \"{event}\" twice"),
                    "a second time",
                    "list each event once",
                );
                ok = false;
            }
            events.push(event);
        }
        if events.is_empty() {
            return None;
        }
        ok.then_some(events)
    }

    fn repeat(&mut self, raw: &Spanned<String>) -> Option<PlanDuration> {
        let repeat = self.grammar(raw, PlanDuration::parse, "plan::bad-duration")?;
        if repeat.is_zero() {
            self.error(
                "plan::zero-repeat",
                raw.span(),
                "`repeat` must be longer than 0s",
                "zero",
                "a reminder every so often while the same halt or wait lasts, such as \"4h\"; \
                 remove `repeat` to send each event once",
            );
            return None;
        }
        Some(repeat)
    }

    fn command(&mut self, raw: Spanned<Vec<Spanned<String>>>) -> Option<ChannelKind> {
        let mut words: Vec<String> = raw
            .into_inner()
            .into_iter()
            .map(Spanned::into_inner)
            .collect();
        let program = words.first()?.clone();
        if program.trim().is_empty() {
            return None; // Reported by the structural pass.
        }
        // A relative path resolves against the plan's folder, as every path in the plan does;
        // a bare name is looked up in the fixed PATH the command runs with.
        if program.contains('/') && !program.starts_with('/') {
            let path: PathBuf = self.dir.join(&program);
            words[0] = path.to_string_lossy().into_owned();
        }
        Some(ChannelKind::Command(words))
    }

    fn email(&mut self, raw: Spanned<RawEmail>) -> Option<EmailChannel> {
        let span = raw.span();
        let raw = raw.into_inner();
        let host = raw.host.as_ref().and_then(|h| self.smtp_host(h));
        let tls = match raw.tls.as_ref().map(|t| t.get_ref().as_str()) {
            Some("tls") => SmtpTls::Tls,
            Some("none") => SmtpTls::None,
            _ => SmtpTls::Starttls,
        };
        if let (SmtpTls::None, Some(host)) = (tls, &host) {
            if !is_loopback_host(host) {
                let at = raw.tls.as_ref().map_or(span.clone(), Spanned::span);
                self.error(
                    "plan::insecure-smtp",
                    at,
                    format!("`tls = \"none\"` sends mail to {host} unencrypted"),
                    "plain SMTP",
                    "plain SMTP is allowed only to a relay on loopback (localhost, 127.0.0.1, \
                     ::1); use `tls = \"starttls\"` (port 587) or `tls = \"tls\"` (port 465)",
                );
            }
        }
        let port = match &raw.port {
            Some(port) => match u16::try_from(*port.get_ref()) {
                Ok(p) if p > 0 => Some(p),
                _ => {
                    self.error(
                        "plan::out-of-range",
                        port.span(),
                        "`port` must be from 1 to 65535",
                        "not a port",
                        "the relay's TCP port: 587 for STARTTLS, 465 for implicit TLS",
                    );
                    None
                }
            },
            None => Some(tls.default_port()),
        };
        let from = raw
            .from
            .as_ref()
            .and_then(|f| self.grammar(f, Email::parse, "plan::bad-email"));
        let mut to = Vec::new();
        let mut to_ok = true;
        for address in raw.to.map(Spanned::into_inner).unwrap_or_default() {
            match self.grammar(&address, Email::parse, "plan::bad-email") {
                Some(email) => to.push(email),
                None => to_ok = false,
            }
        }
        let login = match (raw.username, raw.password) {
            (None, None) => Some(None),
            (Some(username), Some(password)) => {
                self.secret_ref(password.into_inner()).map(|password| {
                    Some(SmtpLogin {
                        username: username.into_inner().trim().to_owned(),
                        password,
                    })
                })
            }
            (username, password) => {
                let (present, missing, at) = match (&username, &password) {
                    (Some(u), _) => ("username", "password", u.span()),
                    (_, Some(p)) => ("password", "username", p.span()),
                    _ => ("username", "password", span.clone()),
                };
                if !self.was_pruned(&format!("notify.email.{missing}")) {
                    self.error(
                        "plan::incomplete-login",
                        at,
                        format!("`{present}` needs `{missing}` beside it"),
                        "half a login",
                        "give both `username` and `password = { env = \"…\" }` for SMTP AUTH, \
                         or neither for a relay that needs no login",
                    );
                }
                None
            }
        };
        if to.is_empty() || !to_ok {
            return None;
        }
        Some(EmailChannel {
            host: host?,
            port: port?,
            tls,
            from: from?,
            to,
            login: login?,
        })
    }

    /// A host name or an IP address, without a scheme, port or path.
    fn smtp_host(&mut self, raw: &Spanned<String>) -> Option<String> {
        let host = raw.get_ref().trim();
        let is_ip = host.parse::<IpAddr>().is_ok();
        let is_name = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if is_ip || is_name {
            return Some(host.to_owned());
        }
        if host.is_empty() {
            return None; // Reported by the structural pass.
        }
        self.error(
            "plan::bad-host",
            raw.span(),
            format!("\"{host}\" is not a host name or an IP address"),
            "here",
            "write the relay's host alone, such as \"smtp.contoso.example\"; the port goes in \
             `port`, and no scheme (`smtp://`) is needed",
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::is_loopback_host as is_loopback;

    #[test]
    fn loopback_hosts() {
        for (host, loopback) in [
            ("localhost", true),
            ("LOCALHOST", true),
            ("127.0.0.1", true),
            ("127.8.9.1", true),
            ("::1", true),
            ("[::1]", true),
            ("smtp.contoso.example", false),
            ("10.0.0.1", false),
            ("localhost.contoso.example", false),
        ] {
            assert_eq!(is_loopback(host), loopback, "{host}");
        }
    }
}
