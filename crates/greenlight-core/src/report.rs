//! Reports: one list of checks, rendered as a text table, JSON or Markdown.

use serde::Serialize;

use crate::verify::{Check, Status};

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "GREEN")]
    Green,
    #[serde(rename = "RED")]
    Red,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Green => "GREEN",
            Verdict::Red => "RED",
        }
    }
}

/// The result of `deploy` or `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `deploy` or `verify`.
    pub command: String,
    pub environment: String,
    pub cluster: String,
    pub service: String,
    /// The task definition the checks ran against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// Changes the deploy made, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    pub checks: Vec<Check>,
    pub verdict: Verdict,
}

impl Report {
    /// Builds a report; the verdict is GREEN only when there is at least
    /// one check and none failed.
    pub fn new(
        command: &str,
        environment: &str,
        cluster: &str,
        service: &str,
        checks: Vec<Check>,
    ) -> Report {
        let verdict = verdict_of(&checks);
        Report {
            command: command.into(),
            environment: environment.into(),
            cluster: cluster.into(),
            service: service.into(),
            task_definition: None,
            changes: Vec::new(),
            checks,
            verdict,
        }
    }
}

/// Returns GREEN when no check failed and at least one passed.
pub fn verdict_of(checks: &[Check]) -> Verdict {
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    let passed = checks.iter().any(|c| c.status == Status::Pass);
    if passed && !failed {
        Verdict::Green
    } else {
        Verdict::Red
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "FAIL",
        Status::Skip => "skip",
    }
}

/// Renders the report as an aligned text table.
pub fn to_text(report: &Report) -> String {
    let mut out = format!(
        "{} {} ({}/{})\n",
        report.command, report.environment, report.cluster, report.service
    );
    if let Some(task_definition) = &report.task_definition {
        out.push_str(&format!("task definition: {task_definition}\n"));
    }
    for change in &report.changes {
        out.push_str(&format!("  changed: {change}\n"));
    }
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for check in &report.checks {
        out.push_str(&format!(
            "  {:<4}  {:<width$}  {}\n",
            status_word(check.status),
            check.id,
            check.summary
        ));
        if check.status == Status::Fail {
            for line in &check.details {
                out.push_str(&format!("        | {line}\n"));
            }
        }
    }
    out.push_str(&format!("{}\n", report.verdict.as_str()));
    out
}

/// Renders the report as pretty JSON.
pub fn to_json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}

/// Renders the report as Markdown for `$GITHUB_STEP_SUMMARY`.
pub fn to_markdown(report: &Report) -> String {
    let icon = match report.verdict {
        Verdict::Green => "🟢",
        Verdict::Red => "🔴",
    };
    let mut out = format!(
        "### {icon} greenlight {} `{}`: {}\n\n",
        report.command,
        report.environment,
        report.verdict.as_str()
    );
    out.push_str(&format!(
        "Service `{}` in cluster `{}`",
        report.service, report.cluster
    ));
    if let Some(task_definition) = &report.task_definition {
        out.push_str(&format!(", task definition `{task_definition}`"));
    }
    out.push_str("\n\n| check | result | detail |\n| --- | --- | --- |\n");
    for check in &report.checks {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            check.id,
            status_word(check.status),
            escape_cell(&check.summary)
        ));
    }
    let failed_details: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail && !c.details.is_empty())
        .collect();
    for check in failed_details {
        out.push_str(&format!(
            "\n<details><summary>{}</summary>\n\n```\n{}\n```\n</details>\n",
            check.id,
            check.details.join("\n").replace("```", "'''")
        ));
    }
    if !report.changes.is_empty() {
        out.push_str("\nChanges:\n\n");
        for change in &report.changes {
            out.push_str(&format!("- {}\n", escape_cell(change)));
        }
    }
    out.push('\n');
    out
}

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_checks_are_red() {
        assert_eq!(verdict_of(&[]), Verdict::Red);
    }

    #[test]
    fn one_failure_is_red() {
        let checks = vec![Check::pass("a", "ok"), Check::fail("b", "no")];
        assert_eq!(verdict_of(&checks), Verdict::Red);
    }

    #[test]
    fn all_passing_is_green() {
        let checks = vec![Check::pass("a", "ok")];
        assert_eq!(verdict_of(&checks), Verdict::Green);
    }
}
