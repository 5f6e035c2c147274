//! The guard's view of the configuration: each environment's identifiers,
//! the values shared on purpose, and the checks that make the policy usable.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::check::{ForeignReference, cross_references};
use super::{IdentifierKind, ecs_resource_name};
use crate::config::Config;

/// The identifiers that belong to one environment.
///
/// Clusters and services may be given as names or as ECS ARNs. An ARN is
/// reduced to its resource name before matching. Hosts are DNS names without
/// scheme, port or path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentIdentifiers {
    /// Environment name as `--env` and `DEPLOY_ENV` spell it, such as
    /// `staging`.
    pub name: String,
    pub clusters: Vec<String>,
    pub services: Vec<String>,
    pub hosts: Vec<String>,
    /// Secrets Manager secret names, such as `afu9/stage/smoke-key`.
    pub secret_names: Vec<String>,
    /// Secret name prefixes, such as `afu9/stage/`: every secret whose name
    /// starts with one belongs to this environment.
    pub secret_prefixes: Vec<String>,
    /// Any other identifier that differs per environment: image tags or
    /// registries, log groups, role names.
    pub other: Vec<String>,
    /// 12-digit AWS account id that the environment's resources live in.
    pub account_id: Option<String>,
    /// AWS region that the environment's resources live in.
    pub region: Option<String>,
}

/// All environments and the identifiers that several of them use on purpose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardPolicy {
    pub environments: Vec<EnvironmentIdentifiers>,
    /// Values that may appear in more than one environment, such as a
    /// cluster that staging and production both run in. A shared value is
    /// never a violation.
    pub shared: Vec<String>,
}

impl GuardPolicy {
    /// Returns the environment named exactly `name`.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentIdentifiers> {
        self.environments.iter().find(|env| env.name == name)
    }

    /// Returns the configured environment names in configuration order.
    pub fn names(&self) -> Vec<String> {
        self.environments
            .iter()
            .map(|env| env.name.clone())
            .collect()
    }

    /// Builds the policy from a configuration: each environment's cluster,
    /// service, hosts, secret names and prefixes, other identifiers,
    /// account id and region (its own, else the top-level one), and the
    /// top-level `shared` values.
    pub fn from_config(config: &Config) -> GuardPolicy {
        let environments = config
            .environments
            .iter()
            .map(|(name, env)| EnvironmentIdentifiers {
                name: name.clone(),
                clusters: vec![env.cluster.clone()],
                services: vec![env.service.clone()],
                hosts: env.hosts.clone(),
                secret_names: env.secrets.values().cloned().collect(),
                secret_prefixes: env.secret_prefixes.clone(),
                other: env.identifiers.clone(),
                account_id: env.account_id.clone(),
                region: Some(config.region_of(env).to_string()),
            })
            .collect();
        GuardPolicy {
            environments,
            shared: config.shared.clone(),
        }
    }
}

/// One identifier of one environment, normalised for matching.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'p> {
    pub environment: &'p str,
    pub kind: IdentifierKind,
    /// The identifier as configured, with an ECS ARN reduced to its name
    /// and a host's trailing dot removed.
    pub identifier: String,
    /// `identifier` in ASCII lowercase, the form that all matching uses.
    pub needle: String,
}

impl EnvironmentIdentifiers {
    /// Lists every matchable identifier with its kind, in declaration order.
    /// The region is left out because it is checked only against the
    /// caller's region, never searched for in values.
    pub(crate) fn entries(&self) -> Vec<Entry<'_>> {
        let lists: [(IdentifierKind, &[String]); 6] = [
            (IdentifierKind::Cluster, &self.clusters),
            (IdentifierKind::Service, &self.services),
            (IdentifierKind::Host, &self.hosts),
            (IdentifierKind::SecretName, &self.secret_names),
            (IdentifierKind::SecretPrefix, &self.secret_prefixes),
            (IdentifierKind::Other, &self.other),
        ];
        let mut entries = Vec::new();
        for (kind, values) in lists {
            for value in values {
                entries.extend(Entry::new(&self.name, kind, value));
            }
        }
        if let Some(account) = &self.account_id {
            entries.extend(Entry::new(&self.name, IdentifierKind::AccountId, account));
        }
        entries
    }
}

