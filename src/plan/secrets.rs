//! Literal secrets in a plan file: found before anything is reported, so that no diagnostic,
//! in any format, ever shows one.
//!
//! A plan may only *refer* to a secret (`{ env = "..." }`, `{ file = "..." }`,
//! `{ credential = "..." }`). A string under a
//! secret-named key, or credentials inside a URL, are errors — and their characters are masked in
//! the copy of the file that diagnostics render.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Keys whose string values are secrets wherever they appear.
/// (`webhook`: a Slack or Teams webhook's URL is itself the credential.)
const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "client_secret",
    "secret",
    "api_key",
    "certificate",
    "certificate_password",
    "webhook",
];
/// Keys of a secret reference, whose values are names and paths, not secrets.
const REFERENCE_KEYS: &[&str] = &["env", "file", "credential"];

/// A secret written literally in the plan.
#[derive(Debug)]
pub(super) struct LiteralSecret {
    pub(super) key: String,
    /// Dotted path of the key, such as `target.token`.
    pub(super) path: String,
    /// The key, for the diagnostic's label.
    pub(super) key_span: Range<usize>,
    /// The characters to mask.
    pub(super) value_span: Range<usize>,
}

/// Finds literal secrets and removes them from the tree (they have been reported; nothing
/// downstream should see them). Also returns the ranges to mask that are not errors of their
/// own, such as strings inside a malformed secret table.
pub(super) fn take_literal_secrets(
    document: &mut DeTable<'_>,
    text: &str,
) -> (Vec<LiteralSecret>, Vec<Range<usize>>) {
    let mut found = Vec::new();
    let mut masked = Vec::new();
    walk(document, "", text, &mut found, &mut masked);
    (found, masked)
}

fn walk(
    table: &mut DeTable<'_>,
    prefix: &str,
    text: &str,
    found: &mut Vec<LiteralSecret>,
    masked: &mut Vec<Range<usize>>,
) {
    let mut remove = Vec::new();
    for (key, value) in table.iter_mut() {
        let name = key.get_ref().as_ref();
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        if SECRET_KEYS.contains(&name) {
            match value.get_ref() {
                DeValue::Table(inner) => mask_strings(inner, masked),
                _ => {
                    found.push(LiteralSecret {
                        key: name.to_owned(),
                        path: path.clone(),
                        key_span: key.span(),
                        value_span: content_span(value.span(), text),
                    });
                    remove.push(name.to_owned());
                }
            }
            continue;
        }
        if name == "url" {
            if let Some(span) = url_credentials(value, text) {
                masked.push(span);
            }
        }
        match value.get_mut() {
            DeValue::Table(inner) => walk(inner, &path, text, found, masked),
            DeValue::Array(items) => {
                for item in items.iter_mut() {
                    if let DeValue::Table(inner) = item.get_mut() {
                        walk(inner, &path, text, found, masked);
                    }
                }
            }
            _ => {}
        }
    }
    for key in &remove {
        table.remove(key.as_str());
    }
}

fn mask_strings(table: &DeTable<'_>, masked: &mut Vec<Range<usize>>) {
    for (key, value) in table {
        let is_reference = REFERENCE_KEYS.contains(&key.get_ref().as_ref());
        match value.get_ref() {
            DeValue::String(_) if !is_reference => masked.push(value.span()),
            DeValue::Table(inner) => mask_strings(inner, masked),
            _ => {}
        }
    }
}

/// The characters between a string's quotes (the whole span for other values).
fn content_span(span: Range<usize>, text: &str) -> Range<usize> {
    let raw = text.get(span.clone()).unwrap_or("");
    let quotes = raw.len() - raw.trim_start_matches(['"', '\'']).len();
    if quotes > 0 && raw.len() >= 2 * quotes {
        span.start + quotes..span.end - quotes
    } else {
        span
    }
}

/// `user:password@` inside a URL string.
fn url_credentials(value: &Spanned<DeValue<'_>>, text: &str) -> Option<Range<usize>> {
    let DeValue::String(_) = value.get_ref() else {
        return None;
    };
    let span = content_span(value.span(), text);
    let raw = text.get(span.clone())?;
    let after_scheme = raw.find("://")? + 3;
    let authority_end = raw[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |i| after_scheme + i);
    let at = raw[after_scheme..authority_end].rfind('@')?;
    Some(span.start + after_scheme..span.start + after_scheme + at)
}

/// When the document has syntax errors, recovery may have dropped a secret-named line from the
/// tree; mask the rest of any such line by its text alone, so the syntax error's snippet cannot
/// show it.
pub(super) fn mask_lines_textually(text: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let key_end = trimmed
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(0);
        let key = &trimmed[..key_end];
        if SECRET_KEYS.contains(&key) {
            let after_key = &trimmed[key_end..];
            if let Some(eq) = after_key.find('=') {
                let value = after_key[eq + 1..].trim_start();
                if value.starts_with(['"', '\'']) {
                    let start = offset + (line.len() - value.len());
                    let end = offset + line.trim_end().len();
                    if end > start {
                        ranges.push(start..end);
                    }
                }
            }
        }
        offset += line.len();
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_masks() {
        let text = "[target]\ntoken = \"hunter2\"\nurl = \"https://bob:pw@x.example/api\"\n[other]\npassword = { value = \"s3cret\" }\n";
        let (mut doc, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty());
        let (found, masked) = take_literal_secrets(doc.get_mut(), text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].value_span.clone()], "hunter2");
        let mut masked: Vec<&str> = masked.iter().map(|r| &text[r.clone()]).collect();
        masked.sort_unstable();
        assert_eq!(masked, ["\"s3cret\"", "bob:pw"]);
        let target = doc.get_ref().get("target").map(|t| t.get_ref().is_table());
        assert_eq!(target, Some(true));
    }

    #[test]
    fn textual_fallback() {
        let text = "[target\ntoken = \"hunter2\n";
        let ranges = mask_lines_textually(text);
        assert_eq!(
            ranges.iter().map(|r| &text[r.clone()]).collect::<Vec<_>>(),
            ["\"hunter2"]
        );
    }
}
