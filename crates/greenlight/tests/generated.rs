//! Files generated from the clap and config definitions: the committed
//! JSON Schema, shell completions, the man page and the version line.

mod support;

use std::process::Command;

use support::{repo_root, run};

fn greenlight() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
    command.env_remove("GREENLIGHT_CONFIG");
    command
}

#[test]
fn committed_schema_is_current() {
    let result = run(greenlight().arg("schema"));
    assert_eq!(result.code, 0, "{}", result.stderr);
    let path = repo_root().join("docs/greenlight.schema.json");
    let committed = std::fs::read_to_string(&path).expect("docs/greenlight.schema.json");
    assert!(
        committed == result.stdout,
        "{} is stale; regenerate it with `greenlight schema > docs/greenlight.schema.json`",
        path.display()
    );
}

#[test]
fn schema_describes_config_keys() {
    let result = run(greenlight().arg("schema"));
    let schema: serde_json::Value = serde_json::from_str(&result.stdout).expect("JSON");
    let properties = &schema["properties"];
    for key in ["region", "registry", "environments", "containers", "smoke"] {
        assert!(properties.get(key).is_some(), "schema lacks {key}");
    }
    let required = schema["required"].as_array().expect("required list");
    assert!(required.iter().any(|k| k == "smoke"), "{required:?}");
    assert_eq!(
        schema["definitions"]["Rollout"]["properties"]["deadline"]["default"],
        "15m"
    );
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _greenlight"),
        ("zsh", "#compdef greenlight"),
        ("fish", "complete -c greenlight"),
    ] {
        let result = run(greenlight().args(["completions", shell]));
        assert_eq!(result.code, 0, "{shell}: {}", result.stderr);
        assert!(result.stdout.contains(marker), "{shell}: no {marker:?}");
        assert!(result.stdout.contains("deploy"), "{shell}: no deploy");
    }
}

#[test]
fn completions_reject_unknown_shell() {
    let result = run(greenlight().args(["completions", "tcsh"]));
    assert_eq!(result.code, 2);
}

#[test]
fn man_page_to_stdout() {
    let result = run(greenlight().arg("man"));
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(
        result.stdout.contains(".TH greenlight 1"),
        "{}",
        result.stdout
    );
    assert!(result.stdout.contains("Exit codes"), "{}", result.stdout);
}

#[test]
fn man_pages_into_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let result = run(greenlight().args(["man", "--output-dir"]).arg(dir.path()));
    assert_eq!(result.code, 0, "{}", result.stderr);
    for page in ["greenlight.1", "greenlight-deploy.1", "greenlight-init.1"] {
        assert!(dir.path().join(page).is_file(), "{page} missing");
    }
}

#[test]
fn version_names_commit() {
    let result = run(greenlight().arg("--version"));
    assert_eq!(result.code, 0);
    assert!(
        result
            .stdout
            .starts_with(concat!("greenlight ", env!("CARGO_PKG_VERSION"))),
        "{}",
        result.stdout
    );
    // Built from a git checkout, the version carries the commit.
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(repo_root())
        .output();
    if let Ok(head) = head
        && head.status.success()
    {
        let commit = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert!(
            result.stdout.contains(&format!("(commit {commit})")),
            "{} lacks {commit}",
            result.stdout
        );
    }
}

#[test]
fn new_subcommands_have_examples() {
    for command in ["init", "completions", "man", "schema"] {
        let result = run(greenlight().args([command, "--help"]));
        assert_eq!(result.code, 0, "{command}: {}", result.stderr);
        assert!(
            result.stdout.contains("Examples:"),
            "{command}: {}",
            result.stdout
        );
    }
}
