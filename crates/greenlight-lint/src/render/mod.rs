//! Output formats. Every format renders the same [`LintReport`].

mod github;
mod human;
mod json;
mod sarif;

use crate::finding::LintReport;

/// Output format of `greenlight lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style text with the source line and a marker.
    Human,
    /// GitHub Actions workflow commands (`::error file=…::`), which show
    /// as annotations on the pull request.
    Github,
    /// One JSON document with every finding.
    Json,
    /// SARIF 2.1.0, for code scanning uploads.
    Sarif,
}

/// Renders a report. `color` adds ANSI colours to the human format only.
pub fn render(report: &LintReport, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(report, color),
        Format::Github => github::render(report),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
    }
}
