//! `greenlight init` against the loopback testbed: the starting
//! configuration it writes from the live staging service.

mod support;

use std::path::Path;

use greenlight_core::config::Config;
use support::{Testbed, run};

const CHANGING: &[&str] = &[
    "ecs:RegisterTaskDefinition",
    "ecs:UpdateService",
    "ecs:DeregisterTaskDefinition",
];

fn init(testbed: &Testbed, output: &Path, extra: &[&str]) -> support::Run {
    run(testbed
        .greenlight(output)
        .args([
            "init",
            "--cluster",
            "afu9-cluster",
            "--service",
            "afu9-control-center-staging",
            "--region",
            "eu-central-1",
            "--output",
        ])
        .arg(output)
        .args(extra))
}

/// Fills the placeholders the way a user would for the example service.
fn fill_placeholders(text: &str) -> String {
    text.replace("hosts = []", "hosts = [\"stage.afu-9.com\"]")
        .replace("path = \"TODO\"", "path = \"/api/timeline/chain?limit=1\"")
        .replace("header = \"TODO\"", "header = \"x-afu9-smoke-key\"")
}

#[test]
fn init_writes_config_from_service() {
    let testbed = Testbed::start(&[]);
    let output = testbed.dir.path().join("greenlight.toml");

    let result = init(&testbed, &output, &[]);
    assert_eq!(result.code, 0, "{}\n{}", result.stdout, result.stderr);
    let text = std::fs::read_to_string(&output).expect("written file");

    assert!(text.contains("cluster = \"afu9-cluster\""), "{text}");
    assert!(
        text.contains("service = \"afu9-control-center-staging\""),
        "{text}"
    );
    assert!(
        text.contains("registry = \"123456789012.dkr.ecr.eu-central-1.amazonaws.com\""),
        "{text}"
    );
    assert!(
        text.contains("smoke_key = \"afu9/stage/smoke-key\""),
        "{text}"
    );
    assert!(
        text.contains("secret_prefixes = [\"afu9/stage/\"]"),
        "{text}"
    );
    assert!(text.contains("account_id = \"123456789012\""), "{text}");
    // Secrets are configured by name: no ARN and no random suffix.
    assert!(!text.contains("arn:aws:secretsmanager"), "{text}");
    let live_arn = testbed.info["seed"]["secrets"]["afu9/stage/smoke-key"]
        .as_str()
        .expect("seeded smoke key ARN");
    let suffixed_name = live_arn.rsplit(':').next().expect("ARN resource");
    assert!(!text.contains(suffixed_name), "{suffixed_name} in {text}");

    let unfilled = Config::parse(&text).expect_err("placeholders must not load");
    let keys: Vec<&str> = unfilled.iter().map(|e| e.key.as_str()).collect();
    assert!(keys.contains(&"environments.staging.hosts"), "{keys:?}");
    assert!(keys.contains(&"smoke.path"), "{keys:?}");

    let filled = fill_placeholders(&text);
    let config = Config::parse(&filled).unwrap_or_else(|e| panic!("{e:?}\n{filled}"));
    let names: Vec<&str> = config.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "control-center",
            "mcp-github",
            "mcp-deploy",
            "mcp-observability",
            "mcp-runner"
        ]
    );
    let runner = &config.containers[4];
    assert_eq!(runner.repository, "afu9/mcp-runner");
    let database = config
        .secrets
        .iter()
        .find(|b| b.variable == "DATABASE_URL")
        .expect("DATABASE_URL binding");
    assert_eq!(database.json_key.as_deref(), Some("url"));
    assert_eq!(config.smoke.secret, "smoke_key");
    assert_eq!(config.healthy_containers, ["control-center", "mcp-runner"]);

    // The filled-in file drives a read-only plan against the same service.
    std::fs::write(&output, filled).expect("write filled file");
    let plan = run(testbed
        .greenlight(&output)
        .args(["plan", "--env", "staging", "--tag", "abc1234"]));
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("afu9/stage/smoke-key"),
        "{}",
        plan.stdout
    );

    let changed: Vec<String> = testbed
        .operations()
        .into_iter()
        .filter(|op| CHANGING.contains(&op.as_str()))
        .collect();
    assert!(changed.is_empty(), "init and plan changed AWS: {changed:?}");
}

#[test]
fn init_keeps_existing_file() {
    let testbed = Testbed::start(&[]);
    let output = testbed.dir.path().join("greenlight.toml");
    std::fs::write(&output, "# mine\n").expect("write");

    let kept = init(&testbed, &output, &[]);
    assert_eq!(kept.code, 2, "{}", kept.stderr);
    assert!(kept.stderr.contains("--force"), "{}", kept.stderr);
    assert_eq!(std::fs::read_to_string(&output).expect("read"), "# mine\n");
    assert!(
        testbed.operations().is_empty(),
        "{:?}",
        testbed.operations()
    );

    let forced = init(&testbed, &output, &["--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let text = std::fs::read_to_string(&output).expect("read");
    assert!(text.contains("[[containers]]"), "{text}");
}

#[test]
fn init_unknown_service_fails() {
    let testbed = Testbed::start(&[]);
    let output = testbed.dir.path().join("greenlight.toml");

    let result = run(testbed
        .greenlight(&output)
        .args([
            "init",
            "--cluster",
            "afu9-cluster",
            "--service",
            "no-such-service",
            "--region",
            "eu-central-1",
            "--output",
        ])
        .arg(&output));
    assert_eq!(result.code, 1, "{}", result.stderr);
    assert!(
        result.stderr.contains("no-such-service"),
        "{}",
        result.stderr
    );
    assert!(!output.exists(), "a failed init must not write a file");
}

#[test]
fn init_flags_plain_text_key() {
    let testbed = Testbed::start(&["--scenario", "no-runner"]);
    let output = testbed.dir.path().join("greenlight.toml");

    let result = init(&testbed, &output, &[]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let text = std::fs::read_to_string(&output).expect("written file");
    assert!(
        text.contains("#   control-center: AFU9_SMOKE_KEY"),
        "{text}"
    );

    // The plain-text value is a secret and must not be copied anywhere.
    let value = testbed.boto3(
        "service = ecs.describe_services(cluster='afu9-cluster', \
         services=['afu9-control-center-staging'])['services'][0]\n\
         task = ecs.describe_task_definition(taskDefinition=service['taskDefinition'])\n\
         for c in task['taskDefinition']['containerDefinitions']:\n\
         \x20   for e in c.get('environment', []):\n\
         \x20       if e['name'] == 'AFU9_SMOKE_KEY': print(e['value'])\n",
    );
    assert!(!value.is_empty(), "the scenario has no plain-text key");
    assert!(
        !text.contains(&value),
        "the key's value leaked into the file"
    );
    assert!(
        !result.stderr.contains(&value),
        "the key's value leaked to stderr"
    );
}
