//! Secret canaries: every command and output format, at `-vvv`, through
//! success and the failure paths (AWS faults, RED verdicts, rollback,
//! interrupts, a smoke endpoint that echoes the key), must never print a
//! secret value. The values are the testbed's random secrets, read back
//! from Secrets Manager, so a test cannot pass by chance.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use support::{Testbed, fast_config, run};

/// Returns every secret value of the testbed, and for JSON secrets each
/// string inside them too.
fn canaries(testbed: &Testbed) -> Vec<String> {
    let listed = testbed.boto3(
        "out = []\n\
         for s in sm.list_secrets()['SecretList']:\n\
         \x20   v = sm.get_secret_value(SecretId=s['ARN'])['SecretString']\n\
         \x20   out.append(v)\n\
         \x20   try:\n\
         \x20       out.extend(x for x in json.loads(v).values() if isinstance(x, str))\n\
         \x20   except Exception:\n\
         \x20       pass\n\
         print(json.dumps(out))",
    );
    let values: Vec<String> = serde_json::from_str(&listed).expect("secret values");
    let values: Vec<String> = values.into_iter().filter(|v| v.len() >= 8).collect();
    assert!(
        values.len() >= 3,
        "the testbed seeds several secrets: {values:?}"
    );
    values
}

/// Everything a run wrote, collected for one final search.
struct Transcript {
    canaries: Vec<String>,
    summary: PathBuf,
    runs: usize,
}

impl Transcript {
    fn new(testbed: &Testbed) -> Transcript {
        Transcript {
            canaries: canaries(testbed),
            summary: testbed.dir.path().join("summary.md"),
            runs: 0,
        }
    }

    /// Builds a greenlight command at `-vvv` that also writes a step summary.
    fn command(&self, testbed: &Testbed, config: &Path) -> Command {
        let mut command = testbed.greenlight(config);
        command
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env("RUST_BACKTRACE", "1")
            .arg("-vvv");
        command
    }

    fn check(&mut self, label: &str, text: &str) {
        self.runs += 1;
        for canary in &self.canaries {
            assert!(
                !text.contains(canary.as_str()),
                "a secret value leaked in {label}:\n{text}"
            );
        }
    }

    fn run(&mut self, label: &str, command: &mut Command) -> support::Run {
        let result = run(command);
        self.check(&format!("{label} stdout"), &result.stdout);
        self.check(&format!("{label} stderr"), &result.stderr);
        result
    }

    /// Starts a command, sends `signal` once a stderr line contains
    /// `trigger`, and checks all output.
    fn run_interrupted(&mut self, label: &str, mut command: Command, trigger: &str, signal: &str) {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn greenlight");

        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("line");
            let hit = line.contains(trigger);
            seen.push(line);
            if hit {
                break;
            }
        }
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());

        seen.extend(lines.map_while(Result::ok));
        let output = child.wait_with_output().expect("wait");
        let stderr = seen.join("\n");
        assert!(
            seen.iter().any(|l| l.contains(trigger)),
            "{label}: never reached {trigger:?}:\n{stderr}"
        );
        self.check(
            &format!("{label} stdout"),
            &String::from_utf8_lossy(&output.stdout),
        );
        self.check(&format!("{label} stderr"), &stderr);
    }

    fn check_files(&mut self, extra: &[&Path]) {
        let summary = std::fs::read_to_string(&self.summary).unwrap_or_default();
        assert!(!summary.is_empty(), "the step summary was written");
        self.check("the step summary", &summary);
        for path in extra {
            let text = std::fs::read_to_string(path).expect("output file");
            self.check(&path.display().to_string(), &text);
        }
    }
}

