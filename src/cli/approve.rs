//! `cutover approve PLAN STEP [--by NAME]`: record a sign-off. Never takes the run lock.

use std::path::Path;

use crate::clock::Clock;
use crate::exit_code::Exit;
use crate::state::{host_name, os_user};

use super::{Output, load_or_report, open_store};

pub(crate) fn run(
    path: &Path,
    state_flag: Option<&Path>,
    step: &str,
    by: Option<String>,
    clock: Clock,
    out: &Output,
) -> Exit {
    let Some(plan) = load_or_report(path, out) else {
        return Exit::Invalid;
    };
    let (batch, wave) = step
        .split_once('#')
        .map_or((step, None), |(b, w)| (b, Some(w)));
    let known = batch == "disconnect"
        || (batch == "pilot" && plan.pilot.is_some() && wave.is_none())
        || plan.batches.iter().any(|b| {
            b.name.as_str() == batch
                && wave
                    .is_none_or(|w| b.max_size.is_some() && w.parse::<u32>().is_ok_and(|n| n >= 1))
        });
    if !known {
        let mut steps: Vec<String> = plan.pilot.iter().map(|_| "pilot".to_owned()).collect();
        steps.extend(plan.batches.iter().map(|b| b.name.to_string()));
        steps.push("disconnect".to_owned());
        out.stderr(&format!(
            "error: the plan has no step `{step}`; steps: {}\n",
            steps.join(", ")
        ));
        return Exit::Invalid;
    }
    let mut store = match open_store(&plan, path, state_flag) {
        Ok(store) => store,
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    };
    let os_user = os_user();
    let by = by.unwrap_or_else(|| os_user.clone());
    let now = clock.now();
    if let Err(e) = store.approve(step, &by, &os_user, &host_name(), now, None) {
        out.stderr(&format!("error: {e}\n"));
        return Exit::Failure;
    }
    out.stdout(&format!(
        "approved {step} by {by} ({os_user} on {}) at {now}\n",
        host_name()
    ));
    Exit::Done
}
