//! The guard itself: searching the values a run will use for another
//! environment's identifiers, and comparing the caller's account and region
//! with the target environment's.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

use super::matching::{Occurrence, contains, find_occurrences, strictly_contains};
use super::policy::{Entry, GuardPolicy, normalise, shared_needles};
use super::{IdentifierKind, join_names};

/// One value that a run will use or send, and where it came from.
///
/// `Debug` leaves the value out, because values come from task definitions
/// and command lines and may carry a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Observed {
    pub value: String,
    /// Location of the value: a JSON path such as
    /// `containerDefinitions[0].environment[2].value`, or an option such as
    /// `--tag`.
    pub location: String,
}

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observed")
            .field("location", &self.location)
            .field(
                "value",
                &format_args!("<{} bytes, not shown>", self.value.len()),
            )
            .finish()
    }
}

/// A value that references another environment's identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignReference {
    /// Location of the value, copied from [`Observed::location`].
    pub location: String,
    /// The part of the value that matched: the identifier as written there,
    /// a secret ARN's name with its random suffix, the full host name for a
    /// host (`api.afu-9.com`), or the full secret name under a prefix. The
    /// rest of the value is left out because it may carry a secret.
    pub matched: String,
    /// The configured identifier that matched.
    pub identifier: String,
    pub kind: IdentifierKind,
    /// The environment that owns the identifier.
    pub environment: String,
    /// The environment that the run targets.
    pub target: String,
}

/// A reason why a run must not go ahead for its target environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "violation", rename_all = "snake_case")]
pub enum Violation {
    /// A value references another environment's identifier.
    ForeignReference(ForeignReference),
    /// The caller's account differs from the target's configured account.
    AccountMismatch {
        target: String,
        expected: String,
        actual: String,
    },
    /// The target has no configured account, and the caller's account is
    /// another environment's.
    ForeignAccount {
        target: String,
        owner: String,
        account: String,
    },
    /// The region differs from the target's configured region.
    RegionMismatch {
        target: String,
        expected: String,
        actual: String,
    },
    /// The target environment is not configured, so nothing was checked.
    UnknownTarget {
        target: String,
        configured: Vec<String>,
    },
}

impl fmt::Display for ForeignReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ForeignReference {
            location,
            matched,
            identifier,
            kind,
            environment,
            target,
        } = self;
        write!(
            f,
            "{location} references {environment} {kind} `{identifier}` (found `{matched}`), \
             but this run targets {target}; use the {target} value instead, or add \
             `{identifier}` to `shared` if both environments use it on purpose"
        )
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::ForeignReference(reference) => reference.fmt(f),
            Violation::AccountMismatch {
                target,
                expected,
                actual,
            } => write!(
                f,
                "the AWS credentials belong to account {actual}, but environment {target} is \
                 configured for account {expected}; use credentials for account {expected}"
            ),
            Violation::ForeignAccount {
                target,
                owner,
                account,
            } => write!(
                f,
                "the AWS credentials belong to account {account}, which is configured for \
                 environment {owner}, but this run targets {target}; use {target} \
                 credentials, or declare {target}'s account id if both environments share \
                 this account"
            ),
            Violation::RegionMismatch {
                target,
                expected,
                actual,
            } => write!(
                f,
                "the region is {actual}, but environment {target} is configured for region \
                 {expected}; set the region to {expected} (for example with AWS_REGION)"
            ),
            Violation::UnknownTarget { target, configured } => write!(
                f,
                "environment \"{target}\" is not configured, so nothing could be checked; \
                 configured environments are: {}",
                join_names(configured)
            ),
        }
    }
}

impl std::error::Error for Violation {}

/// One identifier found in one value, before exemptions are applied.
struct Found<'e, 'p> {
    entry: &'e Entry<'p>,
    occurrence: Occurrence,
}

/// Searches every observed value for identifiers of environments other than
/// `target` and returns one violation per distinct reference.
///
/// An identifier that `target` itself declares, or that is in
/// [`GuardPolicy::shared`], is never foreign. A foreign identifier is also
/// excused where it lies inside a name that a target or shared identifier
/// claims, such as `afu-9.com` inside `api.stage.afu-9.com` when
/// `stage.afu-9.com` is the target's host. The exception is a target match
/// that is itself only a part of the foreign one. Where one foreign match
/// lies inside a longer one (a secret prefix inside the full secret name),
/// only the longer is reported.
///
/// An unknown `target` yields [`Violation::UnknownTarget`], never an empty
/// list, so that a typo cannot pass the guard.
pub fn check(policy: &GuardPolicy, target: &str, observed: &[Observed]) -> Vec<Violation> {
    let matcher = match GuardMatcher::new(policy, target) {
        Ok(matcher) => matcher,
        Err(violation) => return vec![violation],
    };

    let mut violations = Vec::new();
    for item in observed {
        for found in matcher.find(&item.value) {
            violations.push(Violation::ForeignReference(ForeignReference {
                location: item.location.clone(),
                matched: item.value[found.span].to_string(),
                identifier: found.identifier,
                kind: found.kind,
                environment: found.environment,
                target: target.to_string(),
            }));
        }
    }
    violations
}

