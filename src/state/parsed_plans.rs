//! The rollout's stored copies of its plan, parsed once per text rather than on every load.
//!
//! The `rollout` row keeps the plan as the rollout started and as last accepted, in canonical
//! JSON: as large as the plan, which lists a whole tenant's emails when its batches come from
//! CSV files. The run loop loads the state before every decision, and parsing (and dropping)
//! both copies each time made a gate poll cost what the plan costs. So the copies are read
//! again only when they may have changed: this handle wrote them (`rollout.rs` calls
//! [`ParsedPlans::forget`]), another connection committed anything to the file (SQLite's
//! `data_version` changes) or, on PostgreSQL, the working copy was reloaded (`generation`
//! changes), as `frozen_members.rs` does. Even then a text equal to one parsed before gets the
//! same parsed value back, shared; so the planner can tell an unchanged copy by its address
//! (see `planner::Memo`).

use std::sync::Arc;

use rusqlite::Connection;

use super::read_version::ReadVersion;

type Copy = Option<Arc<serde_json::Value>>;

/// The texts last parsed and what they parsed to, and the copies as last read.
#[derive(Default)]
pub(super) struct ParsedPlans {
    kept: Vec<(String, Arc<serde_json::Value>)>,
    read: Option<Read>,
}

struct Read {
    version: ReadVersion,
    started: Copy,
    accepted: Copy,
}

impl ParsedPlans {
    /// The rollout's copies of its plan as started and as last accepted (`None`: never
    /// accepted since the start, or not JSON). Only called for a rollout that has its row.
    pub(super) fn copies(
        &mut self,
        db: &Connection,
        generation: u64,
    ) -> rusqlite::Result<(Copy, Copy)> {
        let version = ReadVersion::of(db, generation)?;
        if let Some(read) = self.read.as_ref().filter(|r| r.version == version) {
            return Ok((read.started.clone(), read.accepted.clone()));
        }
        let (plan, current): (String, Option<String>) = db.query_row(
            "SELECT plan, current_plan FROM rollout WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let started = self.parse(&plan);
        let accepted = current.and_then(|c| self.parse(&c));
        self.read = Some(Read {
            version,
            started: started.clone(),
            accepted: accepted.clone(),
        });
        Ok((started, accepted))
    }

    /// This handle is writing them: read them again next time.
    pub(super) fn forget(&mut self) {
        self.read = None;
    }

    /// `text` parsed, shared with the last load's if the text is the same. `None` for a text
    /// that is not JSON (read leniently, as the planner has always seen it).
    fn parse(&mut self, text: &str) -> Option<Arc<serde_json::Value>> {
        if let Some(at) = self.kept.iter().position(|(kept, _)| kept == text) {
            // Last used goes last: a third text then pushes out the one no longer read, not
            // the copy as started that every load still asks for.
            let hit = self.kept.remove(at);
            let value = hit.1.clone();
            self.kept.push(hit);
            return Some(value);
        }
        let value = Arc::new(serde_json::from_str(text).ok()?);
        // The copies as started and as accepted: two texts are in use at a time.
        if self.kept.len() >= 2 {
            self.kept.remove(0);
        }
        self.kept.push((text.to_owned(), Arc::clone(&value)));
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_gets_the_same_value_and_another_text_its_own() {
        let mut plans = ParsedPlans::default();
        let started = plans.parse(r#"{"name":"p"}"#).expect("json");
        let accepted = plans.parse(r#"{"name":"q"}"#).expect("json");
        assert!(Arc::ptr_eq(
            &started,
            &plans.parse(r#"{"name":"p"}"#).expect("json")
        ));
        assert!(Arc::ptr_eq(
            &accepted,
            &plans.parse(r#"{"name":"q"}"#).expect("json")
        ));
        assert_eq!(*accepted, serde_json::json!({ "name": "q" }));
        // A third text pushes out the one used longest ago; what was handed out stays as it was.
        assert!(Arc::ptr_eq(
            &started,
            &plans.parse(r#"{"name":"p"}"#).expect("json")
        ));
        let edited = plans.parse(r#"{"name":"s"}"#).expect("json");
        assert!(Arc::ptr_eq(
            &started,
            &plans.parse(r#"{"name":"p"}"#).expect("json")
        ));
        assert!(Arc::ptr_eq(
            &edited,
            &plans.parse(r#"{"name":"s"}"#).expect("json")
        ));
        assert!(
            plans
                .parse(r#"{"name":"q"}"#)
                .is_some_and(|q| !Arc::ptr_eq(&q, &accepted))
        );
        // `q` came back in place of `p`, the one used longest ago; `r` now pushes out `s`.
        let edited = plans.parse(r#"{"name":"r"}"#).expect("json");
        assert_eq!(*edited, serde_json::json!({ "name": "r" }));
        assert!(!Arc::ptr_eq(
            &started,
            &plans.parse(r#"{"name":"p"}"#).expect("json")
        ));
        assert_eq!(*started, serde_json::json!({ "name": "p" }));
        assert!(plans.parse("not json").is_none());
    }
}
