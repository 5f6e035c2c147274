//! Turns a described task definition into a registrable one.
//!
//! The input is what `DescribeTaskDefinition` returns (with or without the
//! `{"taskDefinition": ...}` wrapper). The output is the JSON body of
//! `RegisterTaskDefinition`: every field of the input is kept exactly,
//! empty strings included, except the describe-only fields, the configured
//! secrets and images, and any sidecar that had to be added.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value, json};

use crate::arn::{SecretRef, is_secrets_manager, value_from};
use crate::config::{Config, Container};

/// Fields that `DescribeTaskDefinition` returns but `RegisterTaskDefinition`
/// does not accept.
pub const DESCRIBE_ONLY_FIELDS: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// Inputs of a render besides the described task definition.
#[derive(Debug, Clone)]
pub struct RenderInput<'a> {
    pub config: &'a Config,
    /// The image tag of this build.
    pub tag: &'a str,
    /// Resolved ARNs by secret key (`smoke_key` → `arn:...-AbCdEf`).
    pub secret_arns: &'a BTreeMap<String, String>,
}

/// A registrable task definition and what changed on the way.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub task_definition: Value,
    pub changes: Vec<String>,
}

/// A described task definition that cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError(pub String);

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenderError {}

/// The largest task definition ECS registers: 64 KiB of JSON (ECS service
/// quota "Task definition size").
pub const MAX_TASK_DEFINITION_BYTES: usize = 64 * 1024;

fn check_size(task: &Value) -> Result<(), RenderError> {
    let size = serde_json::to_vec(task).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_TASK_DEFINITION_BYTES {
        return fail(format!(
            "the rendered task definition is {size} bytes of JSON, over the 64 KiB \
             ({MAX_TASK_DEFINITION_BYTES} bytes) that ECS registers; shrink its environment \
             or move values into secrets or files"
        ));
    }
    Ok(())
}

/// Rejects a Secrets Manager `valueFrom` of any container that ECS would
/// reject when it starts a task: one or two fields after the secret name
/// are ambiguous, only none or all three (`NAME:json-key:stage:id`) work.
/// Catching it here stops the deploy before anything is registered.
fn check_value_from(task: &Value) -> Result<(), RenderError> {
    let containers = task
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for container in containers {
        let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
        let secrets = container
            .get("secrets")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for secret in secrets {
            let Some(value_from) = secret.get("valueFrom").and_then(Value::as_str) else {
                continue;
            };
            let is_secrets_manager = value_from.split(':').nth(2) == Some("secretsmanager");
            if !is_secrets_manager {
                continue;
            }
            if let Err(error) = SecretRef::parse(value_from) {
                let variable = secret.get("name").and_then(Value::as_str).unwrap_or("?");
                return fail(format!(
                    "container \"{name}\" secret {variable}: {error}; ECS would fail to start \
                     the task"
                ));
            }
        }
    }
    Ok(())
}

fn fail<T>(message: String) -> Result<T, RenderError> {
    Err(RenderError(message))
}

/// Returns the task definition object, unwrapping `{"taskDefinition": ...}`.
pub fn task_definition_of(described: &Value) -> Result<&Map<String, Value>, RenderError> {
    let object = match described.get("taskDefinition") {
        Some(inner) => inner,
        None => described,
    };
    match object.as_object() {
        Some(map) => Ok(map),
        None => fail("the task definition is not a JSON object".into()),
    }
}

/// Strips the describe-only fields and returns the rest unchanged, with
/// tags from the wrapper when there are any.
pub fn registrable(described: &Value) -> Result<Value, RenderError> {
    let mut task = task_definition_of(described)?.clone();
    for field in DESCRIBE_ONLY_FIELDS {
        task.shift_remove(*field);
    }
    if let Some(tags) = described.get("tags").and_then(Value::as_array)
        && !tags.is_empty()
        && !task.contains_key("tags")
    {
        task.insert("tags".into(), Value::Array(tags.clone()));
    }
    Ok(Value::Object(task))
}

