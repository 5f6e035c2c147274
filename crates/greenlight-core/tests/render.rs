//! Rendering described task definitions into registrable ones.

use std::collections::BTreeMap;
use std::path::Path;

use greenlight_core::config::Config;
use greenlight_core::render::{
    DESCRIBE_ONLY_FIELDS, RenderInput, check_rendered, diff, registrable, render,
};
use serde_json::{Value, json};

const CONFIG: &str = r#"
region = "eu-west-1"
registry = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"

[environments.staging]
cluster = "shop"
service = "shop-web-staging"
hosts = ["stage.shop.example"]
secrets = { smoke = "shop/stage/smoke", db = "shop/stage/db" }

[[containers]]
name = "web"
repository = "shop/web"

[[containers]]
name = "worker"
repository = "shop/worker"

[[containers]]
name = "runner"
repository = "shop/runner"

[containers.sidecar]
port = 3004
health_check = "wget -qO- http://localhost:3004/health || exit 1"
environment = { PORT = "3004" }

[[secrets]]
container = "web"
variable = "SMOKE_KEY"
secret = "smoke"

[[secrets]]
container = "web"
variable = "DB_URL"
secret = "db"

[smoke]
path = "/health"
secret = "smoke"
header = "x-smoke-key"
"#;

const SMOKE_ARN: &str =
    "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/stage/smoke-New111";
const DB_ARN: &str = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/stage/db-New222";

fn described() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/described-full.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

fn config() -> Config {
    Config::parse(CONFIG).expect("test config")
}

fn arns() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("smoke".to_string(), SMOKE_ARN.to_string()),
        ("db".to_string(), DB_ARN.to_string()),
    ])
}

fn rendered() -> (Value, Vec<String>) {
    let config = config();
    let arns = arns();
    let input = RenderInput {
        config: &config,
        tag: "v1.2.3",
        secret_arns: &arns,
    };
    let rendered = render(&described(), &input).expect("renders");
    (rendered.task_definition, rendered.changes)
}

fn container<'a>(task: &'a Value, name: &str) -> &'a Value {
    task["containerDefinitions"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == name)
        .expect("container present")
}

#[test]
fn describe_only_fields_are_stripped() {
    let (task, _) = rendered();
    for field in DESCRIBE_ONLY_FIELDS {
        assert!(task.get(field).is_none(), "{field} must be stripped");
    }
}

#[test]
fn other_top_level_fields_are_kept_exactly() {
    let (task, _) = rendered();
    let input = described();
    let original = input["taskDefinition"].as_object().expect("object");
    for (key, value) in original {
        if DESCRIBE_ONLY_FIELDS.contains(&key.as_str()) || key == "containerDefinitions" {
            continue;
        }
        assert_eq!(&task[key], value, "field {key} changed");
    }
    assert_eq!(task["pidMode"], "", "empty strings survive");
    assert_eq!(task["ephemeralStorage"]["sizeInGiB"], 30);
    assert_eq!(task["tags"], json!([{"key": "team", "value": "shop"}]));
}

#[test]
fn field_order_is_kept() {
    let (task, _) = rendered();
    let keys: Vec<&String> = task.as_object().expect("object").keys().collect();
    assert_eq!(keys[0], "family");
    assert_eq!(keys[1], "taskRoleArn");
}

#[test]
fn secret_is_added_and_plaintext_removed() {
    let (task, changes) = rendered();
    let web = container(&task, "web");
    let secrets = web["secrets"].as_array().expect("secrets");
    let smoke = secrets
        .iter()
        .find(|s| s["name"] == "SMOKE_KEY")
        .expect("added");
    assert_eq!(smoke["valueFrom"], SMOKE_ARN);
    let environment = web["environment"].as_array().expect("environment");
    assert!(environment.iter().all(|e| e["name"] != "SMOKE_KEY"));
    assert_eq!(environment, &vec![json!({"name": "EMPTY", "value": ""})]);
    assert!(
        changes
            .iter()
            .any(|c| c.contains("removed SMOKE_KEY from environment[]"))
    );
    let all = changes.join("\n");
    assert!(
        !all.contains("plaintext-that-must-go"),
        "the old value is never shown"
    );
}

