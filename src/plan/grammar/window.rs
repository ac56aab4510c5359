//! Change windows: `<days> <HH:MM>-<HH:MM> <IANA zone>`, such as
//! `Mon-Fri 18:00-22:00 America/New_York`.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::Serialize;

use super::GrammarError;

const HELP: &str = "write a window as `<days> <HH:MM>-<HH:MM> <IANA zone>`, such as \
    \"Mon-Fri 18:00-22:00 America/New_York\" or \"Sat,Sun 08:00-12:00 Europe/London\"";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    const NAMES: [&'static str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        Self::NAMES[self.index()]
    }

    fn parse(text: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == text)
            .map(|i| Self::ALL[i])
    }

    fn of(date: Date) -> Self {
        let index = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        Self::ALL[index % 7]
    }
}

/// A weekly window in a time zone. A window whose end is before its start crosses midnight;
/// its days name the day it opens.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Window {
    days: [bool; 7],
    start: Time,
    end: Time,
    zone: TimeZone,
    zone_name: String,
}

impl Window {
    pub(crate) fn parse(text: &str) -> Result<Self, GrammarError> {
        let parts: Vec<&str> = text.split(' ').collect();
        if text.contains("  ") || text.starts_with(' ') || text.ends_with(' ') {
            let i = text
                .find("  ")
                .or_else(|| text.starts_with(' ').then_some(0))
                .unwrap_or(text.len() - 1);
            return Err(GrammarError::new(
                "separate the parts of a window with single spaces",
                HELP,
            )
            .at(i..i + 1));
        }
        // A Windows zone name has spaces in it (`Central Standard Time`): name it as a zone.
        if let [days, times, zone @ ..] = parts.as_slice() {
            let zone = zone.join(" ");
            if zone.contains(' ') && super::zone_hint::windows_zone(&zone).is_some() {
                let zone_at = days.len() + times.len() + 2;
                return Err(unknown_zone(&zone).at(zone_at..text.len()));
            }
        }
        let [days, times, zone] = parts.as_slice() else {
            let message = match parts.len() {
                1 if text.contains(':') => "this window has no days and no time zone".to_owned(),
                2 if parts[0].contains(':') => "this window has no days".to_owned(),
                2 => "this window has no time zone".to_owned(),
                _ => format!(
                    "a window has three parts (days, times, zone); this one has {}",
                    parts.len()
                ),
            };
            return Err(GrammarError::new(message, HELP));
        };
        let days_at = 0;
        let times_at = days.len() + 1;
        let zone_at = times_at + times.len() + 1;
        let days_set = parse_days(days).map_err(|e| shift(e, days_at))?;
        let (start, end) = parse_times(times).map_err(|e| shift(e, times_at))?;
        let tz = TimeZone::get(zone)
            .map_err(|_| unknown_zone(zone).at(zone_at..zone_at + zone.len()))?;
        let zone_name = tz.iana_name().unwrap_or(zone).to_owned();
        Ok(Self {
            days: days_set,
            start,
            end,
            zone: tz,
            zone_name,
        })
    }

    /// Whether the window opens on this day (for a window that crosses midnight, the day it
    /// opens, not the day it closes).
    fn opens_on(&self, day: Weekday) -> bool {
        self.days[day.index()]
    }

    pub(crate) fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The opening and closing instants of the window that opens on `date`, if it opens then.
    /// Local times a DST change skips or repeats resolve to the later instant.
    fn opening_on(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        if !self.opens_on(Weekday::of(date)) {
            return None;
        }
        let start = self
            .zone
            .to_ambiguous_timestamp(date.to_datetime(self.start))
            .later()
            .ok()?;
        let end_date = if self.end < self.start {
            date.tomorrow().ok()?
        } else {
            date
        };
        let end = self
            .zone
            .to_ambiguous_timestamp(end_date.to_datetime(self.end))
            .later()
            .ok()?;
        Some((start, end))
    }

    /// The opening that contains `at`, as `(opened, closes)`.
    pub(crate) fn open_at(&self, at: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let today = at.to_zoned_datetime(self.zone.clone()).date();
        [today.yesterday().ok(), Some(today)]
            .into_iter()
            .flatten()
            .filter_map(|d| self.opening_on(d))
            .find(|(start, end)| *start <= at && at < *end)
    }