#[test]
fn success_and_fault_paths_never_print_secrets() {
    let testbed = Testbed::start(&[]);
    let config = fast_config(&testbed);
    let mut transcript = Transcript::new(&testbed);

    for format in ["text", "json"] {
        let verify = transcript.run(
            "verify of the stale service",
            transcript
                .command(&testbed, &config)
                .args(["verify", "--env", "staging", "--format", format]),
        );
        assert_eq!(verify.code, 1, "stale state is RED");
    }
    transcript.run(
        "plan",
        transcript
            .command(&testbed, &config)
            .args(["plan", "--env", "staging", "--tag", "abc1234"]),
    );
    transcript.run(
        "guard",
        transcript
            .command(&testbed, &config)
            .args(["guard", "--env", "staging", "--tag", "abc1234"]),
    );
    let deploy = transcript.run(
        "deploy",
        transcript
            .command(&testbed, &config)
            .args(["deploy", "--env", "staging", "--tag", "abc1234"]),
    );
    assert_eq!(deploy.code, 0, "{}\n{}", deploy.stdout, deploy.stderr);
    for format in ["text", "json"] {
        let verify = transcript.run(
            "verify after the deploy",
            transcript.command(&testbed, &config).args([
                "verify", "--env", "staging", "--tag", "abc1234", "--format", format,
            ]),
        );
        assert_eq!(verify.code, 0, "{}", verify.stdout);
    }

    // AWS faults on the calls that carry secret values.
    let faults = [
        ("secretsmanager:GetSecretValue", "malformed"),
        ("secretsmanager:GetSecretValue", "5xx"),
        ("secretsmanager:GetSecretValue", "drop"),
        ("secretsmanager:DescribeSecret", "throttle"),
        ("ecs:DescribeTaskDefinition", "malformed"),
        ("ecs:UpdateService", "5xx"),
    ];
    for (index, (operation, fault)) in faults.iter().enumerate() {
        testbed.control("DELETE", "faults", None);
        testbed.control(
            "POST",
            "faults",
            Some(&json!({"operation": operation, "fault": fault, "times": null})),
        );
        let tag = format!("canary{index}");
        // One format per fault keeps the test short; the list alternates.
        let format = if index % 2 == 0 { "text" } else { "json" };
        let result = transcript.run(
            &format!("deploy with {operation} {fault}"),
            transcript.command(&testbed, &config).args([
                "deploy",
                "--env",
                "staging",
                "--tag",
                &tag,
                "--skip-gates",
                "--rollback-on-failure",
                "--format",
                format,
            ]),
        );
        assert_ne!(result.code, 0, "{operation} {fault} cannot be GREEN");
        if operation.starts_with("secretsmanager:") {
            transcript.run(
                &format!("verify with {operation} {fault}"),
                transcript.command(&testbed, &config).args([
                    "verify",
                    "--env",
                    "staging",
                    "--skip-gates",
                ]),
            );
        }
    }
    testbed.control("DELETE", "faults", None);

    // render gets ARNs, never values, but check its output file anyway.
    let described = testbed.dir.path().join("described.json");
    let live = testbed.staging_task_definition();
    std::fs::write(&described, live.to_string()).expect("described");
    let arns = testbed.boto3(
        "print(sm.describe_secret(SecretId='afu9/stage/smoke-key')['ARN'])\n\
         print(sm.describe_secret(SecretId='afu9/stage/database')['ARN'])",
    );
    let mut arns = arns.lines();
    let rendered = testbed.dir.path().join("rendered.json");
    let render = transcript.run(
        "render",
        transcript
            .command(&testbed, &config)
            .args(["render", "--tag", "abc1234", "--input"])
            .arg(&described)
            .arg("--output")
            .arg(&rendered)
            .arg("--secret-arn")
            .arg(format!("smoke_key={}", arns.next().expect("smoke ARN")))
            .arg("--secret-arn")
            .arg(format!("database={}", arns.next().expect("database ARN"))),
    );
    assert_eq!(render.code, 0, "{}", render.stderr);
    transcript.check_files(&[&rendered]);
    assert!(transcript.runs >= 30, "{} outputs checked", transcript.runs);
}