#[test]
fn json_key_form_keeps_key_with_new_arn() {
    let (task, _) = rendered();
    let web = container(&task, "web");
    let db = web["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .find(|s| s["name"] == "DB_URL")
        .expect("db");
    assert_eq!(db["valueFrom"], format!("{DB_ARN}:url::"));
}

#[test]
fn ssm_and_unconfigured_secrets_are_untouched() {
    let (task, _) = rendered();
    let before = described();
    let old_web = &before["taskDefinition"]["containerDefinitions"][0];
    let web = container(&task, "web");
    for name in ["FEATURE_FLAGS", "SMOKE_KEY_OLD_NAME"] {
        let find = |c: &Value| {
            c["secrets"]
                .as_array()
                .expect("secrets")
                .iter()
                .find(|s| s["name"] == name)
                .cloned()
        };
        assert_eq!(find(web), find(old_web), "{name} changed");
    }
}

#[test]
fn images_are_rewritten_including_digests() {
    let (task, _) = rendered();
    assert_eq!(
        container(&task, "web")["image"],
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/web:v1.2.3"
    );
    assert_eq!(
        container(&task, "worker")["image"],
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/worker:v1.2.3"
    );
}

#[test]
fn container_fields_are_kept() {
    let (task, _) = rendered();
    let before = described();
    let old_web = before["taskDefinition"]["containerDefinitions"][0]
        .as_object()
        .expect("object");
    let web = container(&task, "web");
    for (key, value) in old_web {
        if matches!(key.as_str(), "image" | "secrets" | "environment") {
            continue;
        }
        assert_eq!(&web[key], value, "container field {key} changed");
    }
}

#[test]
fn missing_sidecar_is_added() {
    let (task, changes) = rendered();
    let runner = container(&task, "runner");
    assert_eq!(runner["essential"], false);
    assert_eq!(runner["portMappings"][0]["containerPort"], 3004);
    assert_eq!(runner["healthCheck"]["command"][0], "CMD-SHELL");
    assert_eq!(
        runner["environment"],
        json!([{"name": "PORT", "value": "3004"}])
    );
    assert_eq!(
        runner["logConfiguration"]["options"]["awslogs-stream-prefix"],
        "runner"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("runner: added as a sidecar"))
    );
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(rendered().0, rendered().0);
}

#[test]
fn missing_configured_container_is_an_error() {
    let text = CONFIG.replace("name = \"worker\"", "name = \"scheduler\"");
    let config = Config::parse(&text).expect("config");
    let arns = arns();
    let input = RenderInput {
        config: &config,
        tag: "v1",
        secret_arns: &arns,
    };
    let error = render(&described(), &input).expect_err("missing container");
    assert!(error.0.contains("\"scheduler\""), "{error}");
    assert!(
        error.0.contains("web, worker"),
        "lists what exists: {error}"
    );
}

#[test]
fn duplicate_container_names_are_an_error() {
    let mut input_json = described();
    let first = input_json["taskDefinition"]["containerDefinitions"][0].clone();
    input_json["taskDefinition"]["containerDefinitions"]
        .as_array_mut()
        .expect("array")
        .push(first);
    let config = config();
    let arns = arns();
    let input = RenderInput {
        config: &config,
        tag: "v1",
        secret_arns: &arns,
    };
    let error = render(&input_json, &input).expect_err("duplicate");
    assert!(error.0.contains("\"web\" appears twice"), "{error}");
}

#[test]
fn duplicate_secret_names_are_an_error() {
    let mut input_json = described();
    let secrets = input_json["taskDefinition"]["containerDefinitions"][0]["secrets"]
        .as_array_mut()
        .expect("secrets");
    let first = secrets[0].clone();
    secrets.push(first);
    let config = config();
    let arns = arns();
    let input = RenderInput {
        config: &config,
        tag: "v1",
        secret_arns: &arns,
    };
    let error = render(&input_json, &input).expect_err("duplicate");
    assert!(error.0.contains("twice in secrets[]"), "{error}");
}

