//! The end of `fleet apply`: one line per plan (its exit code and last line), then the counts
//! and the fleet's exit code — or, with `--format json`, one last object saying the same.

use super::exit::{PlanResult, counted};
use crate::clock::Clock;
use crate::exit_code::Exit;

pub(super) fn text(results: &[PlanResult], exit: Exit) -> String {
    let width = results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut text = format!("\n{:<width$}  EXIT  LAST LINE\n", "PLAN");
    for r in results {
        text.push_str(&format!(
            "{:<width$}  {:<4}  {}\n",
            r.name,
            counted(r.exit) as i32,
            r.line
        ));
    }
    text.push_str(&format!(
        "fleet: {} plan(s): {}; exit {}\n",
        results.len(),
        counts(results),
        exit as i32
    ));
    text
}

pub(super) fn json(results: &[PlanResult], exit: Exit, clock: Clock) -> serde_json::Value {
    let plans: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            serde_json::json!({
                "plan": r.name,
                "file": r.file,
                "exit_code": counted(r.exit) as i32,
                "skipped": r.exit == Exit::Locked,
                "line": r.line,
            })
        })
        .collect();
    serde_json::json!({
        "event": "fleet_ended",
        "at": clock.now().to_string(),
        "exit_code": exit as i32,
        "plans": plans,
    })
}

/// `18 done, 2 run elsewhere`: how many plans ended each way, most urgent first.
fn counts(results: &[PlanResult]) -> String {
    let words = [
        (Exit::Invalid, "invalid"),
        (Exit::Halted, "halted"),
        (Exit::Failure, "failed"),
        (Exit::NeedsPerson, "waiting for a person"),
        (Exit::Waiting, "waiting"),
        (Exit::Locked, "run elsewhere"),
        (Exit::Interrupted, "interrupted"),
        (Exit::Terminated, "terminated"),
        (Exit::Done, "done"),
    ];
    let parts: Vec<String> = words
        .iter()
        .filter_map(|(code, word)| {
            let n = results.iter().filter(|r| r.exit == *code).count();
            (n > 0).then(|| format!("{n} {word}"))
        })
        .collect();
    // The exit code counts a plan run elsewhere as waiting; the words keep them apart.
    parts.join(", ")
}
