//! The `lint` subcommand's arguments and entry point.

use std::io::Write;
use std::path::PathBuf;

use crate::finding::LintReport;
use crate::render::{Format, render};
use crate::{ImageExpectation, LintOptions, lint};

/// Arguments of `greenlight lint`, flattened into the binary's command.
#[derive(Debug, Clone, clap::Args)]
pub struct LintArgs {
    /// Workflow files, composite actions (action.yml), shell scripts, task
    /// definition JSON files or folders. Default: the current repository's
    /// .github/workflows, action.yml files and shell scripts.
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Report unset variables as errors in every bash step, as if each
    /// started with `set -u`.
    #[arg(long)]
    pub assume_nounset: bool,

    /// Skip a rule by its identifier (repeatable), e.g. unbound-variable.
    #[arg(long = "ignore-rule", value_name = "RULE")]
    pub ignore_rules: Vec<String>,

    /// Skip paths that match a glob (`*`, `**`, `?`; repeatable).
    #[arg(long = "ignore-path", value_name = "GLOB")]
    pub ignore_paths: Vec<String>,
}

/// Exit code when no finding was reported.
pub const EXIT_CLEAN: u8 = 0;
/// Exit code when at least one finding was reported.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code for usage errors and unreadable or invalid input files.
pub const EXIT_INPUT_ERROR: u8 = 2;

/// Lints, writes the report to `out` and returns the exit code: 0 clean,
/// 1 findings, 2 usage error or an input file that could not be read or
/// parsed (its findings are still written).
pub fn run(
    args: &LintArgs,
    images: Vec<ImageExpectation>,
    color: bool,
    out: &mut dyn Write,
) -> std::io::Result<u8> {
    let known: Vec<&str> = crate::RULES.iter().map(|r| r.id()).collect();
    if let Some(unknown) = args
        .ignore_rules
        .iter()
        .find(|r| !known.contains(&r.as_str()))
    {
        writeln!(
            out,
            "error: unknown rule `{unknown}` in --ignore-rule; known rules: {}",
            known.join(", ")
        )?;
        return Ok(EXIT_INPUT_ERROR);
    }
    let opts = LintOptions {
        paths: args.paths.clone(),
        assume_nounset: args.assume_nounset,
        images,
        ignore_rules: args.ignore_rules.clone(),
        ignore_paths: args.ignore_paths.clone(),
        environments: None,
    };
    let report = lint(&opts);
    out.write_all(render(&report, args.format, color).as_bytes())?;
    Ok(exit_code(&report))
}

/// Returns the exit code for a report.
pub fn exit_code(report: &LintReport) -> u8 {
    if report.input_error {
        EXIT_INPUT_ERROR
    } else if report.findings.is_empty() {
        EXIT_CLEAN
    } else {
        EXIT_FINDINGS
    }
}
