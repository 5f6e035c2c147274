//! Pure decisions of greenlight: configuration, the environment guard,
//! task definition rendering, rollout progress, verification verdicts and
//! reports.
//!
//! Nothing in this crate talks to AWS, the network, subprocesses or the
//! terminal; the `greenlight` binary crate owns those edges.

pub mod arn;
pub mod config;
pub mod guard;
pub mod render;
pub mod report;
pub mod rollout;
pub mod secret;
pub mod verify;
