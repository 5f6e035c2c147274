//! End-to-end deploys against the loopback testbed: moto_server behind the
//! scheduler proxy, and the HTTPS smoke endpoint.

mod support;

use serde_json::{Value, json};
use support::{Testbed, fast_config, run};

const CHANGING: &[&str] = &["ecs:RegisterTaskDefinition", "ecs:UpdateService"];

fn changed_anything(testbed: &Testbed) -> Vec<String> {
    testbed
        .operations()
        .into_iter()
        .filter(|op| CHANGING.contains(&op.as_str()) || op == "ecs:DeregisterTaskDefinition")
        .collect()
}

#[test]
fn rotated_secret_turns_green_after_deploy() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);

    let before = run(testbed
        .greenlight(&config)
        .args(["verify", "--env", "staging"]));
    assert_eq!(
        before.code, 1,
        "stale state must be RED:\n{}",
        before.stdout
    );
    assert!(before.stdout.contains("status 401"), "{}", before.stdout);
    assert!(
        before.stdout.contains("FAIL  secret-binding"),
        "{}",
        before.stdout
    );
    assert!(
        before.stdout.trim_end().ends_with("RED"),
        "{}",
        before.stdout
    );

    let deploy = run(testbed
        .greenlight(&config)
        .args(["deploy", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(
        deploy.code, 0,
        "deploy must be GREEN:\n{}\n{}",
        deploy.stdout, deploy.stderr
    );
    assert!(
        deploy.stdout.trim_end().ends_with("GREEN"),
        "{}",
        deploy.stdout
    );
    assert!(deploy.stdout.contains("pass  smoke"), "{}", deploy.stdout);
    assert!(
        deploy.stdout.contains("pass  healthy:mcp-runner"),
        "{}",
        deploy.stdout
    );
    assert!(
        deploy.stderr.contains("rollout completed"),
        "{}",
        deploy.stderr
    );

    let after = run(testbed
        .greenlight(&config)
        .args(["verify", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(after.code, 0, "{}", after.stdout);

    let operations = testbed.operations();
    let registered = operations
        .iter()
        .filter(|o| *o == "ecs:RegisterTaskDefinition")
        .count();
    assert_eq!(registered, 1, "{operations:?}");
    assert!(operations.contains(&"secretsmanager:DescribeSecret".to_string()));
}

#[test]
fn no_runner_scenario_is_repaired() {
    let testbed = Testbed::start(&["--scenario", "no-runner"]);
    let config = fast_config(&testbed);

    let deploy = run(testbed.greenlight(&config).args([
        "deploy", "--env", "staging", "--tag", "abc1234", "--format", "json",
    ]));
    assert_eq!(deploy.code, 0, "{}\n{}", deploy.stdout, deploy.stderr);
    let report: Value = serde_json::from_str(&deploy.stdout).expect("JSON report");
    assert_eq!(report["verdict"], "GREEN");
    let changes: Vec<&str> = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("mcp-runner: added as a sidecar")),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.contains("removed AFU9_SMOKE_KEY from environment[]")),
        "{changes:?}"
    );

    let task_definition = testbed.staging_task_definition()["taskDefinition"].clone();
    let containers = task_definition["containerDefinitions"]
        .as_array()
        .expect("containers");
    let runner = containers
        .iter()
        .find(|c| c["name"] == "mcp-runner")
        .expect("runner added");
    assert_eq!(runner["essential"], false);
    assert_eq!(runner["portMappings"][0]["containerPort"], 3004);
    let control = containers
        .iter()
        .find(|c| c["name"] == "control-center")
        .expect("control-center");
    let environment = control["environment"].as_array().expect("environment");
    assert!(environment.iter().all(|e| e["name"] != "AFU9_SMOKE_KEY"));
}

#[test]
fn unhealthy_runner_is_red() {
    let testbed = Testbed::start(&["--runner-health", "UNHEALTHY"]);
    let config = fast_config(&testbed);
    let deploy = run(testbed.greenlight(&config).args([
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--skip-gates",
    ]));
    assert_eq!(deploy.code, 1, "{}", deploy.stdout);
    assert!(
        deploy.stdout.contains("FAIL  healthy:mcp-runner"),
        "{}",
        deploy.stdout
    );
    assert!(deploy.stdout.contains("UNHEALTHY"), "{}", deploy.stdout);
    assert!(
        deploy.stdout.trim_end().ends_with("RED"),
        "{}",
        deploy.stdout
    );
}

#[test]
fn circuit_breaker_rollback_is_red() {
    let testbed = Testbed::start(&["--rollout", "rollback"]);
    let config = fast_config(&testbed);
    let deploy = run(testbed
        .greenlight(&config)
        .args(["deploy", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(deploy.code, 1, "{}\n{}", deploy.stdout, deploy.stderr);
    assert!(deploy.stdout.contains("FAIL  rollout"), "{}", deploy.stdout);
    assert!(deploy.stdout.contains("rolled back"), "{}", deploy.stdout);
    assert!(
        deploy.stdout.contains("stopped task"),
        "stopped-task reasons shown:\n{}",
        deploy.stdout
    );
    assert!(
        !deploy.stdout.contains("pass  smoke"),
        "no verification after a failed rollout"
    );
}

#[test]
fn missing_smoke_header_is_red() {
    let testbed = Testbed::start(&["--smoke-omit-header", "x-afu9-smoke-auth-used"]);
    let config = fast_config(&testbed);
    let deploy = run(testbed.greenlight(&config).args([
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--skip-gates",
    ]));
    assert_eq!(deploy.code, 1, "{}", deploy.stdout);
    assert!(
        deploy
            .stdout
            .contains("header x-afu9-smoke-auth-used missing"),
        "{}",
        deploy.stdout
    );
}

#[test]
fn deleted_secret_is_rejected_before_any_change() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    testbed.boto3(
        "sm.delete_secret(SecretId='afu9/stage/smoke-key', ForceDeleteWithoutRecovery=True)",
    );
    let deploy = run(testbed
        .greenlight(&config)
        .args(["deploy", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(deploy.code, 2, "{}\n{}", deploy.stdout, deploy.stderr);
    assert!(
        deploy
            .stderr
            .contains("\"afu9/stage/smoke-key\" was not found"),
        "{}",
        deploy.stderr
    );
    assert!(
        deploy.stderr.contains("nothing was changed"),
        "{}",
        deploy.stderr
    );
    assert_eq!(changed_anything(&testbed), Vec::<String>::new());
}

#[test]
fn secret_scheduled_for_deletion_is_rejected() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    testbed.boto3("sm.delete_secret(SecretId='afu9/stage/smoke-key', RecoveryWindowInDays=7)");
    let deploy = run(testbed
        .greenlight(&config)
        .args(["deploy", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(deploy.code, 2, "{}\n{}", deploy.stdout, deploy.stderr);
    assert!(
        deploy.stderr.contains("scheduled for deletion"),
        "{}",
        deploy.stderr
    );
    assert_eq!(changed_anything(&testbed), Vec::<String>::new());
}

#[test]
fn stuck_rollout_reports_stage_and_events() {
    let testbed = Testbed::start(&["--rollout", "stuck"]);
    let config = fast_config(&testbed);
    let deploy = run(testbed.greenlight(&config).args([
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--rollout-deadline",
        "3s",
    ]));
    assert_eq!(deploy.code, 1, "{}", deploy.stdout);
    assert!(
        deploy.stdout.contains("not complete after 3 s"),
        "{}",
        deploy.stdout
    );
    assert!(
        deploy.stdout.contains("stuck at: starting tasks"),
        "{}",
        deploy.stdout
    );
    assert!(deploy.stdout.contains("event: "), "{}", deploy.stdout);
}

#[test]
fn failing_gate_is_red_with_output() {
    let testbed = Testbed::start(&[]);
    let config = support::config_with(
        &testbed,
        &[
            ("deadline = \"120s\"", "deadline = \"4s\""),
            ("poll_interval = \"2s\"", "poll_interval = \"200ms\""),
            (
                "command = [\"npm\", \"run\", \"repo:verify\"]",
                "command = [\"sh\", \"-c\", \"echo lint broke in src/app.ts; exit 3\"]",
            ),
        ],
    );
    let deploy = run(testbed
        .greenlight(&config)
        .args(["deploy", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(deploy.code, 1, "{}", deploy.stdout);
    assert!(
        deploy.stdout.contains("FAIL  gate:repo:verify"),
        "{}",
        deploy.stdout
    );
    assert!(deploy.stdout.contains("exit 3"), "{}", deploy.stdout);
    assert!(
        deploy.stdout.contains("lint broke in src/app.ts"),
        "{}",
        deploy.stdout
    );
}

#[test]
fn update_failure_deregisters_new_revision() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    testbed.control(
        "POST",
        "faults",
        Some(&json!([{"operation": "ecs:UpdateService", "fault": "5xx", "times": null}])),
    );
    let deploy = run(testbed
        .greenlight(&config)
        .args(["deploy", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(deploy.code, 1, "{}\n{}", deploy.stdout, deploy.stderr);
    assert!(
        deploy.stderr.contains("UpdateService failed"),
        "{}",
        deploy.stderr
    );
    assert!(deploy.stderr.contains("deregistered"), "{}", deploy.stderr);
    let operations = testbed.operations();
    assert!(
        operations.contains(&"ecs:DeregisterTaskDefinition".to_string()),
        "{operations:?}"
    );
}

#[test]
fn step_summary_gets_markdown() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    let summary = testbed.dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").expect("summary");
    let deploy = run(testbed
        .greenlight(&config)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["deploy", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(deploy.code, 0, "{}", deploy.stdout);
    let text = std::fs::read_to_string(&summary).expect("summary");
    assert!(text.starts_with("earlier step\n"), "appended, not replaced");
    assert!(
        text.contains("greenlight deploy `staging`: GREEN"),
        "{text}"
    );
    assert!(text.contains("| smoke | pass |"), "{text}");
}

#[test]
fn redeploy_of_same_tag_reuses_revision() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    let first = run(testbed.greenlight(&config).args([
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--skip-gates",
    ]));
    assert_eq!(first.code, 0, "{}", first.stdout);
    let second = run(testbed.greenlight(&config).args([
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--skip-gates",
    ]));
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(second.stdout.contains("(no change)"), "{}", second.stdout);
    let operations = testbed.operations();
    let registered = operations
        .iter()
        .filter(|o| *o == "ecs:RegisterTaskDefinition")
        .count();
    let updated = operations
        .iter()
        .filter(|o| *o == "ecs:UpdateService")
        .count();
    assert_eq!(registered, 1, "{operations:?}");
    assert_eq!(updated, 2, "a re-run still forces a new deployment");
}

#[test]
fn smoke_key_never_appears_in_output() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    let key = testbed
        .boto3("print(sm.get_secret_value(SecretId='afu9/stage/smoke-key')['SecretString'])");
    assert!(
        key.len() >= 8,
        "the seeded key is long enough to search for"
    );
    let summary = testbed.dir.path().join("summary.md");
    for args in [
        vec!["-vvv", "verify", "--env", "staging"],
        vec!["-vvv", "deploy", "--env", "staging", "--tag", "abc1234"],
        vec!["-vvv", "verify", "--env", "staging", "--format", "json"],
        vec!["-vvv", "plan", "--env", "staging"],
    ] {
        let result = run(testbed
            .greenlight(&config)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(&args));
        assert!(
            !result.stdout.contains(&key),
            "key leaked on stdout of {args:?}"
        );
        assert!(
            !result.stderr.contains(&key),
            "key leaked on stderr of {args:?}"
        );
    }
    let text = std::fs::read_to_string(&summary).expect("summary");
    assert!(!text.contains(&key), "key leaked into the step summary");
}

#[test]
fn plan_shows_diff_and_changes_nothing() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    let plan = run(testbed
        .greenlight(&config)
        .args(["plan", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("+++ rendered"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("afu9/mcp-runner:abc1234"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("change: control-center: secret AFU9_SMOKE_KEY valueFrom"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("\u{1b}["),
        "no colour when stdout is not a terminal"
    );
    assert_eq!(changed_anything(&testbed), Vec::<String>::new());
}

#[test]
fn plain_http_smoke_only_to_loopback() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    let http_port = testbed.info["smoke_http_port"].as_u64().expect("http port");
    let deploy = run(testbed
        .greenlight(&config)
        .env(
            "GREENLIGHT_CONNECT_TO",
            format!("stage.afu-9.com:80:127.0.0.1:{http_port}"),
        )
        .args([
            "deploy",
            "--env",
            "staging",
            "--tag",
            "abc1234",
            "--skip-gates",
            "--plain-http",
        ]));
    assert_eq!(deploy.code, 0, "{}\n{}", deploy.stdout, deploy.stderr);
    assert!(
        deploy
            .stdout
            .contains("GET http://stage.afu-9.com/api/timeline/chain"),
        "{}",
        deploy.stdout
    );

    let verify = run(testbed
        .greenlight(&config)
        .env("GREENLIGHT_CONNECT_TO", "stage.afu-9.com:80:192.0.2.10:80")
        .args([
            "verify",
            "--env",
            "staging",
            "--plain-http",
            "--skip-gates",
            "--smoke-deadline",
            "1s",
        ]));
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(
        verify
            .stdout
            .contains("plain HTTP is allowed only to loopback"),
        "{}",
        verify.stdout
    );
}

#[test]
fn smoke_with_untrusted_certificate_fails() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    let verify = run(testbed
        .greenlight(&config)
        .env_remove("GREENLIGHT_CA_FILE")
        .args([
            "verify",
            "--env",
            "staging",
            "--skip-gates",
            "--smoke-deadline",
            "1s",
        ]));
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(
        verify.stdout.contains("TLS handshake with stage.afu-9.com"),
        "{}",
        verify.stdout
    );
}

#[test]
fn plan_never_shows_plaintext_key() {
    let testbed = Testbed::start(&["--scenario", "no-runner"]);
    let config = fast_config(&testbed);
    let described = testbed.staging_task_definition();
    let control = described["taskDefinition"]["containerDefinitions"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == "control-center")
        .expect("control-center");
    let stale = control["environment"]
        .as_array()
        .expect("environment")
        .iter()
        .find(|e| e["name"] == "AFU9_SMOKE_KEY")
        .and_then(|e| e["value"].as_str())
        .expect("plaintext key in environment[]")
        .to_string();
    assert!(
        stale.len() >= 8,
        "the seeded plaintext key is long enough to search for"
    );
    let plan = run(testbed
        .greenlight(&config)
        .args(["plan", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("\"AFU9_SMOKE_KEY\""),
        "the variable's removal is shown"
    );
    assert!(
        !plan.stdout.contains(&stale),
        "plaintext key leaked:\n{}",
        plan.stdout
    );
    assert!(
        !plan.stderr.contains(&stale),
        "plaintext key leaked on stderr"
    );
}
