//! Hostile and broken input: each entry must exit 2 with a message that
//! names the problem and the offending value, and change nothing.
//!
//! Most entries run offline (`render` and `lint` make no AWS call). The
//! entries that need AWS run against one testbed and check its call log
//! for changing operations.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Run, Testbed, example_config, run};

const SMOKE_ARN: &str =
    "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/smoke-key-AbCdEf";
const DATABASE_ARN: &str =
    "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/database-GhIjKl";

/// Builds a described staging task definition with the example's five
/// containers.
fn described() -> Value {
    let containers: Vec<Value> = [
        "control-center",
        "mcp-github",
        "mcp-deploy",
        "mcp-observability",
        "mcp-runner",
    ]
    .iter()
    .map(|name| {
        json!({
            "name": name,
            "image": format!("123456789012.dkr.ecr.eu-central-1.amazonaws.com/afu9/{name}:3f9c2e1"),
            "essential": *name == "control-center",
        })
    })
    .collect();
    json!({
        "taskDefinition": {
            "family": "afu9-control-center-staging",
            "taskDefinitionArn": "arn:aws:ecs:eu-central-1:123456789012:task-definition/afu9-control-center-staging:3",
            "revision": 3,
            "status": "ACTIVE",
            "containerDefinitions": containers,
            "cpu": "1024",
            "memory": "2048",
        }
    })
}

/// Builds an offline greenlight command with nothing from the caller's
/// environment but PATH.
fn offline(dir: &Path, config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .current_dir(dir)
        .arg("--config")
        .arg(config);
    command
}

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folder");
        }
        std::fs::write(&path, bytes).expect("write");
        path
    }

    fn example_config(&self) -> PathBuf {
        let text = std::fs::read_to_string(example_config()).expect("example config");
        self.write("greenlight.toml", text.as_bytes())
    }

    fn config_with(&self, from: &str, to: &str) -> PathBuf {
        let text = std::fs::read_to_string(example_config()).expect("example config");
        assert!(text.contains(from), "the example config has no {from:?}");
        self.write("greenlight.toml", text.replacen(from, to, 1).as_bytes())
    }

    /// Runs `render` with both secret ARNs given.
    fn render(&self, config: &Path, input: &Path, extra: &[&str]) -> Run {
        run(offline(self.dir.path(), config)
            .args(["render", "--tag", "abc1234", "--input"])
            .arg(input)
            .args([
                "--secret-arn",
                &format!("smoke_key={SMOKE_ARN}"),
                "--secret-arn",
                &format!("database={DATABASE_ARN}"),
            ])
            .args(extra))
    }

    fn described_input(&self) -> PathBuf {
        self.write("described.json", described().to_string().as_bytes())
    }
}

/// Asserts exit 2 and that stderr contains every expected fragment.
fn assert_rejected(run: &Run, expected: &[&str]) {
    assert_eq!(
        run.code, 2,
        "expected exit 2\n--- stdout\n{}\n--- stderr\n{}",
        run.stdout, run.stderr
    );
    for fragment in expected {
        assert!(
            run.stderr.contains(fragment),
            "stderr does not contain {fragment:?}:\n{}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn malformed_toml_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.config_with("region = \"eu-central-1\"", "region = \"eu-central-1");
    let run = workspace.render(&config, &workspace.described_input(), &[]);
    assert_rejected(
        &run,
        &["greenlight.toml is invalid", "line 4", "eu-central-1"],
    );
}

#[test]
fn truncated_toml_is_rejected() {
    let workspace = Workspace::new();
    let text = std::fs::read_to_string(example_config()).expect("example config");
    let cut = text.find("[smoke]").expect("smoke table") + "[smoke]\npath = \"/api".len();
    let config = workspace.write("greenlight.toml", &text.as_bytes()[..cut]);
    let run = workspace.render(&config, &workspace.described_input(), &[]);
    assert_rejected(&run, &["greenlight.toml is invalid", "path = \"/api"]);
}

#[test]
fn malformed_json_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let input = workspace.write("described.json", b"{\"taskDefinition\": {\"family\": 'x'}}");
    let run = workspace.render(&config, &input, &[]);
    assert_rejected(&run, &["described.json is not valid JSON", "line 1"]);
}

#[test]
fn truncated_json_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let full = described().to_string();
    let input = workspace.write("described.json", &full.as_bytes()[..full.len() / 2]);
    let run = workspace.render(&config, &input, &[]);
    assert_rejected(&run, &["described.json is not valid JSON", "EOF"]);
}

#[test]
fn json_without_task_definition_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let input = workspace.write("described.json", b"[1, 2, 3]");
    let run = workspace.render(&config, &input, &[]);
    assert_rejected(&run, &["task definition"]);
}

