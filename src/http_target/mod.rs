//! The `http` target: the platform's admin REST API, spoken with reqwest.
//!
//! Reliable under the conditions real APIs have: connection reuse, timeouts, retries with
//! jittered exponential backoff (every call of the contract is idempotent), `Retry-After`
//! honoured, requests sent while the quota the platform says it has left allows (`RateLimit`'s
//! `r`), or else paced just under the quota it advertises (`RateLimit-Policy`) or the rate it
//! accepted before it throttled, a concurrency bound that halves when throttled and creeps back
//! up, and errors that say which credential was refused. Reads keep the request budget busy too: a full read asks for its pages together (`read_ahead.rs`), and a
//! set of users is read with `POST /users/query` in parallel chunks, or by paging on a platform
//! whose contract lacks it.

mod budget;
mod http_target;
mod http_target_error;
mod limiter;
mod limiters;
mod quota;
mod read_ahead;
#[cfg(test)]
mod read_ahead_tests;

pub(crate) use http_target::HttpTarget;
pub(crate) use http_target_error::HttpTargetError;
pub(crate) use limiters::Limiters;
