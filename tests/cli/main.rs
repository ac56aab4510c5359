//! The CLI integration tests: one binary, one builder ([`support::TestEnv`]), real processes.

mod api;
mod apply;
mod audit;
mod change_control;
mod docs;
mod ews;
mod exceptions;
mod graph;
mod hard_inputs;
mod http;
mod idp;
mod notify;
mod oauth;
mod pg_server;
mod plan;
mod report;
mod schedule;
mod scheduling;
mod schema;
mod state_postgres;
mod state_upgrade;
mod support;
mod validate;
