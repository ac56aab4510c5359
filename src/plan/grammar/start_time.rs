//! Times such as `not_before`: RFC 3339 with an explicit offset.

use std::fmt;

use jiff::Timestamp;
use jiff::fmt::temporal::Pieces;
use jiff::tz::Offset;
use serde::Serialize;

use super::GrammarError;

const HELP: &str = "write an RFC 3339 time with its UTC offset, such as \
    \"2026-12-07T18:00:00-05:00\" or \"2026-12-07T23:00:00Z\"";

/// An instant, with the offset it was written in so it is shown back the way the admin wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StartTime {
    at: Timestamp,
    offset: Offset,
}

impl StartTime {
    pub(crate) fn parse(text: &str) -> Result<Self, GrammarError> {
        let shape = check_shape(text.as_bytes());
        if let Err(at) = shape {
            let (message, range) = match at {
                Shape::NoOffset => (
                    format!(
                        "\"{text}\" has no UTC offset, so the instant it names depends on the host"
                    ),
                    text.len()..text.len(),
                ),
                Shape::NoSeconds(i) => ("RFC 3339 needs seconds in the time".to_owned(), i..i),
                Shape::BadAt(i) => (
                    format!("\"{text}\" is not an RFC 3339 time"),
                    i..(i + 1).min(text.len()),
                ),
            };
            return Err(GrammarError::new(message, HELP).at(range));
        }
        let at: Timestamp = text
            .parse()
            .map_err(|e| GrammarError::new(format!("\"{text}\" is not a valid time: {e}"), HELP))?;
        let offset = Pieces::parse(text)
            .ok()
            .and_then(|p| p.offset())
            .map(|o| o.to_numeric_offset())
            .unwrap_or(Offset::UTC);
        Ok(Self { at, offset })
    }

    pub(crate) fn timestamp(self) -> Timestamp {
        self.at
    }

    pub(crate) fn offset(self) -> Offset {
        self.offset
    }
}

enum Shape {
    NoOffset,
    NoSeconds(usize),
    BadAt(usize),
}

/// `YYYY-MM-DD(T|t| )HH:MM:SS(.fraction)?(Z|z|±HH:MM)`, checked byte by byte so the message can
/// point at the first wrong character. Calendar validity (Feb 30) is jiff's to judge.
fn check_shape(b: &[u8]) -> Result<(), Shape> {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let is = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    for i in [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15] {
        if !digit(i) {
            return Err(Shape::BadAt(i));
        }
    }
    for (i, c) in [(4, b"-"), (7, b"-"), (13, b":")] {
        if !is(i, c) {
            return Err(Shape::BadAt(i));
        }
    }
    if !is(10, b"Tt ") {
        return Err(Shape::BadAt(10));
    }
    if b.len() == 16 {
        return Err(Shape::NoSeconds(16));
    }
    if !is(16, b":") {
        return if is(16, b"Zz+-") {
            Err(Shape::NoSeconds(16))
        } else {
            Err(Shape::BadAt(16))
        };
    }
    if !digit(17) || !digit(18) {
        return Err(Shape::BadAt(17));
    }
    let mut i = 19;
    if is(i, b".") {
        i += 1;
        let start = i;
        while digit(i) {
            i += 1;
        }
        if i == start {
            return Err(Shape::BadAt(i));
        }
    }
    match b.get(i) {
        None => Err(Shape::NoOffset),
        Some(b'Z' | b'z') if b.len() == i + 1 => Ok(()),
        Some(b'+' | b'-')
            if b.len() == i + 6
                && digit(i + 1)
                && digit(i + 2)
                && is(i + 3, b":")
                && digit(i + 4)
                && digit(i + 5) =>
        {
            Ok(())
        }
        Some(_) => Err(Shape::BadAt(i)),
    }
}

impl fmt::Display for StartTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at.display_with_offset(self.offset))
    }
}

impl Serialize for StartTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        for (text, shown) in [
            ("2026-12-07T18:00:00-05:00", "2026-12-07T18:00:00-05:00"),
            ("2026-12-07t18:00:00z", "2026-12-07T18:00:00+00:00"),
            ("2026-12-07 18:00:00+01:00", "2026-12-07T18:00:00+01:00"),
            ("2026-12-07T18:00:00.5Z", "2026-12-07T18:00:00.5+00:00"),
        ] {
            let t = StartTime::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(t.to_string(), shown);
        }
        let a = StartTime::parse("2026-12-07T18:00:00-05:00").map(StartTime::timestamp);
        let b = StartTime::parse("2026-12-07T23:00:00Z").map(StartTime::timestamp);
        assert_eq!(a, b);
    }

    #[test]
    fn rejects() {
        for text in [
            "2026-12-07T18:00:00",
            "2026-12-07T18:00-05:00",
            "2026-12-07",
            "2026-02-30T18:00:00Z",
            "2026-12-07T25:00:00Z",
            "2026-12-07T18:00:00-05",
            "2026-12-07T18:00:00-05:00[America/New_York]",
            "tomorrow",
            "",
        ] {
            assert!(StartTime::parse(text).is_err(), "{text}");
        }
        let e = StartTime::parse("2026-12-07T18:00:00").expect_err("no offset");
        assert!(e.message.contains("no UTC offset"), "{}", e.message);
    }
}