    /// `at` if the window is open then, else the next moment it opens.
    pub(crate) fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        if self.open_at(at).is_some() {
            return Some(at);
        }
        let mut date = at
            .to_zoned_datetime(self.zone.clone())
            .date()
            .yesterday()
            .ok()?;
        for _ in 0..9 {
            if let Some((start, _)) = self.opening_on(date) {
                if start >= at {
                    return Some(start);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    #[cfg(test)]
    fn crosses_midnight(&self) -> bool {
        self.end < self.start
    }

    fn days_text(&self) -> String {
        // Canonical: consecutive runs of three or more days as ranges, the rest as a list.
        let mut items = Vec::new();
        let mut i = 0;
        while i < 7 {
            if !self.days[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i + 1 < 7 && self.days[i + 1] {
                i += 1;
            }
            match i - start {
                0 => items.push(Weekday::ALL[start].name().to_owned()),
                1 => {
                    items.push(Weekday::ALL[start].name().to_owned());
                    items.push(Weekday::ALL[i].name().to_owned());
                }
                _ => items.push(format!(
                    "{}-{}",
                    Weekday::ALL[start].name(),
                    Weekday::ALL[i].name()
                )),
            }
            i += 1;
        }
        items.join(",")
    }
}

fn shift(mut e: GrammarError, by: usize) -> GrammarError {
    e.at = e.at.map(|r| r.start + by..r.end + by);
    e
}

fn parse_days(text: &str) -> Result<[bool; 7], GrammarError> {
    let mut days = [false; 7];
    let mut offset = 0;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(
                GrammarError::new("a window's days have an empty entry", HELP)
                    .at(offset..offset + 1),
            );
        }
        let (first, last) = item.split_once('-').unwrap_or((item, item));
        let first_day = day(first, offset)?;
        let last_day = day(last, offset + first.len() + 1)?;
        // A range may wrap the week: `Fri-Mon` is Friday through Monday.
        let mut d = first_day.index();
        loop {
            days[d] = true;
            if d == last_day.index() {
                break;
            }
            d = (d + 1) % 7;
        }
        offset += item.len() + 1;
    }
    Ok(days)
}

fn day(text: &str, at: usize) -> Result<Weekday, GrammarError> {
    Weekday::parse(text).ok_or_else(|| {
        let lower = text.to_lowercase();
        let guess = Weekday::NAMES
            .iter()
            .find(|n| lower.starts_with(&n.to_lowercase()) && !lower.is_empty())
            .or_else(|| {
                Weekday::NAMES
                    .iter()
                    .filter(|n| lower.chars().count().abs_diff(n.len()) <= 1)
                    .find(|n| strsim::damerau_levenshtein(&lower, &n.to_lowercase()) <= 1)
            });
        let help = match guess {
            Some(name) => format!("did you mean `{name}`? Days are Mon, Tue, Wed, Thu, Fri, Sat, Sun"),
            None => "days are Mon, Tue, Wed, Thu, Fri, Sat, Sun, as ranges (`Mon-Fri`) or lists (`Sat,Sun`)".to_owned(),
        };
        let message = if text.is_empty() {
            "a window's day range is missing a day".to_owned()
        } else {
            format!("`{text}` is not a day")
        };
        GrammarError::new(message, help).at(at..at + text.len().max(1))
    })
}

fn parse_times(text: &str) -> Result<(Time, Time), GrammarError> {
    let Some((start, end)) = text.split_once('-') else {
        return Err(GrammarError::new(
            format!("`{text}` is not a time range"),
            "write the times as `HH:MM-HH:MM`, such as `18:00-22:00`",
        )
        .at(0..text.len()));
    };
    let start_time = clock(start, 0)?;
    let end_time = clock(end, start.len() + 1)?;
    if start_time == end_time {
        return Err(GrammarError::new(
            "a window cannot open and close at the same time",
            "give it a length, such as `18:00-22:00`; a window that ends before it starts crosses midnight",
        )
        .at(0..text.len()));
    }
    Ok((start_time, end_time))
}

fn clock(text: &str, at: usize) -> Result<Time, GrammarError> {
    let bad = || {
        GrammarError::new(
            format!("`{text}` is not a time of day"),
            "write times as 24-hour `HH:MM`, from `00:00` to `23:59`",
        )
        .at(at..at + text.len().max(1))
    };
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let hour: i8 = h.parse().map_err(|_| bad())?;
    let minute: i8 = m.parse().map_err(|_| bad())?;
    Time::new(hour, minute, 0, 0).map_err(|_| bad())
}

/// The error for a zone that is not an IANA name, with a suggestion that keeps its offset.
fn unknown_zone(zone: &str) -> GrammarError {
    let help = super::zone_hint::suggest(zone).unwrap_or_else(|| {
        "use an IANA time zone name such as \"America/New_York\" or \"Europe/London\"".to_owned()
    });
    GrammarError::new(format!("\"{zone}\" is not a known IANA time zone"), help)
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}-{} {}",
            self.days_text(),
            self.start.strftime("%H:%M"),
            self.end.strftime("%H:%M"),
            self.zone_name
        )
    }
}

