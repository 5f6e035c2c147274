//! Verdicts of the definition of done, as pure functions over what the
//! edges observed.
//!
//! A deploy is GREEN when every check passes: the smoke request, the secret
//! binding of the active task definition, the health of the required
//! containers, the images of this build, and the repository gates.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::arn::SecretRef;
use crate::config::Config;
use crate::render::{container_definitions, container_named, environment_has, secret_value_from};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

/// One line of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable identifier such as `smoke` or `secret-binding`.
    pub id: String,
    pub status: Status,
    /// Reason it passed or failed, in one line.
    pub summary: String,
    /// Further lines shown on failure (gate output, stopped-task reasons).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Check {
    pub fn pass(id: &str, summary: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            status: Status::Pass,
            summary: summary.into(),
            details: Vec::new(),
        }
    }

    pub fn fail(id: &str, summary: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            status: Status::Fail,
            summary: summary.into(),
            details: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: Vec<String>) -> Check {
        self.details = details;
        self
    }
}

/// Outcome of one smoke request. The key itself is never part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmokeObservation {
    Response {
        status: u16,
        /// Header names in lower case.
        headers: BTreeMap<String, String>,
    },
    /// The request failed before a response: DNS, TLS, timeout.
    Error(String),
}

/// Judges one smoke response against the expected status and headers.
pub fn judge_smoke(config: &Config, url: &str, observation: &SmokeObservation) -> Check {
    let expected_status = config.smoke.expected_status;
    let (status, headers) = match observation {
        SmokeObservation::Error(message) => {
            return Check::fail("smoke", format!("GET {url} failed: {message}"));
        }
        SmokeObservation::Response { status, headers } => (*status, headers),
    };
    let mut problems = Vec::new();
    if status != expected_status {
        problems.push(format!("status {status}, expected {expected_status}"));
    }
    for (name, expected) in &config.smoke.expected_headers {
        match headers.get(&name.to_ascii_lowercase()) {
            Some(actual) if actual == expected => {}
            Some(actual) => problems.push(format!("header {name}: {actual}, expected {expected}")),
            None => problems.push(format!("header {name} missing, expected {expected}")),
        }
    }
    if problems.is_empty() {
        let header_names: Vec<&str> = config
            .smoke
            .expected_headers
            .keys()
            .map(String::as_str)
            .collect();
        let with_headers = if header_names.is_empty() {
            String::new()
        } else {
            format!(" with {}", header_names.join(", "))
        };
        Check::pass("smoke", format!("GET {url}: {status}{with_headers}"))
    } else {
        Check::fail("smoke", format!("GET {url}: {}", problems.join("; ")))
    }
}

/// Judges the secret bindings of the active task definition against the
/// ARNs resolved by name now.
pub fn judge_secret_binding(
    config: &Config,
    task_definition: &Value,
    task_definition_arn: &str,
    resolved: &BTreeMap<String, String>,
) -> Check {
    let containers = container_definitions(task_definition);
    let mut problems = Vec::new();
    let mut passed = Vec::new();
    for binding in &config.secrets {
        let Some(expected) = resolved.get(&binding.secret) else {
            problems.push(format!("secret \"{}\" was not resolved", binding.secret));
            continue;
        };
        let where_ = format!("{}/{}", binding.container, binding.variable);
        let Some(container) = container_named(task_definition, &binding.container) else {
            problems.push(format!("container {} is missing", binding.container));
            continue;
        };
        match secret_value_from(container, &binding.variable) {
            None => problems.push(format!("{where_} is not in secrets[]")),
            Some(value_from) => {
                let arn = SecretRef::parse(value_from).map(|r| r.arn);
                if arn.as_deref() != Ok(expected.as_str()) {
                    problems.push(format!(
                        "{where_} valueFrom is {value_from}, but the secret's ARN is {expected}"
                    ));
                } else {
                    passed.push(where_.clone());
                }
            }
        }
        for other in containers {
            if environment_has(other, &binding.variable) {
                let name = other.get("name").and_then(Value::as_str).unwrap_or("?");
                problems.push(format!(
                    "{} is set in environment[] of container {name} (plaintext)",
                    binding.variable
                ));
            }
        }
    }
    if problems.is_empty() {
        Check::pass(
            "secret-binding",
            format!(
                "{} bound by current ARN in {task_definition_arn}",
                passed.join(", ")
            ),
        )
    } else {
        Check::fail(
            "secret-binding",
            format!("{task_definition_arn}: {}", problems.join("; ")),
        )
    }
}

