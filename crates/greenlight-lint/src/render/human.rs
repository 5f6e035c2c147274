use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::finding::{Finding, LintReport, Severity};

pub fn render(report: &LintReport, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for finding in &report.findings {
        out.push_str(&render_one(&renderer, finding));
        out.push_str("\n\n");
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

fn render_one(renderer: &Renderer, finding: &Finding) -> String {
    let level = match finding.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let line = finding.source_line.as_str();
    let start = byte_of_column(line, finding.column);
    let end = byte_of_column(line, finding.end_column).max(start);
    let snippet = Snippet::source(line)
        .line_start(finding.line)
        .path(finding.file.as_str())
        .annotation(AnnotationKind::Primary.span(start..end));
    let mut groups = vec![
        level
            .primary_title(finding.message.as_str())
            .id(finding.rule)
            .element(snippet),
    ];
    if let Some(help) = &finding.help {
        groups.push(Group::with_title(
            Level::HELP.secondary_title(help.as_str()),
        ));
    }
    renderer.render(&groups)
}

/// Converts a 1-based character column into a byte offset of `line`.
fn byte_of_column(line: &str, column: usize) -> usize {
    line.char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i)
}

fn summary(report: &LintReport) -> String {
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    let files = report.files_checked;
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    format!(
        "{}, {} in {}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(files, "file")
    )
}