/// Checks that an image tag is a valid Docker tag.
pub fn validate_tag(tag: &str) -> Result<(), RenderError> {
    let valid_start = tag
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let valid_rest = tag
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid_start || !valid_rest || tag.len() > 128 {
        return fail(format!(
            "image tag \"{tag}\" is invalid; a tag is 1 to 128 letters, digits, '_', '.' or '-', \
             not starting with '.' or '-' (for example the short commit: --tag 3f9c2e1)"
        ));
    }
    Ok(())
}

/// Renders the registrable task definition.
pub fn render(described: &Value, input: &RenderInput<'_>) -> Result<Rendered, RenderError> {
    validate_tag(input.tag)?;
    let mut task = registrable(described)?;
    let mut changes = Vec::new();

    let Some(containers) = task
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
    else {
        return fail("the task definition has no containerDefinitions array".into());
    };
    check_unique_names(containers)?;

    for container in &input.config.containers {
        let present = containers
            .iter()
            .any(|c| c.get("name").and_then(Value::as_str) == Some(container.name.as_str()));
        if present {
            continue;
        }
        let Some(_) = &container.sidecar else {
            return fail(format!(
                "container \"{}\" is configured but the task definition has no such container \
                 (it has: {}); add it to the task definition, or configure it as a sidecar \
                 with [containers.sidecar] so greenlight adds it",
                container.name,
                names_of(containers).join(", ")
            ));
        };
        let template = containers.first().cloned();
        containers.push(new_sidecar(container, template.as_ref(), input)?);
        changes.push(format!(
            "{}: added as a sidecar (essential: {})",
            container.name,
            container.sidecar.as_ref().is_some_and(|s| s.essential)
        ));
    }

    for container in &input.config.containers {
        let image = input.config.image_for(container, input.tag);
        let definition = find_container(containers, &container.name)?;
        let old = definition
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or("");
        if old != image {
            changes.push(describe_image_change(&container.name, old, &image));
        }
        definition.insert("image".into(), Value::String(image));
    }

    for binding in &input.config.secrets {
        let Some(arn) = input.secret_arns.get(&binding.secret) else {
            return fail(format!(
                "secret \"{}\" has no resolved ARN; resolve it by name first (render: \
                 --secret-arn {}=ARN)",
                binding.secret, binding.secret
            ));
        };
        let definition = find_container(containers, &binding.container)?;
        apply_secret(
            definition,
            &binding.container,
            &binding.variable,
            arn,
            binding.json_key.as_deref(),
            &mut changes,
        )?;
    }

    let rendered = Rendered {
        task_definition: task,
        changes,
    };
    check_rendered(&rendered.task_definition, input)?;
    check_value_from(&rendered.task_definition)?;
    check_size(&rendered.task_definition)?;
    Ok(rendered)
}

/// Describes an image change briefly when only the tag or digest changed.
fn describe_image_change(container: &str, old: &str, new: &str) -> String {
    let repository_of = |image: &str| {
        let without_digest = image.split('@').next().unwrap_or(image);
        match without_digest.rfind(':') {
            Some(colon) if !without_digest[colon..].contains('/') => {
                without_digest[..colon].to_string()
            }
            _ => without_digest.to_string(),
        }
    };
    let repository = repository_of(new);
    if repository_of(old) == repository {
        let old_reference = &old[repository.len()..];
        let new_reference = &new[repository.len()..];
        format!("{container}: image {repository} {old_reference} -> {new_reference}")
    } else {
        format!("{container}: image {old} -> {new}")
    }
}

fn names_of(containers: &[Value]) -> Vec<&str> {
    containers
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect()
}

