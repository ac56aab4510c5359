//! Reading a rollout's memory: [`Store::load`] builds the [`RunState`] the planner works from,
//! one reader per table.
//!
//! Plain reads, no lock taken (`status` and `approve` load too). A row this cutover cannot make
//! sense of (an email that no longer parses, a phase it does not know) is read leniently, as
//! the planner has always seen it; a database error fails the load. The writes of these tables
//! are `rollout.rs`'s, `approvals.rs`'s and `journal.rs`'s; the mailbox records are read beside
//! their writer in `mailbox_records.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension};

use super::parsed_plans::ParsedPlans;
use super::schema::time;
use super::{
    Approval, Hold, JournalAction, RunState, StepPhase, StepRecord, Store, StoreError, acceptances,
    exceptions, mailbox_records, run_lock, runs, skipped_users,
};
use crate::plan::grammar::Email;

impl Store {
    /// Everything the planner needs, as of now.
    pub(crate) fn load(&self) -> Result<RunState, StoreError> {
        let db = self.connection()?;
        let read = || -> rusqlite::Result<RunState> {
            let mut state = RunState::default();
            let generation = self.copy_generation();
            read_rollout(db, &mut self.plans.borrow_mut(), generation, &mut state)?;
            let (batches, members) = self.frozen.borrow_mut().read(db, generation)?;
            state.batches = batches;
            state.steps = steps(db, members)?;
            state.approvals = approvals(db)?;
            state.disconnect_sent = last_sent(db, JournalAction::Disconnect)?;
            state.mailboxes = mailbox_records::read(db)?;
            state.skipped = skipped_users::read(db)?;
            state.hold = active_hold(db)?;
            state.exceptions = exceptions::read(db)?;
            (state.acceptances, state.acceptances_changed) = acceptances::read(db)?;
            state.first_write_at = first_write(db)?;
            state.last_run = runs::last(db)?;
            state.lock_holder = run_lock::holder_of(db)?;
            Ok(state)
        };
        read().map_err(self.db())
    }
}

/// The `rollout` row: when it started, against what, and the plan as started and as accepted
/// (read again only when they may have changed, see `parsed_plans.rs`).
fn read_rollout(
    db: &Connection,
    plans: &mut ParsedPlans,
    generation: u64,
    state: &mut RunState,
) -> rusqlite::Result<()> {
    type Rollout = (i64, Option<String>, Option<i64>, String);
    let rollout: Option<Rollout> = db
        .query_row(
            "SELECT started_ms, approved_digest, disconnected_ms, digest FROM rollout WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    if let Some((started, approved, disconnected, digest)) = rollout {
        // The rollout's record keeps no operator: its audit line does.
        state.started_by = db
            .query_row(
                "SELECT operator FROM audit WHERE kind = 'rollout_started' ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        state.started_at = Some(time(started));
        state.approved_digest = approved;
        state.started_digest = Some(digest);
        state.disconnected_at = disconnected.map(time);
        let (plan, current) = plans.copies(db, generation)?;
        state.plan_accepted = current.or_else(|| plan.clone());
        state.plan_at_start = plan;
    }
    Ok(())
}

/// Each batch's frozen membership, in email order (which is the order it was frozen in).
pub(super) fn batches(db: &Connection) -> rusqlite::Result<Batches> {
    let mut batches: BTreeMap<String, Vec<Email>> = BTreeMap::new();
    let mut statement = db.prepare("SELECT name, email FROM batches ORDER BY name, position")?;
    let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (name, email) = row?;
        if let Ok(email) = Email::parse(&email) {
            batches.entry(name).or_default().push(email);
        }
    }
    Ok(batches
        .into_iter()
        .map(|(name, mut emails)| {
            // Already sorted unless an older release froze it otherwise; this is one pass then.
            emails.sort_unstable();
            (name, Arc::from(emails))
        })
        .collect())
}

/// Each batch's frozen members, by the batch's name.
pub(super) type Batches = BTreeMap<String, Arc<[Email]>>;

/// Each step's members in order, and those of them whose `from` sync already failed.
pub(super) type Members = BTreeMap<String, (Arc<[Email]>, Arc<BTreeSet<Email>>)>;

