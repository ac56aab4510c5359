//! Shares: `<number>%` from 0 to 100, such as `"2%"` or `"0.5%"`.

use std::fmt;

use serde::Serialize;

use super::GrammarError;

const HELP: &str =
    "write a share as a number from 0 to 100 followed by %, such as \"2%\" or \"0.5%\"";

/// A percentage kept exactly as a decimal (`units / 10^scale` percent), so that
/// `floor(p × users)` is computed without floating-point surprises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Share {
    units: u64,
    scale: u32,
}

impl Share {
    pub(crate) fn parse(text: &str) -> Result<Self, GrammarError> {
        let Some(number) = text.strip_suffix('%') else {
            let message = format!("\"{text}\" is not a share: it has no %");
            return Err(GrammarError::new(message, HELP));
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits_only(whole)
            || !digits_only(fraction)
            || number.ends_with('.')
        {
            let message = format!("\"{text}\" is not a share");
            return Err(GrammarError::new(message, HELP).at(0..number.len()));
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > 6 {
            return Err(GrammarError::new(
                "a share can have at most 6 decimals",
                "round it: the gate counts whole users anyway",
            ));
        }
        let scale = u32::try_from(fraction.len()).unwrap_or(6);
        let units: u64 = format!("{whole}{fraction}").parse().unwrap_or(u64::MAX);
        let share = Self { units, scale };
        if share.units > 100 * 10u64.pow(scale) {
            let message = format!("{text} is more than 100%");
            return Err(
                GrammarError::new(message, "a share is between \"0%\" and \"100%\"")
                    .at(0..number.len()),
            );
        }
        Ok(share)
    }

    /// `floor(share × users)`: how many users this share of `users` allows.
    pub(crate) fn of(self, users: u64) -> u64 {
        let denominator = 100u128 * 10u128.pow(self.scale);
        let allowed = u128::from(self.units) * u128::from(users) / denominator;
        u64::try_from(allowed).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = 10u64.pow(self.scale);
        let whole = self.units / size;
        if self.scale == 0 {
            write!(f, "{whole}%")
        } else {
            let fraction = self.units % size;
            write!(
                f,
                "{whole}.{fraction:0width$}%",
                width = self.scale as usize
            )
        }
    }
}

impl Serialize for Share {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_applies() {
        for (text, users, allowed, canonical) in [
            ("0%", 1000, 0, "0%"),
            ("2%", 200, 4, "2%"),
            ("2%", 49, 0, "2%"),
            ("2%", 50, 1, "2%"),
            ("2.5%", 200, 5, "2.5%"),
            ("2.50%", 79, 1, "2.5%"),
            ("0.1%", 10_000, 10, "0.1%"),
            ("100%", 7, 7, "100%"),
            ("100.0%", 7, 7, "100%"),
            ("33.333333%", 3, 0, "33.333333%"),
        ] {
            let share = Share::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(share.of(users), allowed, "{text} of {users}");
            assert_eq!(share.to_string(), canonical);
        }
    }

    #[test]
    fn rejects() {
        for text in [
            "2",
            "%",
            "-1%",
            "100.1%",
            "101%",
            "2.%",
            ".5%",
            "1e2%",
            "2 %",
            "0.1234567%",
        ] {
            assert!(Share::parse(text).is_err(), "{text}");
        }
    }
}
