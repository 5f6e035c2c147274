//! The renderer over arbitrary JSON with a fixed configuration: `render`,
//! `registrable` and `diff` may reject the input, never panic.

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use greenlight_core::config::Config;
use greenlight_core::render::{RenderInput, diff, registrable, render};
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
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

fn config() -> &'static Config {
    static CONFIG_CELL: OnceLock<Config> = OnceLock::new();
    CONFIG_CELL.get_or_init(|| Config::parse(CONFIG).expect("the fuzz configuration is valid"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(described) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
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
        config: config(),
        tag: "abc1234",
        secret_arns: &arns,
    };
    if let (Ok(rendered), Ok(live)) = (render(&described, &input), registrable(&described)) {
        let _ = diff(&live, &rendered.task_definition, "live", "rendered");
    }
});
