//! The email channel: one plain-text message over SMTP — STARTTLS required, implicit TLS, or
//! plain to a loopback relay only (the validator saw to that) — with SMTP AUTH when the plan
//! gives a login. TLS is rustls; the trusted roots are the system's (`SSL_CERT_FILE` adds
//! others).

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::time::Instant;

use super::Notification;
use super::delivery_error::{DeliveryError, Redactor};
use super::text;
use crate::plan::{EmailChannel, SmtpTls, is_loopback_host};

pub(crate) async fn send(
    channel: &EmailChannel,
    notification: &Notification,
    deadline: Instant,
    redactor: &mut Redactor,
) -> Result<(), DeliveryError> {
    let message = message(channel, notification)?;
    let credentials = match &channel.login {
        Some(login) => {
            let (password, _) = crate::oauth::read_secret(&login.password, "SMTP password")?;
            redactor.add(&password);
            Some(Credentials::new(login.username.clone(), password))
        }
        None => None,
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(DeliveryError::Deadline);
    }
    let tls = match channel.tls {
        SmtpTls::None if is_loopback_host(&channel.host) => Tls::None,
        // The validator allows plain SMTP to loopback only; a plan that got here otherwise is
        // refused rather than sent in the clear.
        SmtpTls::None => {
            return Err(DeliveryError::Smtp(format!(
                "plain SMTP to {} refused: only a loopback relay may be unencrypted",
                channel.host
            )));
        }
        SmtpTls::Starttls => Tls::Required(tls_parameters(&channel.host)?),
        SmtpTls::Tls => Tls::Wrapper(tls_parameters(&channel.host)?),
    };
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(channel.host.as_str())
            .port(channel.port)
            .tls(tls)
            .hello_name(ClientId::Domain(crate::state::host_name()))
            .timeout(Some(remaining));
    if let Some(credentials) = credentials {
        builder = builder.credentials(credentials);
    }
    let transport = builder.build();
    match tokio::time::timeout_at(deadline, transport.send(message)).await {
        Err(_) => Err(DeliveryError::Timeout),
        Ok(Err(e)) if e.is_timeout() => Err(DeliveryError::Timeout),
        Ok(Err(e)) => Err(DeliveryError::Smtp(smtp_reason(&e))),
        Ok(Ok(_)) => Ok(()),
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, DeliveryError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    TlsParameters::new_rustls(host.to_owned()).map_err(|e| DeliveryError::Smtp(smtp_reason(&e)))
}

/// lettre's message, with its chain of causes (a TLS failure says why only there).
fn smtp_reason(error: &lettre::transport::smtp::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = cause.source();
    }
    reason
}

fn message(channel: &EmailChannel, notification: &Notification) -> Result<Message, DeliveryError> {
    let mailbox = |email: &crate::plan::grammar::Email| -> Result<Mailbox, DeliveryError> {
        email
            .to_string()
            .parse::<Mailbox>()
            .map_err(|e| DeliveryError::Message(format!("{email}: {e}")))
    };
    let mut builder = Message::builder()
        .from(mailbox(&channel.from)?)
        .subject(text::subject(notification))
        .header(ContentType::TEXT_PLAIN);
    for to in &channel.to {
        builder = builder.to(mailbox(to)?);
    }
    builder
        .body(text::body(notification))
        .map_err(|e| DeliveryError::Message(e.to_string()))
}
