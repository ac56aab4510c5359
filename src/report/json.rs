//! One JSON object per event, for machines: `{"at": ..., "event": ..., ...}`.

use super::Reporter;
use crate::clock::Clock;
use crate::engine::{Event, EventSink};

pub(crate) struct JsonReporter {
    clock: Clock,
}

impl JsonReporter {
    pub(crate) fn new(clock: Clock) -> Self {
        Self { clock }
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
        }
        super::write_stdout(&format!("{value}\n"));
    }
}

impl Reporter for JsonReporter {}