/// A container of a running task, as `DescribeTasks` reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerObservation {
    pub task_arn: String,
    pub name: String,
    pub image: String,
    pub last_status: String,
    pub health_status: String,
}

/// Judges that every required container is RUNNING and HEALTHY in every
/// task of the PRIMARY deployment.
pub fn judge_health(
    config: &Config,
    task_definition: &Value,
    tasks: &[String],
    containers: &[ContainerObservation],
) -> Vec<Check> {
    let mut checks = Vec::new();
    for name in &config.healthy_containers {
        let id = format!("healthy:{name}");
        let definition = container_named(task_definition, name);
        let Some(definition) = definition else {
            checks.push(Check::fail(
                &id,
                format!("{name} is not in the active task definition"),
            ));
            continue;
        };
        if definition.get("healthCheck").is_none() {
            checks.push(Check::fail(
                &id,
                format!(
                    "{name} has no healthCheck in the task definition, so ECS never reports it \
                     HEALTHY; add a healthCheck"
                ),
            ));
            continue;
        }
        if tasks.is_empty() {
            checks.push(Check::fail(
                &id,
                "the PRIMARY deployment has no running task".to_string(),
            ));
            continue;
        }
        let mut problems = Vec::new();
        for task in tasks {
            let short = short_id(task);
            match containers
                .iter()
                .find(|c| &c.task_arn == task && &c.name == name)
            {
                None => problems.push(format!("task {short}: no {name} container")),
                Some(c) if c.last_status != "RUNNING" || c.health_status != "HEALTHY" => problems
                    .push(format!(
                        "task {short}: {} {}",
                        c.last_status, c.health_status
                    )),
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            checks.push(Check::pass(
                &id,
                format!("{name} RUNNING and HEALTHY in {} task(s)", tasks.len()),
            ));
        } else {
            checks.push(Check::fail(&id, format!("{name}: {}", problems.join("; "))));
        }
    }
    checks
}

/// Judges that every configured container runs the image of this build.
pub fn judge_images(
    config: &Config,
    tag: &str,
    task_definition: &Value,
    containers: &[ContainerObservation],
) -> Check {
    let mut problems = Vec::new();
    for container in &config.containers {
        let expected = config.image_for(container, tag);
        let declared = container_named(task_definition, &container.name)
            .and_then(|c| c.get("image"))
            .and_then(Value::as_str);
        if declared != Some(expected.as_str()) {
            problems.push(format!(
                "{}: task definition has {}, expected {expected}",
                container.name,
                declared.unwrap_or("no such container")
            ));
        }
        for running in containers.iter().filter(|c| c.name == container.name) {
            if running.image != expected {
                problems.push(format!(
                    "{} in task {} runs {}",
                    container.name,
                    short_id(&running.task_arn),
                    running.image
                ));
            }
        }
    }
    if problems.is_empty() {
        Check::pass(
            "images",
            format!("{} container(s) on tag {tag}", config.containers.len()),
        )
    } else {
        Check::fail("images", problems.join("; "))
    }
}

/// Outcome of a gate command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateOutcome {
    pub name: String,
    /// None when the command could not start or timed out.
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// The last lines of its combined output.
    pub output_tail: Vec<String>,
}

/// Judges a gate command.
pub fn judge_gate(outcome: &GateOutcome) -> Check {
    let id = format!("gate:{}", outcome.name);
    match (outcome.exit_code, &outcome.error) {
        (Some(0), _) => Check::pass(&id, "exit 0"),
        (Some(code), _) => {
            Check::fail(&id, format!("exit {code}")).with_details(outcome.output_tail.clone())
        }
        (None, Some(error)) => {
            Check::fail(&id, error.clone()).with_details(outcome.output_tail.clone())
        }
        (None, None) => Check::fail(&id, "ended without an exit code (killed by a signal)"),
    }
}

/// Returns the last path segment of an ARN, the part people recognise.
pub fn short_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
