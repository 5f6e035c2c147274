//! One JSON document: every finding and a summary.

use serde_json::json;

use crate::finding::{LintReport, Severity};

pub fn render(report: &LintReport) -> String {
    let document = json!({
        "findings": report.findings,
        "summary": {
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
            "files": report.files_checked,
            "input_error": report.input_error,
        }
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}
