//! SARIF 2.1.0, the format GitHub code scanning accepts for uploads.

use serde_json::json;

use crate::finding::{LintReport, Severity};
use crate::rules::{INVALID_INPUT, RULES};

pub fn render(report: &LintReport) -> String {
    let mut rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id(),
                "shortDescription": { "text": rule.description() },
            })
        })
        .collect();
    rules.push(json!({
        "id": INVALID_INPUT,
        "shortDescription": { "text": "a file could not be read or parsed" },
    }));
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut text = f.message.clone();
            if let Some(help) = &f.help {
                text.push_str(". Fix: ");
                text.push_str(help);
            }
            json!({
                "ruleId": f.rule,
                "level": match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file },
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.column,
                            "endLine": f.end_line,
                            "endColumn": f.end_column,
                        }
                    }
                }]
            })
        })
        .collect();
    let document = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "greenlight",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "results": results,
        }]
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}
