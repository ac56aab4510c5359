//! `cutover approve PLAN STEP` and `cutover approve PLAN --digest D`: record a sign-off, bound
//! to the digest of what it approves and, when the plan asks, signed and by someone other than
//! who asked for the change. `--revoke` withdraws one not yet acted on. Never takes the run lock.

use std::path::PathBuf;

use crate::exit_code::Exit;
use crate::plan::Plan;
use crate::planner::{self, Inputs, PLAN_STEP, StepDetail};
use crate::signing::approval_statement;
use crate::state::{NewApproval, RunState, StepPhase, Store, os_user};

use super::signoff::{Signoff, sign_off};
use super::{CommandError, Output, Session};

/// What is approved.
pub(crate) enum What {
    /// A step: `pilot`, a batch (all its waves), `<batch>#<n>`, `disconnect`.
    Step(String),
    /// The plan as a whole, by the digest `cutover plan` printed.
    Digest(String),
}

/// `cutover approve`'s request.
pub(crate) struct Request {
    pub(crate) what: What,
    pub(crate) by: Option<String>,
    pub(crate) revoke: bool,
    /// The SSH key to sign with (`--sign`).
    pub(crate) sign: Option<PathBuf>,
}

pub(crate) fn run(
    session: &Session<'_>,
    request: Request,
    out: &Output,
) -> Result<Exit, CommandError> {
    let (step, batch) = match &request.what {
        What::Step(step) => step_of(session, step)?,
        What::Digest(digest) => return approve_digest(session, digest, &request, out),
    };
    let mut store = session.open_store()?;
    let state = session.weigh(store.load()?);
    let now = session.clock.now();
    if request.revoke {
        let by = request.by.clone().unwrap_or_else(os_user);
        let since = acted_on(&state, &step, &batch);
        let revoked = store.revoke_approvals(&step, since, &by, now)?;
        if revoked == 0 {
            return Err(CommandError::invalid(format!(
                "`{step}` has no approval that has not been acted on yet"
            )));
        }
        out.stdout(&format!(
            "revoked {revoked} approval(s) of {step} by {by}\n"
        ));
        return Ok(Exit::Done);
    }
    let digest = planner::step_digest(&session.plan, &batch, &state);
    let statement = approval_statement(session.plan.name.as_str(), &step, &digest);
    let signoff = sign_off(
        session,
        &state,
        &statement,
        request.sign.as_deref(),
        request.by,
        true,
    )?;
    record(&mut store, &signoff, &step, &digest, now)?;
    out.stdout(&format!(
        "approved {step} as {digest} by {} at {now}\n",
        signoff.described()
    ));
    Ok(Exit::Done)
}

fn record(
    store: &mut Store,
    signoff: &Signoff,
    step: &str,
    digest: &str,
    now: jiff::Timestamp,
) -> Result<(), CommandError> {
    store.approve(&NewApproval {
        step,
        by: &signoff.by,
        os_user: &signoff.os_user,
        host: &signoff.host,
        at: now,
        digest,
        signed: signoff
            .signed
            .as_ref()
            .map(|(signature, principal)| (signature.as_str(), principal.as_str())),
    })?;
    Ok(())
}

/// When `step`'s approvals were last acted on: those given before it (re)started were used.
fn acted_on(state: &RunState, step: &str, batch: &str) -> Option<jiff::Timestamp> {
    if step == "disconnect" {
        return state.disconnected_at;
    }
    state
        .steps
        .values()
        .filter(|r| r.id == step || r.batch == batch)
        .map(|r| match r.phase {
            StepPhase::RolledBack => r.phase_at,
            _ => r.started_at,
        })
        .max()
}

/// `approve --digest D`: the plan as it is now: edited since the rollout's first write, or
/// (before it) the dry-run a change board reviewed.
fn approve_digest(
    session: &Session<'_>,
    digest: &str,
    request: &Request,
    out: &Output,
) -> Result<Exit, CommandError> {
    let plan = &session.plan;
    let mut store = session.open_store()?;
    let state = session.weigh(store.load()?);
    let now = session.clock.now();
    if request.revoke {
        let by = request.by.clone().unwrap_or_else(os_user);
        let accepted = state
            .plan_accepted
            .as_ref()
            .is_some_and(|p| **p == serde_json::to_value(plan).unwrap_or_default());
        if accepted && planner::plan_digest(plan) == digest && state.first_write_at.is_some() {
            return Err(CommandError::invalid(format!(
                "{digest} was acted on already: the rollout runs that plan"
            )));
        }
        let revoked = store.revoke_approvals(PLAN_STEP, None, &by, now)?;
        out.stdout(&format!(
            "revoked {revoked} approval(s) of the plan by {by}\n"
        ));
        return Ok(Exit::Done);
    }
    let current = current_digest(session, &state)?;
    if digest != current {
        return Err(CommandError::invalid(format!(
            "{digest} is not the plan as it is now ({current}); nothing was approved"
        ))
        .hint(format!(
            "run `cutover plan {}` to see the plan, its digest and what changed",
            session.path.display()
        )));
    }
    let statement = approval_statement(plan.name.as_str(), PLAN_STEP, digest);
    let signoff = sign_off(
        session,
        &state,
        &statement,
        request.sign.as_deref(),
        request.by.clone(),
        false,
    )?;
    record(&mut store, &signoff, PLAN_STEP, digest, now)?;
    out.stdout(&format!(
        "approved the plan as {digest} by {} at {now}\n",
        signoff.described()
    ));
    Ok(Exit::Done)
}

/// The digest an approval of the whole plan must name now: the plan's canonical form once the
/// rollout has written to the platform; before that, the dry-run's (the plan and the platform).
fn current_digest(session: &Session<'_>, state: &RunState) -> Result<String, CommandError> {
    if state.first_write_at.is_some() {
        return Ok(planner::plan_digest(&session.plan));
    }
    let target = session.open_target()?;
    let observed = session.observe(&target)?;
    Ok(planner::Snapshot::of(&session.plan, &observed).digest())
}

/// The step as the planner names it, and the pilot or batch it belongs to; an unknown one is
/// a usage error listing the steps.
fn step_of(session: &Session<'_>, step: &str) -> Result<(String, String), CommandError> {
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
    let Some(n) = wave else {
        return Ok((name.to_owned(), name.to_owned()));
    };
    let step = format!("{name}#{n}");
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
    Ok((step, name.to_owned()))
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
        memo: None,
    });
    Ok(schedule
        .steps
        .iter()
        .filter(|s| matches!(&s.detail, StepDetail::Move(d) if d.step == name))
        .count())
}
