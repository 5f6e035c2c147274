//! Test harness: starts the loopback testbed (moto_server, the scheduler
//! proxy and the smoke endpoint) and runs the greenlight binary against it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Returns the repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Returns the path of the example configuration in the repository.
pub fn example_config() -> PathBuf {
    repo_root().join("examples/afu9/greenlight.toml")
}

/// A running testbed; stopped when dropped.
pub struct Testbed {
    child: Child,
    pub dir: tempfile::TempDir,
    pub info: Value,
}

impl Testbed {
    /// Starts a testbed with extra `testbed.py` arguments.
    pub fn start(args: &[&str]) -> Testbed {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = repo_root().join("testbed/testbed.py");
        let child = Command::new("python3")
            .arg(&script)
            .arg("--state-dir")
            .arg(dir.path())
            .arg("--exit-on-stdin-eof")
            .args(["--task-start-seconds", "0.3", "--rollout-seconds", "0.5"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed to run the testbed");
        let mut testbed = Testbed {
            child,
            dir,
            info: Value::Null,
        };
        let ready = testbed.dir.path().join("testbed.json");
        let started = Instant::now();
        while !ready.exists() {
            if let Ok(Some(status)) = testbed.child.try_wait() {
                let mut stderr = String::new();
                if let Some(pipe) = testbed.child.stderr.as_mut() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!(
                    "testbed exited with {status} before it was ready (is moto[server] \
                     installed?):\n{stderr}"
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "testbed not ready after 60 s; see {}",
                testbed.dir.path().join("testbed.log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = std::fs::read_to_string(&ready).expect("testbed.json");
        testbed.info = serde_json::from_str(&text).expect("testbed.json is JSON");
        testbed
    }

    pub fn aws_endpoint(&self) -> String {
        self.info["aws_endpoint"]
            .as_str()
            .expect("aws_endpoint")
            .to_string()
    }

    pub fn smoke_port(&self) -> u64 {
        self.info["smoke_https_port"].as_u64().expect("smoke port")
    }

    pub fn ca_file(&self) -> String {
        self.info["ca_file"].as_str().expect("ca_file").to_string()
    }

    /// Builds a greenlight command with the testbed's endpoint, dummy
    /// credentials and the smoke override, and nothing from the caller's
    /// environment but PATH and HOME.
    pub fn greenlight(&self, config: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", self.aws_endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env(
                "GREENLIGHT_CONNECT_TO",
                format!(
                    "stage.afu-9.com:443:127.0.0.1:{0},afu-9.com:443:127.0.0.1:{0}",
                    self.smoke_port()
                ),
            )
            .env("GREENLIGHT_CA_FILE", self.ca_file())
            .arg("--config")
            .arg(config);
        command
    }

    /// Sends a request to the control API and returns the JSON response.
    pub fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let endpoint = self.aws_endpoint();
        let address = endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("connect to the proxy");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} /_testbed/{path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, payload) = response.split_once("\r\n\r\n").expect("HTTP response");
        assert!(
            head.starts_with("HTTP/1.1 2") || head.starts_with("HTTP/1.0 2"),
            "control API {method} {path} failed: {head}\n{payload}"
        );
        serde_json::from_str(payload).unwrap_or(Value::Null)
    }

    /// Returns the AWS operations the proxy received, like `ecs:UpdateService`.
    pub fn operations(&self) -> Vec<String> {
        self.control("GET", "calls", None)
            .as_array()
            .expect("calls array")
            .iter()
            .filter_map(|c| c["operation"].as_str().map(str::to_string))
            .collect()
    }

    /// Runs Python with boto3 against moto behind the proxy, for setting up
    /// a test's state; `script` gets clients `sm` and `ecs`.
    pub fn boto3(&self, script: &str) -> String {
        let prelude = format!(
            "import boto3, json\n\
             kw = dict(endpoint_url='{}', region_name='eu-central-1', \
             aws_access_key_id='testing', aws_secret_access_key='testing')\n\
             sm = boto3.client('secretsmanager', **kw)\n\
             ecs = boto3.client('ecs', **kw)\n",
            self.aws_endpoint()
        );
        let output = Command::new("python3")
            .arg("-c")
            .arg(format!("{prelude}{script}"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("python3");
        assert!(
            output.status.success(),
            "boto3 script failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Returns the ARN of the task definition the staging service runs, as
    /// the scheduler proxy reports it.
    pub fn staging_task_definition_arn(&self) -> String {
        self.boto3(
            "svc = ecs.describe_services(cluster='afu9-cluster', \
             services=['afu9-control-center-staging'])['services'][0]\n\
             print(svc['taskDefinition'])",
        )
    }

    /// Returns `DescribeTaskDefinition` of the revision the staging service
    /// runs, with its `taskDefinition` wrapper.
    pub fn staging_task_definition(&self) -> Value {
        let arn = self.staging_task_definition_arn();
        let text = self.boto3(&format!(
            "print(json.dumps(ecs.describe_task_definition(taskDefinition='{arn}')))"
        ));
        serde_json::from_str(&text).expect("DescribeTaskDefinition output is JSON")
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        // Closing stdin tells the testbed to stop. It is killed if it
        // lingers.
        drop(self.child.stdin.take());
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a copy of the example configuration with text replaced, into
/// the folder of `testbed`, and returns its path. Gate folders stay those
/// of the example app.
pub fn config_with(testbed: &Testbed, replacements: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(example_config()).expect("example config");
    let app = repo_root().join("examples/afu9/app");
    text = text.replace("dir = \"app\"", &format!("dir = \"{}\"", app.display()));
    for (from, to) in replacements {
        assert!(text.contains(from), "the example config has no {from:?}");
        text = text.replace(from, to);
    }
    let path = testbed.dir.path().join("greenlight.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Writes a test configuration with a short smoke deadline, so RED comes
/// quickly.
pub fn fast_config(testbed: &Testbed) -> PathBuf {
    config_with(
        testbed,
        &[
            ("deadline = \"120s\"", "deadline = \"4s\""),
            ("poll_interval = \"2s\"", "poll_interval = \"200ms\""),
            ("deadline = \"15m\"", "deadline = \"60s\""),
        ],
    )
}

/// stdout and stderr of a finished command, as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(command: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run greenlight");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}