fn check_unique_names(containers: &[Value]) -> Result<(), RenderError> {
    let mut seen = BTreeSet::new();
    for (i, container) in containers.iter().enumerate() {
        let Some(name) = container.get("name").and_then(Value::as_str) else {
            return fail(format!("containerDefinitions[{i}] has no name"));
        };
        if !seen.insert(name) {
            return fail(format!(
                "container name \"{name}\" appears twice in containerDefinitions; ECS \
                 rejects such a task definition, so fix the input"
            ));
        }
        let mut variables = BTreeSet::new();
        for entry in container
            .get("secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let variable = entry.get("name").and_then(Value::as_str).unwrap_or("");
            if !variables.insert(variable) {
                return fail(format!(
                    "container \"{name}\" lists secret \"{variable}\" twice in secrets[]; \
                     remove one of them"
                ));
            }
        }
    }
    Ok(())
}

fn find_container<'a>(
    containers: &'a mut [Value],
    name: &str,
) -> Result<&'a mut Map<String, Value>, RenderError> {
    containers
        .iter_mut()
        .filter_map(Value::as_object_mut)
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| {
            RenderError(format!(
                "container \"{name}\" is not in the task definition; add it, or configure it \
                 under [[containers]] with a [containers.sidecar] table"
            ))
        })
}

fn apply_secret(
    definition: &mut Map<String, Value>,
    container: &str,
    variable: &str,
    arn: &str,
    json_key: Option<&str>,
    changes: &mut Vec<String>,
) -> Result<(), RenderError> {
    if let Some(environment) = definition
        .get_mut("environment")
        .and_then(Value::as_array_mut)
    {
        let before = environment.len();
        environment.retain(|e| e.get("name").and_then(Value::as_str) != Some(variable));
        if environment.len() != before {
            changes.push(format!(
                "{container}: removed {variable} from environment[] (a plaintext value, not \
                 shown); it is now injected from Secrets Manager"
            ));
        }
    }

    let secrets = definition
        .entry("secrets")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(secrets) = secrets.as_array_mut() else {
        return fail(format!(
            "container \"{container}\" has a secrets field that is not an array"
        ));
    };
    let existing = secrets
        .iter_mut()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(variable));
    match existing {
        Some(entry) => {
            let old = entry
                .get("valueFrom")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let new = match (json_key, SecretRef::parse(&old)) {
                // The configured JSON key wins; a key already in the
                // reference is kept when none is configured.
                (Some(key), _) => value_from(arn, Some(key)),
                (None, Ok(parsed)) if is_secrets_manager(&old) => parsed.with_arn(arn),
                (None, _) => arn.to_string(),
            };
            if old != new {
                changes.push(format!(
                    "{container}: secret {variable} valueFrom {old} -> {new}"
                ));
            }
            entry["valueFrom"] = Value::String(new);
        }
        None => {
            let new = value_from(arn, json_key);
            changes.push(format!(
                "{container}: secret {variable} added, valueFrom {new}"
            ));
            secrets.push(json!({"name": variable, "valueFrom": new}));
        }
    }
    Ok(())
}

fn new_sidecar(
    container: &Container,
    template: Option<&Value>,
    input: &RenderInput<'_>,
) -> Result<Value, RenderError> {
    let Some(sidecar) = &container.sidecar else {
        return fail(format!("container \"{}\" is not a sidecar", container.name));
    };
    let mut definition = Map::new();
    definition.insert("name".into(), json!(container.name));
    definition.insert(
        "image".into(),
        json!(input.config.image_for(container, input.tag)),
    );
    if let Some(cpu) = sidecar.cpu {
        definition.insert("cpu".into(), json!(cpu));
    }
    if let Some(memory) = sidecar.memory {
        definition.insert("memory".into(), json!(memory));
    }
    definition.insert("essential".into(), json!(sidecar.essential));
    definition.insert(
        "portMappings".into(),
        json!([{"containerPort": sidecar.port, "hostPort": sidecar.port, "protocol": "tcp"}]),
    );
    let environment: Vec<Value> = sidecar
        .environment
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    definition.insert("environment".into(), Value::Array(environment));
    if let Some(command) = &sidecar.health_check {
        definition.insert(
            "healthCheck".into(),
            json!({"command": ["CMD-SHELL", command], "interval": 15, "timeout": 5, "retries": 3, "startPeriod": 20}),
        );
    }
    // Logs go where the other containers' logs go, under the sidecar's
    // own stream prefix.
    if let Some(mut logging) = template.and_then(|t| t.get("logConfiguration")).cloned() {
        if let Some(options) = logging.get_mut("options").and_then(Value::as_object_mut)
            && options.contains_key("awslogs-stream-prefix")
        {
            options.insert("awslogs-stream-prefix".into(), json!(container.name));
        }
        definition.insert("logConfiguration".into(), logging);
    }
    definition.insert("mountPoints".into(), json!([]));
    definition.insert("volumesFrom".into(), json!([]));
    Ok(Value::Object(definition))
}

