//! One JSON object per event, for machines: `{"at": ..., "event": ..., ...}`.

use super::Reporter;
use crate::clock::Clock;
use crate::engine::{Event, EventSink};

pub(crate) struct JsonReporter {
    clock: Clock,
    /// The plan each object names, when several plans share the stream (`cutover fleet`).
    plan: Option<String>,
}

impl JsonReporter {
    pub(crate) fn new(clock: Clock) -> Self {
        Self { clock, plan: None }
    }

    /// Adds `"plan": name` to every object.
    pub(crate) fn for_plan(clock: Clock, name: &str) -> Self {
        Self {
            clock,
            plan: Some(name.to_owned()),
        }
    }
}

impl EventSink for JsonReporter {
    fn event(&mut self, event: &Event) {
        let mut value = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "at".to_owned(),
                serde_json::Value::String(self.clock.now().to_string()),
            );
            if let Some(plan) = &self.plan {
                object.insert("plan".to_owned(), serde_json::Value::String(plan.clone()));
            }
        }
        super::write_stdout(&format!("{value}\n"));
    }
}

impl Reporter for JsonReporter {}
