//! The connect phase: create (or adopt) the `to` configuration and have it authorized by the
//! plan's service account. It decides; the engine calls the platform.

use super::Inputs;
use super::action::Action;
use super::planner::hold;
use crate::target::ConfigurationState;

/// `None` when the `to` configuration is connected, as the right account.
pub(super) fn connect(inputs: &Inputs<'_>) -> Option<Action> {
    let plan = inputs.plan;
    let Some(to) = inputs.observed.configuration(&plan.to.display_name) else {
        return hold(inputs, "connect").or(Some(Action::CreateConfiguration));
    };
    let again = "then run `cutover apply PLAN --reauthorize` to start a new authorization";
    match to.state {
        ConfigurationState::Connected => {
            let expected = plan.to.service_account.as_ref().map(ToString::to_string);
            // Without `--reauthorize`, preflight stops on a wrong or unknown account
            // (`wrong-service-account`).
            let confirmed = |expected: &String| {
                to.authorized_account
                    .as_ref()
                    .is_some_and(|actual| actual.eq_ignore_ascii_case(expected))
            };
            match &expected {
                Some(expected) if inputs.reauthorize && !confirmed(expected) => {
                    hold(inputs, "connect").or(Some(Action::Authorize { restart: true }))
                }
                _ => None,
            }
        }
        ConfigurationState::PendingAuthorization => {
            hold(inputs, "connect").or(Some(Action::Authorize { restart: false }))
        }
        ConfigurationState::Error if inputs.reauthorize => {
            hold(inputs, "connect").or(Some(Action::Authorize { restart: true }))
        }
        ConfigurationState::Error => Some(Action::Stop {
            step: "connect".to_owned(),
            reason: format!(
                "authorizing {:?} failed: {}; fix the cause, {again}",
                to.display_name,
                to.error.as_deref().unwrap_or("the platform gave no reason")
            ),
            failures: Vec::new(),
        }),
        ConfigurationState::Disconnected => Some(Action::CreateConfiguration),
    }
}
