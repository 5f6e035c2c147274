//! Deploys that race, fail after the rollout, or get interrupted.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Testbed, fast_config, run};

#[test]
fn rollback_on_failure_restores_previous_revision() {
    let testbed = Testbed::start(&["--runner-health", "UNHEALTHY"]);
    let config = fast_config(&testbed);
    let before = testbed.staging_task_definition_arn();
    let deploy = run(testbed.greenlight(&config).args([
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--skip-gates",
        "--rollback-on-failure",
    ]));
    assert_eq!(deploy.code, 1, "{}\n{}", deploy.stdout, deploy.stderr);
    assert!(
        deploy.stdout.contains("FAIL  healthy:mcp-runner"),
        "{}",
        deploy.stdout
    );
    assert!(
        deploy.stdout.contains("pass  rollback"),
        "{}",
        deploy.stdout
    );
    assert!(
        deploy.stdout.contains(&format!("service back on {before}")),
        "{}",
        deploy.stdout
    );
    assert!(
        deploy.stdout.trim_end().ends_with("RED"),
        "a rollback is never GREEN"
    );
    assert_eq!(testbed.staging_task_definition_arn(), before);
}

#[test]
fn rollback_after_circuit_breaker_is_not_repeated() {
    let testbed = Testbed::start(&["--rollout", "rollback"]);
    let config = fast_config(&testbed);
    let deploy = run(testbed.greenlight(&config).args([
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--rollback-on-failure",
    ]));
    assert_eq!(deploy.code, 1, "{}", deploy.stdout);
    assert!(
        deploy
            .stdout
            .contains("ECS already rolled the service back"),
        "{}",
        deploy.stdout
    );
    let updates = testbed
        .operations()
        .into_iter()
        .filter(|o| o == "ecs:UpdateService")
        .count();
    assert_eq!(
        updates, 1,
        "no second UpdateService after the circuit breaker"
    );
}

#[test]
fn foreign_deployment_while_waiting_fails() {
    let testbed = Testbed::start(&[]);
    testbed.control("POST", "behaviour", Some(&json!({"rollout_seconds": 6.0})));
    let config = fast_config(&testbed);
    let mut child = testbed
        .greenlight(&config)
        .args([
            "deploy",
            "--env",
            "staging",
            "--tag",
            "abc1234",
            "--skip-gates",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn greenlight");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        let updated = line.contains("updated service");
        seen.push(line);
        if updated {
            break;
        }
    }
    testbed.control(
        "POST",
        "external-deployment",
        Some(&json!({"service": "afu9-control-center-staging"})),
    );
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let output = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{seen:?}\n{rest:?}"
    );
    assert!(stdout.contains("another deployment"), "{stdout}");
}

#[test]
fn sigterm_while_waiting_announces_state() {
    let testbed = Testbed::start(&["--rollout", "stuck"]);
    let config = fast_config(&testbed);
    let mut child = testbed
        .greenlight(&config)
        .args(["deploy", "--env", "staging", "--tag", "abc1234"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn greenlight");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        if line.expect("line").contains("starting tasks") {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let output = child.wait_with_output().expect("wait");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped promptly"
    );
    let stderr = rest.join("\n");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("interrupted: greenlight stopped waiting"),
        "{stderr}"
    );
    assert!(
        stderr.contains("next: `greenlight verify --env staging --tag abc1234`"),
        "{stderr}"
    );
    assert!(stdout.contains("interrupted while waiting"), "{stdout}");
}

#[test]
fn timed_out_update_that_applied_is_followed() {
    let testbed = Testbed::start(&[]);
    let config = support::config_with(
        &testbed,
        &[
            ("deadline = \"120s\"", "deadline = \"4s\""),
            ("poll_interval = \"2s\"", "poll_interval = \"200ms\""),
            (
                "[rollout]",
                "[aws]\nread_timeout = \"1s\"\nattempt_timeout = \"1s\"\nmax_attempts = 3\n\n[rollout]",
            ),
        ],
    );
    // Each UpdateService reaches moto two seconds late, after the client
    // gave up on that attempt: the first one is applied while greenlight
    // still retries.
    testbed.control(
        "POST",
        "faults",
        Some(&json!([{"operation": "ecs:UpdateService", "fault": "slow", "delay_seconds": 2, "times": null}])),
    );
    let deploy = run(testbed.greenlight(&config).args([
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--skip-gates",
    ]));
    assert!(
        deploy.stderr.contains(
            "UpdateService reported an error, but the service already has a new deployment"
        ),
        "{}\n{}",
        deploy.stdout,
        deploy.stderr
    );
    assert!(!deploy.stderr.contains("deregistered"), "{}", deploy.stderr);
    let operations = testbed.operations();
    assert!(
        !operations.contains(&"ecs:DeregisterTaskDefinition".to_string()),
        "{operations:?}"
    );
    assert!(
        testbed.staging_task_definition_arn().ends_with(":4"),
        "service on the new revision"
    );
}