impl<'p> Entry<'p> {
    /// Normalises one configured value. An empty value yields no entry,
    /// because it identifies nothing.
    fn new(environment: &'p str, kind: IdentifierKind, value: &str) -> Option<Entry<'p>> {
        let identifier = normalise(kind, value);
        if identifier.is_empty() {
            return None;
        }
        let needle = identifier.to_ascii_lowercase();
        Some(Entry {
            environment,
            kind,
            identifier,
            needle,
        })
    }
}

/// Brings a configured value into the form it is matched in.
pub(crate) fn normalise(kind: IdentifierKind, value: &str) -> String {
    let value = value.trim();
    match kind {
        IdentifierKind::Cluster | IdentifierKind::Service => {
            ecs_resource_name(value).unwrap_or(value).to_string()
        }
        IdentifierKind::Host => value
            .strip_suffix('.')
            .unwrap_or(value)
            .to_ascii_lowercase(),
        IdentifierKind::SecretName
        | IdentifierKind::SecretPrefix
        | IdentifierKind::Other
        | IdentifierKind::AccountId => value.to_string(),
    }
}

/// A reason why a [`GuardPolicy`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum PolicyError {
    /// An environment has an empty name.
    EmptyEnvironmentName { index: usize },
    /// Two environments have the same name.
    DuplicateEnvironment { name: String },
    /// Two environment names differ only in letter case, which selection
    /// would reject as ambiguous.
    NamesDifferInCase { first: String, second: String },
    /// An environment declares no identifier at all, so the guard cannot
    /// distinguish its values from another environment's.
    NoIdentifiers { environment: String },
    /// An identifier is empty or only whitespace.
    EmptyIdentifier {
        environment: String,
        kind: IdentifierKind,
    },
    /// A value in `shared` is empty or only whitespace.
    EmptySharedValue { index: usize },
    /// A host is not a bare DNS name.
    InvalidHost {
        environment: String,
        value: String,
        reason: String,
    },
    /// A secret name is written as an ARN.
    SecretNameIsArn { environment: String, value: String },
    /// A cluster or service ARN has no resource name.
    InvalidEcsArn {
        environment: String,
        kind: IdentifierKind,
        value: String,
    },
    /// An account id is not 12 digits.
    InvalidAccountId { environment: String, value: String },
    /// A region contains characters that no AWS region name has.
    InvalidRegion { environment: String, value: String },
    /// The same identifier (ignoring case) belongs to several environments
    /// and is not declared shared.
    Overlap { value: String, owners: Vec<Owner> },
    /// An identifier of one environment contains another environment's
    /// identifier at identifier boundaries.
    CrossReference {
        environment: String,
        kind: IdentifierKind,
        value: String,
        reference: ForeignReference,
    },
}

