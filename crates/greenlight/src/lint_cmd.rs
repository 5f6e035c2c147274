//! `greenlight lint`: the linter crate, given the configuration's images,
//! environments and ignore lists when a configuration is found.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use greenlight_lint::{ImageExpectation, LintArgs, LintOptions, RULES, lint, render};

use crate::context::{guard_policy, load_config};

/// Runs `greenlight lint`. A configuration is optional: `--config` must
/// load, and `./greenlight.toml` is used when it exists.
pub fn lint_command(config_path: Option<&Path>, args: &LintArgs, color: bool) -> Result<u8> {
    let default_path = PathBuf::from("greenlight.toml");
    let config = match config_path {
        Some(path) => Some(load_config(Some(path))?.config),
        None if default_path.is_file() => Some(load_config(Some(&default_path))?.config),
        None => None,
    };

    let mut options = LintOptions {
        paths: args.paths.clone(),
        assume_nounset: args.assume_nounset,
        images: Vec::new(),
        ignore_rules: args.ignore_rules.clone(),
        ignore_paths: args.ignore_paths.clone(),
        environments: None,
    };
    if let Some(config) = &config {
        options.images = config
            .containers
            .iter()
            .map(|c| ImageExpectation {
                container: c.name.clone(),
                repository: c.repository.clone(),
            })
            .collect();
        options.environments = Some(guard_policy(config));
        options.assume_nounset |= config.lint.assume_nounset;
        options
            .ignore_rules
            .extend(config.lint.ignore_rules.iter().cloned());
        options
            .ignore_paths
            .extend(config.lint.ignore_paths.iter().cloned());
    }

    let known: Vec<&str> = RULES.iter().map(|r| r.id()).collect();
    if let Some(unknown) = options
        .ignore_rules
        .iter()
        .find(|r| !known.contains(&r.as_str()))
    {
        return Err(crate::context::input_error(format!(
            "unknown lint rule \"{unknown}\" in the ignore list; known rules: {}",
            known.join(", ")
        )));
    }

    let report = lint(&options);
    std::io::stdout().write_all(render(&report, args.format, color).as_bytes())?;
    let code = if report.input_error {
        2
    } else if report.findings.is_empty() {
        0
    } else {
        1
    };
    Ok(code)
}
