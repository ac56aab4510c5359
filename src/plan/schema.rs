//! The plan's JSON Schema, generated from [`RawPlan`]: what `cutover schema` prints, what
//! `schemas/plan.schema.json` holds, and what the structural pass checks a plan against.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use serde_json::Value;

use super::raw::RawPlan;

/// Where the published schema lives, for `$id` and the `#:schema` line of example plans.
const SCHEMA_ID: &str = "https://cutover.invalid/schemas/plan.schema.json";

/// The plan schema as JSON Schema draft-07, the dialect TOML language servers understand fully.
pub(crate) fn plan_schema() -> Value {
    let mut settings = SchemaSettings::draft07().for_deserialize();
    // First, so that later transforms (which move `$ref` siblings into `allOf`) see the final
    // shape of each optional key.
    settings.transforms.insert(0, Box::new(NoNull));
    let mut schema = settings.into_generator().into_root_schema_for::<RawPlan>();
    schema.insert("$id".to_owned(), SCHEMA_ID.into());
    schema.to_value()
}

/// The schema as `cutover schema` prints it: pretty, with a trailing newline.
pub(crate) fn plan_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&plan_schema())
        .unwrap_or_else(|e| unreachable!("a serde_json::Value always serializes: {e}"));
    text.push('\n');
    text
}

/// TOML has no null, so the "or null" that schemars adds to every `Option` must go: an editor
/// should never suggest `key = null`.
#[derive(Clone)]
struct NoNull;

impl Transform for NoNull {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(obj) = schema.as_object_mut() {
            if let Some(Value::Array(types)) = obj.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    obj.insert("type".to_owned(), only);
                }
            }
            for key in ["anyOf", "oneOf"] {
                let Some(Value::Array(branches)) = obj.get_mut(key) else {
                    continue;
                };
                branches.retain(|b| b.get("type").and_then(Value::as_str) != Some("null"));
                if branches.len() == 1 {
                    let only = branches.remove(0);
                    obj.remove(key);
                    if let Value::Object(only) = only {
                        for (k, v) in only {
                            obj.entry(k).or_insert(v);
                        }
                    }
                }
            }
            if obj.get("default") == Some(&Value::Null) {
                obj.remove("default");
            }
            if let Some(Value::Array(values)) = obj.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
        }
        transform_subschemas(self, schema);
    }
}
