//! `cutover approve PLAN STEP [--by NAME]`: record a sign-off. Never takes the run lock.

use std::path::Path;

use crate::clock::Clock;
use crate::exit_code::Exit;
use crate::plan::Plan;
use crate::planner::{self, Inputs, StepDetail};
use crate::state::{host_name, os_user};
use crate::target::observe;

use super::{Output, block_on, load_or_report, open_store, open_target, read_state};

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
    let (name, wave) = step
        .split_once('#')
        .map_or((step, None), |(b, w)| (b, Some(w)));
    // A wave is recorded as the planner names it (`rest#1`, never `rest#01`), or it would
    // never match.
    let wave = match wave.map(|w| w.parse::<u32>()) {
        None => None,
        Some(Ok(n)) if n >= 1 => Some(n),
        Some(_) => return unknown_step(&plan, step, out),
    };
    let batch = plan.batches.iter().find(|b| b.name.as_str() == name);
    let known = match wave {
        None => {
            name == "disconnect" || (name == "pilot" && plan.pilot.is_some()) || batch.is_some()
        }
        Some(_) => batch.is_some_and(|b| b.max_size.is_some()),
    };
    if !known {
        return unknown_step(&plan, step, out);
    }
    let step = match wave {
        Some(n) => format!("{name}#{n}"),
        None => name.to_owned(),
    };
    if let Some(n) = wave {
        let count = match waves(&plan, name, path, state_flag, clock) {
            Ok(count) => count,
            Err(message) => {
                out.stderr(&format!(
                    "error: cannot check that `{name}` has a wave {n}: {message}; `cutover approve {} {name}` approves all its waves\n",
                    path.display()
                ));
                return Exit::Failure;
            }
        };
        if usize::try_from(n).map_or(true, |n| n > count) {
            let valid = if count == 1 {
                format!("{name}#1")
            } else {
                format!("{name}#1 to {name}#{count}")
            };
            out.stderr(&format!(
                "error: the plan has no step `{step}`: `{name}` runs in {count} wave(s) ({valid}); `cutover approve {} {name}` approves all its waves\n",
                path.display()
            ));
            return Exit::Invalid;
        }
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
    if let Err(e) = store.approve(&step, &by, &os_user, &host_name(), now, None) {
        out.stderr(&format!("error: {e}\n"));
        return Exit::Failure;
    }
    out.stdout(&format!(
        "approved {step} by {by} ({os_user} on {}) at {now}\n",
        host_name()
    ));
    Exit::Done
}

fn unknown_step(plan: &Plan, step: &str, out: &Output) -> Exit {
    let mut steps: Vec<String> = plan.pilot.iter().map(|_| "pilot".to_owned()).collect();
    steps.extend(plan.batches.iter().map(|b| b.name.to_string()));
    steps.push("disconnect".to_owned());
    out.stderr(&format!(
        "error: the plan has no step `{step}`; steps: {}\n",
        steps.join(", ")
    ));
    Exit::Invalid
}

/// How many waves the batch `name` runs in: as frozen when it started, or as the plan resolves
/// it on the platform now.
fn waves(
    plan: &Plan,
    name: &str,
    path: &Path,
    state_flag: Option<&Path>,
    clock: Clock,
) -> Result<usize, String> {
    let state = read_state(plan, path, state_flag).map_err(|e| e.to_string())?;
    let target = open_target(plan, path, clock)?;
    let observed =
        block_on(observe(&target.target))?.map_err(|e| format!("cannot read the platform: {e}"))?;
    let schedule = planner::plan(&Inputs {
        plan,
        observed: &observed,
        state: &state,
        now: clock.now(),
        run_started: None,
        reauthorize: false,
        mailboxes: None,
    });
    Ok(schedule
        .steps
        .iter()
        .filter(|s| matches!(&s.detail, StepDetail::Move(d) if d.step == name))
        .count())
}
