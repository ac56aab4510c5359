//! The structural pass: the spanned TOML tree checked against the plan's own JSON Schema.
//!
//! Serde stops at the first error; this pass does not. It walks the whole document against the
//! schema generated from [`RawPlan`](super::raw::RawPlan) — keys, types, required keys, enums,
//! constants, minimums — reports every mismatch with its span, and prunes the offending values,
//! so that what is left always deserializes and the semantic pass can go on to report the rest.
//! Using the schema itself means the validator and the editor schema cannot disagree on shape.
//!
//! Patterns are not checked here: the semantic pass parses every grammar with a precise message.

use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, SourceFile};

/// Checks a parsed document in place and returns the dotted paths of the keys it pruned (so a
/// later pass does not call a reported key "missing"). `report_missing` is false when the
/// document came out of syntax-error recovery, where a "missing" key is more likely lost than
/// absent.
pub(super) fn check_document(
    document: &mut Spanned<DeTable<'_>>,
    schema: &Value,
    file: &Arc<SourceFile>,
    report_missing: bool,
    taken: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut pass = Pass {
        root: schema,
        file,
        report_missing,
        diagnostics,
        pruned: taken.to_vec(),
    };
    let span = document.span();
    pass.check_table(&Place::root(), document.get_mut(), span, schema);
    pass.pruned
}

/// Where in the document a value sits, for messages: `[gate]`, `[batch.gate]`, the top level.
#[derive(Clone)]
struct Place {
    path: Vec<String>,
}

impl Place {
    fn root() -> Self {
        Self { path: Vec::new() }
    }

    fn child(&self, key: &str) -> Self {
        let mut path = self.path.clone();
        path.push(key.to_owned());
        Self { path }
    }

    fn table_name(&self) -> String {
        if self.path.is_empty() {
            "the top level of the plan".to_owned()
        } else {
            format!("[{}]", self.path.join("."))
        }
    }

    fn key_name(&self) -> String {
        self.path.join(".")
    }
}

struct Pass<'a> {
    root: &'a Value,
    file: &'a Arc<SourceFile>,
    report_missing: bool,
    diagnostics: &'a mut Vec<Diagnostic>,
    pruned: Vec<String>,
}