/// Another environment's identifier found in one value, with its place in
/// that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignMatch {
    /// Byte range in the value of the name that the identifier belongs to,
    /// the same text that [`ForeignReference::matched`] quotes.
    pub span: Range<usize>,
    /// The configured identifier that matched.
    pub identifier: String,
    pub kind: IdentifierKind,
    /// The environment that owns the identifier.
    pub environment: String,
}

/// The identifiers that a run for one target environment may and must not
/// use, prepared once for searching many values.
///
/// [`check`] is built on it. Callers that need positions inside a value,
/// such as a linter pointing at a column, use [`GuardMatcher::find`]
/// directly.
pub struct GuardMatcher<'p> {
    allowed: Vec<Entry<'p>>,
    foreign: Vec<Entry<'p>>,
}

impl<'p> GuardMatcher<'p> {
    /// Prepares the matcher for `target`.
    ///
    /// # Errors
    ///
    /// Returns [`Violation::UnknownTarget`] when `target` is not configured.
    #[expect(
        clippy::result_large_err,
        reason = "built once per run, so the size of the error does not matter"
    )]
    pub fn new(policy: &'p GuardPolicy, target: &str) -> Result<Self, Violation> {
        let Some(target_env) = policy.environment(target) else {
            return Err(unknown_target(policy, target));
        };
        let allowed = allowed_entries(policy, target_env.entries());
        let foreign = foreign_entries(policy, target, &allowed);
        Ok(GuardMatcher { allowed, foreign })
    }

    /// Returns each distinct foreign reference in `value`, in the order the
    /// identifiers are declared, with the same exemptions as [`check`].
    pub fn find(&self, value: &str) -> Vec<ForeignMatch> {
        check_value(value, &self.allowed, &self.foreign)
            .into_iter()
            .map(|(entry, span)| ForeignMatch {
                span,
                identifier: entry.identifier.clone(),
                kind: entry.kind,
                environment: entry.environment.to_string(),
            })
            .collect()
    }
}

/// Returns the identifiers of every environment other than `target`,
/// without those equal (ignoring case) to an allowed identifier.
fn foreign_entries<'p>(
    policy: &'p GuardPolicy,
    target: &str,
    allowed: &[Entry<'p>],
) -> Vec<Entry<'p>> {
    let own_needles: Vec<&str> = allowed.iter().map(|entry| entry.needle.as_str()).collect();
    policy
        .environments
        .iter()
        .filter(|env| env.name != target)
        .flat_map(|env| env.entries())
        .filter(|entry| !own_needles.contains(&entry.needle.as_str()))
        .collect()
}

/// Searches each identifier of `environment` for other environments'
/// identifiers and returns the identifier's kind and text with each
/// reference found.
///
/// Unlike [`check`], an identifier does not excuse what it contains, with
/// one exception: a host may be a subdomain of another environment's host
/// (`stage.afu-9.com` under `afu-9.com`), because [`check`] lets the most
/// specific host decide. Everything else that contains another
/// environment's identifier, such as a staging secret name under the
/// production prefix, is reported.
pub(crate) fn cross_references(
    policy: &GuardPolicy,
    environment: &str,
) -> Vec<(IdentifierKind, String, ForeignReference)> {
    let Some(env) = policy.environment(environment) else {
        return Vec::new();
    };
    let own = allowed_entries(policy, env.entries());
    let foreign = foreign_entries(policy, environment, &own);

    let mut found = Vec::new();
    for entry in env.entries() {
        let kind = entry.kind;
        let identifier = entry.identifier.clone();
        let allowed = if kind == IdentifierKind::Host {
            vec![entry]
        } else {
            Vec::new()
        };
        for (foreign_entry, claim) in check_value(&identifier, &allowed, &foreign) {
            let reference = ForeignReference {
                location: format!("{kind} {identifier}"),
                matched: identifier[claim].to_string(),
                identifier: foreign_entry.identifier.clone(),
                kind: foreign_entry.kind,
                environment: foreign_entry.environment.to_string(),
                target: environment.to_string(),
            };
            found.push((kind, identifier.clone(), reference));
        }
    }
    found
}