#[test]
fn duplicate_configured_container_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.config_with("name = \"mcp-github\"", "name = \"control-center\"");
    let run = workspace.render(&config, &workspace.described_input(), &[]);
    assert_rejected(
        &run,
        &[
            "containers[1].name",
            "\"control-center\" is configured twice",
        ],
    );
}

#[test]
fn duplicate_container_in_task_definition_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let mut task = described();
    let first = task["taskDefinition"]["containerDefinitions"][0].clone();
    task["taskDefinition"]["containerDefinitions"]
        .as_array_mut()
        .expect("containers")
        .push(first);
    let input = workspace.write("described.json", task.to_string().as_bytes());
    let run = workspace.render(&config, &input, &[]);
    assert_rejected(&run, &["control-center"]);
    assert!(run.stderr.contains("twice") || run.stderr.contains("duplicate"));
}

#[test]
fn duplicate_secret_binding_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.config_with(
        "variable = \"DATABASE_URL\"",
        "variable = \"AFU9_SMOKE_KEY\"",
    );
    let run = workspace.render(&config, &workspace.described_input(), &[]);
    assert_rejected(
        &run,
        &["secrets[1].variable", "\"AFU9_SMOKE_KEY\"", "bound twice"],
    );
}

#[test]
fn duplicate_secret_name_in_task_definition_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let mut task = described();
    task["taskDefinition"]["containerDefinitions"][0]["secrets"] = json!([
        {"name": "GITHUB_TOKEN", "valueFrom": SMOKE_ARN},
        {"name": "GITHUB_TOKEN", "valueFrom": DATABASE_ARN},
    ]);
    let input = workspace.write("described.json", task.to_string().as_bytes());
    let run = workspace.render(&config, &input, &[]);
    assert_rejected(&run, &["GITHUB_TOKEN"]);
}

#[test]
fn secret_for_missing_container_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.config_with(
        "container = \"control-center\"\nvariable = \"DATABASE_URL\"",
        "container = \"control-centre\"\nvariable = \"DATABASE_URL\"",
    );
    let run = workspace.render(&config, &workspace.described_input(), &[]);
    assert_rejected(
        &run,
        &["secrets[1].container", "\"control-centre\" is not defined"],
    );
}

#[test]
fn configured_container_missing_from_task_definition_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let mut task = described();
    task["taskDefinition"]["containerDefinitions"]
        .as_array_mut()
        .expect("containers")
        .retain(|c| c["name"] != "mcp-deploy");
    let input = workspace.write("described.json", task.to_string().as_bytes());
    let run = workspace.render(&config, &input, &[]);
    assert_rejected(&run, &["mcp-deploy"]);
}

#[test]
fn bad_image_tags_are_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let input = workspace.described_input();
    for tag in [
        "",
        ".hidden",
        "-dash",
        "abc@sha256:0123",
        "sha256:deadbeef",
        "has space",
        &"x".repeat(129),
    ] {
        let run = run(offline(workspace.dir.path(), &config)
            .args(["render", "--input"])
            .arg(&input)
            .arg(format!("--tag={tag}"))
            .args(["--secret-arn", &format!("smoke_key={SMOKE_ARN}")])
            .args(["--secret-arn", &format!("database={DATABASE_ARN}")]));
        assert_rejected(&run, &["image tag", tag]);
    }
}

#[test]
fn image_without_tag_in_sidecar_keeps_rendering_deterministic() {
    // An image with no tag or with a digest is replaced by the configured
    // repository and tag, so the rendered image never depends on it.
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let mut task = described();
    task["taskDefinition"]["containerDefinitions"][1]["image"] =
        json!("123456789012.dkr.ecr.eu-central-1.amazonaws.com/afu9/mcp-github");
    task["taskDefinition"]["containerDefinitions"][2]["image"] =
        json!("123456789012.dkr.ecr.eu-central-1.amazonaws.com/afu9/mcp-deploy@sha256:zz");
    let input = workspace.write("described.json", task.to_string().as_bytes());
    let run = workspace.render(&config, &input, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rendered: Value = serde_json::from_str(&run.stdout).expect("JSON");
    for container in rendered["containerDefinitions"]
        .as_array()
        .expect("containers")
    {
        let image = container["image"].as_str().expect("image");
        assert!(image.ends_with(":abc1234"), "{image}");
    }
}

#[test]
fn non_utf8_config_is_rejected() {
    let workspace = Workspace::new();
    let mut bytes = std::fs::read(example_config()).expect("example config");
    bytes.splice(10..10, [0xff, 0xfe, 0x80]);
    let config = workspace.write("greenlight.toml", &bytes);
    let run = workspace.render(&config, &workspace.described_input(), &[]);
    assert_rejected(&run, &["not valid UTF-8", "offset 10"]);
}

#[test]
fn non_utf8_json_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let mut bytes = described().to_string().into_bytes();
    let at = bytes.len() / 2;
    bytes.splice(at..at, [0xc3, 0x28]);
    let input = workspace.write("described.json", &bytes);
    let run = workspace.render(&config, &input, &[]);
    assert_rejected(&run, &["described.json is not valid JSON"]);
}

