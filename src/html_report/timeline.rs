//! The timeline chart: one row per step, its projected window beside what happened, as plain
//! inline SVG written here (no script, nothing fetched), and the same data as a table for
//! people who cannot see the chart.
//!
//! Greyscale-safe: the projected window is a hatched outline, the actual run a solid bar, and
//! each event has its own shape (circle start, diamond switch, square pass, cross halt,
//! triangle rollback), so nothing depends on colour.

use std::fmt::Write;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::escape;
use crate::plan::Plan;
use crate::plan::grammar::PlanDuration;
use crate::state::{AuditEntry, AuditKind, RunState, StepPhase};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkKind {
    Start,
    Switch,
    Pass,
    Halt,
    RolledBack,
    Connected,
    Disconnected,
}

impl MarkKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            MarkKind::Start => "started",
            MarkKind::Switch => "switched",
            MarkKind::Pass => "gate passed",
            MarkKind::Halt => "halted",
            MarkKind::RolledBack => "rolled back",
            MarkKind::Connected => "authorized",
            MarkKind::Disconnected => "disconnected",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    pub(crate) at: Timestamp,
    pub(crate) kind: MarkKind,
}

/// One step's row.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) step: String,
    /// The earliest start and pass the dry-run projected.
    pub(crate) projected: Option<(Timestamp, Timestamp)>,
    pub(crate) marks: Vec<Mark>,
    pub(crate) zone: TimeZone,
}

impl Row {
    /// From the first event to the last, if anything happened.
    fn actual(&self) -> Option<(Timestamp, Timestamp)> {
        let first = self.marks.iter().map(|m| m.at).min()?;
        let last = self.marks.iter().map(|m| m.at).max()?;
        Some((first, last))
    }
}

/// The ids of a plan's steps in order, waves as the state knows them.
pub(crate) fn step_ids(plan: &Plan, state: &RunState) -> Vec<(String, String)> {
    let mut ids = Vec::new();
    for step in plan.pilot.iter().chain(&plan.batches) {
        let name = step.name.to_string();
        match step.max_size {
            Some(size) => {
                let frozen = state.batches.get(&name).map_or(0, |b| b.len());
                let waves = frozen.div_ceil(size.get() as usize).max(1);
                for n in 1..=waves {
                    ids.push((format!("{name}#{n}"), name.clone()));
                }
            }
            None => ids.push((name.clone(), name)),
        }
    }
    ids
}

fn add(at: Timestamp, duration: PlanDuration) -> Timestamp {
    let seconds = i64::try_from(duration.seconds()).unwrap_or(i64::MAX);
    at.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(at)
}

/// The windows the dry-run would have projected when the rollout started: each step at the
/// earliest after the one before it passed, inside its `not_before` and window, its gate passing
/// after its soak; the disconnect after its quiet time.
pub(crate) fn projected_at_start(
    plan: &Plan,
    state: &RunState,
    start: Timestamp,
) -> Vec<(String, Timestamp, Timestamp)> {
    let mut cursor = start;
    let mut out = vec![("connect".to_owned(), cursor, cursor)];
    for (id, name) in step_ids(plan, state) {
        let Some(step) = plan
            .pilot
            .iter()
            .chain(&plan.batches)
            .find(|s| s.name.as_str() == name)
        else {
            continue;
        };
        let mut at = cursor;
        if let Some(not_before) = step.not_before {
            at = at.max(not_before.timestamp());
        }
        if let Some(window) = &step.window {
            at = window.next_open(at).unwrap_or(at);
        }
        let pass = add(at, step.gate.soak);
        out.push((id, at, pass));
        cursor = pass;
    }
    let at = add(cursor, plan.disconnect.after);
    out.push(("disconnect".to_owned(), at, at));
    out
}

/// What the audit trail says happened to each step.
pub(crate) fn marks(audit: &[AuditEntry]) -> Vec<(String, Mark)> {
    audit
        .iter()
        .filter_map(|e| {
            let kind = match e.kind {
                AuditKind::StepStarted => MarkKind::Start,
                AuditKind::Step(StepPhase::Verifying) => MarkKind::Switch,
                AuditKind::Step(StepPhase::Passed) => MarkKind::Pass,
                AuditKind::Step(StepPhase::Halted) => MarkKind::Halt,
                AuditKind::Step(StepPhase::RolledBack) => MarkKind::RolledBack,
                AuditKind::Authorized => MarkKind::Connected,
                AuditKind::Disconnected => MarkKind::Disconnected,
                // A gate's halt is its step's `step_halted`; the disconnect halts on its own.
                AuditKind::Halted if e.step.as_deref() == Some("disconnect") => MarkKind::Halt,
                _ => return None,
            };
            let step = match kind {
                MarkKind::Connected => "connect".to_owned(),
                MarkKind::Disconnected => "disconnect".to_owned(),
                _ => e.step.clone()?,
            };
            Some((step, Mark { at: e.at, kind }))
        })
        .collect()
}

