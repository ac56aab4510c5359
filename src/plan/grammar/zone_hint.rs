//! What to suggest for a window's time zone that is not an IANA name.
//!
//! A wrong suggestion here moves a change window by hours, so a suggestion must keep the UTC
//! offset the plan's author meant. What they wrote says which it is:
//! - a Windows zone name (`Central Standard Time`, as Exchange admins write it) has its IANA zone
//!   in the CLDR's table ([`WINDOWS_ZONES`]);
//! - an offset (`UTC-6`, `GMT+05:30`) is the fixed-offset zone `Etc/GMT+6` (whole hours), or the
//!   zones that keep that offset;
//! - an abbreviation (`CST`) stands for the offsets in [`ABBREVIATIONS`] (`CST` is US Central,
//!   China or Cuba — never Central European), and one that is not there gets no guess;
//! - anything else is a misspelling, matched by edit distance against the IANA and Windows names.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

use super::windows_zones::WINDOWS_ZONES;

/// Abbreviations in common use that are not IANA zone names: what each stands for (the UTC
/// offset, in minutes) and an IANA zone that keeps that offset (in its summer, for a summer
/// abbreviation). A test checks each zone against the bundled database.
const ABBREVIATIONS: &[(&str, i32, &str, &str)] = &[
    ("ACST", 570, "Australia/Darwin", "Central Australia"),
    ("ADT", -180, "America/Halifax", "Atlantic, summer"),
    ("AEDT", 660, "Australia/Sydney", "Eastern Australia, summer"),
    ("AEST", 600, "Australia/Brisbane", "Eastern Australia"),
    ("AKDT", -480, "America/Anchorage", "Alaska, summer"),
    ("AKST", -540, "America/Anchorage", "Alaska"),
    ("ART", -180, "America/Argentina/Buenos_Aires", "Argentina"),
    ("AST", -240, "America/Halifax", "Atlantic"),
    ("AWST", 480, "Australia/Perth", "Western Australia"),
    ("BRT", -180, "America/Sao_Paulo", "Brasília"),
    ("BST", 60, "Europe/London", "British summer"),
    ("CAT", 120, "Africa/Maputo", "Central Africa"),
    ("CDT", -300, "America/Chicago", "US Central, summer"),
    ("CEST", 120, "Europe/Berlin", "Central Europe, summer"),
    ("CST", -360, "America/Chicago", "US Central"),
    ("CST", 480, "Asia/Shanghai", "China"),
    ("CST", -300, "America/Havana", "Cuba"),
    ("EAT", 180, "Africa/Nairobi", "East Africa"),
    ("EDT", -240, "America/New_York", "US Eastern, summer"),
    ("EEST", 180, "Europe/Athens", "Eastern Europe, summer"),
    ("GST", 240, "Asia/Dubai", "Gulf"),
    ("HKT", 480, "Asia/Hong_Kong", "Hong Kong"),
    ("ICT", 420, "Asia/Bangkok", "Indochina"),
    ("IST", 330, "Asia/Kolkata", "India"),
    ("IST", 60, "Europe/Dublin", "Ireland, summer"),
    ("IST", 120, "Asia/Jerusalem", "Israel"),
    ("JST", 540, "Asia/Tokyo", "Japan"),
    ("KST", 540, "Asia/Seoul", "Korea"),
    ("MDT", -360, "America/Denver", "US Mountain, summer"),
    ("MSK", 180, "Europe/Moscow", "Moscow"),
    ("NST", -210, "America/St_Johns", "Newfoundland"),
    ("NZDT", 780, "Pacific/Auckland", "New Zealand, summer"),
    ("NZST", 720, "Pacific/Auckland", "New Zealand"),
    ("PDT", -420, "America/Los_Angeles", "US Pacific, summer"),
    ("PKT", 300, "Asia/Karachi", "Pakistan"),
    ("PST", -480, "America/Los_Angeles", "US Pacific"),
    ("SAST", 120, "Africa/Johannesburg", "South Africa"),
    ("SGT", 480, "Asia/Singapore", "Singapore"),
    ("WAT", 60, "Africa/Lagos", "West Africa"),
    ("WEST", 60, "Europe/Lisbon", "Western Europe, summer"),
    ("WIB", 420, "Asia/Jakarta", "Western Indonesia"),
];

/// The IANA zone CLDR gives a Windows zone name (compared case-insensitively).
pub(crate) fn windows_zone(name: &str) -> Option<&'static str> {
    WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(name.trim()))
        .map(|(_, iana)| *iana)
}

