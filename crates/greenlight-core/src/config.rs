//! The `greenlight.toml` a team writes once: environments, containers,
//! secrets, sidecars, the smoke request, gates and rollout timing.
//!
//! Parsing is strict: unknown keys, missing required values and references
//! to undefined containers or secrets are errors that name the key.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::arn::looks_like_partial_arn;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Default AWS region of every environment.
    pub region: String,
    /// Image registry, e.g. `123456789012.dkr.ecr.eu-central-1.amazonaws.com`.
    pub registry: String,
    /// Environments by name (`staging`, `production`).
    pub environments: BTreeMap<String, Environment>,
    /// Identifiers that environments share on purpose (a shared cluster).
    #[serde(default)]
    pub shared: Vec<String>,
    /// Containers whose image greenlight rewrites, in task definition order.
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Secrets injected into containers, by secret name.
    #[serde(default)]
    pub secrets: Vec<SecretBinding>,
    pub smoke: Smoke,
    /// Containers that must be RUNNING and HEALTHY after the rollout.
    #[serde(default)]
    pub healthy_containers: Vec<String>,
    /// Repository gates, e.g. `npm run repo:verify`.
    #[serde(default)]
    pub gates: Vec<Gate>,
    #[serde(default)]
    pub rollout: Rollout,
    #[serde(default)]
    pub lint: LintSettings,
    #[serde(default)]
    pub aws: AwsSettings,
}

/// Timeouts and retries of every AWS call.
///
/// The SDK applies no read or operation timeout of its own, so a server
/// that accepts a connection and never responds would hold a call for a
/// long time; each of these bounds one part of a call.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Time allowed to open the TCP (and TLS) connection.
    #[serde(default = "default_connect_timeout", with = "duration_text")]
    #[schemars(with = "String")]
    pub connect_timeout: Duration,
    /// Time allowed between two reads of a response.
    #[serde(default = "default_read_timeout", with = "duration_text")]
    #[schemars(with = "String")]
    pub read_timeout: Duration,
    /// Time allowed for one attempt, from sending to the parsed response.
    #[serde(default = "default_attempt_timeout", with = "duration_text")]
    #[schemars(with = "String")]
    pub attempt_timeout: Duration,
    /// Time allowed for one operation, with all its attempts and backoff.
    #[serde(default = "default_operation_timeout", with = "duration_text")]
    #[schemars(with = "String")]
    pub operation_timeout: Duration,
    /// Attempts per operation, the first one included (standard retry mode).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            connect_timeout: default_connect_timeout(),
            read_timeout: default_read_timeout(),
            attempt_timeout: default_attempt_timeout(),
            operation_timeout: default_operation_timeout(),
            max_attempts: default_max_attempts(),
        }
    }
}

/// The largest `aws.max_attempts`: more attempts mostly lengthen an outage
/// that the operation timeout ends anyway.
pub const MAX_AWS_ATTEMPTS: u32 = 10;

/// Settings of `greenlight lint`, merged with its command-line options.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LintSettings {
    /// Rule identifiers to skip everywhere.
    #[serde(default)]
    pub ignore_rules: Vec<String>,
    /// Glob patterns of paths to skip.
    #[serde(default)]
    pub ignore_paths: Vec<String>,
    /// Treat every bash step as running under `set -u`.
    #[serde(default)]
    pub assume_nounset: bool,
}

/// One deploy target.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub cluster: String,
    pub service: String,
    /// Host names the environment serves; the first one gets the smoke request.
    pub hosts: Vec<String>,
    /// Secret names by the key that `[[secrets]]` and `[smoke]` refer to.
    pub secrets: BTreeMap<String, String>,
    /// Prefixes under which this environment's secrets live (`afu9/stage/`).
    #[serde(default)]
    pub secret_prefixes: Vec<String>,
    /// Other identifiers owned by this environment (log groups, tags).
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// When set, the caller's account (STS) must be this one.
    pub account_id: Option<String>,
    /// Overrides the top-level region.
    pub region: Option<String>,
}

