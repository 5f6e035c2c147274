//! `--color` and NO_COLOR on lint findings, the output that colours most.

mod support;

use std::process::Command;

use support::run;

const UNBOUND: &str = "on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - shell: bash
        run: |
          set -u
          echo \"$NOT_SET\"
";

fn lint_output(color: Option<&str>, no_color: Option<&str>) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let workflow = dir.path().join("ci.yml");
    std::fs::write(&workflow, UNBOUND).expect("write workflow");
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
    command
        .env_remove("GREENLIGHT_CONFIG")
        .env_remove("NO_COLOR");
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    if let Some(choice) = color {
        command.args(["--color", choice]);
    }
    let result = run(command.current_dir(dir.path()).arg("lint").arg(&workflow));
    assert_eq!(result.code, 1, "{}\n{}", result.stdout, result.stderr);
    result.stdout
}

#[test]
fn color_always_colours_pipe() {
    assert!(lint_output(Some("always"), None).contains("\x1b["));
}

#[test]
fn color_always_beats_no_color() {
    assert!(lint_output(Some("always"), Some("1")).contains("\x1b["));
}

#[test]
fn color_never_is_plain() {
    assert!(!lint_output(Some("never"), None).contains("\x1b["));
}

#[test]
fn color_auto_plain_on_pipe() {
    assert!(!lint_output(None, None).contains("\x1b["));
}