impl<'a> Pass<'a> {
    /// The schema objects that apply to a node: the node itself and everything its `$ref` and
    /// single-branch `allOf` point at, outermost first (so a property's own description wins).
    fn parts<'s>(&self, schema: &'s Value) -> Vec<&'s Value>
    where
        'a: 's,
    {
        let mut parts = Vec::new();
        let mut queue = vec![schema];
        while let Some(s) = queue.pop() {
            if parts.len() > 16 {
                break; // A cyclic $ref; the plan schema has none, but never loop.
            }
            parts.push(s);
            if let Some(target) = s
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| self.resolve(r))
            {
                queue.push(target);
            }
            if let Some(Value::Array(all)) = s.get("allOf") {
                queue.extend(all.iter().rev());
            }
        }
        parts
    }

    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    fn error(&self, code: &'static str, span: Range<usize>, message: String) -> Diagnostic {
        Diagnostic::error(code, self.file, span, message)
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        crate::diagnostic::keep(self.diagnostics, diagnostic);
    }

    fn check_table(
        &mut self,
        place: &Place,
        table: &mut DeTable<'_>,
        span: Range<usize>,
        schema: &Value,
    ) {
        let parts = self.parts(schema);
        let properties = lookup(&parts, "properties").and_then(Value::as_object);
        let closed = lookup(&parts, "additionalProperties") == Some(&Value::Bool(false));
        let known: Vec<&str> = properties
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();

        let mut rejected = Vec::new();
        for (key, value) in table.iter_mut() {
            let name = key.get_ref().as_ref();
            let child = place.child(name);
            match properties.and_then(|p| p.get(name)) {
                Some(property) if !self.check_value(&child, value, property) => {
                    rejected.push(name.to_owned());
                }
                Some(_) => {}
                None if closed => {
                    let top_level = self.root.get("properties").and_then(Value::as_object);
                    let help = match top_level.filter(|_| !place.path.is_empty()) {
                        Some(top) if top.contains_key(name) => format!(
                            "`{name}` is a top-level key, but keys after a `[table]` header belong \
                             to that table: move it above the first header"
                        ),
                        _ => unknown_key_help(name, &known),
                    };
                    let message = format!("unknown key `{name}` in {}", place.table_name());
                    let d = self
                        .error("plan::unknown-key", key.span(), message)
                        .label("not a key of this table")
                        .help(help);
                    self.report(d);
                    rejected.push(name.to_owned());
                }
                None => {}
            }
        }
        for key in &rejected {
            table.remove(key.as_str());
            self.pruned.push(place.child(key).key_name());
        }

        if self.report_missing {
            let required = lookup(&parts, "required").and_then(Value::as_array);
            for key in required.into_iter().flatten().filter_map(Value::as_str) {
                // A key already reported (and removed), such as a literal secret, is not missing.
                let reported = self.pruned.contains(&place.child(key).key_name());
                let present = table.keys().any(|k| k.get_ref().as_ref() == key)
                    || rejected.iter().any(|r| r == key)
                    || reported;
                if present {
                    continue;
                }
                let property = properties.and_then(|p| p.get(key));
                let help = property
                    .map(|p| self.describe_missing(key, p))
                    .unwrap_or_default();
                let message = format!("missing required key `{key}` in {}", place.table_name());
                // A table's span covers it whole; point at its first line, not the whole body.
                let at = span.start..span.start;
                let d = self
                    .error("plan::missing-key", at, message)
                    .label("required here")
                    .help(help);
                self.report(d);
            }
        }
    }

    /// Checks one value; false means it was reported and must be pruned.
    fn check_value(
        &mut self,
        place: &Place,
        value: &mut Spanned<DeValue<'_>>,
        schema: &Value,
    ) -> bool {
        let parts = self.parts(schema);
        let span = value.span();

        if let Some(branches) = lookup(&parts, "anyOf")
            .or_else(|| lookup(&parts, "oneOf"))
            .and_then(Value::as_array)
        {
            let help = self.help_for(&parts);
            return match self.choose_branch(place, value, branches, help) {
                Some(branch) => self.check_value(place, value, branch),
                None => false,
            };
        }

        if let Some(types) = lookup(&parts, "type") {
            if !type_matches(types, value.get_ref()) {
                let expected = describe_type(types);
                let found = describe_value(value.get_ref());
                let message = format!("`{}` must be {expected}, not {found}", place.key_name());
                let help = self.help_for(&parts);
                let d = self
                    .error("plan::wrong-type", span, message)
                    .label(format!("expected {expected}"))
                    .help(help);
                self.report(d);
                return false;
            }
        }

        if let Some(constant) = lookup(&parts, "const") {
            if !equals(value.get_ref(), constant) {
                let message = format!("`{}` must be {constant}", place.key_name());
                let d = self
                    .error("plan::wrong-value", span, message)
                    .label(format!("expected {constant}"))
                    .help(format!(
                        "this cutover reads plan format {constant}; write `{} = {constant}`",
                        place.key_name()
                    ));
                self.report(d);
                return false;
            }
        }

        if let Some(Value::Array(options)) = lookup(&parts, "enum") {
            if !options.iter().any(|o| equals(value.get_ref(), o)) {
                let names: Vec<&str> = options.iter().filter_map(Value::as_str).collect();
                let given = value.get_ref().as_str().unwrap_or_default();
                let mut help = format!("use one of {}", quoted_list(&names));
                if let Some(close) = closest(given, &names) {
                    help = format!(
                        "did you mean \"{close}\"? Valid values: {}",
                        quoted_list(&names)
                    );
                }
                let message = format!("`{}` cannot be \"{given}\"", place.key_name());
                let d = self
                    .error("plan::wrong-value", span, message)
                    .label("not a valid value")
                    .help(help);
                self.report(d);
                return false;
            }
        }

        match value.get_mut() {
            DeValue::Integer(integer) => {
                let n = integer_value(integer.as_str(), integer.radix());
                if let Some(min) = lookup(&parts, "minimum").and_then(Value::as_i64) {
                    if n < i128::from(min) {
                        let message = format!("`{}` must be at least {min}", place.key_name());
                        let help = self.help_for(&parts);
                        let d = self
                            .error("plan::out-of-range", span, message)
                            .label(format!("less than {min}"))
                            .help(help);
                        self.report(d);
                        return false;
                    }
                }
                if n > i128::from(u32::MAX) {
                    let message = format!("`{}` is too large", place.key_name());
                    let d = self
                        .error("plan::out-of-range", span, message)
                        .label(format!("more than {}", u32::MAX));
                    self.report(d);
                    return false;
                }
            }
            DeValue::String(text) => {
                let min = lookup(&parts, "minLength")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if min > 0 && text.trim().is_empty() {
                    let message = format!("`{}` must not be empty", place.key_name());
                    let help = self.help_for(&parts);
                    let d = self
                        .error("plan::empty", span, message)
                        .label("empty")
                        .help(help);
                    self.report(d);
                    return false;
                }
            }
            DeValue::Array(items) => {
                let item_schema = lookup(&parts, "items");
                let mut keep = Vec::with_capacity(items.len());
                for item in items.iter_mut() {
                    keep.push(match item_schema {
                        Some(s) => self.check_value(place, item, s),
                        None => true,
                    });
                }
                let mut flags = keep.into_iter();
                *items = std::mem::replace(items, toml::de::DeArray::new())
                    .into_iter()
                    .filter(|_| flags.next().unwrap_or(true))
                    .collect();
                let min = lookup(&parts, "minItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if min > 0 && items.is_empty() && self.report_missing {
                    let what = if place.key_name() == "batch" {
                        "batch"
                    } else {
                        "entry"
                    };
                    let message = format!("`{}` must have at least one {what}", place.key_name());
                    let help = self.help_for(&parts);
                    let d = self
                        .error("plan::empty", span, message)
                        .label("empty")
                        .help(help);
                    self.report(d);
                    return false;
                }
            }
            DeValue::Table(table) => {
                self.check_table(place, table, span, schema);
            }
            DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => {}
        }
        true
    }

    /// Picks the branch of an `anyOf`/`oneOf` that the value is meant to be, or reports why none
    /// fits. Tables pick by their keys: `{ location = "East" }` is the `location` selector.
    fn choose_branch<'s>(
        &mut self,
        place: &Place,
        value: &Spanned<DeValue<'_>>,
        branches: &'s [Value],
        help: String,
    ) -> Option<&'s Value>
    where
        'a: 's,
    {
        let span = value.span();
        let fitting: Vec<&Value> = branches
            .iter()
            .filter(|b| {
                let parts = self.parts(b);
                lookup(&parts, "type").is_none_or(|t| type_matches(t, value.get_ref()))
            })
            .collect();
        let DeValue::Table(table) = value.get_ref() else {
            if let [only] = fitting.as_slice() {
                return Some(only);
            }
            let expected: Vec<String> = branches.iter().map(|b| self.describe_branch(b)).collect();
            let message = format!(
                "`{}` must be {}, not {}",
                place.key_name(),
                or_list(&expected),
                describe_value(value.get_ref())
            );
            let d = self
                .error("plan::wrong-type", span, message)
                .label("wrong type")
                .help(help);
            self.report(d);
            return None;
        };

        // Tables: the branch whose required keys are present and that has every key present,
        // such as `{ location = "East" }` or `{ file = "a.csv", column = "Mail" }`.
        let keys: Vec<&str> = table.keys().map(|k| k.get_ref().as_ref()).collect();
        let mut choices: Vec<&str> = Vec::new();
        // A key that only some branch allows beside its required key: `column` goes with `file`.
        let mut companions: Vec<(&str, &str)> = Vec::new();
        for branch in &fitting {
            let parts = self.parts(branch);
            let required: Vec<&str> = lookup(&parts, "required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let allowed: Vec<&str> = lookup(&parts, "properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            choices.extend(required.iter().copied());
            if let Some(first) = required.first() {
                companions.extend(
                    allowed
                        .iter()
                        .filter(|k| !required.contains(k))
                        .map(|k| (*k, *first)),
                );
            }
            let all_allowed = keys
                .iter()
                .all(|k| allowed.contains(k) || required.contains(k));
            if !keys.is_empty() && required.iter().all(|r| keys.contains(r)) && all_allowed {
                return Some(branch);
            }
        }
        let selectors = keys.iter().filter(|k| choices.contains(k)).count();
        if let Some((key, with)) = keys
            .iter()
            .find_map(|k| companions.iter().find(|(c, _)| c == k))
            .filter(|_| selectors <= 1)
        {
            let key_span = table
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == *key)
                .map_or(span.clone(), |(k, _)| k.span());
            let message = format!("`{key}` goes only with `{with}` in `{}`", place.key_name());
            let d = self
                .error("plan::unknown-key", key_span, message)
                .label(format!("needs `{with}` beside it"))
                .help(format!(
                    "write `{} = {{ {with} = \"...\", {key} = \"...\" }}`, or remove `{key}`",
                    place.path.last().map_or("key", String::as_str)
                ));
            self.report(d);
            return None;
        }
        let list = backticked(&choices);
        if fitting.is_empty() {
            let message = format!("`{}` cannot be a table", place.key_name());
            let d = self
                .error("plan::wrong-type", span, message)
                .label("wrong type");
            self.report(d);
            return None;
        }
        match keys.as_slice() {
            [one] => {
                let (key_span, _) = table
                    .iter()
                    .next()
                    .map(|(k, v)| (k.span(), v.span()))
                    .unwrap_or((span.clone(), span.clone()));
                let help = unknown_key_help(one, &choices);
                let message = format!("unknown key `{one}` in `{}`", place.key_name());
                let d = self
                    .error("plan::unknown-key", key_span, message)
                    .label("not a key of this table")
                    .help(help);
                self.report(d);
            }
            _ => {
                let message = format!(
                    "`{}` needs exactly one of the keys {list}",
                    place.key_name()
                );
                let found = if keys.is_empty() {
                    "an empty table".to_owned()
                } else {
                    format!("found {}", backticked(&keys))
                };
                let d = self
                    .error("plan::wrong-type", span, message)
                    .label(found)
                    .help(format!(
                        "write one key per table, such as `{} = {{ {} = \"...\" }}`",
                        place.path.last().map_or("key", String::as_str),
                        choices.first().copied().unwrap_or("key")
                    ));
                self.report(d);
            }
        }
        None
    }

    fn describe_branch(&self, branch: &Value) -> String {
        let parts = self.parts(branch);
        if let Some(c) = lookup(&parts, "const") {
            return c.to_string();
        }
        if let Some(required) = lookup(&parts, "required").and_then(Value::as_array) {
            if let Some(key) = required.first().and_then(Value::as_str) {
                return format!("a table {{ {key} = ... }}");
            }
        }
        match lookup(&parts, "type").and_then(Value::as_str) {
            Some("array") => "a list".to_owned(),
            Some("string") => "a string such as \"2%\"".to_owned(),
            Some(t) => describe_type(&Value::String(t.to_owned())),
            None => "a value".to_owned(),
        }
    }

    /// A help line from the schema: the key's description, and an example if it has one.
    fn help_for(&self, parts: &[&Value]) -> String {
        let mut help = lookup(parts, "description")
            .and_then(Value::as_str)
            .map(|d| d.replace('\n', " "))
            .unwrap_or_default();
        if let Some(example) = lookup(parts, "examples").and_then(|e| e.get(0)) {
            help.push_str(&format!(" For example: {}", toml_inline(example)));
        }
        help
    }

    fn describe_missing(&self, key: &str, property: &Value) -> String {
        let parts = self.parts(property);
        let description = lookup(&parts, "description")
            .and_then(Value::as_str)
            .map(|d| d.replace('\n', " "))
            .unwrap_or_default();
        let is_table = lookup(&parts, "type").and_then(Value::as_str) == Some("object");
        let is_array_of_tables = lookup(&parts, "type").and_then(Value::as_str) == Some("array")
            && lookup(&parts, "items").is_some_and(|i| {
                lookup(&self.parts(i), "type").and_then(Value::as_str) == Some("object")
            });
        let example = lookup(&parts, "examples")
            .and_then(|e| e.get(0))
            .map(toml_inline)
            .unwrap_or_else(|| "...".to_owned());
        let add = if is_array_of_tables {
            format!("add a `[[{key}]]` table")
        } else if is_table {
            format!("add a `[{key}]` table")
        } else {
            format!("add `{key} = {example}`")
        };
        if description.is_empty() {
            add
        } else {
            format!("{add}: {description}")
        }
    }
}