/// A container whose image greenlight rewrites to `<registry>/<repository>:<tag>`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub name: String,
    pub repository: String,
    /// When set, the container is added to the task definition if missing.
    pub sidecar: Option<Sidecar>,
}

/// How to add a missing sidecar container.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    pub port: u16,
    #[serde(default)]
    pub essential: bool,
    #[serde(default)]
    pub cpu: Option<i64>,
    #[serde(default)]
    pub memory: Option<i64>,
    /// A `CMD-SHELL` health check command; the verify step needs one.
    #[serde(default)]
    pub health_check: Option<String>,
    /// Environment variables of the added container.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

/// A secret injected as an environment variable of a container.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretBinding {
    pub container: String,
    /// The variable name in the container (`AFU9_SMOKE_KEY`).
    pub variable: String,
    /// A key of `[environments.<env>.secrets]`.
    pub secret: String,
    /// A JSON key inside the secret value (`url` for `...:url::`).
    pub json_key: Option<String>,
}

/// The smoke request of the definition of done.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Smoke {
    /// Path and query, appended to `https://<host>`.
    pub path: String,
    /// A key of `[environments.<env>.secrets]` whose value is sent.
    pub secret: String,
    /// Request header carrying the key.
    pub header: String,
    #[serde(default = "default_status")]
    pub expected_status: u16,
    /// Response headers that must be present with these values.
    #[serde(default)]
    pub expected_headers: BTreeMap<String, String>,
    /// How long to retry until the smoke request passes.
    #[serde(default = "default_smoke_deadline", with = "duration_text")]
    #[schemars(with = "String")]
    pub deadline: Duration,
    /// Timeout of a single request.
    #[serde(default = "default_request_timeout", with = "duration_text")]
    #[schemars(with = "String")]
    pub request_timeout: Duration,
}

/// A repository gate command.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: String,
    /// Program and arguments, run without a shell.
    pub command: Vec<String>,
    /// Working directory, relative to the configuration file.
    #[serde(default)]
    pub dir: Option<String>,
    #[serde(default = "default_gate_timeout", with = "duration_text")]
    #[schemars(with = "String")]
    pub timeout: Duration,
}

/// Rollout timing.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// How long to wait for the rollout before giving up.
    #[serde(default = "default_rollout_deadline", with = "duration_text")]
    #[schemars(with = "String")]
    pub deadline: Duration,
    /// Delay between two `DescribeServices` polls.
    #[serde(default = "default_poll_interval", with = "duration_text")]
    #[schemars(with = "String")]
    pub poll_interval: Duration,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            deadline: default_rollout_deadline(),
            poll_interval: default_poll_interval(),
        }
    }
}

fn default_status() -> u16 {
    200
}

