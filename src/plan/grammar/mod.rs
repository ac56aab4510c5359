//! The small grammars inside plan strings: durations, shares, times, windows, emails, names,
//! tenant IDs and URLs (with the rule for where a secret may be sent).
//!
//! Each parser is a pure function from the string's content to a typed value or a
//! [`GrammarError`] that says what is wrong, how to fix it, and (where it can) which characters
//! of the string are at fault, so the diagnostic can point inside the quotes.

mod duration;
mod email;
mod grammar_error;
mod name;
mod share;
mod start_time;
mod tenant;
mod url;
mod window;
mod windows_zones;
mod zone_hint;

pub(crate) use duration::PlanDuration;
pub(crate) use email::{EMAIL_PATTERN, Email};
pub(crate) use grammar_error::GrammarError;
pub(crate) use name::StepName;
pub(crate) use share::Share;
pub(crate) use start_time::StartTime;
pub(crate) use tenant::is_tenant_id;
pub(crate) use url::{is_secure_url, parse_api_url, parse_secure_url, parse_service_address};
pub(crate) use window::Window;
