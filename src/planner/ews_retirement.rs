//! Exchange Online's EWS is ending. Microsoft blocks EWS by default in Exchange Online since
//! 2026-10-01 (a tenant whose `EWSEnabled` was unset now has it `False`, and only apps on the
//! tenant's EWS allow list may call it) and turns EWS off for good on 2027-04-01. The platform's
//! configuration syncs over EWS (`service_address`), so a plan moving users to an Exchange
//! Online EWS configuration may be stopped by the tenant's settings today, and will stop
//! working on that date whatever it does.
//!
//! So: a warning whenever `to` is Exchange Online's EWS (the global service and the national
//! clouds), and a preflight error for any step or disconnect that cannot run before the end.
//! On-premises Exchange (any other host) is not affected. This holds for every target, the
//! sandbox too: it rehearses the real change.

use jiff::Timestamp;

use super::finding::{Finding, Severity};
use super::schedule::{PlannedStep, StepDetail, StepStatus};
use super::timeline;
use crate::plan::Plan;
use crate::state::{RunState, StepPhase};
use crate::target::Observed;

/// When EWS in Exchange Online is turned off for good.
pub(crate) const EWS_ENDS: &str = "2027-04-01T00:00:00Z";

/// Since when Exchange Online blocks EWS by default.
const EWS_BLOCKED_SINCE: &str = "2026-10-01";

/// Exchange Online's EWS hosts: worldwide (and GCC), GCC High, DoD, and 21Vianet in China.
const EXCHANGE_ONLINE_EWS_HOSTS: &[&str] = &[
    "outlook.office365.com",
    "outlook.office.com",
    "outlook.office365.us",
    "webmail.apps.mil",
    "partner.outlook.cn",
];

/// Whether `service_address` is Exchange Online's EWS.
pub(crate) fn is_exchange_online(service_address: &str) -> bool {
    let host = service_address
        .split_once("://")
        .map_or(service_address, |(_, rest)| rest)
        .split(['/', ':', '?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    EXCHANGE_ONLINE_EWS_HOSTS.contains(&host.as_str())
}

fn ends() -> Timestamp {
    EWS_ENDS.parse().unwrap_or(Timestamp::MAX)
}

/// The warning, and one blocking finding per step (or the disconnect) that can run only after
/// EWS in Exchange Online has ended. `steps` are the schedule's, before any decision.
pub(crate) fn findings(
    plan: &Plan,
    observed: &Observed,
    state: &RunState,
    steps: &[PlannedStep],
    now: Timestamp,
) -> Vec<Finding> {
    let adopted = observed
        .configuration(&plan.to.display_name)
        .and_then(|c| c.service_address.clone());
    let Some(address) = plan
        .to
        .service_address
        .clone()
        .or(adopted)
        .filter(|a| is_exchange_online(a))
    else {
        return Vec::new();
    };
    if state.disconnected_at.is_some() {
        return Vec::new();
    }
    let ends = ends();
    let mut findings = vec![
        Finding::new(
            Severity::Warning,
            "ews-retirement",
            format!(
                "`[to] service_address` {address} is Exchange Online's EWS: since {EWS_BLOCKED_SINCE} Microsoft \
                 blocks EWS by default (a tenant whose EWSEnabled was unset now has it False, and only apps on \
                 the tenant's EWS allow list may call it), and EWS in Exchange Online ends for good on {}; \
                 an OAuth configuration that syncs over it stops working then",
                plan.time(ends)
            ),
        )
        .remedy(
            "confirm the platform's app may call EWS now: `Get-OrganizationConfig | Format-List \
             EWSEnabled,EwsApplicationAccessPolicy,EwsAllowList` (and `Get-CASMailbox` for users with their \
             own EWSEnabled); and ask the platform about its Graph-based Exchange configuration before \
             2027-04-01. On-premises Exchange is not affected",
        ),
    ];
    // The earliest each step can still start, ignoring what already ran.
    let mut projected: Vec<PlannedStep> = steps.to_vec();
    for step in &mut projected {
        let passed = state
            .steps
            .get(&step.id)
            .is_some_and(|r| r.phase == StepPhase::Passed);
        step.status = if passed {
            StepStatus::Done
        } else {
            StepStatus::Later
        };
    }
    timeline::project(&mut projected, now);
    for step in &projected {
        let started = state.steps.contains_key(&step.id);
        let relevant = match &step.detail {
            StepDetail::Move(_) => !started,
            StepDetail::Disconnect { .. } => true,
            StepDetail::Connect { .. } => false,
        };
        let Some(start) = step.start.filter(|s| relevant && *s >= ends) else {
            continue;
        };
        let what = match &step.detail {
            StepDetail::Disconnect { .. } => format!(
                "the disconnect of {:?} can run no earlier than {}",
                plan.from.display_name,
                plan.time(start)
            ),
            _ => format!(
                "`{}` can start no earlier than {}",
                step.id,
                plan.time(start)
            ),
        };
        findings.push(
            Finding::new(
                Severity::Blocking,
                "ews-ended",
                format!(
                    "{what}, after EWS in Exchange Online ends on {}: its users would move to (or be left on) an \
                     OAuth configuration that cannot sync",
                    plan.time(ends)
                ),
            )
            .remedy(
                "finish the rollout before 2027-04-01 (bring `not_before`, windows and `[disconnect] after` \
                 forward), or point `[to] service_address` at the platform's Graph-based configuration or at \
                 on-premises Exchange",
            ),
        );
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_online_and_its_national_clouds_are_told_from_on_premises() {
        for (address, online) in [
            ("https://outlook.office365.com/EWS/Exchange.asmx", true),
            ("https://Outlook.Office365.com:443/EWS/Exchange.asmx", true),
            ("https://outlook.office.com/EWS/Exchange.asmx", true),
            ("https://outlook.office365.us/EWS/Exchange.asmx", true),
            ("https://webmail.apps.mil/EWS/Exchange.asmx", true),
            ("https://partner.outlook.cn/EWS/Exchange.asmx", true),
            ("https://mail.contoso.example/EWS/Exchange.asmx", false),
            (
                "https://outlook.office365.com.evil.example/EWS/Exchange.asmx",
                false,
            ),
            ("https://exchange.bank.example/ews/exchange.asmx", false),
        ] {
            assert_eq!(is_exchange_online(address), online, "{address}");
        }
        assert_eq!(ends().to_string(), "2027-04-01T00:00:00Z");
    }
}
