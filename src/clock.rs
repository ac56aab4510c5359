//! The one clock of the engine and the sandbox.
//!
//! Real time, optionally shifted by `CUTOVER_TEST_CLOCK_SHIFT` (a signed duration such as
//! `3h`, `-1d`, `90s` or `1500ms`). The variable exists for tests only: it lets a test stand at
//! "Monday 17:59 in New York" or "an hour after the soak began" without waiting, while the clock
//! still advances at real speed. Every process that touches a rollout (engine, `sandbox serve`,
//! sandbox controls) reads the same variable, so they agree on what "now" is.

use jiff::{SignedDuration, Timestamp};

/// The environment variable that shifts the clock in tests.
pub(crate) const SHIFT_VARIABLE: &str = "CUTOVER_TEST_CLOCK_SHIFT";

#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    shift: SignedDuration,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{SHIFT_VARIABLE}={value:?} is not a signed duration such as \"3h\", \"-1d\" or \"1500ms\""
)]
pub(crate) struct BadShift {
    value: String,
}

impl Clock {
    /// The clock as the environment sets it.
    pub(crate) fn from_env() -> Result<Self, BadShift> {
        match std::env::var(SHIFT_VARIABLE) {
            Ok(value) if !value.trim().is_empty() => {
                let shift = parse_shift(value.trim()).ok_or(BadShift { value })?;
                Ok(Self { shift })
            }
            _ => Ok(Self::real()),
        }
    }

    pub(crate) fn real() -> Self {
        Self {
            shift: SignedDuration::ZERO,
        }
    }

    /// Real time moved by `shift`: a test's own clock, without the environment.
    #[cfg(test)]
    pub(crate) fn shifted(shift: SignedDuration) -> Self {
        Self { shift }
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::now()
            .checked_add(self.shift)
            .unwrap_or_else(|_| Timestamp::now())
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.now().as_millisecond()
    }
}

/// `[-]<integer><unit>...` with units `ms`, `s`, `m`, `h`, `d`.
fn parse_shift(text: &str) -> Option<SignedDuration> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total_ms: i64 = 0;
    let mut number = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit_ms = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return None,
        };
        let n: i64 = number.parse().ok()?;
        number.clear();
        total_ms = total_ms.checked_add(n.checked_mul(unit_ms)?)?;
    }
    if !number.is_empty() {
        return None;
    }
    let ms = if negative { -total_ms } else { total_ms };
    Some(SignedDuration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts() {
        for (text, ms) in [
            ("3h", Some(10_800_000)),
            ("-1d", Some(-86_400_000)),
            ("+90s", Some(90_000)),
            ("1500ms", Some(1_500)),
            ("1h30m", Some(5_400_000)),
            ("2m5ms", Some(120_005)),
            ("", None),
            ("-", None),
            ("3", None),
            ("3w", None),
        ] {
            assert_eq!(
                parse_shift(text).map(|d| d.as_millis()),
                ms.map(i128::from),
                "{text}"
            );
        }
    }
}
