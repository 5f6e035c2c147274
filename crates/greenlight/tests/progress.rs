//! Progress during a deploy: plain timestamped lines when stderr is not a
//! terminal, an indicatif spinner when it is one.

mod support;

use std::process::Command;

use support::{Testbed, fast_config, run};

/// Returns true for `HH:MM:SS ` at the start of a line.
fn starts_with_clock(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 9
        && bytes[2] == b':'
        && bytes[5] == b':'
        && bytes[8] == b' '
        && [0, 1, 3, 4, 6, 7]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit())
}

#[test]
fn piped_stderr_gets_plain_lines() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);

    let deploy = run(testbed.greenlight(&config).args([
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--skip-gates",
    ]));
    assert_eq!(deploy.code, 0, "{}\n{}", deploy.stdout, deploy.stderr);
    assert!(!deploy.stderr.contains('\x1b'), "{:?}", deploy.stderr);
    assert!(!deploy.stderr.contains('\r'), "{:?}", deploy.stderr);
    let lines: Vec<&str> = deploy.stderr.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("rollout completed")),
        "{}",
        deploy.stderr
    );
    for line in lines {
        assert!(starts_with_clock(line), "not a progress line: {line:?}");
    }
}

#[test]
fn quiet_deploy_prints_no_progress() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);

    let deploy = run(testbed.greenlight(&config).args([
        "-q",
        "deploy",
        "--env",
        "staging",
        "--tag",
        "abc1234",
        "--skip-gates",
    ]));
    assert_eq!(deploy.code, 0, "{}\n{}", deploy.stdout, deploy.stderr);
    assert_eq!(deploy.stderr, "");
}

/// Runs the deploy under a pseudo-terminal with util-linux `script`, so
/// stderr is a terminal. Skips where `script` is not installed.
#[test]
fn terminal_gets_spinner() {
    let available = Command::new("script").arg("--version").output();
    if !available.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: util-linux script is not installed");
        return;
    }
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);

    // `script` runs the command line with sh, so quote each word.
    let binary = env!("CARGO_BIN_EXE_greenlight");
    let command_line = format!(
        "'{binary}' --config '{}' deploy --env staging --tag abc1234 --skip-gates",
        config.display()
    );
    let mut command = testbed.greenlight(&config);
    let environment: Vec<(String, String)> = command
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .collect();
    command = Command::new("script");
    command
        .env_clear()
        .envs(environment)
        .env("TERM", "xterm")
        .args(["-q", "-e", "-c", &command_line, "/dev/null"]);
    let result = run(&mut command);
    assert_eq!(result.code, 0, "{}", result.stdout);

    // indicatif redraws its line with carriage returns and erase-line
    // sequences; the report still arrives whole after the spinner is gone.
    assert!(result.stdout.contains("\x1b[2K"), "{:?}", result.stdout);
    assert!(
        result.stdout.contains("rollout completed"),
        "{}",
        result.stdout
    );
    let report_start = result.stdout.find("deploy staging (").expect("report");
    let report = &result.stdout[report_start..];
    assert!(
        !report.contains("\x1b[2K"),
        "spinner drawn into report: {report:?}"
    );
    assert!(report.trim_end().ends_with("GREEN"), "{report:?}");
}
