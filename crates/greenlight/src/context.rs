//! Loading what every command needs: the configuration, the selected
//! environment and the guard policy, all before any AWS call.

use std::path::{Path, PathBuf};

use greenlight_core::config::{Config, Environment};
use greenlight_core::guard::{
    GuardPolicy, Observed, Violation, check, select_environment, validate_policy,
};

/// An error in the user's input: exit code 2, and nothing was changed.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Returns an input error as `anyhow::Error`.
pub fn input_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(message.into()))
}

/// A loaded configuration and where it came from.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
}

impl Loaded {
    /// Returns the folder that relative paths in the configuration start from.
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// Reads and validates the configuration file.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Loaded> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("greenlight.toml"));
    let bytes = std::fs::read(&path).map_err(|e| {
        input_error(format!(
            "cannot read configuration {}: {e}; pass --config FILE or set GREENLIGHT_CONFIG",
            path.display()
        ))
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        input_error(format!(
            "configuration {} is not valid UTF-8 (first bad byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    let config = Config::parse(&text).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        input_error(format!(
            "configuration {} is invalid:\n{}",
            path.display(),
            lines.join("\n")
        ))
    })?;
    let policy = guard_policy(&config);
    if let Err(errors) = validate_policy(&policy) {
        let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        return Err(input_error(format!(
            "configuration {} is invalid:\n{}",
            path.display(),
            lines.join("\n")
        )));
    }
    Ok(Loaded { config, path })
}

/// Converts the configuration into the guard's view of it.
pub fn guard_policy(config: &Config) -> GuardPolicy {
    GuardPolicy::from_config(config)
}

/// Selects the environment from `--env` and `DEPLOY_ENV`.
pub fn select<'a>(
    config: &'a Config,
    flag: Option<&str>,
) -> anyhow::Result<(String, &'a Environment)> {
    let from_env = std::env::var("DEPLOY_ENV").ok();
    let names: Vec<String> = config.environments.keys().cloned().collect();
    let name = select_environment(flag, from_env.as_deref(), &names)
        .map_err(|e| input_error(e.to_string()))?;
    let env = config
        .environments
        .get(&name)
        .ok_or_else(|| input_error(format!("environment \"{name}\" is not configured")))?;
    Ok((name, env))
}

/// Runs the environment guard over everything a run uses and sends.
pub fn enforce_guard(config: &Config, target: &str, observed: &[Observed]) -> anyhow::Result<()> {
    let policy = guard_policy(config);
    reject_violations(target, &check(&policy, target, observed))
}

/// Turns guard violations into one input error that lists them all.
pub fn reject_violations(target: &str, violations: &[Violation]) -> anyhow::Result<()> {
    if violations.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
    Err(input_error(format!(
        "the environment guard rejected this {target} run; nothing was changed:\n{}",
        lines.join("\n")
    )))
}

/// Returns the identifiers the configuration makes a run use.
pub fn configured_values(config: &Config, env_name: &str, env: &Environment) -> Vec<Observed> {
    let mut values = vec![
        observed(&env.cluster, &format!("environments.{env_name}.cluster")),
        observed(&env.service, &format!("environments.{env_name}.service")),
    ];
    for (i, host) in env.hosts.iter().enumerate() {
        values.push(observed(
            host,
            &format!("environments.{env_name}.hosts[{i}]"),
        ));
    }
    for (key, name) in &env.secrets {
        values.push(observed(
            name,
            &format!("environments.{env_name}.secrets.{key}"),
        ));
    }
    values.push(observed(&config.registry, "registry"));
    for (i, container) in config.containers.iter().enumerate() {
        values.push(observed(
            &container.repository,
            &format!("containers[{i}].repository"),
        ));
    }
    // The smoke request sends the path to the environment's host, so a
    // query such as `?service=...` must not name another environment.
    values.push(observed(&config.smoke.path, "smoke.path"));
    values
}

/// Builds one observed value.
pub fn observed(value: &str, location: &str) -> Observed {
    Observed {
        value: value.to_string(),
        location: location.to_string(),
    }
}