fn default_smoke_deadline() -> Duration {
    Duration::from_secs(120)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_gate_timeout() -> Duration {
    Duration::from_secs(600)
}

fn default_rollout_deadline() -> Duration {
    Duration::from_secs(900)
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(2)
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(3)
}

fn default_read_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_attempt_timeout() -> Duration {
    Duration::from_secs(15)
}

fn default_operation_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_max_attempts() -> u32 {
    4
}

/// A configuration that could not be read or is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key path, e.g. `secrets[0].container`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses and validates a `greenlight.toml`.
    pub fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
        let config: Config = toml::from_str(text).map_err(|e| vec![toml_error(&e)])?;
        let errors = config.validate();
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// Returns every inconsistency, each naming its key.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut push = |key: String, message: String| errors.push(ConfigError { key, message });

        if self.environments.is_empty() {
            push(
                "environments".into(),
                "no environment is configured; add a table like [environments.staging]".into(),
            );
        }
        if self.registry.contains("://") || self.registry.ends_with('/') {
            push(
                "registry".into(),
                format!(
                    "\"{}\" is not a registry host; write it like \
                     123456789012.dkr.ecr.eu-central-1.amazonaws.com",
                    self.registry
                ),
            );
        }

        let mut seen = BTreeMap::new();
        for (i, container) in self.containers.iter().enumerate() {
            if let Some(first) = seen.insert(container.name.as_str(), i) {
                push(
                    format!("containers[{i}].name"),
                    format!(
                        "container \"{}\" is configured twice (also containers[{first}])",
                        container.name
                    ),
                );
            }
            if container.repository.is_empty() || container.repository.contains(':') {
                push(
                    format!("containers[{i}].repository"),
                    format!(
                        "\"{}\" is not a repository name; give it without registry and tag, \
                         like afu9/{}",
                        container.repository, container.name
                    ),
                );
            }
        }

        let mut bound = BTreeMap::new();
        for (i, binding) in self.secrets.iter().enumerate() {
            if !seen.contains_key(binding.container.as_str()) {
                push(
                    format!("secrets[{i}].container"),
                    format!(
                        "container \"{}\" is not defined; add it under [[containers]] or fix \
                         the name (defined: {})",
                        binding.container,
                        self.container_names().join(", ")
                    ),
                );
            }
            let pair = (binding.container.as_str(), binding.variable.as_str());
            if let Some(first) = bound.insert(pair, i) {
                push(
                    format!("secrets[{i}].variable"),
                    format!(
                        "variable \"{}\" of container \"{}\" is bound twice (also secrets[{first}])",
                        binding.variable, binding.container
                    ),
                );
            }
            self.check_secret_key(&format!("secrets[{i}].secret"), &binding.secret, &mut push);
        }
        self.check_secret_key("smoke.secret", &self.smoke.secret, &mut push);
        if !self.smoke.path.starts_with('/') {
            push(
                "smoke.path".into(),
                format!("\"{}\" must start with /", self.smoke.path),
            );
        }

        for (i, name) in self.healthy_containers.iter().enumerate() {
            if !seen.contains_key(name.as_str()) {
                push(
                    format!("healthy_containers[{i}]"),
                    format!(
                        "container \"{name}\" is not defined under [[containers]] (defined: {})",
                        self.container_names().join(", ")
                    ),
                );
            }
        }
        for (i, gate) in self.gates.iter().enumerate() {
            if gate.command.is_empty() || gate.command[0].is_empty() {
                push(
                    format!("gates[{i}].command"),
                    format!("gate \"{}\" has no program to run", gate.name),
                );
            }
        }

        self.validate_aws(&mut push);

        for (env_name, env) in &self.environments {
            let valid_name = !env_name.is_empty()
                && env_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_name {
                push(
                    format!("environments.{env_name:?}"),
                    format!(
                        "environment name {env_name:?} is invalid; use letters, digits, '-' \
                         and '_', like staging or prod-eu"
                    ),
                );
            }
            if env.hosts.is_empty() {
                push(
                    format!("environments.{env_name}.hosts"),
                    "at least one host is required for the smoke request".into(),
                );
            }
            for (key, secret_name) in &env.secrets {
                if looks_like_partial_arn(secret_name) {
                    push(
                        format!("environments.{env_name}.secrets.{key}"),
                        format!(
                            "\"{secret_name}\" ends in a hyphen and six characters, which \
                             Secrets Manager reads as a random ARN suffix; write the name \
                             without the suffix or rename the secret"
                        ),
                    );
                }
                if secret_name.starts_with("arn:") {
                    push(
                        format!("environments.{env_name}.secrets.{key}"),
                        format!(
                            "\"{secret_name}\" is an ARN; configure the secret by name so \
                             that a re-created secret is found again"
                        ),
                    );
                }
            }
        }
        errors
    }

    fn validate_aws(&self, push: &mut impl FnMut(String, String)) {
        let aws = &self.aws;
        let timeouts = [
            ("aws.connect_timeout", aws.connect_timeout),
            ("aws.read_timeout", aws.read_timeout),
            ("aws.attempt_timeout", aws.attempt_timeout),
            ("aws.operation_timeout", aws.operation_timeout),
        ];
        for (key, value) in timeouts {
            if value.is_zero() {
                push(
                    key.into(),
                    "must be longer than zero; a zero timeout fails every call".into(),
                );
            }
        }
        if aws.attempt_timeout > aws.operation_timeout {
            push(
                "aws.attempt_timeout".into(),
                format!(
                    "{:?} is longer than aws.operation_timeout ({:?}), so no attempt could \
                     use it; shorten it or lengthen the operation timeout",
                    aws.attempt_timeout, aws.operation_timeout
                ),
            );
        }
        if !(1..=MAX_AWS_ATTEMPTS).contains(&aws.max_attempts) {
            push(
                "aws.max_attempts".into(),
                format!(
                    "{} is out of range; give 1 (no retry) to {MAX_AWS_ATTEMPTS}",
                    aws.max_attempts
                ),
            );
        }
    }

    fn check_secret_key(
        &self,
        key_path: &str,
        secret_key: &str,
        push: &mut impl FnMut(String, String),
    ) {
        for (env_name, env) in &self.environments {
            if !env.secrets.contains_key(secret_key) {
                push(
                    key_path.to_string(),
                    format!(
                        "secret \"{secret_key}\" is not defined in environments.{env_name}.secrets; \
                         add `{secret_key} = \"<secret name>\"` there"
                    ),
                );
            }
        }
    }

    /// Returns the configured container names in order.
    pub fn container_names(&self) -> Vec<&str> {
        self.containers.iter().map(|c| c.name.as_str()).collect()
    }

    /// Returns the region of an environment.
    pub fn region_of<'a>(&'a self, env: &'a Environment) -> &'a str {
        env.region.as_deref().unwrap_or(&self.region)
    }

    /// Returns the full image reference of a container for a tag.
    pub fn image_for(&self, container: &Container, tag: &str) -> String {
        format!("{}/{}:{}", self.registry, container.repository, tag)
    }
}