/// Returns the target's entries plus one entry per shared value and kind.
///
/// A shared value is searched for under each kind that some environment
/// declares it as, so that its boundaries and claim follow that kind, and
/// under [`IdentifierKind::Other`] when no environment declares it.
fn allowed_entries<'p>(policy: &'p GuardPolicy, mut entries: Vec<Entry<'p>>) -> Vec<Entry<'p>> {
    let all: Vec<Entry<'p>> = policy
        .environments
        .iter()
        .flat_map(|env| env.entries())
        .collect();

    for needle in shared_needles(policy) {
        let mut kinds: Vec<IdentifierKind> = all
            .iter()
            .filter(|entry| entry.needle == needle)
            .map(|entry| entry.kind)
            .collect();
        kinds.dedup();
        if kinds.is_empty() {
            kinds.push(IdentifierKind::Other);
        }
        for kind in kinds {
            entries.push(Entry {
                environment: "shared",
                kind,
                identifier: normalise(kind, &needle),
                needle: needle.clone(),
            });
        }
    }
    entries
}

/// Returns each foreign entry that `value` references, with the span to
/// quote, after exemptions and with duplicates removed.
fn check_value<'e, 'p>(
    value: &str,
    allowed: &[Entry<'p>],
    foreign: &'e [Entry<'p>],
) -> Vec<(&'e Entry<'p>, Range<usize>)> {
    let lowered = value.to_ascii_lowercase();

    let allowed_found: Vec<Occurrence> = allowed
        .iter()
        .flat_map(|entry| find_occurrences(&lowered, &entry.needle, entry.kind))
        .collect();
    let foreign_found: Vec<Found<'e, 'p>> = foreign
        .iter()
        .flat_map(|entry| {
            find_occurrences(&lowered, &entry.needle, entry.kind)
                .into_iter()
                .map(move |occurrence| Found { entry, occurrence })
        })
        .filter(|found| !is_excused(&found.occurrence, &allowed_found))
        .collect();

    let mut references: Vec<(&'e Entry<'p>, Range<usize>)> = Vec::new();
    for found in &foreign_found {
        let inside_longer = foreign_found
            .iter()
            .any(|other| strictly_contains(&other.occurrence.raw, &found.occurrence.raw));
        if inside_longer {
            continue;
        }
        let claim = found.occurrence.claim.clone();
        let duplicate = references.iter().any(|(entry, span)| {
            entry.environment == found.entry.environment
                && entry.needle == found.entry.needle
                && lowered[span.clone()] == lowered[claim.clone()]
        });
        if !duplicate {
            references.push((found.entry, claim));
        }
    }
    references
}

/// Returns true when a target or shared occurrence claims the foreign one:
/// its claim covers the foreign match, and its own match is not merely a
/// part of the foreign match. The second condition keeps a broad target host
/// `afu-9.com` from excusing a foreign `prod.afu-9.com`.
fn is_excused(foreign: &Occurrence, allowed: &[Occurrence]) -> bool {
    allowed
        .iter()
        .any(|own| contains(&own.claim, &foreign.raw) && !strictly_contains(&foreign.raw, &own.raw))
}

/// Compares the caller's account (from STS `GetCallerIdentity`) and the
/// region that the run will use with the target environment's.
///
/// When the target declares no account id, the caller's account must not be
/// one that another environment declares.
pub fn check_account(
    policy: &GuardPolicy,
    target: &str,
    caller_account: &str,
    region: &str,
) -> Vec<Violation> {
    let Some(target_env) = policy.environment(target) else {
        return vec![unknown_target(policy, target)];
    };
    let caller_account = caller_account.trim();
    let region = region.trim();
    let mut violations = Vec::new();

    match &target_env.account_id {
        Some(expected) if expected.trim() != caller_account => {
            violations.push(Violation::AccountMismatch {
                target: target.to_string(),
                expected: expected.trim().to_string(),
                actual: caller_account.to_string(),
            });
        }
        Some(_) => {}
        None => {
            let shared = shared_needles(policy);
            let owner = policy.environments.iter().find(|env| {
                env.name != target
                    && env.account_id.as_deref().map(str::trim) == Some(caller_account)
                    && !shared.iter().any(|value| value == caller_account)
            });
            if let Some(owner) = owner {
                violations.push(Violation::ForeignAccount {
                    target: target.to_string(),
                    owner: owner.name.clone(),
                    account: caller_account.to_string(),
                });
            }
        }
    }

    if let Some(expected) = &target_env.region
        && !expected.trim().eq_ignore_ascii_case(region)
    {
        violations.push(Violation::RegionMismatch {
            target: target.to_string(),
            expected: expected.trim().to_string(),
            actual: region.to_string(),
        });
    }
    violations
}

fn unknown_target(policy: &GuardPolicy, target: &str) -> Violation {
    Violation::UnknownTarget {
        target: target.to_string(),
        configured: policy.names(),
    }
}