/// A time on an axis or in the table, in the row's zone.
fn short(at: Timestamp, zone: &TimeZone, span: SignedDuration) -> String {
    let zoned = at.to_zoned_datetime(zone.clone());
    let format = if span <= SignedDuration::from_hours(20) {
        if span <= SignedDuration::from_mins(10) {
            "%H:%M:%S"
        } else {
            "%H:%M"
        }
    } else {
        "%a %d %b %H:%M"
    };
    zoned.strftime(format).to_string()
}

const TICKS: [i64; 20] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172_800, 604_800,
];

const WIDTH: f64 = 960.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 44.0;
const ROW: f64 = 36.0;

/// The chart, as an `<svg>` element. `zone` labels the axis.
pub(crate) fn svg(rows: &[Row], zone: &TimeZone, zone_label: &str) -> String {
    let times = rows.iter().flat_map(|r| {
        r.projected
            .into_iter()
            .flat_map(|(a, b)| [a, b])
            .chain(r.marks.iter().map(|m| m.at))
    });
    let (mut lo, mut hi) = times.fold((None::<Timestamp>, None::<Timestamp>), |(lo, hi), t| {
        (
            Some(lo.map_or(t, |l: Timestamp| l.min(t))),
            Some(hi.map_or(t, |h: Timestamp| h.max(t))),
        )
    });
    let (Some(start), Some(end)) = (lo.take(), hi.take()) else {
        return String::new();
    };
    let span_secs = end.duration_since(start).as_secs().max(10);
    let pad = (span_secs / 20).max(1);
    let from = start - SignedDuration::from_secs(pad);
    let to = end + SignedDuration::from_secs(pad);
    let total = to.duration_since(from).as_secs_f64().max(1.0);
    let plot = WIDTH - LEFT - RIGHT;
    let x = |t: Timestamp| LEFT + plot * (t.duration_since(from).as_secs_f64() / total);
    let height = TOP + ROW * rows.len() as f64 + 70.0;
    let span = to.duration_since(from);

    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="timeline-title timeline-desc"><title id="timeline-title">Timeline: projected window and what happened, per step</title><desc id="timeline-desc">One row per step. A hatched outline is the window the dry-run projected; a solid bar runs from the step's first to its last recorded event; a circle marks its start, a diamond its switch, a square its gate passing, a cross a halt, a triangle a rollback. Times in {zone}. The table after the chart gives the same data as text.</desc>"##,
        zone = escape(zone_label)
    );
    s.push_str(
        r##"<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#555" stroke-width="1.5"/></pattern></defs>"##,
    );
    // The axis: ticks at a round interval, labelled in the plan's zone.
    let tick = TICKS
        .iter()
        .copied()
        .find(|t| total / (*t as f64) <= 8.0)
        .unwrap_or(604_800);
    let first = from.as_second().div_euclid(tick) * tick + tick;
    let mut at = first;
    while at < to.as_second() {
        if let Ok(t) = Timestamp::from_second(at) {
            let px = x(t);
            let _ = write!(
                s,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{bottom:.1}" class="grid"/><text x="{px:.1}" y="{label_y:.1}" class="tick" text-anchor="middle">{label}</text>"##,
                bottom = TOP + ROW * rows.len() as f64,
                label_y = TOP - 10.0,
                label = escape(&short(t, zone, span)),
            );
        }
        at += tick;
    }
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="16" class="axis-title">Time ({})</text>"##,
        escape(zone_label)
    );
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let mid = y + ROW / 2.0;
        let _ = write!(
            s,
            r##"<g class="row"><text x="{lx}" y="{ty:.1}" class="step-label">{name}</text>"##,
            lx = LEFT - 8.0,
            ty = mid + 4.0,
            name = escape(&row.step),
        );
        if let Some((a, b)) = row.projected {
            let (xa, xb) = (x(a), x(b));
            let _ = write!(
                s,
                r##"<rect x="{xa:.1}" y="{ry:.1}" width="{w:.1}" height="12" class="projected" fill="url(#hatch)"><title>{title}</title></rect>"##,
                ry = y + 5.0,
                w = (xb - xa).max(4.0),
                title = escape(&format!(
                    "{}: projected {} to {}",
                    row.step,
                    short(a, &row.zone, span),
                    short(b, &row.zone, span)
                )),
            );
        }
        if let Some((a, b)) = row.actual() {
            let (xa, xb) = (x(a), x(b));
            let _ = write!(
                s,
                r##"<rect x="{xa:.1}" y="{ry:.1}" width="{w:.1}" height="10" class="actual"/>"##,
                ry = y + 20.0,
                w = (xb - xa).max(3.0),
            );
        }
        for mark in &row.marks {
            let (px, py) = (x(mark.at), y + 25.0);
            let title = escape(&format!(
                "{}: {} {}",
                row.step,
                mark.kind.label(),
                short(mark.at, &row.zone, span)
            ));
            s.push_str(&shape(mark.kind, px, py, &title));
        }
        s.push_str("</g>");
    }
    // The legend, with the same shapes.
    let ly = TOP + ROW * rows.len() as f64 + 30.0;
    let _ = write!(
        s,
        r##"<g class="legend"><rect x="{LEFT}" y="{y1:.1}" width="28" height="12" class="projected" fill="url(#hatch)"/><text x="{t1}" y="{ty:.1}">projected</text><rect x="{x2}" y="{y2:.1}" width="28" height="10" class="actual"/><text x="{t2}" y="{ty:.1}">actual</text>"##,
        y1 = ly - 10.0,
        t1 = LEFT + 34.0,
        x2 = LEFT + 120.0,
        y2 = ly - 9.0,
        t2 = LEFT + 154.0,
        ty = ly,
    );
    let mut lx = LEFT + 230.0;
    for kind in [
        MarkKind::Start,
        MarkKind::Switch,
        MarkKind::Pass,
        MarkKind::Halt,
        MarkKind::RolledBack,
    ] {
        s.push_str(&shape(kind, lx, ly - 4.0, kind.label()));
        let _ = write!(
            s,
            r##"<text x="{tx:.1}" y="{ly:.1}">{}</text>"##,
            kind.label(),
            tx = lx + 10.0
        );
        lx += 104.0;
    }
    s.push_str("</g></svg>");
    s
}