#[test]
fn huge_task_definition_is_rejected_quickly() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let mut task = described();
    let environment: Vec<Value> = (0..500_000)
        .map(|i| json!({"name": format!("VARIABLE_{i:07}"), "value": "x".repeat(64)}))
        .collect();
    task["taskDefinition"]["containerDefinitions"][1]["environment"] = Value::Array(environment);
    let text = task.to_string();
    assert!(text.len() > 50_000_000, "{} bytes", text.len());
    let input = workspace.write("described.json", text.as_bytes());
    drop(text);
    let started = Instant::now();
    let run = workspace.render(&config, &input, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_rejected(&run, &["64 KiB"]);
}

#[test]
fn partial_arn_secret_name_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.config_with(
        "smoke_key = \"afu9/stage/smoke-key\"",
        "smoke_key = \"afu9/stage/smoke-key-Qm3xT1\"",
    );
    let run = workspace.render(&config, &workspace.described_input(), &[]);
    assert_rejected(
        &run,
        &[
            "environments.staging.secrets.smoke_key",
            "smoke-key-Qm3xT1",
            "six characters",
        ],
    );
}

#[test]
fn secret_arn_of_another_partition_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let input = workspace.described_input();
    for arn in [
        "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:afu9/stage/smoke-key-AbCdEf",
        "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:afu9/stage/smoke-key-AbCdEf",
    ] {
        let run = run(offline(workspace.dir.path(), &config)
            .args(["render", "--tag", "abc1234", "--input"])
            .arg(&input)
            .args(["--secret-arn", &format!("smoke_key={arn}")])
            .args(["--secret-arn", &format!("database={DATABASE_ARN}")]));
        assert_rejected(&run, &[arn, "partition"]);
    }
}

#[test]
fn secret_arn_with_trailing_fields_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let input = workspace.described_input();
    // greenlight writes the JSON key itself from `json_key`, so the ARN
    // given must be bare; one or two extra fields are ambiguous in ECS.
    for suffix in [":", "::", ":url", ":url:", ":::", ":url::"] {
        let arn = format!("{SMOKE_ARN}{suffix}");
        let run = run(offline(workspace.dir.path(), &config)
            .args(["render", "--tag", "abc1234", "--input"])
            .arg(&input)
            .args(["--secret-arn", &format!("smoke_key={arn}")])
            .args(["--secret-arn", &format!("database={DATABASE_ARN}")]));
        assert_rejected(&run, &[&arn]);
    }
}

#[test]
fn value_from_with_bad_tail_is_rejected() {
    // In a container greenlight does not manage, the reference is not
    // replaced, so one or two fields after the name would reach ECS.
    let workspace = Workspace::new();
    let config = workspace.example_config();
    for tail in [":", "::", ":url", ":url:", ":url:AWSCURRENT:id:extra"] {
        let value_from = format!("{SMOKE_ARN}{tail}");
        let mut task = described();
        task["taskDefinition"]["containerDefinitions"][1]["secrets"] =
            json!([{"name": "TOKEN", "valueFrom": value_from}]);
        let input = workspace.write("described.json", task.to_string().as_bytes());
        let run = workspace.render(&config, &input, &[]);
        assert_rejected(&run, &[&value_from, "mcp-github", "TOKEN"]);
    }
}