#[test]
fn red_rollback_and_interrupts_never_print_secrets() {
    let testbed = Testbed::start(&["--runner-health", "UNHEALTHY"]);
    let config = fast_config(&testbed);
    let mut transcript = Transcript::new(&testbed);

    for (index, format) in ["text", "json"].iter().enumerate() {
        let result = transcript.run(
            "deploy with an unhealthy runner",
            transcript.command(&testbed, &config).args([
                "deploy",
                "--env",
                "staging",
                "--tag",
                &format!("red{index}"),
                "--skip-gates",
                "--rollback-on-failure",
                "--format",
                format,
            ]),
        );
        assert_eq!(result.code, 1, "{}\n{}", result.stdout, result.stderr);
    }

    // A rollout that never completes, interrupted while waiting.
    testbed.control("POST", "behaviour", Some(&json!({"rollout": "stuck"})));
    let mut deploy = transcript.command(&testbed, &config);
    deploy.args(["deploy", "--env", "staging", "--tag", "stuck1"]);
    transcript.run_interrupted(
        "deploy interrupted by SIGTERM",
        deploy,
        "starting tasks",
        "-TERM",
    );
    let mut deploy = transcript.command(&testbed, &config);
    deploy.args([
        "deploy", "--env", "staging", "--tag", "stuck2", "--format", "json",
    ]);
    transcript.run_interrupted(
        "deploy interrupted by SIGINT",
        deploy,
        "starting tasks",
        "-INT",
    );
    transcript.check_files(&[]);
}

/// Starts a loopback HTTP server that responds 401 to every request and
/// echoes each request header back as a response header and in the body,
/// like a careless debug endpoint.
fn start_echo_server() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    std::thread::spawn(move || {
        while !stopped.load(Ordering::Relaxed) {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buffer = vec![0u8; 8192];
            let read = stream.read(&mut buffer).unwrap_or(0);
            let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
            let mut echoed = String::new();
            for line in request.lines().skip(1) {
                if let Some((name, value)) = line.split_once(':') {
                    echoed.push_str(&format!("x-echo-{}: {}\r\n", name.trim(), value.trim()));
                }
            }
            let response = format!(
                "HTTP/1.1 401 Unauthorized\r\n{echoed}content-length: {}\r\nconnection: \
                 close\r\n\r\n{request}",
                request.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, stop)
}

#[test]
fn echoed_key_is_never_printed() {
    let testbed = Testbed::start(&[]);
    // Expecting the echoed key header makes the smoke check print the
    // value the endpoint sent back in that header.
    let config = support::config_with(
        &testbed,
        &[(
            "x-afu9-smoke-auth-used = \"1\"",
            "x-afu9-smoke-auth-used = \"1\"\nx-echo-x-afu9-smoke-key = \"1\"",
        )],
    );
    let mut transcript = Transcript::new(&testbed);
    let (port, stop) = start_echo_server();
    // Map both ports so that no request ever leaves loopback.
    let connect_to =
        format!("stage.afu-9.com:80:127.0.0.1:{port},stage.afu-9.com:443:127.0.0.1:{port}");
    for format in ["text", "json"] {
        let result = transcript.run(
            "verify against an echoing endpoint",
            transcript
                .command(&testbed, &config)
                .env("GREENLIGHT_CONNECT_TO", &connect_to)
                .args([
                    "verify",
                    "--env",
                    "staging",
                    "--plain-http",
                    "--skip-gates",
                    "--smoke-deadline",
                    "1s",
                    "--format",
                    format,
                ]),
        );
        assert_eq!(result.code, 1, "{}\n{}", result.stdout, result.stderr);
        assert!(result.stdout.contains("401"), "{}", result.stdout);
        assert!(
            result.stdout.contains("x-echo-x-afu9-smoke-key"),
            "the echoed header is judged: {}",
            result.stdout
        );
    }
    transcript.check_files(&[]);
    stop.store(true, Ordering::Relaxed);
}