/// An environment that declares a value, and as what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub environment: String,
    pub kind: IdentifierKind,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::EmptyEnvironmentName { index } => write!(
                f,
                "environment number {} has an empty name; give it the name that `--env` \
                 and DEPLOY_ENV will use",
                index + 1
            ),
            PolicyError::DuplicateEnvironment { name } => write!(
                f,
                "environment \"{name}\" is declared more than once; merge the declarations \
                 or rename one"
            ),
            PolicyError::NamesDifferInCase { first, second } => write!(
                f,
                "environment names \"{first}\" and \"{second}\" differ only in letter case, \
                 which makes `--env` ambiguous; rename one"
            ),
            PolicyError::NoIdentifiers { environment } => write!(
                f,
                "environment {environment} declares no cluster, service, host, secret or \
                 other identifier, so the guard cannot tell its values from another \
                 environment's; declare at least its service and host"
            ),
            PolicyError::EmptyIdentifier { environment, kind } => write!(
                f,
                "environment {environment} has an empty {kind}; remove it or fill it in"
            ),
            PolicyError::EmptySharedValue { index } => write!(
                f,
                "shared value number {} is empty; remove it or fill it in",
                index + 1
            ),
            PolicyError::InvalidHost {
                environment,
                value,
                reason,
            } => write!(
                f,
                "host \"{value}\" of environment {environment} is not a DNS name ({reason}); \
                 write the bare host name without scheme, port or path, such as \
                 `stage.example.com`"
            ),
            PolicyError::SecretNameIsArn { environment, value } => write!(
                f,
                "secret name \"{value}\" of environment {environment} is an ARN; write the \
                 secret's name instead (the part after `secret:` without the random \
                 six-character suffix), because the ARN changes whenever the secret is \
                 re-created"
            ),
            PolicyError::InvalidEcsArn {
                environment,
                kind,
                value,
            } => write!(
                f,
                "{kind} \"{value}\" of environment {environment} is not an ECS {kind} ARN \
                 with a resource name; write the {kind} name instead"
            ),
            PolicyError::InvalidAccountId { environment, value } => write!(
                f,
                "account id \"{value}\" of environment {environment} is invalid: an AWS \
                 account id is 12 digits, such as 123456789012"
            ),
            PolicyError::InvalidRegion { environment, value } => write!(
                f,
                "region \"{value}\" of environment {environment} is invalid: a region name \
                 is lowercase letters, digits and hyphens, such as eu-central-1"
            ),
            PolicyError::Overlap { value, owners } => {
                let owners: Vec<String> = owners
                    .iter()
                    .map(|owner| format!("{} ({})", owner.environment, owner.kind))
                    .collect();
                write!(
                    f,
                    "\"{value}\" is declared by more than one environment: {}; an \
                     identifier must belong to one environment, so remove it from all but \
                     one, or add it to `shared` if the environments use it on purpose",
                    owners.join(", ")
                )
            }
            PolicyError::CrossReference {
                environment,
                kind,
                value,
                reference,
            } => write!(
                f,
                "{kind} \"{value}\" of environment {environment} contains {} {} `{}` \
                 (as `{}`), so a {environment} deploy using it would reference {}; \
                 change the value, or add `{}` to `shared` if both environments use it on \
                 purpose",
                reference.environment,
                reference.kind,
                reference.identifier,
                reference.matched,
                reference.environment,
                reference.identifier,
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

/// Checks that the policy can guard deploys: names are unique and usable,
/// every identifier is well formed, no identifier belongs to two
/// environments unless it is shared, and no environment's identifier
/// contains another environment's at identifier boundaries. A host under
/// another environment's host is the one allowed containment.
///
/// Account ids and regions may be equal across environments without being
/// shared, because many teams run staging and production in one account
/// and region.
pub fn validate_policy(policy: &GuardPolicy) -> Result<(), Vec<PolicyError>> {
    let mut errors = Vec::new();

    validate_names(policy, &mut errors);
    for env in &policy.environments {
        validate_identifiers(env, policy.environments.len(), &mut errors);
    }
    for (index, value) in policy.shared.iter().enumerate() {
        if value.trim().is_empty() {
            errors.push(PolicyError::EmptySharedValue { index });
        }
    }
    find_overlaps(policy, &mut errors);
    find_cross_references(policy, &mut errors);

    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn validate_names(policy: &GuardPolicy, errors: &mut Vec<PolicyError>) {
    for (index, env) in policy.environments.iter().enumerate() {
        if env.name.trim().is_empty() {
            errors.push(PolicyError::EmptyEnvironmentName { index });
            continue;
        }
        for earlier in &policy.environments[..index] {
            if earlier.name == env.name {
                errors.push(PolicyError::DuplicateEnvironment {
                    name: env.name.clone(),
                });
                break;
            }
            if earlier.name.to_lowercase() == env.name.to_lowercase() {
                errors.push(PolicyError::NamesDifferInCase {
                    first: earlier.name.clone(),
                    second: env.name.clone(),
                });
                break;
            }
        }
    }
}

fn validate_identifiers(
    env: &EnvironmentIdentifiers,
    environment_count: usize,
    errors: &mut Vec<PolicyError>,
) {
    let environment = env.name.clone();
    let lists: [(IdentifierKind, &[String]); 6] = [
        (IdentifierKind::Cluster, &env.clusters),
        (IdentifierKind::Service, &env.services),
        (IdentifierKind::Host, &env.hosts),
        (IdentifierKind::SecretName, &env.secret_names),
        (IdentifierKind::SecretPrefix, &env.secret_prefixes),
        (IdentifierKind::Other, &env.other),
    ];

    let mut declared = 0;
    for (kind, values) in lists {
        for value in values {
            declared += 1;
            if let Some(error) = validate_identifier(&environment, kind, value) {
                errors.push(error);
            }
        }
    }
    // With a single environment there is nothing to tell apart.
    if declared == 0 && environment_count > 1 {
        errors.push(PolicyError::NoIdentifiers {
            environment: environment.clone(),
        });
    }

    if let Some(account) = &env.account_id {
        let account = account.trim();
        if account.len() != 12 || !account.bytes().all(|byte| byte.is_ascii_digit()) {
            errors.push(PolicyError::InvalidAccountId {
                environment: environment.clone(),
                value: account.to_string(),
            });
        }
    }
    if let Some(region) = &env.region {
        let region = region.trim();
        let valid = !region.is_empty()
            && region
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if !valid {
            errors.push(PolicyError::InvalidRegion {
                environment,
                value: region.to_string(),
            });
        }
    }
}

fn validate_identifier(
    environment: &str,
    kind: IdentifierKind,
    value: &str,
) -> Option<PolicyError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Some(PolicyError::EmptyIdentifier {
            environment: environment.to_string(),
            kind,
        });
    }
    match kind {
        IdentifierKind::Host => host_problem(trimmed).map(|reason| PolicyError::InvalidHost {
            environment: environment.to_string(),
            value: trimmed.to_string(),
            reason: reason.to_string(),
        }),
        IdentifierKind::SecretName | IdentifierKind::SecretPrefix
            if trimmed.starts_with("arn:") =>
        {
            Some(PolicyError::SecretNameIsArn {
                environment: environment.to_string(),
                value: trimmed.to_string(),
            })
        }
        IdentifierKind::Cluster | IdentifierKind::Service
            if trimmed.starts_with("arn:") && ecs_resource_name(trimmed).is_none() =>
        {
            Some(PolicyError::InvalidEcsArn {
                environment: environment.to_string(),
                kind,
                value: trimmed.to_string(),
            })
        }
        _ => None,
    }
}

