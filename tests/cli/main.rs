//! The CLI integration tests: one binary, one builder ([`support::TestEnv`]), real processes.

mod api;
mod apply;
mod architecture;
mod audit;
mod change_control;
mod docs;
mod ews;
mod exceptions;
mod fleet;
mod graph;
mod hard_inputs;
mod http;
mod idp;
mod notify;
mod oauth;
mod plan;
mod reading;
mod report;
mod schedule;
mod scheduling;
mod schema;
mod sign_off;
mod state_upgrade;
mod support;
mod validate;
