//! `cutover schema`: the plan's JSON Schema on stdout.

use crate::exit_code::Exit;
use crate::plan::plan_schema_text;

use super::Output;

pub(crate) fn run(out: &Output) -> Exit {
    out.stdout(&plan_schema_text());
    Exit::Done
}
