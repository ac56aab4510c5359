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
        // Every read of the platform parses every user's address: the valid ones, nearly all,
        // are told apart in one pass, and only the rest are looked at again to say what is
        // wrong with them.
        match valid_in_one_pass(text.as_bytes()) {
            Some(false) => Ok(Self(text.into())),
            Some(true) => Ok(Self(text.to_ascii_lowercase().into())),
            None => Self::parse_slowly(text),
        }
    }

    /// The same grammar, a check at a time, so that a bad address gets the reason and the
    /// place.
    fn parse_slowly(text: &str) -> Result<Self, GrammarError> {
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
        // Byte by byte: every character is ASCII here.
        let local_ok = local
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| CLASSES[b as usize] & LOCAL != 0));
        if !local_ok {
            return Err(invalid("the part before the @ is not valid").at(0..local.len()));
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| CLASSES[b as usize] & LABEL != 0)
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

/// What a byte may be: in the part before the @, in a domain label, and whether uppercase.
const LOCAL: u8 = 1;
const LABEL: u8 = 2;
const UPPER: u8 = 4;

const CLASSES: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alphanumeric = c.is_ascii_alphanumeric();
        let symbol = matches!(
            c,
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
        );
        let mut class = 0;
        if alphanumeric || symbol {
            class |= LOCAL;
        }
        if alphanumeric || c == b'-' {
            class |= LABEL;
        }
        if c.is_ascii_uppercase() {
            class |= UPPER;
        }
        classes[b] = class;
        b += 1;
    }
    classes
};

/// Whether `text` is an address of [`Email::parse`]'s grammar, checked in one pass: `Some`
/// with whether it has an uppercase letter, or `None` if it is not one.
fn valid_in_one_pass(text: &[u8]) -> Option<bool> {
    if text.len() > 254 {
        return None;
    }
    let at = text.iter().position(|&b| b == b'@')?;
    let (local, domain) = (&text[..at], &text[at + 1..]);
    if local.is_empty() || local.len() > 64 {
        return None;
    }
    let mut seen = 0u8;
    let mut previous = b'.';
    for &b in local {
        let class = CLASSES[b as usize];
        if b == b'.' {
            if previous == b'.' {
                return None;
            }
        } else if class & LOCAL == 0 {
            return None;
        }
        seen |= class;
        previous = b;
    }
    if previous == b'.' {
        return None;
    }
    let (mut labels, mut label_len) = (1usize, 0usize);
    previous = b'.';
    for &b in domain {
        let class = CLASSES[b as usize];
        if b == b'.' {
            if label_len == 0 || previous == b'-' {
                return None;
            }
            labels += 1;
            label_len = 0;
        } else {
            if class & LABEL == 0 || (b == b'-' && label_len == 0) {
                return None;
            }
            label_len += 1;
            if label_len > 63 {
                return None;
            }
        }
        seen |= class;
        previous = b;
    }
    if label_len == 0 || previous == b'-' || labels < 2 {
        return None;
    }
    Some(seen & UPPER != 0)
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

    /// The one-pass check and the check at a time are one grammar: for every address made by
    /// putting any byte of interest in any place of a few valid ones, they agree.
    #[test]
    fn the_one_pass_check_is_the_same_grammar_as_the_slow_one() {
        let seeds = [
            "ana@contoso.example",
            "O'Brien+tag@x-y.example",
            "a.b@c.d",
            "x@a-b.c-d.ef",
        ];
        let bytes = b".@-+_'aZ9 \"\t\x7f\xc3";
        let mut cases = 0;
        for seed in seeds {
            for at in 0..=seed.len() {
                for &b in bytes.iter() {
                    for replace in [false, true] {
                        let mut text = seed.as_bytes().to_vec();
                        if replace && at < text.len() {
                            text[at] = b;
                        } else {
                            text.insert(at, b);
                        }
                        let Ok(text) = String::from_utf8(text) else {
                            continue;
                        };
                        let slow = Email::parse_slowly(&text).ok();
                        let fast = valid_in_one_pass(text.as_bytes()).map(|upper| {
                            if upper {
                                text.to_ascii_lowercase()
                            } else {
                                text.clone()
                            }
                        });
                        assert_eq!(fast, slow.map(|e| e.to_string()), "{text:?}");
                        cases += 1;
                    }
                }
            }
        }
        assert!(cases > 500, "{cases}");
        for long in [
            format!("{}@x.io", "a".repeat(64)),
            format!("{}@x.io", "a".repeat(65)),
            format!("ana@{}.io", "x".repeat(63)),
            format!("ana@{}.io", "x".repeat(64)),
            format!("a@{}.io", "x.".repeat(125)),
            format!("a@{}.io", "x.".repeat(126)),
        ] {
            let fast = valid_in_one_pass(long.as_bytes()).is_some();
            assert_eq!(fast, Email::parse_slowly(&long).is_ok(), "{}", long.len());
        }
    }
}