/// The help line for a zone that is not an IANA name, or `None` when nothing safe can be said.
pub(crate) fn suggest(given: &str) -> Option<String> {
    if let Some(iana) = windows_zone(given) {
        return Some(format!(
            "did you mean \"{iana}\"? \"{given}\" is a Windows time zone name; \"{iana}\" is its \
             IANA zone (CLDR windowsZones)"
        ));
    }
    if let Some(minutes) = offset_minutes(given).or_else(|| posix_offset_minutes(given)) {
        return Some(for_offset(given, minutes));
    }
    if looks_like_abbreviation(given) {
        let meanings: Vec<String> = ABBREVIATIONS
            .iter()
            .filter(|(abbreviation, ..)| abbreviation.eq_ignore_ascii_case(given))
            .map(|(_, minutes, zone, place)| {
                format!("\"{zone}\" ({place}, {})", offset_text(*minutes))
            })
            .collect();
        return match meanings.as_slice() {
            [] => None,
            [one] => Some(format!(
                "\"{given}\" is an abbreviation, not a zone: did you mean {one}? A city's zone \
                 also follows its daylight saving time"
            )),
            several => Some(format!(
                "\"{given}\" is an abbreviation used for several offsets: did you mean {}?",
                several.join(", or ")
            )),
        };
    }
    closest_name(given)
}

/// The UTC offset, in minutes, that `UTC-6`, `GMT+05:30` or `+0530` stand for.
fn offset_minutes(given: &str) -> Option<i32> {
    let upper = given.trim().to_ascii_uppercase();
    let rest = ["UTC", "GMT"]
        .iter()
        .find_map(|prefix| upper.strip_prefix(prefix))
        .unwrap_or(&upper);
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() > 2 => digits.split_at(digits.len() - 2),
        None => (digits, "0"),
    };
    let valid = |s: &str, max: i32| {
        (1..=2).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<i32>().is_ok_and(|n| n <= max)
    };
    if !valid(hours, 14) || !valid(minutes, 59) {
        return None;
    }
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    Some(sign * (hours * 60 + minutes))
}

/// The offset of a POSIX `TZ` value without daylight saving time, such as `EST5` (UTC-5: POSIX
/// counts hours west of Greenwich).
fn posix_offset_minutes(given: &str) -> Option<i32> {
    let split = given.find(|c: char| !c.is_ascii_alphabetic())?;
    let (name, hours) = given.split_at(split);
    let (sign, digits) = match hours.strip_prefix('-') {
        Some(digits) => (1, digits),
        None => (-1, hours.strip_prefix('+').unwrap_or(hours)),
    };
    let valid = (3..=5).contains(&name.len())
        && (1..=2).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit());
    let hours: i32 = digits.parse().ok().filter(|_| valid)?;
    (hours <= 14).then_some(sign * hours * 60)
}

/// Zones that keep a fixed offset: `Etc/GMT±N` for whole hours (the IANA database writes their
/// sign inverted: `Etc/GMT+6` is UTC-6), else the zones with that offset.
fn for_offset(given: &str, minutes: i32) -> String {
    let offset = offset_text(minutes);
    if minutes == 0 {
        return format!("did you mean \"UTC\"? (\"{given}\" is {offset})");
    }
    if minutes % 60 == 0 && (-12..=14).contains(&(minutes / 60)) {
        let hours = minutes / 60;
        let zone = if hours > 0 {
            format!("Etc/GMT-{hours}")
        } else {
            format!("Etc/GMT+{}", -hours)
        };
        return format!(
            "did you mean \"{zone}\"? It is {offset} all year (the IANA database writes the sign \
             of Etc/GMT zones inverted); to follow a city's daylight saving time, use its zone, \
             such as \"Area/City\""
        );
    }
    let zones = zones_at(minutes * 60);
    if zones.is_empty() {
        return format!(
            "no IANA zone is at {offset}; use the zone of the city the window is for, such as \
             \"Asia/Kolkata\""
        );
    }
    let named: Vec<String> = zones.iter().take(3).map(|z| format!("\"{z}\"")).collect();
    format!(
        "\"{given}\" is an offset, not a zone; zones at {offset}: {}",
        named.join(", ")
    )
}

/// IANA zones (of cities, not `Etc/`) whose offset is `seconds` in January or in July 2026.
fn zones_at(seconds: i32) -> Vec<String> {
    let instants = ["2026-01-15T12:00:00Z", "2026-07-15T12:00:00Z"]
        .map(|t| t.parse::<Timestamp>().unwrap_or(Timestamp::UNIX_EPOCH));
    let mut zones: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.contains('/') && !name.starts_with("Etc/"))
        .filter(|name| {
            TimeZone::get(name).is_ok_and(|tz| {
                instants.iter().any(|t| {
                    tz.to_offset(*t) == Offset::from_seconds(seconds).unwrap_or(Offset::UTC)
                })
            })
        })
        .collect();
    zones.sort();
    zones
}

fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let minutes = minutes.abs();
    format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Two to five letters: an abbreviation such as `CST`, never guessed at by spelling (`CST` is
/// one letter from `CET`, seven hours away).
fn looks_like_abbreviation(given: &str) -> bool {
    (2..=5).contains(&given.len()) && given.bytes().all(|b| b.is_ascii_alphabetic())
}

/// The IANA or Windows name closest in spelling, if it is close enough to be a typo.
fn closest_name(given: &str) -> Option<String> {
    let lower = given.to_lowercase();
    let iana = jiff::tz::db()
        .available()
        .map(|name| (name.as_str().to_owned(), None));
    let windows = WINDOWS_ZONES
        .iter()
        .map(|(windows, zone)| ((*windows).to_owned(), Some(*zone)));
    let length = lower.chars().count();
    iana.chain(windows)
        // The edit distance is at least the difference in length: compare only names it allows.
        .filter(|(name, _)| length.abs_diff(name.chars().count()) <= 3)
        // A short name is an abbreviation or an offset: a typo of one is a different offset.
        .filter(|(name, _)| !looks_like_abbreviation(name) && offset_minutes(name).is_none())
        .map(|(name, zone)| {
            let distance = strsim::damerau_levenshtein(&lower, &name.to_lowercase());
            (distance, name, zone)
        })
        .filter(|(distance, ..)| *distance <= 3)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
        .map(|(_, name, zone)| match zone {
            None => format!("did you mean \"{name}\"?"),
            Some(zone) => format!(
                "did you mean \"{zone}\"? It is the IANA zone of the Windows time zone \
                 \"{name}\" (CLDR windowsZones)"
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_keep_the_offset() {
        for (given, must, must_not) in [
            ("CST", "\"America/Chicago\"", "CET"),
            ("cst", "\"Asia/Shanghai\"", "CET"),
            ("UTC-6", "\"Etc/GMT+6\"", "\"UTC\""),
            ("UTC+6", "\"Etc/GMT-6\"", "\"UTC\""),
            ("GMT-05:00", "\"Etc/GMT+5\"", "\"GMT\""),
            ("UTC+5:30", "\"Asia/Kolkata\"", "Etc/"),
            ("+0545", "\"Asia/Kathmandu\"", "Etc/"),
            ("UTC+0", "\"UTC\"", "Etc/"),
            ("EST5", "\"Etc/GMT+5\"", "EST5EDT"),
            ("CET-1", "\"Etc/GMT-1\"", "\"CET\""),
            ("PST", "\"America/Los_Angeles\"", "PST8PDT"),
            ("BST", "\"Europe/London\"", "EST"),
            ("Central Standard Time", "\"America/Chicago\"", "CET"),
            ("central standard time", "\"America/Chicago\"", "Mexico"),
            ("W. Europe Standard Time", "\"Europe/Berlin\"", "WET"),
            ("Central Standard Tme", "\"America/Chicago\"", "Mexico_City"),
            ("America/New_Yrok", "\"America/New_York\"", "Windows"),
            ("Europe/Londn", "\"Europe/London\"", "Windows"),
        ] {
            let help = suggest(given).unwrap_or_default();
            assert!(help.contains(must), "{given}: {help}");
            assert!(!help.contains(must_not), "{given}: {help}");
        }
        // Nothing safe to say: an abbreviation not in the table, or nothing close.
        for given in ["XST", "ZZZZ", "Nowhere/Special", "UTC+15", "UTC-6:75"] {
            let help = suggest(given).unwrap_or_default();
            assert!(!help.contains("did you mean"), "{given}: {help}");
        }
    }

    #[test]
    fn abbreviations_name_zones_that_keep_them() {
        let instants = ["2026-01-15T12:00:00Z", "2026-07-15T12:00:00Z"]
            .map(|t| t.parse::<Timestamp>().expect("instant"));
        for (abbreviation, minutes, zone, _) in ABBREVIATIONS {
            let tz = TimeZone::get(zone).unwrap_or_else(|e| panic!("{zone}: {e}"));
            let offsets = instants.map(|t| tz.to_offset(t).seconds());
            assert!(
                offsets.contains(&(minutes * 60)),
                "{abbreviation} → {zone}: {offsets:?}, not {minutes} min"
            );
            assert!(
                TimeZone::get(abbreviation).is_err(),
                "{abbreviation} is a zone"
            );
        }
    }

    #[test]
    fn every_windows_zone_is_in_the_bundled_database() {
        assert!(WINDOWS_ZONES.len() > 130);
        for (windows, iana) in WINDOWS_ZONES {
            assert!(TimeZone::get(iana).is_ok(), "{windows} → {iana}");
        }
        assert!(WINDOWS_ZONES.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
    }
}