/// An event's shape at `(x, y)`, with its (escaped) title.
fn shape(kind: MarkKind, x: f64, y: f64, title: &str) -> String {
    match kind {
        MarkKind::Start | MarkKind::Connected => format!(
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="5" class="mark start"><title>{title}</title></circle>"##
        ),
        MarkKind::Switch => format!(
            r##"<path d="M{x:.1} {a:.1} L{r:.1} {y:.1} L{x:.1} {b:.1} L{l:.1} {y:.1} Z" class="mark switch"><title>{title}</title></path>"##,
            a = y - 6.0,
            b = y + 6.0,
            l = x - 6.0,
            r = x + 6.0
        ),
        MarkKind::Pass | MarkKind::Disconnected => format!(
            r##"<rect x="{l:.1}" y="{t:.1}" width="10" height="10" class="mark pass"><title>{title}</title></rect>"##,
            l = x - 5.0,
            t = y - 5.0
        ),
        MarkKind::Halt => format!(
            r##"<path d="M{l:.1} {t:.1} L{r:.1} {b:.1} M{r:.1} {t:.1} L{l:.1} {b:.1}" class="mark halt"><title>{title}</title></path>"##,
            l = x - 6.0,
            r = x + 6.0,
            t = y - 6.0,
            b = y + 6.0
        ),
        MarkKind::RolledBack => format!(
            r##"<path d="M{x:.1} {t:.1} L{r:.1} {b:.1} L{l:.1} {b:.1} Z" class="mark rollback"><title>{title}</title></path>"##,
            l = x - 6.0,
            r = x + 6.0,
            t = y - 6.0,
            b = y + 5.0
        ),
    }
}

/// The same data as text, a row per step, times with weekday and zone.
pub(crate) fn text_rows(rows: &[Row]) -> Vec<[String; 3]> {
    rows.iter()
        .map(|row| {
            let projected = row.projected.map_or_else(
                || "not projected".to_owned(),
                |(a, b)| {
                    if a == b {
                        crate::dry_run::day_time(a, &row.zone)
                    } else {
                        format!(
                            "{} to {}",
                            crate::dry_run::day_time(a, &row.zone),
                            crate::dry_run::day_time(b, &row.zone)
                        )
                    }
                },
            );
            let actual = if row.marks.is_empty() {
                "not started".to_owned()
            } else {
                row.marks
                    .iter()
                    .map(|m| {
                        format!(
                            "{} {}",
                            m.kind.label(),
                            crate::dry_run::day_time(m.at, &row.zone)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            [row.step.clone(), projected, actual]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("time")
    }

    #[test]
    fn the_chart_escapes_names_and_draws_each_event_with_its_shape() {
        let rows = vec![Row {
            step: "<east>".to_owned(),
            projected: Some((at(0), at(30))),
            marks: vec![
                Mark {
                    at: at(1),
                    kind: MarkKind::Start,
                },
                Mark {
                    at: at(5),
                    kind: MarkKind::Halt,
                },
                Mark {
                    at: at(9),
                    kind: MarkKind::Pass,
                },
            ],
            zone: TimeZone::UTC,
        }];
        let chart = svg(&rows, &TimeZone::UTC, "UTC");
        assert!(chart.starts_with("<svg") && chart.ends_with("</svg>"));
        assert!(chart.contains("&lt;east&gt;") && !chart.contains("<east>"));
        for class in [
            "mark start",
            "mark halt",
            "mark pass",
            "projected",
            "actual",
        ] {
            assert!(chart.contains(class), "{class}");
        }
        let text = text_rows(&rows);
        assert_eq!(text[0][0], "<east>", "the table is escaped by the template");
        assert!(text[0][2].starts_with("started "), "{:?}", text[0]);
    }

    #[test]
    fn no_times_no_chart() {
        assert_eq!(svg(&[], &TimeZone::UTC, "UTC"), "");
    }
}
