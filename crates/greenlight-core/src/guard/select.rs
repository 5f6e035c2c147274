//! Choosing the target environment from `--env` and `DEPLOY_ENV`.

use std::fmt;

use serde::Serialize;

use super::join_names;

/// Command-line option that names the target environment.
pub const ENV_FLAG: &str = "--env";

/// Environment variable that names the target environment.
pub const ENV_VAR: &str = "DEPLOY_ENV";

/// Source of a selected environment name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionSource {
    Flag,
    EnvVar,
}

impl fmt::Display for SelectionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectionSource::Flag => write!(f, "`{ENV_FLAG}`"),
            SelectionSource::EnvVar => f.write_str(ENV_VAR),
        }
    }
}

/// A reason why no target environment could be selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum SelectionError {
    /// Neither `--env` nor `DEPLOY_ENV` names an environment.
    Missing {
        /// `DEPLOY_ENV` is set but empty, which counts as unset.
        env_var_empty: bool,
        configured: Vec<String>,
    },
    /// `--env` was given an empty value.
    EmptyFlag { configured: Vec<String> },
    /// `--env` and `DEPLOY_ENV` are both set and differ.
    Conflict { flag: String, env_var: String },
    /// The name differs from a configured name only in letter case.
    CaseMismatch {
        source: SelectionSource,
        given: String,
        suggestion: String,
        configured: Vec<String>,
    },
    /// The name is not configured.
    Unknown {
        source: SelectionSource,
        given: String,
        configured: Vec<String>,
    },
    /// The configuration declares no environments at all.
    NoEnvironments {
        source: SelectionSource,
        given: String,
    },
}

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectionError::Missing {
                env_var_empty,
                configured,
            } => {
                write!(f, "no environment selected")?;
                if *env_var_empty {
                    write!(f, " ({ENV_VAR} is set but empty)")?;
                }
                write!(
                    f,
                    ": pass `{ENV_FLAG} NAME` or set {ENV_VAR}; configured environments are: {}",
                    join_names(configured)
                )
            }
            SelectionError::EmptyFlag { configured } => write!(
                f,
                "`{ENV_FLAG}` is empty; pass one of the configured environments: {}",
                join_names(configured)
            ),
            SelectionError::Conflict { flag, env_var } => write!(
                f,
                "`{ENV_FLAG}` is {flag:?} but {ENV_VAR} is {env_var:?}; they must name the \
                 same environment, so set only one of them or make them equal"
            ),
            SelectionError::CaseMismatch {
                source,
                given,
                suggestion,
                configured,
            } => write!(
                f,
                "{source} is {given:?} but configured environments are: {} (names are \
                 case-sensitive; did you mean {suggestion:?}?)",
                join_names(configured)
            ),
            SelectionError::Unknown {
                source,
                given,
                configured,
            } => write!(
                f,
                "{source} is {given:?} but configured environments are: {}",
                join_names(configured)
            ),
            SelectionError::NoEnvironments { source, given } => write!(
                f,
                "{source} is {given:?} but the configuration declares no environments; \
                 declare the environment with its cluster, service, hosts and secrets"
            ),
        }
    }
}

impl std::error::Error for SelectionError {}

/// Selects the target environment from the `--env` value and the
/// `DEPLOY_ENV` value.
///
/// Either may be given, and when both are, they must be equal. An empty
/// `DEPLOY_ENV` counts as unset, because CI systems often export a variable
/// whose input was left blank, but an empty `--env` is an error. Names must
/// match a configured name exactly, letter case included.
pub fn select_environment(
    flag: Option<&str>,
    env_var: Option<&str>,
    configured: &[String],
) -> Result<String, SelectionError> {
    let env_var_empty = env_var.is_some_and(str::is_empty);
    let env_var = env_var.filter(|value| !value.is_empty());

    let (source, given) = match (flag, env_var) {
        (Some(""), _) => {
            return Err(SelectionError::EmptyFlag {
                configured: configured.to_vec(),
            });
        }
        (Some(flag), Some(env_var)) if flag != env_var => {
            return Err(SelectionError::Conflict {
                flag: flag.to_string(),
                env_var: env_var.to_string(),
            });
        }
        (Some(flag), _) => (SelectionSource::Flag, flag),
        (None, Some(env_var)) => (SelectionSource::EnvVar, env_var),
        (None, None) => {
            return Err(SelectionError::Missing {
                env_var_empty,
                configured: configured.to_vec(),
            });
        }
    };

    if configured.is_empty() {
        return Err(SelectionError::NoEnvironments {
            source,
            given: given.to_string(),
        });
    }
    if configured.iter().any(|name| name == given) {
        return Ok(given.to_string());
    }

    let lowered = given.to_lowercase();
    let same_but_case = configured
        .iter()
        .find(|name| name.to_lowercase() == lowered);
    match same_but_case {
        Some(suggestion) => Err(SelectionError::CaseMismatch {
            source,
            given: given.to_string(),
            suggestion: suggestion.clone(),
            configured: configured.to_vec(),
        }),
        None => Err(SelectionError::Unknown {
            source,
            given: given.to_string(),
            configured: configured.to_vec(),
        }),
    }
}
