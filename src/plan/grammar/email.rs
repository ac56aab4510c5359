//! User emails: the key by which plans, CSV files and the platform name a user.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::GrammarError;

/// An email address, lowercased: the platform matches users case-insensitively, and a plan
/// must not treat `Ana@x` and `ana@x` as two people.
///
/// Shared, not owned: every decision copies members from the stored rollout into the schedule
/// and its actions, so a copy is a reference count, not an allocation per user per decision.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Email(Arc<str>);

impl Email {
    /// An RFC 5321 mailbox in its common (dot-atom, ASCII) form: `local@domain`, where the
    /// local part is letters, digits and ``!#$%&'*+/=?^_`{|}~-`` in dot-separated runs, and the
    /// domain is two or more dot-separated labels of letters, digits and inner hyphens.
    pub(crate) fn parse(text: &str) -> Result<Self, GrammarError> {
        let help = "write a full email address such as \"ana@contoso.example\"";
        let invalid = |why: &str| {
            GrammarError::new(format!("\"{text}\" is not an email address: {why}"), help)
        };
        // The common case, checked in one pass: every byte a printable ASCII character.
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            if let Some(i) = text.find(char::is_whitespace) {
                return Err(invalid("it contains a space").at(i..i + 1));
            }
            if let Some((i, c)) = text
                .char_indices()
                .find(|(_, c)| !c.is_ascii() || c.is_ascii_control())
            {
                let what = if c.is_ascii_control() {
                    "a control character".to_owned()
                } else {
                    format!("`{c}`")
                };
                return Err(invalid(&format!("it contains {what}")).at(i..i + c.len_utf8()));
            }
        }
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err(invalid("it has no @"));
        };
        // RFC 5321's limits: 64 octets before the @, 254 in all, 63 per domain label.
        if local.len() > 64 || text.len() > 254 {
            return Err(invalid("it is longer than an email address can be"));
        }
        // Byte by byte: every character is ASCII here. (This runs once per user on every read
        // of the platform, so it allocates nothing but the result.)
        let local_symbol = |b: u8| {
            matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'/'
                    | b'='
                    | b'?'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
                    | b'~'
                    | b'-'
            )
        };
        let local_ok = local.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || local_symbol(b))
        });
        if !local_ok {
            return Err(invalid("the part before the @ is not valid").at(0..local.len()));
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        let domain_ok = domain.contains('.') && domain.split('.').all(label_ok);
        if !domain_ok {
            let start = local.len() + 1;
            return Err(invalid("the domain after the @ is not valid").at(start..text.len()));
        }
        // Most addresses are lowercase already: then one allocation, not a lowercase copy and
        // then the shared one.
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            Ok(Self(text.to_ascii_lowercase().into()))
        } else {
            Ok(Self(text.into()))
        }
    }

    /// The address, lowercase.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The same grammar as [`Email::parse`], for JSON Schemas.
pub(crate) const EMAIL_PATTERN: &str = concat!(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    r"@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
);

impl schemars::JsonSchema for Email {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Email".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "email", "pattern": EMAIL_PATTERN, "maxLength": 254 })
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Email::parse(&text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for (text, ok) in [
            ("ana@contoso.example", Some("ana@contoso.example")),
            (
                "Ana.Lopez@Contoso.Example",
                Some("ana.lopez@contoso.example"),
            ),
            ("a+b@x.io", Some("a+b@x.io")),
            ("ana", None),
            ("ana@", None),
            ("@x.io", None),
            ("ana@localhost", None),
            ("ana@x..io", None),
            ("ana@@x.io", None),
            ("ana @x.io", None),
            ("o'brien+tag@x-y.example", Some("o'brien+tag@x-y.example")),
            ("ana.@x.io", None),
            (".ana@x.io", None),
            ("ana@-x.io", None),
            ("ana@x.io-", None),
            ("\u{fe}\u{a2}@v\u{87}.\u{8}o", None),
            ("ana\u{7}@x.io", None),
            ("ana@x.io.", None),
            (&format!("{}@x.io", "a".repeat(65)), None),
            (&format!("ana@{}.io", "x".repeat(64)), None),
        ] {
            assert_eq!(
                Email::parse(text).ok().map(|e| e.to_string()).as_deref(),
                ok,
                "{text}"
            );
        }
    }
}
