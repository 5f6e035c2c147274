//! The public API end to end: the team's failing workflow, output formats,
//! exit codes, suppression and ignore lists.

use std::path::{Path, PathBuf};

use greenlight_lint::{
    Format, ImageExpectation, LintArgs, LintOptions, Severity, lint, render, run,
};

const AFU9_WORKFLOW: &str = "../../../shared/fixtures/afu9/deploy-staging.yml";

fn afu9_images() -> Vec<ImageExpectation> {
    [
        "control-center",
        "mcp-github",
        "mcp-deploy",
        "mcp-observability",
        "mcp-runner",
    ]
    .iter()
    .map(|name| ImageExpectation {
        container: name.to_string(),
        repository: format!("afu9/{name}"),
    })
    .collect()
}

fn args(paths: &[&str], format: Format) -> LintArgs {
    LintArgs {
        paths: paths.iter().map(PathBuf::from).collect(),
        format,
        assume_nounset: false,
        ignore_rules: Vec::new(),
        ignore_paths: Vec::new(),
    }
}

#[test]
fn afu9_workflow_gets_its_findings() {
    let path = Path::new(AFU9_WORKFLOW);
    if !path.exists() {
        eprintln!("skipped: {AFU9_WORKFLOW} is absent");
        return;
    }
    let report = lint(&LintOptions {
        paths: vec![path.to_path_buf()],
        images: afu9_images(),
        ..LintOptions::default()
    });
    let found: Vec<(&str, usize, String)> = report
        .findings
        .iter()
        .map(|f| {
            let marked: String = f
                .source_line
                .chars()
                .skip(f.column - 1)
                .take(f.end_column - f.column)
                .collect();
            (f.rule, f.line, marked)
        })
        .collect();
    let expected_unbound = [
        (103, "READY_HOST"),
        (104, "APP_VERSION"),
        (111, "APP_VERSION"),
        (111, "READY_HOST"),
        (112, "RUNNER_DEBUG"),
    ];
    for (line, name) in expected_unbound {
        assert!(
            found.contains(&("unbound-variable", line, name.to_string())),
            "missing {name} on line {line}: {found:?}"
        );
    }
    let unbound = report
        .findings
        .iter()
        .filter(|f| f.rule == "unbound-variable")
        .collect::<Vec<_>>();
    assert_eq!(unbound.len(), expected_unbound.len(), "{found:?}");
    assert!(unbound.iter().all(|f| f.severity == Severity::Error));

    let arns: Vec<_> = found
        .iter()
        .filter(|(rule, _, _)| *rule == "hardcoded-secret-arn")
        .collect();
    assert_eq!(arns.len(), 1, "{found:?}");
    assert_eq!(arns[0].1, 69);
    assert!(arns[0].2.ends_with("smoke-key-Qm3xT1"));

    let unbuilt: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "unbuilt-image")
        .collect();
    assert_eq!(unbuilt.len(), 1, "{found:?}");
    assert!(unbuilt[0].message.contains("mcp-runner"));
    assert_eq!(report.findings.len(), 7, "{found:?}");
}

#[test]
fn formats_render_the_same_finding() {
    let report = lint(&LintOptions {
        paths: vec![PathBuf::from("tests/fixtures/err/step-env-other-step.yml")],
        ..LintOptions::default()
    });
    insta::assert_snapshot!("human", render(&report, Format::Human, false));
    insta::assert_snapshot!("github", render(&report, Format::Github, false));
    insta::assert_snapshot!("json", render(&report, Format::Json, false));
    insta::assert_snapshot!("sarif", render(&report, Format::Sarif, false));
}

#[test]
fn sarif_has_required_fields() {
    let report = lint(&LintOptions {
        paths: vec![PathBuf::from(
            "tests/fixtures/err/never-set-under-nounset.yml",
        )],
        ..LintOptions::default()
    });
    let sarif: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Sarif, false)).expect("valid JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["level"], "error");
    assert_eq!(results[2]["level"], "warning");
    let region = &results[0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 17);
    assert_eq!(region["startColumn"], 69);
}

#[test]
fn color_only_when_asked() {
    let report = lint(&LintOptions {
        paths: vec![PathBuf::from("tests/fixtures/err/step-env-other-step.yml")],
        ..LintOptions::default()
    });
    assert!(!render(&report, Format::Human, false).contains('\u{1b}'));
    assert!(render(&report, Format::Human, true).contains('\u{1b}'));
}

