//! Differential test against real bash: for generated straight-line
//! scripts, greenlight's first error must be the line where `bash` stops
//! with "unbound variable", and a script greenlight finds no error in must
//! run to the end. Scripts use only builtins, so no command runs.
//! Skips when `bash` is not installed.

use std::collections::HashSet;
use std::process::Command;

use greenlight_lint::shell::analyze::{ScriptContext, UseKind, analyze};
use greenlight_lint::shell::{new_parser, parse};
use greenlight_lint::{LintOptions, Severity, lint};

/// Names the generated scripts use; `EXT` is set in the environment.
/// Every value assigned is a number, because bash evaluates a variable's
/// value as an expression in arithmetic, where a word would be a name.
const NAMES: &[&str] = &["a", "b", "c", "EXT", "MISSING"];
const SCRIPTS: usize = 1000;

/// A small linear congruential generator, so runs are reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound
    }
}

fn statement(rng: &mut Lcg) -> String {
    let name = NAMES[rng.next(NAMES.len())];
    match rng.next(24) {
        0 | 1 => format!("{name}={}", rng.next(9)),
        2 => format!("export {name}=2"),
        3 => format!("unset {name}"),
        4..=7 => format!(": \"${name}\""),
        8 => format!(": \"${{{name}}}\""),
        9 => format!(": \"${{{name}:-d}}\" \"${{{name}-d}}\""),
        10 => format!(": \"${{{name}:+x}}\" \"${{{name}+x}}\""),
        11 => format!(": \"${{{name}:=5}}\""),
        12 => format!(": \"${{#{name}}}\""),
        13 => format!(": $(( {name} + 1 ))"),
        14 => format!("(( {name} = 3 ))"),
        15 => format!("(( {name}++ )) || :"),
        16 => format!("read -r {name} <<< \"4\""),
        17 => format!("printf -v {name} '%s' 3"),
        18 => format!("export {name}"),
        19 => format!("echo x | read -r {name}"),
        20 => format!("( {name}=1 )"),
        21 => ": \"$1\"".to_string(),
        22 => "set -u".to_string(),
        _ => "set +u".to_string(),
    }
}

/// Returns the first line (1-based) greenlight reports as an error, with
/// the names reported on that line.
fn greenlight_first_error(script: &str) -> Option<(usize, HashSet<String>)> {
    let mut parser = new_parser().expect("bash grammar loads");
    let tree = parse(&mut parser, script).expect("script parses");
    let external = |name: &str| name == "EXT";
    let cx = ScriptContext {
        nounset: false,
        positionals_unknown: false,
        bash32: false,
    };
    let errors: Vec<(usize, String)> = analyze(&tree, script, cx)
        .unless_set_by(external)
        .into_uses()
        .into_iter()
        .filter(|u| u.nounset)
        .map(|u| {
            let line = script[..u.start].matches('\n').count() + 1;
            let name = match u.kind {
                UseKind::Positional => format!("${}", u.name),
                _ => u.name,
            };
            (line, name)
        })
        .collect();
    let first = errors.iter().map(|(line, _)| *line).min()?;
    let names = errors
        .into_iter()
        .filter(|(line, _)| *line == first)
        .map(|(_, name)| name)
        .collect();
    Some((first, names))
}

/// Runs the script under bash and returns where it stopped with
/// "unbound variable", or `None` when it ran to the end.
fn bash_first_error(script: &str, dir: &std::path::Path, index: usize) -> Option<(usize, String)> {
    let path = dir.join(format!("script-{index}.sh"));
    std::fs::write(&path, script).expect("write script");
    let output = Command::new("bash")
        .arg(&path)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("EXT", "7")
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().find(|l| l.contains("unbound variable"));
    match line {
        None => {
            assert!(
                output.status.success(),
                "bash failed without an unbound variable:\n{script}\n{stderr}"
            );
            None
        }
        Some(line) => {
            // "<path>: line N: NAME: unbound variable"
            let mut parts = line.split(": ");
            let _path = parts.next();
            let number = parts.next()?.trim_start_matches("line ").parse().ok()?;
            let name = parts.next()?.to_string();
            Some((number, name))
        }
    }
}

