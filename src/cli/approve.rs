//! `cutover approve PLAN STEP [--by NAME]`: record a sign-off. Never takes the run lock.

use crate::exit_code::Exit;
use crate::plan::Plan;
use crate::planner::{self, Inputs, StepDetail};
use crate::state::{host_name, os_user};

use super::{CommandError, Output, Session};

pub(crate) fn run(
    session: &Session<'_>,
    step: &str,
    by: Option<String>,
    out: &Output,
) -> Result<Exit, CommandError> {
    let plan = &session.plan;
    let (name, wave) = step
        .split_once('#')
        .map_or((step, None), |(b, w)| (b, Some(w)));
    // A wave is recorded as the planner names it (`rest#1`, never `rest#01`), or it would
    // never match.
    let wave = match wave.map(|w| w.parse::<u32>()) {
        None => None,
        Some(Ok(n)) if n >= 1 => Some(n),
        Some(_) => return Err(unknown_step(plan, step)),
    };
    let batch = plan.batches.iter().find(|b| b.name.as_str() == name);
    let known = match wave {
        None => {
            name == "disconnect" || (name == "pilot" && plan.pilot.is_some()) || batch.is_some()
        }
        Some(_) => batch.is_some_and(|b| b.max_size.is_some()),
    };
    if !known {
        return Err(unknown_step(plan, step));
    }
    let step = match wave {
        Some(n) => format!("{name}#{n}"),
        None => name.to_owned(),
    };
    if let Some(n) = wave {
        let all_waves = format!(
            "`cutover approve {} {name}` approves all its waves",
            session.path.display()
        );
        let count = waves(session, name).map_err(|e| {
            CommandError::failure(format!(
                "cannot check that `{name}` has a wave {n}: {e}; {all_waves}"
            ))
        })?;
        if usize::try_from(n).map_or(true, |n| n > count) {
            let valid = if count == 1 {
                format!("{name}#1")
            } else {
                format!("{name}#1 to {name}#{count}")
            };
            return Err(CommandError::invalid(format!(
                "the plan has no step `{step}`: `{name}` runs in {count} wave(s) ({valid}); {all_waves}"
            )));
        }
    }
    let mut store = session.open_store()?;
    let os_user = os_user();
    let by = by.unwrap_or_else(|| os_user.clone());
    let now = session.clock.now();
    store.approve(&step, &by, &os_user, &host_name(), now, None)?;
    out.stdout(&format!(
        "approved {step} by {by} ({os_user} on {}) at {now}\n",
        host_name()
    ));
    Ok(Exit::Done)
}

fn unknown_step(plan: &Plan, step: &str) -> CommandError {
    let mut steps: Vec<String> = plan.pilot.iter().map(|_| "pilot".to_owned()).collect();
    steps.extend(plan.batches.iter().map(|b| b.name.to_string()));
    steps.push("disconnect".to_owned());
    CommandError::invalid(format!(
        "the plan has no step `{step}`; steps: {}",
        steps.join(", ")
    ))
}

/// How many waves the batch `name` runs in: as frozen when it started, or as the plan resolves
/// it on the platform now.
fn waves(session: &Session<'_>, name: &str) -> Result<usize, CommandError> {
    let state = session.read_state()?;
    let target = session.open_target()?;
    let observed = session.observe(&target)?;
    let schedule = planner::plan(&Inputs {
        plan: &session.plan,
        observed: &observed,
        state: &state,
        now: session.clock.now(),
        run_started: None,
        reauthorize: false,
        mailboxes: None,
        confirmed: false,
    });
    Ok(schedule
        .steps
        .iter()
        .filter(|s| matches!(&s.detail, StepDetail::Move(d) if d.step == name))
        .count())
}
