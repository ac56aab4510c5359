//! `cutover schema`: the plan's JSON Schema (or, with `--openapi`, the admin API's OpenAPI
//! document; with `--notification`, the JSON notifications' schema) on stdout.

use crate::exit_code::Exit;
use crate::plan::plan_schema_text;

use super::Output;

pub(crate) fn run(openapi: bool, notification: bool, out: &Output) -> Exit {
    if notification {
        out.stdout(&crate::notify::notification_schema_text());
    } else if openapi {
        out.stdout(&crate::api::openapi_text());
    } else {
        out.stdout(&plan_schema_text());
    }
    Exit::Done
}
