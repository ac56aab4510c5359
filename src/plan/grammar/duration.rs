//! Durations: one or more `<integer><unit>` with unit `s`, `m`, `h` or `d` (`90s`, `1h30m`).

use std::fmt;

use serde::Serialize;

use super::GrammarError;

/// The longest duration a plan may state. Beyond a year, a soak or a quiet time is a typo.
const MAX_SECONDS: u64 = 366 * 86_400;

const HELP: &str = "write a duration as numbers with units s, m, h or d and no spaces, \
    such as \"90s\", \"10m\", \"1h30m\" or \"7d\"";

/// A non-negative whole number of seconds, written canonically (`1h30m`) wherever it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct PlanDuration {
    seconds: u64,
}

impl PlanDuration {
    pub(crate) const ZERO: Self = Self { seconds: 0 };

    pub(crate) const fn from_seconds(seconds: u64) -> Self {
        Self { seconds }
    }

    pub(crate) fn seconds(self) -> u64 {
        self.seconds
    }

    pub(crate) fn is_zero(self) -> bool {
        self.seconds == 0
    }

    pub(crate) fn parse(text: &str) -> Result<Self, GrammarError> {
        if text.is_empty() {
            return Err(GrammarError::new("a duration cannot be empty", HELP));
        }
        if let Some(i) = text.find(char::is_whitespace) {
            return Err(GrammarError::new("a duration has no spaces", HELP).at(i..i + 1));
        }
        if text.starts_with('-') {
            return Err(GrammarError::new("a duration cannot be negative", HELP).at(0..1));
        }
        let mut total: u64 = 0;
        let mut digits_start = None;
        for (i, c) in text.char_indices() {
            if c.is_ascii_digit() {
                digits_start.get_or_insert(i);
                continue;
            }
            let Some(start) = digits_start.take() else {
                let message = if matches!(c, 's' | 'm' | 'h' | 'd') {
                    format!("the unit `{c}` has no number before it")
                } else {
                    format!("`{c}` is not part of a duration")
                };
                return Err(GrammarError::new(message, HELP).at(i..i + c.len_utf8()));
            };
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3_600,
                'd' => 86_400,
                _ => {
                    let message = format!("`{c}` is not a duration unit");
                    return Err(GrammarError::new(message, HELP).at(i..i + c.len_utf8()));
                }
            };
            let number: u64 = text[start..i].parse().unwrap_or(u64::MAX);
            total = number
                .checked_mul(unit)
                .and_then(|s| total.checked_add(s))
                .unwrap_or(u64::MAX);
        }
        if let Some(start) = digits_start {
            let message = format!("`{}` has no unit", &text[start..]);
            let help = format!(
                "add a unit: \"{}s\", \"{}m\", \"{}h\" or \"{}d\"",
                &text[start..],
                &text[start..],
                &text[start..],
                &text[start..]
            );
            return Err(GrammarError::new(message, help).at(start..text.len()));
        }
        if total > MAX_SECONDS {
            return Err(GrammarError::new(
                "a duration in a plan can be at most 366 days",
                "shorten it; a gate or a quiet time longer than a year is almost certainly a typo",
            ));
        }
        Ok(Self { seconds: total })
    }
}

impl fmt::Display for PlanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.seconds;
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for PlanDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        for (text, seconds, canonical) in [
            ("0s", 0, "0s"),
            ("90s", 90, "1m30s"),
            ("10m", 600, "10m"),
            ("1h30m", 5_400, "1h30m"),
            ("30m1h", 5_400, "1h30m"),
            ("7d", 604_800, "7d"),
            ("1d1h1m1s", 90_061, "1d1h1m1s"),
            ("366d", 366 * 86_400, "366d"),
        ] {
            let d = PlanDuration::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(d, PlanDuration::from_seconds(seconds), "{text}");
            assert_eq!(d.to_string(), canonical, "{text}");
        }
    }

    #[test]
    fn rejects() {
        for (text, at) in [
            ("", None),
            ("10", Some(0..2)),
            ("1h30", Some(2..4)),
            ("10 m", Some(2..3)),
            ("-5m", Some(0..1)),
            ("5w", Some(1..2)),
            ("h", Some(0..1)),
            ("1.5h", Some(1..2)),
            ("367d", None),
            ("99999999999999999999999d", None),
        ] {
            let e = PlanDuration::parse(text).expect_err(text);
            assert_eq!(e.at, at, "{text}: {}", e.message);
        }
    }
}
