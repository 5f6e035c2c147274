//! Lint rules. Each rule is one module with a unit struct that implements
//! [`Rule`]; [`RULES`] lists them all.
//!
//! A rule implements only the hooks it needs. The driver calls
//! `check_file` for every input file's raw text, then `check_workflow`,
//! `check_job` (with the job's `env:`, `environment:`, `with:` and `run:`
//! values and their positions) or `check_action`, or `check_script`,
//! depending on the kind of the file.

mod cross_environment;
mod hardcoded_secret_arn;
mod unbound_variable;
mod unbuilt_image;

use crate::ImageExpectation;
use crate::finding::Finding;
use crate::model::{CompositeAction, Job, Workflow};
use crate::source::SourceFile;

/// Data every hook receives about the file and the run.
pub struct Context<'a> {
    pub file: &'a SourceFile,
    /// Treat every bash step as if it ran under `set -u`.
    pub assume_nounset: bool,
    /// Containers and the image repositories the workflows must build.
    pub images: &'a [ImageExpectation],
    /// Environments whose identifiers a deploy job must not mix.
    pub environments: Option<&'a greenlight_core::guard::GuardPolicy>,
}

/// A lint rule.
pub trait Rule: Sync {
    /// Identifier used in output, suppressions and ignore lists.
    fn id(&self) -> &'static str;

    /// One sentence that states what the rule reports.
    fn description(&self) -> &'static str;

    /// Checks the raw text of any input file (workflow, action, script or
    /// task definition).
    fn check_file(&self, _cx: &Context, _out: &mut Vec<Finding>) {}

    /// Checks a whole workflow.
    fn check_workflow(&self, _cx: &Context, _workflow: &Workflow, _out: &mut Vec<Finding>) {}

    /// Checks one job of a workflow.
    fn check_job(&self, _cx: &Context, _workflow: &Workflow, _job: &Job, _out: &mut Vec<Finding>) {}

    /// Checks a composite action.
    fn check_action(&self, _cx: &Context, _action: &CompositeAction, _out: &mut Vec<Finding>) {}

    /// Checks a standalone shell script (the whole file is the script).
    fn check_script(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}

/// Every rule, in the order their findings are produced.
pub static RULES: &[&dyn Rule] = &[
    &unbound_variable::UnboundVariable,
    &hardcoded_secret_arn::HardcodedSecretArn,
    &unbuilt_image::UnbuiltImage,
    &cross_environment::CrossEnvironmentReference,
];

/// Identifier of the findings for unreadable or invalid input files.
pub const INVALID_INPUT: &str = "invalid-input";