/// Checks that every configured container has the expected image and that
/// every configured secret is bound to the expected ARN, and only in
/// `secrets[]`.
pub fn check_rendered(task: &Value, input: &RenderInput<'_>) -> Result<(), RenderError> {
    let by_name = |name: &str| container_named(task, name);
    for container in &input.config.containers {
        let expected = input.config.image_for(container, input.tag);
        let actual = by_name(&container.name)
            .and_then(|c| c.get("image"))
            .and_then(Value::as_str);
        if actual != Some(expected.as_str()) {
            return fail(format!(
                "after rendering, container \"{}\" has image {:?}, expected {expected}",
                container.name, actual
            ));
        }
    }
    for binding in &input.config.secrets {
        let Some(definition) = by_name(&binding.container) else {
            return fail(format!(
                "after rendering, container \"{}\" is missing",
                binding.container
            ));
        };
        let arn = input
            .secret_arns
            .get(&binding.secret)
            .map(String::as_str)
            .unwrap_or("");
        let bound = secret_value_from(definition, &binding.variable);
        let arn_matches = bound
            .and_then(|v| SecretRef::parse(v).ok())
            .is_some_and(|r| r.arn == arn);
        if !arn_matches {
            return fail(format!(
                "after rendering, {}/{} has valueFrom {:?}, expected the ARN {arn}",
                binding.container, binding.variable, bound
            ));
        }
        if environment_has(definition, &binding.variable) {
            return fail(format!(
                "after rendering, {}/{} is still in environment[]",
                binding.container, binding.variable
            ));
        }
    }
    Ok(())
}

/// Returns the container definitions of a task definition, or none when
/// it has no `containerDefinitions` array.
pub fn container_definitions(task: &Value) -> &[Value] {
    task.get("containerDefinitions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Returns the container definition with this name.
pub fn container_named<'a>(task: &'a Value, name: &str) -> Option<&'a Value> {
    container_definitions(task)
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

/// Returns the `valueFrom` of a container's secret variable.
pub fn secret_value_from<'a>(container: &'a Value, variable: &str) -> Option<&'a str> {
    container
        .get("secrets")
        .and_then(Value::as_array)?
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(variable))
        .and_then(|s| s.get("valueFrom"))
        .and_then(Value::as_str)
}

/// Returns true when a container's `environment[]` sets a variable.
pub fn environment_has(container: &Value, variable: &str) -> bool {
    container
        .get("environment")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|e| e.get("name").and_then(Value::as_str) == Some(variable))
}

/// Returns a unified diff of two task definitions as pretty JSON.
pub fn diff(live: &Value, rendered: &Value, live_label: &str, rendered_label: &str) -> String {
    let live_text = pretty(live);
    let rendered_text = pretty(rendered);
    similar::TextDiff::from_lines(&live_text, &rendered_text)
        .unified_diff()
        .context_radius(3)
        .header(live_label, rendered_label)
        .to_string()
}

/// Formats JSON with two-space indentation and a final newline.
pub fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
