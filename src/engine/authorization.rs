//! Having the new configuration authorized: asking the platform for the sign-in, showing its URL
//! once, waiting for an admin, and recording who signed in.

use jiff::Timestamp;

use super::journaled::Call;
use super::{Engine, EngineError, Event, RunOutcome};
use crate::planner::{Side, WaitReason};
use crate::state::{AuditKind, JournalAction};
use crate::target::{ConfigurationState, Observed, Target};

impl<T: Target> Engine<'_, T> {
    /// Says (once, and in the audit trail) who authorized `to`, when it became connected out of
    /// the engine's sight: an admin completing the sign-in while the engine waited or between
    /// runs.
    pub(super) fn note_authorization(
        &mut self,
        observed: &Observed,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let Some(to) = observed.configuration(&self.plan.to.display_name) else {
            return Ok(());
        };
        if to.state != ConfigurationState::Connected {
            return Ok(());
        }
        let account = to.authorized_account.clone();
        let recorded = self
            .store
            .last_audit(AuditKind::Authorized)?
            .map(|e| e.detail["account"].as_str().map(str::to_owned));
        if recorded.as_ref() != Some(&account) {
            self.store.audit(
                now,
                AuditKind::Authorized,
                Some("connect"),
                &self.settings.operator,
                None,
                &serde_json::json!({ "account": account }),
            )?;
            self.emit(Event::Authorized {
                name: to.display_name.clone(),
                account,
            });
        }
        self.authorization_noted = true;
        self.shown_url = None;
        Ok(())
    }

    /// Starts, re-reads or (`restart`) starts over the authorization of `to`, and waits while an
    /// admin signs in.
    pub(super) async fn authorize(
        &mut self,
        restart: bool,
        observed: &Observed,
    ) -> Result<Option<RunOutcome>, EngineError> {
        let Some(id) = self.configuration_id(observed, Side::To) else {
            return Ok(None);
        };
        if restart {
            self.shown_url = None;
        }
        let target = self.target;
        let request = target.authorization(&id, restart);
        // Re-reading a pending authorization changes nothing: journal only real calls.
        let authorization = if restart || self.shown_url.is_none() {
            let name = self.plan.to.display_name.clone();
            self.journaled(
                Call {
                    step: Some("connect"),
                    action: JournalAction::authorization(restart),
                    configuration: Some(&name),
                    users: &[],
                },
                request,
                |a| serde_json::json!({ "state": a.state.as_str(), "account": a.account }),
            )
            .await?
        } else {
            request.await?
        };
        // Who signed in is said and recorded on the next reading (`note_authorization`).
        self.authorization_noted = false;
        match authorization.state {
            ConfigurationState::Connected => {
                self.shown_url = None;
                Ok(None)
            }
            ConfigurationState::PendingAuthorization => {
                // A new URL is shown; a missing one only when nothing was (the platform omits it
                // while it exchanges a code it just received).
                let show = match (&authorization.url, &self.shown_url) {
                    (Some(url), shown) => shown.as_deref() != Some(url.as_str()),
                    (None, shown) => shown.is_none(),
                };
                let account = self
                    .plan
                    .to
                    .service_account
                    .as_ref()
                    .map(ToString::to_string);
                if show {
                    self.shown_url = Some(authorization.url.clone().unwrap_or_default());
                    self.emit(Event::AuthorizationPending {
                        name: self.plan.to.display_name.clone(),
                        url: authorization.url.clone(),
                        account: account.clone(),
                    });
                }
                let who = account.unwrap_or_else(|| "the service account".to_owned());
                // The URL itself was printed once, with the checklist (and is in the JSON
                // event); repeating it on every wait line only buries it.
                let detail = if authorization.url.is_some() {
                    format!("an admin must sign in as {who} at the authorization URL above")
                } else {
                    "waiting for an admin to authorize it on the platform".to_owned()
                };
                self.wait(
                    WaitReason::Authorization,
                    "connect".to_owned(),
                    None,
                    detail,
                )
                .await
            }
            // The planner reports the error on the next pass.
            ConfigurationState::Error | ConfigurationState::Disconnected => {
                self.shown_url = None;
                Ok(None)
            }
        }
    }
}
