//! Findings: built once by the rules, rendered by every output format.

use serde::Serialize;

use crate::source::SourceFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem at one place in one file.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Rule identifier, such as `unbound-variable`.
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// One-line fix, when the rule can suggest one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    pub file: String,
    /// 1-based line and column (in characters) of the first character.
    pub line: usize,
    pub column: usize,
    /// 1-based line and column just past the last character.
    pub end_line: usize,
    pub end_column: usize,
    /// The source line at `line`, for renderers that show it.
    #[serde(skip)]
    pub source_line: String,
}

impl Finding {
    /// Builds a finding that covers the bytes `start..end` of `file`.
    pub fn at(
        rule: &'static str,
        severity: Severity,
        file: &SourceFile,
        start: usize,
        end: usize,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = file.line_col(start);
        let (mut end_line, mut end_column) = file.line_col(end.max(start));
        if end_line != line {
            // A span that crosses lines is marked to the end of its first
            // line, so every renderer can underline a single line.
            end_line = line;
            end_column = file.line_text(line).chars().count() + 1;
        }
        if end_column <= column {
            end_column = column + 1;
        }
        Finding {
            rule,
            severity,
            message: message.into(),
            help: None,
            file: file.display.clone(),
            line,
            column,
            end_line,
            end_column,
            source_line: file.line_text(line).to_string(),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Findings of one lint run, sorted by file, line and column.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LintReport {
    pub findings: Vec<Finding>,
    /// Number of files that were read and checked.
    pub files_checked: usize,
    /// True when an input could not be read or parsed; the exit code is 2.
    pub input_error: bool,
}

impl LintReport {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}