impl Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        for (text, canonical) in [
            (
                "Mon-Fri 18:00-22:00 America/New_York",
                "Mon-Fri 18:00-22:00 America/New_York",
            ),
            (
                "Sat,Sun 08:00-12:00 Europe/London",
                "Sat,Sun 08:00-12:00 Europe/London",
            ),
            ("Mon 00:00-23:59 UTC", "Mon 00:00-23:59 UTC"),
            (
                "Fri-Mon 22:00-02:00 Europe/Paris",
                "Mon,Fri-Sun 22:00-02:00 Europe/Paris",
            ),
            (
                "Mon,Tue,Wed 09:00-10:00 Asia/Tokyo",
                "Mon-Wed 09:00-10:00 Asia/Tokyo",
            ),
        ] {
            let w = Window::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(w.to_string(), canonical);
        }
        let w = Window::parse("Fri 22:00-02:00 UTC").expect("crosses midnight");
        assert!(w.crosses_midnight());
        assert!(w.opens_on(Weekday::Fri) && !w.opens_on(Weekday::Sat));
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn openings() {
        let w = Window::parse("Mon-Fri 18:00-22:00 America/New_York").expect("window");
        // Monday 2026-12-07, 17:59 in New York: opens a minute later.
        assert_eq!(
            w.next_open(at("2026-12-07T22:59:00Z")),
            Some(at("2026-12-07T23:00:00Z"))
        );
        assert_eq!(
            w.next_open(at("2026-12-07T23:30:00Z")),
            Some(at("2026-12-07T23:30:00Z"))
        );
        assert_eq!(
            w.open_at(at("2026-12-07T23:30:00Z")),
            Some((at("2026-12-07T23:00:00Z"), at("2026-12-08T03:00:00Z")))
        );
        // Friday after closing: next Monday.
        assert_eq!(
            w.next_open(at("2026-12-12T04:00:00Z")),
            Some(at("2026-12-14T23:00:00Z"))
        );
        // Crossing midnight: Friday 23:00 to Saturday 01:30 London; Saturday 00:30 is inside.
        let late = Window::parse("Fri 23:00-01:30 Europe/London").expect("window");
        assert!(late.open_at(at("2026-12-12T00:30:00Z")).is_some());
        assert!(late.open_at(at("2026-12-12T02:00:00Z")).is_none());
        assert_eq!(
            late.next_open(at("2026-12-12T02:00:00Z")),
            Some(at("2026-12-18T23:00:00Z"))
        );
    }

    #[test]
    fn openings_across_dst() {
        // 2027-03-14: New York skips 02:00-03:00. A window opening at 02:30 that Sunday opens at
        // the later instant, 03:30 EDT (07:30Z); the next Sunday it is 02:30 EDT again.
        let w = Window::parse("Sun 02:30-04:00 America/New_York").expect("window");
        assert_eq!(
            w.next_open(at("2027-03-14T05:00:00Z")),
            Some(at("2027-03-14T07:30:00Z"))
        );
        assert_eq!(
            w.next_open(at("2027-03-15T00:00:00Z")),
            Some(at("2027-03-21T06:30:00Z"))
        );
        // 2026-11-01: 01:30 happens twice; the later one is 01:30 EST (06:30Z).
        let fold = Window::parse("Sun 01:30-03:00 America/New_York").expect("window");
        assert_eq!(
            fold.next_open(at("2026-11-01T04:00:00Z")),
            Some(at("2026-11-01T06:30:00Z"))
        );
    }

    #[test]
    fn rejects_with_a_place() {
        let text = "Mon-Fir 18:00-22:00 America/New_York";
        let e = Window::parse(text).expect_err(text);
        assert_eq!(e.at, Some(4..7));
        assert!(e.help.contains("`Fri`"), "{}", e.help);
        for (text, at) in [
            ("18:00-22:00 America/New_York", None),
            ("Mon-Fri 18:00-22:00", None),
            ("Mon-Fri 18:00-25:00 UTC", Some(14..19)),
            ("Mon-Fri 18:00 UTC", Some(8..13)),
            ("Mon-Fri 18:00-18:00 UTC", Some(8..19)),
            ("Mon-Fri 18:00-22:00 America/New_Yrok", Some(20..36)),
            (",Mon 18:00-22:00 UTC", Some(0..1)),
            ("Mon- 18:00-22:00 UTC", Some(4..5)),
            ("Mon-Fri  18:00-22:00 UTC", Some(7..8)),
            ("Mon-Fri 6:00-22:00 UTC", Some(8..12)),
        ] {
            let e = Window::parse(text).expect_err(text);
            assert_eq!(e.at, at, "{text}: {}", e.message);
        }
        let e = Window::parse("Mon-Fri 18:00-22:00 America/New_Yrok").expect_err("zone");
        assert!(e.help.contains("America/New_York"), "{}", e.help);
        let text = "Mon-Fri 18:00-22:00 Central Standard Time";
        let e = Window::parse(text).expect_err(text);
        assert_eq!(e.at, Some(20..text.len()));
        assert!(e.help.contains("\"America/Chicago\""), "{}", e.help);
        for (zone, suggested) in [("CST", "America/Chicago"), ("UTC-6", "Etc/GMT+6")] {
            let e = Window::parse(&format!("Mon 09:00-10:00 {zone}")).expect_err(zone);
            assert!(e.help.contains(suggested), "{zone}: {}", e.help);
            assert!(
                !e.help.contains("CET") && !e.help.contains("\"UTC\""),
                "{}",
                e.help
            );
        }
    }
}