/// Describes why `host` is not a bare DNS name, or returns `None` when it is.
/// Underscores are accepted because service discovery names use them.
fn host_problem(host: &str) -> Option<&'static str> {
    if host.contains("://") {
        return Some("it contains a URL scheme");
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.contains('*') {
        return Some("wildcards are not supported");
    }
    if host.contains(':') || host.contains('/') {
        return Some("it contains a port or path");
    }
    if host.split('.').any(str::is_empty) {
        return Some("it has an empty label");
    }
    let valid_bytes = host
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if !valid_bytes {
        return Some("it contains characters other than letters, digits, `-`, `_` and `.`");
    }
    None
}

fn find_overlaps(policy: &GuardPolicy, errors: &mut Vec<PolicyError>) {
    let shared = shared_needles(policy);
    // Keyed by the lowercase form, in order of first appearance per key.
    let mut owners_by_needle: BTreeMap<String, (String, Vec<Owner>)> = BTreeMap::new();

    for env in &policy.environments {
        for entry in env.entries() {
            if entry.kind == IdentifierKind::AccountId {
                continue;
            }
            let (_, owners) = owners_by_needle
                .entry(entry.needle.clone())
                .or_insert_with(|| (entry.identifier.clone(), Vec::new()));
            let owner = Owner {
                environment: env.name.clone(),
                kind: entry.kind,
            };
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
    }

    for (needle, (value, owners)) in owners_by_needle {
        let mut environments: Vec<&str> = owners.iter().map(|o| o.environment.as_str()).collect();
        environments.dedup();
        if environments.len() > 1 && !shared.contains(&needle) {
            errors.push(PolicyError::Overlap { value, owners });
        }
    }
}

/// Reports identifiers that contain another environment's identifier, so
/// that a staging log group `/ecs/afu9-control-center`, which contains the
/// production service name, is caught when the policy is loaded.
fn find_cross_references(policy: &GuardPolicy, errors: &mut Vec<PolicyError>) {
    for (index, env) in policy.environments.iter().enumerate() {
        let declared_earlier = policy.environments[..index]
            .iter()
            .any(|earlier| earlier.name == env.name);
        if env.name.trim().is_empty() || declared_earlier {
            continue;
        }
        for (kind, value, reference) in cross_references(policy, &env.name) {
            errors.push(PolicyError::CrossReference {
                environment: env.name.clone(),
                kind,
                value,
                reference,
            });
        }
    }
}

/// Returns the lowercase, normalised forms of the shared values.
pub(crate) fn shared_needles(policy: &GuardPolicy) -> Vec<String> {
    policy
        .shared
        .iter()
        .map(|value| {
            let value = value.trim();
            let value = ecs_resource_name(value).unwrap_or(value);
            value
                .strip_suffix('.')
                .unwrap_or(value)
                .to_ascii_lowercase()
        })
        .filter(|value| !value.is_empty())
        .collect()
}