#[test]
fn invalid_tags_are_rejected() {
    let config = config();
    let arns = arns();
    for tag in ["", "-x", ".x", "a b", "a:b", "a@sha256", &"x".repeat(129)] {
        let input = RenderInput {
            config: &config,
            tag,
            secret_arns: &arns,
        };
        let error = render(&described(), &input).expect_err("invalid tag");
        assert!(error.0.contains("image tag"), "{tag}: {error}");
    }
}

#[test]
fn unresolved_secret_is_an_error() {
    let config = config();
    let arns = BTreeMap::from([("smoke".to_string(), SMOKE_ARN.to_string())]);
    let input = RenderInput {
        config: &config,
        tag: "v1",
        secret_arns: &arns,
    };
    let error = render(&described(), &input).expect_err("db unresolved");
    assert!(error.0.contains("\"db\""), "{error}");
}

#[test]
fn check_rendered_catches_wrong_arn() {
    let config = config();
    let arns = arns();
    let input = RenderInput {
        config: &config,
        tag: "v1.2.3",
        secret_arns: &arns,
    };
    let (mut task, _) = rendered();
    let secrets = task["containerDefinitions"][0]["secrets"]
        .as_array_mut()
        .expect("secrets");
    let smoke = secrets
        .iter_mut()
        .find(|s| s["name"] == "SMOKE_KEY")
        .expect("smoke");
    smoke["valueFrom"] = json!("arn:aws:secretsmanager:eu-west-1:1:secret:x-AAAAAA");
    let error = check_rendered(&task, &input).expect_err("wrong ARN");
    assert!(error.0.contains("web/SMOKE_KEY"), "{error}");
    assert!(error.0.contains(SMOKE_ARN), "{error}");
}

#[test]
fn registrable_without_wrapper_works() {
    let bare = described()["taskDefinition"].clone();
    let task = registrable(&bare).expect("bare object");
    assert!(task.get("revision").is_none());
    assert!(task.get("tags").is_none());
}

#[test]
fn diff_shows_only_changed_lines() {
    let before = registrable(&described()).expect("registrable");
    let (after, _) = rendered();
    let text = diff(&before, &after, "live", "rendered");
    assert!(text.starts_with("--- live\n+++ rendered\n"), "{text}");
    assert!(
        text.contains(
            "+      \"image\": \"111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/web:v1.2.3\""
        ),
        "{text}"
    );
    assert!(!text.contains("-    \"family\""), "{text}");
}

/// The team's real staging task definition, read in place when present.
#[test]
fn team_fixture_renders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/afu9/taskdef-staging-described.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} is absent", path.display());
        return;
    };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/afu9/greenlight.toml");
    let config = Config::parse(&std::fs::read_to_string(example).expect("example")).expect("valid");
    let described: Value = serde_json::from_str(&text).expect("JSON");
    let arns = BTreeMap::from([
        (
            "smoke_key".to_string(),
            "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/smoke-key-N3wSfx"
                .to_string(),
        ),
        (
            "database".to_string(),
            "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/database-Hk82Lp"
                .to_string(),
        ),
    ]);
    let input = RenderInput {
        config: &config,
        tag: "5d1e0aa",
        secret_arns: &arns,
    };
    let rendered = render(&described, &input).expect("renders");
    let task = rendered.task_definition;
    assert_eq!(
        container(&task, "mcp-runner")["image"],
        "123456789012.dkr.ecr.eu-central-1.amazonaws.com/afu9/mcp-runner:5d1e0aa"
    );
    let control = container(&task, "control-center");
    let smoke = control["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .find(|s| s["name"] == "AFU9_SMOKE_KEY")
        .expect("smoke");
    assert_eq!(smoke["valueFrom"], arns["smoke_key"]);
    let github = control["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .find(|s| s["name"] == "GITHUB_APP_PRIVATE_KEY")
        .expect("github");
    assert_eq!(
        github["valueFrom"],
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/github-app-Zr7vB0",
        "unconfigured secrets are left alone"
    );
}
