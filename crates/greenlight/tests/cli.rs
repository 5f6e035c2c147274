//! The command line without AWS: help, versions, exit codes, lint wiring.

mod support;

use std::process::Command;

use support::{example_config, repo_root, run};

fn greenlight() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
    command
        .env_remove("GREENLIGHT_CONFIG")
        .env_remove("DEPLOY_ENV")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

#[test]
fn help_lists_exit_codes() {
    let result = run(greenlight().arg("--help"));
    assert_eq!(result.code, 0);
    assert!(
        result.stdout.contains("2  usage or input error"),
        "{}",
        result.stdout
    );
    for command in ["lint", "render", "plan", "deploy", "verify", "guard"] {
        assert!(
            result.stdout.contains(command),
            "{command} missing from help"
        );
    }
}

#[test]
fn every_subcommand_help_has_examples() {
    for command in ["lint", "render", "plan", "deploy", "verify", "guard"] {
        let result = run(greenlight().args([command, "--help"]));
        assert_eq!(result.code, 0, "{command}");
        assert!(
            result.stdout.contains("Examples:"),
            "{command}: {}",
            result.stdout
        );
    }
}

#[test]
fn unknown_subcommand_is_usage_error() {
    let result = run(greenlight().arg("deplyo"));
    assert_eq!(result.code, 2);
    assert!(result.stderr.contains("deplyo"), "{}", result.stderr);
}

#[test]
fn missing_config_is_input_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let result = run(greenlight()
        .current_dir(dir.path())
        .args(["plan", "--env", "staging"]));
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(
        result.stderr.contains("greenlight.toml"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("--config"), "{}", result.stderr);
}

#[test]
fn lint_uses_configuration_for_images_and_environments() {
    let workflow = repo_root().join("../shared/fixtures/afu9/deploy-staging.yml");
    if !workflow.exists() {
        eprintln!("skipped: {} is absent", workflow.display());
        return;
    }
    let result = run(greenlight()
        .arg("--config")
        .arg(example_config())
        .arg("lint")
        .arg(&workflow));
    assert_eq!(result.code, 1, "{}", result.stdout);
    for rule in [
        "unbuilt-image",
        "hardcoded-secret-arn",
        "cross-environment-reference",
        "unbound-variable",
    ] {
        assert!(
            result.stdout.contains(&format!("error[{rule}]")),
            "{rule}:\n{}",
            result.stdout
        );
    }
    assert!(
        result.stdout.contains("deploy-staging.yml:103:23"),
        "{}",
        result.stdout
    );
}

#[test]
fn lint_ignore_rule_from_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = std::fs::read_to_string(example_config()).expect("config")
        + "\n[lint]\nignore_rules = [\"unbound-variable\"]\n";
    let path = dir.path().join("greenlight.toml");
    std::fs::write(&path, config).expect("write");
    let workflow = dir.path().join("w.yml");
    std::fs::write(
        &workflow,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          set -u\n          echo \"$NOT_SET\"\n",
    )
    .expect("write");
    let result = run(greenlight()
        .arg("--config")
        .arg(&path)
        .arg("lint")
        .arg(&workflow));
    assert_eq!(result.code, 0, "{}", result.stdout);
    let unknown = std::fs::read_to_string(&path)
        .expect("read")
        .replace("unbound-variable\"]", "no-such-rule\"]");
    std::fs::write(&path, unknown).expect("write");
    let result = run(greenlight()
        .arg("--config")
        .arg(&path)
        .arg("lint")
        .arg(&workflow));
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(result.stderr.contains("no-such-rule"), "{}", result.stderr);
}

#[test]
fn render_offline_round_trip() {
    let described = repo_root().join("crates/greenlight-core/tests/data/described-full.json");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("greenlight.toml");
    std::fs::write(
        &config,
        r#"region = "eu-west-1"
registry = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
[environments.staging]
cluster = "shop"
service = "shop-web-staging"
hosts = ["stage.shop.example"]
secrets = { smoke = "shop/stage/smoke" }
[[containers]]
name = "web"
repository = "shop/web"
[[secrets]]
container = "web"
variable = "SMOKE_KEY"
secret = "smoke"
[smoke]
path = "/health"
secret = "smoke"
header = "x-smoke-key"
"#,
    )
    .expect("write");
    let arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/stage/smoke-AbC123";
    let result = run(greenlight()
        .arg("--config")
        .arg(&config)
        .args([
            "render",
            "--tag",
            "v9",
            "--secret-arn",
            &format!("smoke={arn}"),
            "--input",
        ])
        .arg(&described));
    assert_eq!(result.code, 0, "{}", result.stderr);
    let rendered: serde_json::Value = serde_json::from_str(&result.stdout).expect("JSON");
    assert_eq!(
        rendered["containerDefinitions"][0]["image"],
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/web:v9"
    );
    assert!(rendered.get("revision").is_none());

    let missing = run(greenlight()
        .arg("--config")
        .arg(&config)
        .args(["render", "--tag", "v9", "--input"])
        .arg(&described));
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("--secret-arn smoke=ARN"),
        "{}",
        missing.stderr
    );

    let unknown_key = run(greenlight()
        .arg("--config")
        .arg(&config)
        .args([
            "render",
            "--tag",
            "v9",
            "--secret-arn",
            &format!("smoke={arn}"),
        ])
        .args(["--secret-arn", &format!("bogus={arn}"), "--input"])
        .arg(&described));
    assert_eq!(unknown_key.code, 2);
    assert!(
        unknown_key.stderr.contains("--secret-arn bogus"),
        "{}",
        unknown_key.stderr
    );

    let other = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/stage/database-AbC123";
    let wrong_secret = run(greenlight()
        .arg("--config")
        .arg(&config)
        .args([
            "render",
            "--tag",
            "v9",
            "--secret-arn",
            &format!("smoke={other}"),
            "--input",
        ])
        .arg(&described));
    assert_eq!(wrong_secret.code, 2);
    assert!(
        wrong_secret
            .stderr
            .contains("names the secret \"shop/stage/database\""),
        "{}",
        wrong_secret.stderr
    );

    let twice = run(greenlight()
        .arg("--config")
        .arg(&config)
        .args([
            "render",
            "--tag",
            "v9",
            "--secret-arn",
            &format!("smoke={arn}"),
        ])
        .args(["--secret-arn", &format!("smoke={arn}"), "--input"])
        .arg(&described));
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("given twice"), "{}", twice.stderr);

    let to_directory = run(greenlight()
        .arg("--config")
        .arg(&config)
        .args([
            "render",
            "--tag",
            "v9",
            "--secret-arn",
            &format!("smoke={arn}"),
        ])
        .arg("--output")
        .arg(dir.path())
        .arg("--input")
        .arg(&described));
    assert_eq!(to_directory.code, 2, "{}", to_directory.stderr);

    let bad_tag = run(greenlight()
        .arg("--config")
        .arg(&config)
        .args([
            "render",
            "--tag",
            "v 9",
            "--secret-arn",
            &format!("smoke={arn}"),
            "--input",
        ])
        .arg(&described));
    assert_eq!(bad_tag.code, 2);
    assert!(
        bad_tag.stderr.contains("image tag \"v 9\" is invalid"),
        "{}",
        bad_tag.stderr
    );
}
