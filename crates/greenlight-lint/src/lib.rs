//! Linter for GitHub Actions workflows, composite actions and shell
//! scripts: variables that may be unset under `set -u`, Secrets Manager
//! ARNs pinned with their random suffix, and container images a deploy
//! workflow never builds.
//!
//! [`lint`] reads the given files and returns a [`LintReport`]; [`render`]
//! turns it into text, GitHub workflow commands, JSON or SARIF; [`run`]
//! does both for the `greenlight lint` command.

mod cli;
mod discover;
mod driver;
mod finding;
mod model;
mod parallel;
mod render;
mod rules;
mod run_script;
mod scalar_map;
pub mod shell;
mod source;
mod suppress;
mod yaml;

use std::path::PathBuf;

pub use cli::{LintArgs, run};
pub use finding::{Finding, LintReport, Severity};
pub use render::{Format, render};
pub use rules::{RULES, Rule};

/// A container of the task definition and the image repository its image
/// must come from, such as `mcp-runner` and `afu9/mcp-runner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageExpectation {
    pub container: String,
    pub repository: String,
}

/// Inputs and settings of one lint run.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// Files or folders. Empty means the current repository's workflows,
    /// actions and scripts.
    pub paths: Vec<PathBuf>,
    /// Treat every bash step as running under `set -u`.
    pub assume_nounset: bool,
    /// Containers whose images the workflows must build and push.
    pub images: Vec<ImageExpectation>,
    /// Rule identifiers to skip.
    pub ignore_rules: Vec<String>,
    /// Glob patterns (`*`, `**`, `?`) of paths to skip.
    pub ignore_paths: Vec<String>,
    /// Environments and their identifiers; `None` turns off the
    /// cross-environment-reference rule.
    pub environments: Option<greenlight_core::guard::GuardPolicy>,
}

/// Lints the files of `opts`. Reads only those files; unreadable or
/// invalid ones become `invalid-input` findings and the others are still
/// linted.
pub fn lint(opts: &LintOptions) -> LintReport {
    driver::lint(opts)
}