#[test]
fn errors_match_bash_on_generated_scripts() {
    if Command::new("bash").arg("-c").arg(":").output().is_err() {
        eprintln!("skipped: bash is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("greenlight-differential-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rng = Lcg(0x5eed);
    let mut with_error = 0;
    for index in 0..SCRIPTS {
        let count = 3 + rng.next(10);
        let mut script = String::new();
        if rng.next(4) != 0 {
            script.push_str("set -u\n");
        }
        for _ in 0..count {
            script.push_str(&statement(&mut rng));
            script.push('\n');
        }
        let ours = greenlight_first_error(&script);
        let theirs = bash_first_error(&script, &dir, index);
        match (&ours, &theirs) {
            (None, None) => {}
            (Some((line, names)), Some((bash_line, bash_name))) => {
                with_error += 1;
                assert_eq!(line, bash_line, "first error line differs:\n{script}");
                assert!(
                    names.contains(bash_name),
                    "bash stopped on {bash_name}, greenlight reported {names:?}:\n{script}"
                );
            }
            _ => panic!("greenlight {ours:?}, bash {theirs:?}:\n{script}"),
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    // The generator must exercise both outcomes.
    assert!(
        with_error > SCRIPTS / 10,
        "only {with_error} scripts failed"
    );
    assert!(with_error < SCRIPTS * 9 / 10, "{with_error} scripts failed");
}

/// Names the generated workflows use. `W` is in the workflow's `env:`,
/// `J` in the job's and `S` in the first step's, which the second step
/// must not see. The first step writes `G` to `$GITHUB_ENV`, `T` is in the
/// second step's own `env:`, and `MISSING` is set nowhere.
const WORKFLOW_NAMES: &[&str] = &["W", "J", "S", "G", "T", "MISSING", "a"];
const WORKFLOWS: usize = 150;

fn workflow_statement(rng: &mut Lcg) -> String {
    let name = WORKFLOW_NAMES[rng.next(WORKFLOW_NAMES.len())];
    match rng.next(8) {
        0 => format!("{name}=1"),
        1 => format!("unset {name}"),
        2 => format!(": \"${{{name}:-d}}\""),
        3 => format!(": $(( {name} + 1 ))"),
        _ => format!(": \"${name}\""),
    }
}

/// Builds a two-step workflow whose second step runs `script`, and
/// returns it with the 1-based line of the script's first line.
fn two_step_workflow(script: &str) -> (String, usize) {
    let mut text = String::from(
        "on: push\nenv:\n  W: '1'\njobs:\n  job:\n    runs-on: ubuntu-latest\n    env:\n      J: '2'\n    steps:\n      - env:\n          S: '3'\n        run: echo \"G=4\" >> \"$GITHUB_ENV\"\n      - env:\n          T: '5'\n        run: |\n",
    );
    let first_line = text.matches('\n').count() + 1;
    for line in script.lines() {
        text.push_str("          ");
        text.push_str(line);
        text.push('\n');
    }
    (text, first_line)
}

#[test]
fn workflow_errors_match_bash() {
    if Command::new("bash").arg("-c").arg(":").output().is_err() {
        eprintln!("skipped: bash is not installed");
        return;
    }
    let dir =
        std::env::temp_dir().join(format!("greenlight-differential-wf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rng = Lcg(0xf10);
    let mut with_error = 0;
    for index in 0..WORKFLOWS {
        let mut script = String::from("set -u\n");
        for _ in 0..(2 + rng.next(6)) {
            script.push_str(&workflow_statement(&mut rng));
            script.push('\n');
        }
        let (workflow, first_line) = two_step_workflow(&script);
        let path = dir.join(format!("workflow-{index}.yml"));
        std::fs::write(&path, &workflow).expect("write workflow");
        let report = lint(&LintOptions {
            paths: vec![path],
            ..LintOptions::default()
        });
        let ours = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.line + 1 - first_line)
            .min();

        // The environment GitHub gives the second step: workflow and job
        // env, the first step's $GITHUB_ENV write, the step's own env.
        let script_path = dir.join(format!("step-{index}.sh"));
        std::fs::write(&script_path, &script).expect("write script");
        let output = Command::new("bash")
            .arg(&script_path)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("W", "1")
            .env("J", "2")
            .env("G", "4")
            .env("T", "5")
            .output()
            .expect("bash runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let theirs: Option<usize> = stderr
            .lines()
            .find(|l| l.contains("unbound variable"))
            .and_then(|l| l.split(": line ").nth(1))
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse().ok());
        if theirs.is_some() {
            with_error += 1;
        }
        assert_eq!(
            ours, theirs,
            "first error line differs:\n{workflow}\n{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        with_error > WORKFLOWS / 10,
        "only {with_error} workflows failed"
    );
}