#[test]
fn exit_codes_follow_contract() {
    let mut out = Vec::new();
    let clean = run(
        &args(&["tests/fixtures/ok/guards.yml"], Format::Human),
        Vec::new(),
        false,
        &mut out,
    );
    assert_eq!(clean.ok(), Some(0));

    let findings = run(
        &args(
            &["tests/fixtures/err/step-env-other-step.yml"],
            Format::Human,
        ),
        Vec::new(),
        false,
        &mut out,
    );
    assert_eq!(findings.ok(), Some(1));

    let invalid = run(
        &args(
            &[
                "tests/fixtures/err/invalid-yaml.yml",
                "tests/fixtures/ok/guards.yml",
            ],
            Format::Human,
        ),
        Vec::new(),
        false,
        &mut out,
    );
    assert_eq!(invalid.ok(), Some(2));

    let missing = run(
        &args(&["tests/fixtures/no-such-file.yml"], Format::Human),
        Vec::new(),
        false,
        &mut out,
    );
    assert_eq!(missing.ok(), Some(2));

    let mut unknown_rule = args(&["tests/fixtures/ok/guards.yml"], Format::Human);
    unknown_rule.ignore_rules.push("no-such-rule".to_string());
    assert_eq!(
        run(&unknown_rule, Vec::new(), false, &mut out).ok(),
        Some(2)
    );
}

#[test]
fn invalid_file_does_not_stop_others() {
    let report = lint(&LintOptions {
        paths: vec![
            PathBuf::from("tests/fixtures/err/invalid-yaml.yml"),
            PathBuf::from("tests/fixtures/err/step-env-other-step.yml"),
        ],
        ..LintOptions::default()
    });
    assert!(report.input_error);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "invalid-input" && f.line == 6)
    );
    assert!(report.findings.iter().any(|f| f.rule == "unbound-variable"));
}

#[test]
fn ignore_lists_drop_findings() {
    let base = LintOptions {
        paths: vec![
            PathBuf::from("tests/fixtures/err/hardcoded-secret-arn.yml"),
            PathBuf::from("tests/fixtures/err/step-env-other-step.yml"),
        ],
        ..LintOptions::default()
    };
    let all = lint(&base);
    assert!(
        all.findings
            .iter()
            .any(|f| f.rule == "hardcoded-secret-arn")
    );

    let without_rule = lint(&LintOptions {
        ignore_rules: vec!["hardcoded-secret-arn".to_string()],
        ..base.clone()
    });
    assert!(
        without_rule
            .findings
            .iter()
            .all(|f| f.rule != "hardcoded-secret-arn")
    );
    assert!(
        without_rule
            .findings
            .iter()
            .any(|f| f.rule == "unbound-variable")
    );

    let without_path = lint(&LintOptions {
        ignore_paths: vec!["**/step-env-*.yml".to_string()],
        ..base
    });
    assert!(
        without_path
            .findings
            .iter()
            .all(|f| !f.file.contains("step-env"))
    );
    assert!(
        without_path
            .findings
            .iter()
            .any(|f| f.rule == "hardcoded-secret-arn")
    );
}

#[test]
fn task_definition_sets_expected_images() {
    let dir = std::env::temp_dir().join(format!("greenlight-lint-taskdef-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write input");
        path
    };

    let taskdef = write(
        "shop-taskdef.json",
        r#"{"taskDefinition": {"containerDefinitions": [
            {"name": "web", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:1"},
            {"name": "runner", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/runner:1"},
            {"name": "proxy", "image": "public.ecr.aws/nginx/nginx:1"}
        ]}}"#,
    );

    let deploy = |builds: &str| {
        format!(
            "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n{builds}          aws ecs register-task-definition --cli-input-json file://shop-taskdef.json\n"
        )
    };
    let complete = write(
        "complete.yml",
        &deploy(
            "          docker push r.example.test/shop/web:1\n          docker push r.example.test/shop/runner:1\n",
        ),
    );
    let partial = write(
        "partial.yml",
        &deploy("          docker push r.example.test/shop/web:1\n"),
    );
    let unrelated = write(
        "unrelated.yml",
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: docker push r.example.test/other/app:1\n",
    );

    let report = lint(&LintOptions {
        paths: vec![complete, partial, unrelated, taskdef],
        ..LintOptions::default()
    });
    std::fs::remove_dir_all(&dir).ok();

    let unbuilt: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "unbuilt-image")
        .map(|f| (f.file.clone(), f.message.clone()))
        .collect();
    assert_eq!(unbuilt.len(), 1, "{unbuilt:?}");
    assert!(unbuilt[0].0.ends_with("partial.yml"));
    assert!(unbuilt[0].1.contains("`runner`"));
}
