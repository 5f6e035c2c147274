//! The `cross-environment-reference` rule with the example app's
//! environments: fixtures under `fixtures/cross-environment/`, where every
//! file in `ok/` must lint clean and every file in `err/` must produce
//! exactly the findings in the `.out` file beside it, and the team's
//! deploy workflow when it is present.
//!
//! These fixtures live apart from `fixtures/ok` and `fixtures/err`
//! because the rule needs a configuration, which the general fixture
//! suite does not pass. Run with `GREENLIGHT_BLESS=1` to rewrite the
//! `.out` files after a reviewed change.

use std::fs;
use std::path::{Path, PathBuf};

use greenlight_core::config::Config;
use greenlight_core::guard::GuardPolicy;
use greenlight_lint::{Finding, Format, LintOptions, lint, render};

const RULE: &str = "cross-environment-reference";
const FIXTURES: &str = "tests/fixtures/cross-environment";
const EXAMPLE_CONFIG: &str = "../../examples/afu9/greenlight.toml";
const TEAM_WORKFLOW: &str = "../../../shared/fixtures/afu9/deploy-staging.yml";

/// Builds the guard policy of the example configuration: staging and
/// production of the afu9 app on a shared cluster.
fn example_policy() -> GuardPolicy {
    let text = fs::read_to_string(EXAMPLE_CONFIG).expect("example configuration");
    let config = Config::parse(&text).expect("example configuration is valid");
    GuardPolicy::from_config(&config)
}

fn options(path: &Path, policy: Option<GuardPolicy>) -> LintOptions {
    LintOptions {
        paths: vec![path.to_path_buf()],
        environments: policy,
        ..LintOptions::default()
    }
}

fn fixture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml" | "yaml")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Returns each finding as (line, column, marked text).
fn positions(findings: &[&Finding]) -> Vec<(usize, usize, String)> {
    findings
        .iter()
        .map(|f| {
            let marked: String = f
                .source_line
                .chars()
                .skip(f.column - 1)
                .take(f.end_column - f.column)
                .collect();
            (f.line, f.column, marked)
        })
        .collect()
}

#[test]
fn ok_fixtures_are_clean() {
    let policy = example_policy();
    let files = fixture_files(&Path::new(FIXTURES).join("ok"));
    assert!(files.len() >= 4, "ok fixtures missing: {files:?}");
    for file in files {
        let report = lint(&options(&file, Some(policy.clone())));
        assert!(
            report.findings.is_empty(),
            "{} should be clean:\n{}",
            file.display(),
            render(&report, Format::Human, false)
        );
    }
}

#[test]
fn err_fixtures_match_expected_output() {
    let policy = example_policy();
    let bless = std::env::var_os("GREENLIGHT_BLESS").is_some();
    let files = fixture_files(&Path::new(FIXTURES).join("err"));
    assert!(files.len() >= 4, "err fixtures missing: {files:?}");
    let mut failures = Vec::new();
    for file in files {
        let report = lint(&options(&file, Some(policy.clone())));
        assert!(
            report.findings.iter().any(|f| f.rule == RULE),
            "{} should have {RULE} findings",
            file.display()
        );
        let actual = render(&report, Format::Human, false);
        let expected_path = file.with_extension("out");
        if bless {
            fs::write(&expected_path, &actual).expect("write expected output");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "--- {} expected\n{expected}\n+++ actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn silent_without_configuration() {
    for file in fixture_files(&Path::new(FIXTURES).join("err")) {
        let report = lint(&options(&file, None));
        let own: Vec<&Finding> = report.findings.iter().filter(|f| f.rule == RULE).collect();
        assert!(own.is_empty(), "{}: {own:?}", file.display());
    }
}

#[test]
fn team_workflow_production_branch_found() {
    let path = Path::new(TEAM_WORKFLOW);
    if !path.exists() {
        eprintln!("skipped: {TEAM_WORKFLOW} is absent");
        return;
    }
    let report = lint(&options(path, Some(example_policy())));
    let own: Vec<&Finding> = report.findings.iter().filter(|f| f.rule == RULE).collect();
    let found = positions(&own);
    assert_eq!(
        found,
        vec![
            (86, 28, "afu9-control-center".to_string()),
            (99, 65, "afu9/prod/smoke-key".to_string()),
        ],
        "{}",
        render(&report, Format::Human, false)
    );
    assert!(
        own[0]
            .message
            .contains("job `deploy` deploys to staging (`environment: staging`)"),
        "{}",
        own[0].message
    );
    assert!(
        own[0]
            .message
            .contains("references production service `afu9-control-center`"),
        "{}",
        own[0].message
    );
    assert!(
        own[1]
            .message
            .contains("references production secret name `afu9/prod/smoke-key`"),
        "{}",
        own[1].message
    );
    assert_eq!(
        own[1].help.as_deref(),
        Some(
            "use the staging secret name `afu9/stage/smoke-key`, or add `afu9/prod/smoke-key` \
             to `shared` if both environments use it on purpose"
        )
    );
}
