//! Replays the fuzz seeds and every input the fuzzers ever crashed on
//! (`fuzz/seeds/TARGET/` and `fuzz/regressions/TARGET/`) through the same
//! calls as the targets in `fuzz/fuzz_targets/`, so a fixed crash stays
//! fixed without cargo-fuzz.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use greenlight_core::config::Config;
use greenlight_core::render::{RenderInput, diff, registrable, render};
use greenlight_lint::{LintOptions, lint};

/// Reads the inputs of one fuzz target, seeds and regressions together.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = support::repo_root().join("fuzz");
    let mut found = Vec::new();
    for folder in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("folder entry").path();
            let bytes = std::fs::read(&path).expect("fuzz input");
            found.push((path, bytes));
        }
    }
    found.sort();
    assert!(!found.is_empty(), "no inputs for the {target} target");
    found
}

#[test]
fn config_inputs_parse_without_panic() {
    for (path, bytes) in inputs("config") {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let outcome = Config::parse(text);
            if path.to_string_lossy().contains("seeds") {
                assert!(outcome.is_ok(), "seed {} is valid", path.display());
            }
        }
    }
}

/// The configuration of the render target (`fuzz/fuzz_targets/render.rs`).
const RENDER_CONFIG: &str = r#"
region = "eu-central-1"
registry = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"

[environments.staging]
cluster = "c"
service = "s"
hosts = ["stage.example.com"]
secrets = { smoke = "app/stage/smoke", db = "app/stage/db" }

[[containers]]
name = "web"
repository = "app/web"

[[containers]]
name = "runner"
repository = "app/runner"
[containers.sidecar]
port = 3004
health_check = "true"
environment = { PORT = "3004" }

[[secrets]]
container = "web"
variable = "SMOKE"
secret = "smoke"

[[secrets]]
container = "web"
variable = "DB_URL"
secret = "db"
json_key = "url"

[smoke]
path = "/health"
secret = "smoke"
header = "x-key"
"#;

#[test]
fn render_inputs_render_without_panic() {
    let config = Config::parse(RENDER_CONFIG).expect("valid configuration");
    let mut arns = BTreeMap::new();
    arns.insert(
        "smoke".to_string(),
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:app/stage/smoke-AbCdEf"
            .to_string(),
    );
    arns.insert(
        "db".to_string(),
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:app/stage/db-GhIjKl".to_string(),
    );
    let input = RenderInput {
        config: &config,
        tag: "abc1234",
        secret_arns: &arns,
    };
    for (path, bytes) in inputs("render") {
        let Ok(described) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let rendered = render(&described, &input);
        if path.to_string_lossy().contains("seeds") {
            assert!(rendered.is_ok(), "seed {} renders", path.display());
        }
        if let (Ok(rendered), Ok(live)) = (rendered, registrable(&described)) {
            let _ = diff(&live, &rendered.task_definition, "live", "rendered");
        }
    }
}

#[test]
fn lint_inputs_lint_without_panic() {
    let folder = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(folder.path().join(".github/workflows")).expect("folder");
    for (_, bytes) in inputs("lint") {
        let Some((kind, body)) = bytes.split_first() else {
            continue;
        };
        let name = match kind % 3 {
            0 => ".github/workflows/fuzz.yml",
            1 => "action.yml",
            _ => "script.sh",
        };
        let path = folder.path().join(name);
        std::fs::write(&path, body).expect("write input");
        let options = LintOptions {
            paths: vec![path.clone()],
            assume_nounset: kind & 4 != 0,
            ..LintOptions::default()
        };
        let _ = lint(&options);
        std::fs::remove_file(&path).expect("remove input");
    }
}
