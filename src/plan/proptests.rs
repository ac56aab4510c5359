//! Property tests for the plan reader: whatever text arrives, it answers with a plan or with
//! located diagnostics — never a panic, never an error without a place inside the file.

use std::path::Path;

use proptest::prelude::*;

use super::grammar::{PlanDuration, Share, Window};
use super::{LoadError, load_text};

const EXAMPLES: [&str; 3] = [
    include_str!("../../plans/quickstart.toml"),
    include_str!("../../plans/first-harbor.toml"),
    include_str!("../../plans/weekend-rollback.toml"),
];

/// Checks the contract of `load_text` for one input.
fn check(text: &str) -> Result<(), TestCaseError> {
    match load_text(Path::new("plans/p.toml"), text) {
        Ok(_) => {}
        Err(LoadError::Invalid { diagnostics }) => {
            prop_assert!(
                diagnostics.iter().any(|d| d.is_error()),
                "invalid without an error"
            );
            for d in &diagnostics {
                let len = d.file.text().len();
                prop_assert!(
                    d.span.start <= d.span.end && d.span.end <= len,
                    "span {:?} outside 0..{len}: {}",
                    d.span,
                    d.message
                );
                prop_assert!(
                    d.file.text().is_char_boundary(d.span.start),
                    "span starts inside a character: {}",
                    d.message
                );
                prop_assert!(
                    d.file.text().is_char_boundary(d.span.end),
                    "span ends inside a character: {}",
                    d.message
                );
                prop_assert!(!d.message.is_empty());
                let (line, column) = d.position();
                prop_assert!(line >= 1 && column >= 1);
            }
        }
        Err(e) => prop_assert!(false, "load_text only reports diagnostics, got {e}"),
    }
    Ok(())
}

/// A plan text with one edit: a range deleted, a fragment inserted, or a line repeated.
fn mutated() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("\"".to_owned()),
        Just("[".to_owned()),
        Just("]]".to_owned()),
        Just("=".to_owned()),
        Just("\n[[batch]]\n".to_owned()),
        Just("users = \"remaining\"\n".to_owned()),
        Just("token = \"s3cret\"\n".to_owned()),
        Just("{ location = ".to_owned()),
        Just("é".to_owned()),
        Just("\u{feff}".to_owned()),
        "[ -~]{0,12}",
        "\\PC{0,4}",
    ];
    (
        0..EXAMPLES.len(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        fragment,
        0..3u8,
    )
        .prop_map(|(which, a, b, fragment, op)| {
            let base = EXAMPLES[which];
            let mut cut = [a.index(base.len() + 1), b.index(base.len() + 1)];
            cut.sort_unstable();
            let [mut start, mut end] = cut;
            while !base.is_char_boundary(start) {
                start -= 1;
            }
            while !base.is_char_boundary(end) {
                end -= 1;
            }
            match op {
                0 => format!("{}{}", &base[..start], &base[end..]),
                1 => format!("{}{fragment}{}", &base[..start], &base[start..]),
                _ => {
                    let line_start = base[..start].rfind('\n').map_or(0, |i| i + 1);
                    let line_end = base[start..]
                        .find('\n')
                        .map_or(base.len(), |i| start + i + 1);
                    format!("{}{}", &base[..line_end], &base[line_start..])
                }
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        check(&text)?;
    }

    #[test]
    fn toml_shaped_text_never_panics(text in "([a-z_]{1,8} = (\"[ -~]{0,10}\"|[0-9]{1,3}|true|\\[\\]|\\{ ?\\})\n|\\[{1,2}[a-z.]{1,8}\\]{1,2}\n){0,12}") {
        check(&text)?;
    }

    #[test]
    fn mutated_plans_never_panic(text in mutated()) {
        check(&text)?;
    }

    #[test]
    fn durations_round_trip(seconds in 0u64..=366 * 86_400) {
        let d = PlanDuration::from_seconds(seconds);
        prop_assert_eq!(PlanDuration::parse(&d.to_string()), Ok(d));
    }

    #[test]
    fn shares_round_trip(whole in 0u64..100, fraction in 0u64..1000) {
        let text = format!("{whole}.{fraction:03}%");
        let share = Share::parse(&text).map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert_eq!(Share::parse(&share.to_string()), Ok(share));
    }

    #[test]
    fn windows_round_trip(days in 1u8..128, start in 0u32..1440, length in 1u32..1440) {
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let list: Vec<&str> = (0..7).filter(|i| days & (1 << i) != 0).map(|i| names[i]).collect();
        let end = (start + length) % 1440;
        let text = format!("{} {:02}:{:02}-{:02}:{:02} Europe/London", list.join(","), start / 60, start % 60, end / 60, end % 60);
        let window = Window::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {}", e.message)))?;
        prop_assert_eq!(Window::parse(&window.to_string()), Ok(window));
    }
}

/// Input that would make a finding per character or per line is answered with a bounded number
/// of findings, the last saying that there are more.
#[test]
fn findings_are_bounded() {
    use crate::diagnostic::MAX_FINDINGS;
    let equals = format!("name = \"x\"\nna{}\n", "=".repeat(100_000));
    let keys: String = (0..20_000).map(|i| format!("key{i} = 1\n")).collect();
    for (text, most) in [(equals, 1_002), (keys, MAX_FINDINGS + 1)] {
        match load_text(Path::new("plans/p.toml"), &text) {
            Err(LoadError::Invalid { diagnostics }) => {
                assert!(diagnostics.len() <= most, "{}", diagnostics.len());
                assert!(diagnostics.len() > 500, "{}", diagnostics.len());
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A value or key tens of thousands of characters long is not compared, character by character,
/// against every name it might be a typo of (the fuzzer's 66 KB plan took 16 s): suggestions stay
/// cheap, and still found for real typos.
#[test]
fn long_names_are_not_typos() {
    use super::grammar::Window;
    let long = "x".repeat(65_000);
    assert_eq!(super::structure::closest(&long, &["soak", "timeout"]), None);
    assert_eq!(
        super::structure::closest("timout", &["soak", "timeout"]),
        Some("timeout")
    );
    let e = Window::parse(&format!("Mon-Fri 18:00-22:00 {long}")).expect_err("zone");
    assert!(!e.help.contains("did you mean"), "{}", e.help);
    let e = Window::parse(&format!("{long} 18:00-22:00 UTC")).expect_err("days");
    assert!(!e.help.contains("did you mean"), "{}", e.help);
}
