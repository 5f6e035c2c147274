//! The example deploy workflow lints clean with the example configuration,
//! and the team's old workflow, when its fixture folder is checked out
//! beside the repository, yields exactly the findings that
//! docs/example-workflow.md lists.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{example_config, repo_root, run};

/// Lints one file with the example configuration and returns the exit
/// code and the findings as `(rule, line, message)`.
fn lint(path: &Path) -> (i32, Vec<(String, u64, String)>) {
    let result = run(Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .env_remove("GREENLIGHT_CONFIG")
        .arg("--config")
        .arg(example_config())
        .args(["lint", "--format", "json"])
        .arg(path));
    let report: Value = serde_json::from_str(&result.stdout)
        .unwrap_or_else(|e| panic!("lint JSON: {e}\n{}\n{}", result.stdout, result.stderr));
    let findings = report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["line"].as_u64().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (result.code, findings)
}

#[test]
fn example_workflow_is_clean() {
    let workflow = repo_root().join("examples/afu9/.github/workflows/deploy-staging.yml");
    let (code, findings) = lint(&workflow);
    assert!(findings.is_empty(), "{findings:#?}");
    assert_eq!(code, 0);
}

#[test]
fn composite_action_is_clean() {
    let (code, findings) = lint(&repo_root().join("action.yml"));
    assert!(findings.is_empty(), "{findings:#?}");
    assert_eq!(code, 0);
}

#[test]
fn example_workflow_builds_every_image() {
    let workflow = repo_root().join("examples/afu9/.github/workflows/deploy-staging.yml");
    let text = std::fs::read_to_string(&workflow).expect("workflow");
    let dir = tempfile::tempdir().expect("temp dir");
    let without_runner = dir.path().join("deploy-staging.yml");
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| line.trim() != "- mcp-runner")
        .collect();
    std::fs::write(&without_runner, kept.join("\n")).expect("write");

    let (code, findings) = lint(&without_runner);
    assert_eq!(code, 1);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].0, "unbuilt-image");
    assert!(
        findings[0].2.contains("afu9/mcp-runner"),
        "{}",
        findings[0].2
    );
}

#[test]
fn old_team_workflow_findings() {
    let old = repo_root().join("../shared/fixtures/afu9/deploy-staging.yml");
    if !old.is_file() {
        eprintln!("skipped: {} is absent", old.display());
        return;
    }
    let (code, findings) = lint(&old);
    let found: Vec<(&str, u64)> = findings.iter().map(|(r, l, _)| (r.as_str(), *l)).collect();
    let expected = [
        ("unbuilt-image", 28),
        ("hardcoded-secret-arn", 69),
        ("cross-environment-reference", 86),
        ("cross-environment-reference", 99),
        ("unbound-variable", 103),
        ("unbound-variable", 104),
        ("unbound-variable", 111),
        ("unbound-variable", 111),
        ("unbound-variable", 112),
    ];
    assert_eq!(found, expected, "{findings:#?}");
    assert_eq!(code, 1);

    let messages: Vec<&str> = findings.iter().map(|(_, _, m)| m.as_str()).collect();
    assert!(messages[0].contains("`mcp-runner`"), "{}", messages[0]);
    assert!(messages[1].contains("Qm3xT1"), "{}", messages[1]);
    assert!(
        messages[2].contains("`afu9-control-center`"),
        "{}",
        messages[2]
    );
    assert!(
        messages[3].contains("`afu9/prod/smoke-key`"),
        "{}",
        messages[3]
    );
    let unbound: Vec<&str> = messages[4..]
        .iter()
        .map(|m| m.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(
        unbound,
        [
            "READY_HOST",
            "APP_VERSION",
            "APP_VERSION",
            "READY_HOST",
            "RUNNER_DEBUG"
        ]
    );
}