/// A schema example written the way it would appear in the plan.
fn toml_inline(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_inline(v)))
                .collect();
            format!("{{ {} }}", pairs.join(", "))
        }
        other => other.to_string(),
    }
}

fn lookup<'s>(parts: &[&'s Value], key: &str) -> Option<&'s Value> {
    parts.iter().find_map(|p| p.get(key))
}

fn type_matches(types: &Value, value: &DeValue<'_>) -> bool {
    let one = |t: &str| {
        matches!(
            (t, value),
            ("string", DeValue::String(_))
                | ("integer", DeValue::Integer(_))
                | ("number", DeValue::Integer(_) | DeValue::Float(_))
                | ("boolean", DeValue::Boolean(_))
                | ("array", DeValue::Array(_))
                | ("object", DeValue::Table(_))
        )
    };
    match types {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

fn describe_type(types: &Value) -> String {
    let one = |t: &str| {
        match t {
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "true or false",
            "array" => "a list",
            "object" => "a table",
            _ => "a value",
        }
        .to_owned()
    };
    match types {
        Value::String(t) => one(t),
        Value::Array(ts) => {
            let names: Vec<String> = ts.iter().filter_map(Value::as_str).map(one).collect();
            or_list(&names)
        }
        _ => "a value".to_owned(),
    }
}

fn describe_value(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string \"{s}\""),
        DeValue::Integer(i) => format!("the integer {i}"),
        DeValue::Float(f) => format!("the number {f}"),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(_) => "an unquoted date-time (quote it to make it a string)".to_owned(),
        DeValue::Array(_) => "a list".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

fn equals(value: &DeValue<'_>, expected: &Value) -> bool {
    match (value, expected) {
        (DeValue::String(s), Value::String(e)) => s == e,
        (DeValue::Integer(i), Value::Number(n)) => {
            n.as_i64().map(i128::from) == Some(integer_value(i.as_str(), i.radix()))
        }
        (DeValue::Boolean(b), Value::Bool(e)) => b == e,
        _ => false,
    }
}

/// The integer's value, saturating far outside any range the plan accepts.
fn integer_value(digits: &str, radix: u32) -> i128 {
    let digits = digits.replace('_', "");
    i128::from_str_radix(&digits, radix).unwrap_or(if digits.starts_with('-') {
        i128::MIN
    } else {
        i128::MAX
    })
}

/// The closest of `candidates` to `given`, if it is close enough to be a likely typo.
pub(crate) fn closest<'c>(given: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let given = given.to_lowercase();
    // An abbreviation (`loc` for `location`) is as likely a slip as a typo.
    if given.len() >= 3 {
        if let Some(prefixed) = candidates
            .iter()
            .find(|c| c.to_lowercase().starts_with(&given))
        {
            return Some(prefixed);
        }
    }
    let length = given.chars().count();
    let allowed = |c: &str| (c.len() / 3).max(1) + usize::from(c.len() > 6);
    candidates
        .iter()
        // The edit distance is at least the difference in length: a key far longer than every
        // candidate (the fuzzer's 65,000 characters) is no typo, and is never compared.
        .filter(|c| length.abs_diff(c.chars().count()) <= allowed(c))
        .map(|c| (strsim::damerau_levenshtein(&given, &c.to_lowercase()), *c))
        .filter(|(distance, c)| *distance <= allowed(c))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

fn unknown_key_help(given: &str, known: &[&str]) -> String {
    match closest(given, known) {
        Some(close) => format!("did you mean `{close}`? Keys here: {}", backticked(known)),
        None if known.is_empty() => "remove it: this table takes no keys".to_owned(),
        None => format!(
            "remove it, or use one of the keys here: {}",
            backticked(known)
        ),
    }
}

fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    quoted.join(", ")
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_only() {
        let keys = [
            "soak",
            "timeout",
            "max_errors",
            "on_failure",
            "count_preexisting",
        ];
        for (given, expected) in [
            ("sok", Some("soak")),
            ("soaks", Some("soak")),
            ("timout", Some("timeout")),
            ("max_error", Some("max_errors")),
            ("maxerrors", Some("max_errors")),
            ("onfailure", Some("on_failure")),
            ("count_pre_existing", Some("count_preexisting")),
            ("zzz", None),
            ("users", None),
            ("max", Some("max_errors")),
            ("so", None),
        ] {
            assert_eq!(closest(given, &keys), expected, "{given}");
        }
    }

    #[test]
    fn examples_read_as_toml() {
        let example =
            serde_json::json!([{ "location": "East" }, ["a@x.io", "b@x.io"], "remaining", 3]);
        assert_eq!(
            toml_inline(&example),
            r#"[{ location = "East" }, ["a@x.io", "b@x.io"], "remaining", 3]"#
        );
    }

    #[test]
    fn integers_in_every_radix() {
        for (digits, radix, expected) in [
            ("1", 10, 1),
            ("-3", 10, -3),
            ("1_000", 10, 1000),
            ("ff", 16, 255),
        ] {
            assert_eq!(integer_value(digits, radix), expected);
        }
        assert_eq!(
            integer_value("99999999999999999999999999999999999999999", 10),
            i128::MAX
        );
    }
}