/// `frozen` lends its emails: a step's members are nearly always a batch's, and sharing one
/// allocation per user lets the planner compare them by address rather than by their text.
pub(super) fn step_members(db: &Connection, frozen: &Batches) -> rusqlite::Result<Members> {
    let known: HashMap<&str, &Email> = frozen
        .values()
        .flat_map(|emails| emails.iter())
        .map(|e| (e.as_str(), e))
        .collect();
    let mut members: BTreeMap<String, (Vec<Email>, BTreeSet<Email>)> = BTreeMap::new();
    let mut statement =
        db.prepare("SELECT step, email, preexisting FROM step_members ORDER BY step, position")?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)? != 0,
        ))
    })?;
    for row in rows {
        let (step, email, preexisting) = row?;
        let email = match known.get(email.as_str()) {
            Some(&known) => known.clone(),
            None => match Email::parse(&email) {
                Ok(email) => email,
                Err(_) => continue,
            },
        };
        let entry = members.entry(step).or_default();
        if preexisting {
            entry.1.insert(email.clone());
        }
        entry.0.push(email);
    }
    Ok(members
        .into_iter()
        .map(|(step, (emails, preexisting))| (step, (Arc::from(emails), Arc::new(preexisting))))
        .collect())
}

/// Every started step, with its members.
fn steps(db: &Connection, mut members: Members) -> rusqlite::Result<BTreeMap<String, StepRecord>> {
    let mut steps = BTreeMap::new();
    let mut statement = db.prepare(
        "SELECT id, batch, phase, phase_ms, started_ms, judged_after_ms, passed_ms, failures,
                definition
         FROM steps ORDER BY seq",
    )?;
    let rows = statement.query_map([], |r| {
        let failures: String = r.get(7)?;
        let definition: Option<String> = r.get(8)?;
        Ok(StepRecord {
            id: r.get(0)?,
            batch: r.get(1)?,
            members: Arc::from([]),
            preexisting: Arc::default(),
            phase: StepPhase::parse(&r.get::<_, String>(2)?).unwrap_or(StepPhase::Moving),
            phase_at: time(r.get(3)?),
            started_at: time(r.get(4)?),
            judged_after: r.get::<_, Option<i64>>(5)?.map(time),
            passed_at: r.get::<_, Option<i64>>(6)?.map(time),
            failures: serde_json::from_str(&failures).unwrap_or_default(),
            definition: definition.and_then(|d| serde_json::from_str(&d).ok()),
        })
    })?;
    for row in rows {
        let mut record = row?;
        let (step_members, preexisting) = members.remove(&record.id).unwrap_or_default();
        record.members = step_members;
        record.preexisting = preexisting;
        steps.insert(record.id.clone(), record);
    }
    Ok(steps)
}

/// The approvals in force (not revoked), in the order given.
fn approvals(db: &Connection) -> rusqlite::Result<Vec<Approval>> {
    let mut statement = db.prepare(
        "SELECT id, step, by, os_user, host, at_ms, digest, principal, signature
         FROM approvals WHERE revoked_ms IS NULL ORDER BY id",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(Approval {
            id: r.get(0)?,
            step: r.get(1)?,
            by: r.get(2)?,
            os_user: r.get(3)?,
            host: r.get(4)?,
            at: time(r.get(5)?),
            digest: r.get(6)?,
            principal: r.get(7)?,
            signature: r.get(8)?,
        })
    })?;
    rows.collect()
}

/// When `action` was last journaled, whatever its outcome.
fn last_sent(db: &Connection, action: JournalAction) -> rusqlite::Result<Option<Timestamp>> {
    let at: Option<i64> = db.query_row(
        "SELECT MAX(at_ms) FROM journal WHERE action = ?1",
        [action],
        |r| r.get(0),
    )?;
    Ok(at.map(time))
}

/// When the first platform write was journaled (every journaled action is one).
fn first_write(db: &Connection) -> rusqlite::Result<Option<Timestamp>> {
    let at: Option<i64> = db.query_row("SELECT MIN(at_ms) FROM journal", [], |r| r.get(0))?;
    Ok(at.map(time))
}

/// The latest hold not yet released.
fn active_hold(db: &Connection) -> rusqlite::Result<Option<Hold>> {
    db.query_row(
        "SELECT reason, by, at_ms FROM holds WHERE released_ms IS NULL ORDER BY id DESC LIMIT 1",
        [],
        |r| {
            Ok(Hold {
                reason: r.get(0)?,
                by: r.get(1)?,
                at: time(r.get(2)?),
            })
        },
    )
    .optional()
}
