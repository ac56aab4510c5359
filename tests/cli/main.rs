//! The CLI integration tests: one binary, one builder ([`support::TestEnv`]), real processes.

mod schema;
mod support;
mod validate;