#[test]
fn value_from_with_all_three_fields_is_kept() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    for tail in [":url::", ":url:AWSCURRENT:", "::AWSPREVIOUS:"] {
        let value_from = format!("{SMOKE_ARN}{tail}");
        let mut task = described();
        task["taskDefinition"]["containerDefinitions"][1]["secrets"] =
            json!([{"name": "TOKEN", "valueFrom": value_from}]);
        let input = workspace.write("described.json", task.to_string().as_bytes());
        let run = workspace.render(&config, &input, &[]);
        assert_eq!(run.code, 0, "{tail}: {}", run.stderr);
        assert!(
            run.stdout.contains(&format!("{value_from}\"")),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn malformed_workflow_yaml_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let workflow = workspace.write(
        ".github/workflows/deploy.yml",
        b"on: push\njobs:\n  deploy:\n    runs-on: [ubuntu-latest\n    steps:\n      - run: echo hi\n",
    );
    let run = run(offline(workspace.dir.path(), &config)
        .arg("lint")
        .arg(&workflow));
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(output.contains("deploy.yml"), "{output}");
}

#[test]
fn non_utf8_workflow_is_rejected() {
    let workspace = Workspace::new();
    let config = workspace.example_config();
    let workflow = workspace.write(
        ".github/workflows/deploy.yml",
        b"on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \xff\xfe\n",
    );
    let run = run(offline(workspace.dir.path(), &config)
        .arg("lint")
        .arg(&workflow));
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(output.contains("deploy.yml"), "{output}");
}

/// Runs `lint` on one workflow and returns the run and how long it took.
fn lint_bounded(workspace: &Workspace, name: &str, text: &str) -> (Run, Duration) {
    let config = workspace.example_config();
    let workflow = workspace.write(name, text.as_bytes());
    let started = Instant::now();
    let mut command = offline(workspace.dir.path(), &config);
    // Bounded memory: a run past 1 GiB of address space fails instead of
    // taking the machine.
    let script = format!(
        "ulimit -v 1048576; exec \"$0\" --config {} lint {}",
        config.display(),
        workflow.display()
    );
    command = {
        let mut shell = Command::new("sh");
        shell
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", workspace.dir.path())
            .current_dir(workspace.dir.path())
            .args(["-c", &script, env!("CARGO_BIN_EXE_greenlight")]);
        drop(command);
        shell
    };
    let run = run(&mut command);
    (run, started.elapsed())
}

#[test]
fn deeply_nested_yaml_finishes_quickly() {
    let workspace = Workspace::new();
    let depth = 10_000;
    let mut text =
        String::from("on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      A: ");
    text.push_str(&"[".repeat(depth));
    text.push_str(&"]".repeat(depth));
    text.push_str("\n    steps:\n      - run: echo $A\n");
    let (run, took) = lint_bounded(&workspace, ".github/workflows/nested.yml", &text);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        run.code == 1 || run.code == 2 || run.code == 0,
        "lint crashed (exit {}): {}",
        run.code,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!run.stderr.contains("overflow"), "{}", run.stderr);
}

#[test]
fn billion_laughs_yaml_finishes_quickly() {
    let workspace = Workspace::new();
    let mut text = String::from(
        "on: push\nx0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for level in 1..10 {
        let previous = level - 1;
        let refs = vec![format!("*a{previous}"); 9].join(", ");
        text.push_str(&format!("x{level}: &a{level} [{refs}]\n"));
    }
    text.push_str("jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      BOMB: *a9\n    steps:\n      - run: echo $BOMB\n");
    let (run, took) = lint_bounded(&workspace, ".github/workflows/laughs.yml", &text);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(output.contains("laughs.yml"), "{output}");
    assert!(output.contains("aliases expand"), "{output}");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

/// A hostile case: config replacements, greenlight arguments, and texts the
/// error must contain.
type HostileCase<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a [&'a str]);

/// Input errors that only show once AWS is read: each must exit 2 before
/// any changing call.
#[test]
fn deploy_input_errors_change_nothing() {
    let testbed = Testbed::start(&[]);
    let cases: &[HostileCase] = &[
        (
            &[("afu9/stage/database\"", "afu9/stage/missing\"")],
            &["deploy", "--env", "staging", "--tag", "abc1234"],
            &["\"afu9/stage/missing\" was not found"],
        ),
        (
            &[],
            &["deploy", "--env", "staging", "--tag", "abc@sha256:12"],
            &["image tag \"abc@sha256:12\" is invalid"],
        ),
        (
            &[],
            &["deploy", "--env", "stagin", "--tag", "abc1234"],
            &["stagin"],
        ),
        (
            &[(
                "account_id = \"123456789012\"",
                "account_id = \"210987654321\"",
            )],
            &["deploy", "--env", "staging", "--tag", "abc1234"],
            &["210987654321"],
        ),
        (
            &[("name = \"mcp-runner\"", "name = \"mcp-runnr\"")],
            &["deploy", "--env", "staging", "--tag", "abc1234"],
            &["mcp-runnr"],
        ),
    ];
    for (replacements, args, expected) in cases {
        let config = support::config_with(&testbed, replacements);
        testbed.control("DELETE", "calls", None);
        let result = run(testbed.greenlight(&config).args(*args));
        assert_rejected(&result, expected);
        let changing: Vec<String> = testbed
            .operations()
            .into_iter()
            .filter(|o| {
                [
                    "ecs:RegisterTaskDefinition",
                    "ecs:UpdateService",
                    "ecs:DeregisterTaskDefinition",
                ]
                .contains(&o.as_str())
            })
            .collect();
        assert!(changing.is_empty(), "{args:?} changed AWS: {changing:?}");
    }
}
