//! Environment guard: a deploy aimed at one environment must not use or
//! send another environment's identifiers.
//!
//! [`GuardPolicy::from_config`] converts the configuration into a
//! [`GuardPolicy`]: per environment its clusters, services, hosts, secret
//! names and prefixes, other identifiers, and optionally its account id and
//! region, plus the values that several environments share on purpose. [`validate_policy`] checks
//! the policy once, [`select_environment`] picks the target from `--env`
//! and `DEPLOY_ENV`, and [`check`] and [`check_account`] return what a run
//! for that target must not do. [`GuardMatcher`] is the search behind
//! [`check`], for callers that need each match's byte range in its value.
//! [`collect_json_strings`] turns a task definition into checkable values
//! with their JSON paths.
//!
//! # Matching
//!
//! Identifiers are matched at identifier boundaries, never as substrings,
//! because names of different environments often contain each other. In the
//! example app, the production service `afu9-control-center` is a prefix of
//! the staging service `afu9-control-center-staging`. The production host
//! `afu-9.com` is a suffix of the staging host `stage.afu-9.com`.
//!
//! All matching ignores ASCII letter case. AWS treats most names as
//! case-sensitive, so this can report a value that could not address the
//! other environment's resource, but it cannot miss one.
//!
//! A match counts only when the characters on both sides of it cannot
//! continue an identifier of that kind:
//!
//! | kind | continues the identifier | so these end it |
//! | --- | --- | --- |
//! | cluster, service, other | letters, digits, `-`, `_` | `/`, `:`, `.`, `=`, `@`, quotes, spaces |
//! | host | letters, digits, `-`, `_` (one label) | `.` and everything else |
//! | secret name, secret prefix | letters, digits, `-`, `_`, `/` | `:`, `.`, `=`, `+`, `@`, spaces |
//! | account id | letters, digits | everything else |
//!
//! This one rule covers the shapes that values take:
//!
//! - An ECS ARN (`arn:aws-cn:ecs:...:service/afu9-cluster/afu9-control-center`,
//!   `task-definition/afu9-control-center:41`) matches on its resource name,
//!   because `/` and `:` end the name. Any partition works.
//! - A secret ARN matches on the secret's name. After `secret:` the name may
//!   be followed by `-` and the six random characters that Secrets Manager
//!   appends, and `:` ends it, so
//!   `secret:afu9/prod/smoke-key-AbC123:password:AWSCURRENT:` matches
//!   `afu9/prod/smoke-key`, with or without suffix and JSON key.
//! - A secret prefix matches at the start of a secret name
//!   (`afu9/prod/` in `afu9/prod/db`). The match claims the whole name.
//! - A host matches on whole labels: `afu-9.com` matches `afu-9.com`,
//!   `AFU-9.COM.` and `https://user:pw@afu-9.com:8443/x`, never
//!   `my-afu-9.com` or `afu-9.community`.
//! - Free text such as a command or an environment value matches where the
//!   identifier stands alone: `--service afu9-control-center`,
//!   `service=afu9-control-center`, never `afu9-control-center-staging`.
//!
//! # Subdomains
//!
//! A host match claims the whole host name that ends in it, so `afu-9.com`
//! in `api.afu-9.com` claims `api.afu-9.com`. The most specific declared
//! host decides who owns a name: `api.stage.afu-9.com` belongs to staging
//! (under `stage.afu-9.com`), while `api.afu-9.com` belongs to production
//! because no staging host contains it. A subdomain of a production host is
//! treated as production, because production controls that DNS zone and a
//! name in it most likely reaches production systems. A staging deploy that
//! really needs such a name must declare it as a staging host or as shared.
//!
//! The same rule in general: a foreign match is excused when a target or
//! shared identifier's claim covers it and that identifier's own match is
//! not just a part of the foreign match. The second condition keeps a broad
//! staging host `afu-9.com` from excusing a production `prod.afu-9.com`.
//!
//! # What is not searched
//!
//! Environment names themselves are not identifiers: `NODE_ENV=production`
//! in a staging task definition is fine. Regions are compared only with the
//! caller's region by [`check_account`], never searched for, because
//! environments often share a region and services name other regions.
//! A secret name after a `/` (`vault/afu9/prod/key`) is a different secret
//! and does not match.

mod check;
mod json;
mod matching;
mod policy;
mod select;

use std::fmt;

use serde::Serialize;

pub use check::{
    ForeignMatch, ForeignReference, GuardMatcher, Observed, Violation, check, check_account,
};
pub use json::{KEY_SUFFIX, collect_json_strings};
pub use policy::{EnvironmentIdentifiers, GuardPolicy, Owner, PolicyError, validate_policy};
pub use select::{ENV_FLAG, ENV_VAR, SelectionError, SelectionSource, select_environment};

/// The kind of a configured identifier, which decides how it is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Cluster,
    Service,
    Host,
    SecretName,
    SecretPrefix,
    Other,
    AccountId,
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentifierKind::Cluster => "cluster",
            IdentifierKind::Service => "service",
            IdentifierKind::Host => "host",
            IdentifierKind::SecretName => "secret name",
            IdentifierKind::SecretPrefix => "secret prefix",
            IdentifierKind::Other => "identifier",
            IdentifierKind::AccountId => "account id",
        })
    }
}

/// Returns the resource name of an ECS ARN: the cluster name of
/// `...:cluster/NAME`, the service name of `...:service/CLUSTER/NAME` and of
/// the older `...:service/NAME`, and the family of
/// `...:task-definition/FAMILY:REVISION`.
///
/// Returns `None` when `value` is not an ECS ARN or has no resource name.
pub(crate) fn ecs_resource_name(value: &str) -> Option<&str> {
    let fields: Vec<&str> = value.splitn(6, ':').collect();
    let [prefix, _partition, service, _region, _account, resource] = fields.as_slice() else {
        return None;
    };
    if *prefix != "arn" || *service != "ecs" {
        return None;
    }
    let (_kind, path) = resource.split_once('/')?;
    let last = path.rsplit('/').next()?;
    let name = last.split(':').next()?;
    (!name.is_empty()).then_some(name)
}

/// Formats environment names for a message, sorted so that the text does
/// not depend on the configuration order.
pub(crate) fn join_names(names: &[String]) -> String {
    if names.is_empty() {
        return "(none)".to_string();
    }
    let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_resource_name_shapes() {
        let cases = [
            (
                "arn:aws:ecs:eu-central-1:1:cluster/afu9-cluster",
                Some("afu9-cluster"),
            ),
            ("arn:aws:ecs:r:1:service/afu9-cluster/svc", Some("svc")),
            ("arn:aws-cn:ecs:r:1:service/svc", Some("svc")),
            ("arn:aws-us-gov:ecs:r:1:task-definition/fam:41", Some("fam")),
            ("arn:aws:ecs:r:1:cluster/", None),
            ("arn:aws:sqs:r:1:queue/x", None),
            ("afu9-cluster", None),
        ];
        for (value, expected) in cases {
            assert_eq!(ecs_resource_name(value), expected, "{value}");
        }
    }
}