fn toml_error(error: &toml::de::Error) -> ConfigError {
    // The toml crate's message carries the line, the column, the source
    // line and the offending key.
    ConfigError {
        key: String::new(),
        message: error.to_string().trim_end().to_string(),
    }
}

/// Parses a duration like `500ms`, `90s`, `15m` or `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration; write it like 90s, 15m or 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "\"{text}\" has an unknown unit \"{unit}\"; use ms, s, m or h"
            ));
        }
    };
    if !seconds.is_finite() || !(0.0..=7.0 * 24.0 * 3600.0).contains(&seconds) {
        return Err(format!("\"{text}\" is out of range (0 to 7 days)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a duration as `parse_duration` reads it back, in the largest
    /// whole unit. Only the defaults in the generated JSON Schema use it.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        let millis = value.as_millis();
        let text = match millis {
            0 => "0s".to_string(),
            m if m % 3_600_000 == 0 => format!("{}h", m / 3_600_000),
            m if m % 60_000 == 0 => format!("{}m", m / 60_000),
            m if m % 1000 == 0 => format!("{}s", m / 1000),
            m => format!("{m}ms"),
        };
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
region = "eu-central-1"
registry = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"

[environments.staging]
cluster = "c"
service = "s"
hosts = ["stage.example.com"]
secrets = { smoke = "app/stage/smoke" }

[[containers]]
name = "web"
repository = "app/web"

[[secrets]]
container = "web"
variable = "SMOKE"
secret = "smoke"

[smoke]
path = "/health"
secret = "smoke"
header = "x-key"
"#;

    #[test]
    fn minimal_config_parses() {
        let config = Config::parse(MINIMAL).expect("valid");
        assert_eq!(config.containers[0].name, "web");
        assert_eq!(config.smoke.expected_status, 200);
        assert_eq!(config.rollout.poll_interval, Duration::from_secs(2));
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("[smoke]", "[smoke]\nheadr = \"x\"");
        let errors = Config::parse(&text).expect_err("unknown key");
        assert!(errors[0].message.contains("headr"), "{}", errors[0]);
    }

    #[test]
    fn missing_required_value_is_named() {
        let text = MINIMAL.replace("header = \"x-key\"", "");
        let errors = Config::parse(&text).expect_err("missing header");
        assert!(errors[0].message.contains("header"), "{}", errors[0]);
    }

    #[test]
    fn undefined_container_is_named() {
        let text = MINIMAL.replace("container = \"web\"", "container = \"wbe\"");
        let errors = Config::parse(&text).expect_err("undefined container");
        assert_eq!(errors[0].key, "secrets[0].container");
        assert!(errors[0].message.contains("\"wbe\""));
    }

    #[test]
    fn undefined_secret_key_is_named() {
        let text = MINIMAL.replace(
            "secret = \"smoke\"\n\n[smoke]",
            "secret = \"smok\"\n\n[smoke]",
        );
        let errors = Config::parse(&text).expect_err("undefined secret");
        assert_eq!(errors[0].key, "secrets[0].secret");
    }

    #[test]
    fn suffix_like_secret_name_is_rejected() {
        let text = MINIMAL.replace("app/stage/smoke\"", "app/stage/smoke-Qm3xT1\"");
        let errors = Config::parse(&text).expect_err("partial ARN");
        assert_eq!(errors[0].key, "environments.staging.secrets.smoke");
    }

    #[test]
    fn duplicate_container_is_rejected() {
        let text = format!("{MINIMAL}\n[[containers]]\nname = \"web\"\nrepository = \"x/y\"\n");
        let errors = Config::parse(&text).expect_err("duplicate");
        assert_eq!(errors[0].key, "containers[1].name");
    }

    #[test]
    fn aws_settings_default_when_absent() {
        let config = Config::parse(MINIMAL).expect("valid");
        assert_eq!(config.aws.connect_timeout, Duration::from_secs(3));
        assert_eq!(config.aws.read_timeout, Duration::from_secs(10));
        assert_eq!(config.aws.attempt_timeout, Duration::from_secs(15));
        assert_eq!(config.aws.operation_timeout, Duration::from_secs(60));
        assert_eq!(config.aws.max_attempts, 4);
    }

    #[test]
    fn aws_settings_parse() {
        let text = format!(
            "{MINIMAL}\n[aws]\nconnect_timeout = \"1s\"\nread_timeout = \"2s\"\n\
             attempt_timeout = \"500ms\"\noperation_timeout = \"5s\"\nmax_attempts = 2\n"
        );
        let config = Config::parse(&text).expect("valid");
        assert_eq!(config.aws.connect_timeout, Duration::from_secs(1));
        assert_eq!(config.aws.read_timeout, Duration::from_secs(2));
        assert_eq!(config.aws.attempt_timeout, Duration::from_millis(500));
        assert_eq!(config.aws.operation_timeout, Duration::from_secs(5));
        assert_eq!(config.aws.max_attempts, 2);
    }

    #[test]
    fn aws_unknown_key_is_named() {
        let text = format!("{MINIMAL}\n[aws]\nretries = 3\n");
        let errors = Config::parse(&text).expect_err("unknown key");
        assert!(errors[0].message.contains("retries"), "{}", errors[0]);
    }

    #[test]
    fn aws_bad_values_are_named() {
        let text = format!("{MINIMAL}\n[aws]\nmax_attempts = 0\nconnect_timeout = \"0s\"\n");
        let errors = Config::parse(&text).expect_err("bad values");
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert!(keys.contains(&"aws.max_attempts"), "{keys:?}");
        assert!(keys.contains(&"aws.connect_timeout"), "{keys:?}");

        let text = format!("{MINIMAL}\n[aws]\nattempt_timeout = \"2m\"\n");
        let errors = Config::parse(&text).expect_err("attempt past operation");
        assert_eq!(errors[0].key, "aws.attempt_timeout");

        let text = format!("{MINIMAL}\n[aws]\nread_timeout = \"soon\"\n");
        let errors = Config::parse(&text).expect_err("not a duration");
        assert!(errors[0].message.contains("soon"), "{}", errors[0]);
    }

    #[test]
    fn odd_environment_name_is_rejected() {
        let text = MINIMAL.replace(
            "[environments.staging]",
            "[environments.\"stag ing\\u0000\"]",
        );
        let errors = Config::parse(&text).expect_err("odd name");
        assert!(errors[0].message.contains("is invalid"), "{}", errors[0]);
        assert!(
            !errors[0].to_string().contains('\0'),
            "control characters are escaped"
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
