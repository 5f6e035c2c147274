//! `cross-environment-reference`: a job that deploys to one environment
//! references another environment's cluster, service, host, secret or
//! other identifier in its `env:`, `with:` or `run:` text.
//!
//! A job's target comes from its `environment:`, a literal `DEPLOY_ENV`
//! in its own or its steps' `env:`, a literal `--env NAME` or
//! `DEPLOY_ENV=NAME` in a `run:` script, or a literal `DEPLOY_ENV` in the
//! workflow's `env:`. Only names of configured environments count, so
//! `docker run --env KEY=VALUE` selects nothing. A job whose literals
//! name two environments gets a finding at each one that differs from the
//! first.
//!
//! Matching is the deploy guard's ([`GuardMatcher`]), at identifier
//! boundaries, so `afu9-control-center-staging` does not match the
//! production service `afu9-control-center`. Every branch of a script is
//! searched, because a branch that picks production from an input is the
//! case this rule exists for.

use std::ops::Range;

use greenlight_core::guard::{ForeignMatch, GuardMatcher, GuardPolicy, IdentifierKind};

use super::{Context, Rule};
use crate::finding::{Finding, Severity};
use crate::model::{CompositeAction, EnvMap, Job, Step, Workflow};
use crate::scalar_map::value_offsets;
use crate::source::SourceFile;
use crate::yaml::{Node, Scalar};

pub struct CrossEnvironmentReference;

const ID: &str = "cross-environment-reference";

/// Variable that names the target environment, as `greenlight` reads it.
const ENV_VAR: &str = "DEPLOY_ENV";

/// Option that names the target environment on a command line.
const ENV_FLAG: &str = "--env";

impl Rule for CrossEnvironmentReference {
    fn id(&self) -> &'static str {
        ID
    }

    fn description(&self) -> &'static str {
        "a job that deploys to one environment references another environment's identifiers"
    }

    fn check_workflow(&self, cx: &Context, workflow: &Workflow, out: &mut Vec<Finding>) {
        let Some(policy) = cx.environments else {
            return;
        };
        // Workflow-level `env:` values are searched for every job, and
        // `reported` keeps each place from being reported once per job.
        let mut reported: Vec<Range<usize>> = Vec::new();
        for job in &workflow.jobs {
            let targets = job_targets(cx.file, policy, workflow, job);
            let Some(first) = targets.first() else {
                continue;
            };
            let Some(scope) = Scope::new(policy, format!("job `{}`", job.id.value), first) else {
                continue;
            };
            report_conflicts(cx.file, &scope, &targets[1..], out);
            for scalar in job_values(workflow, job) {
                search_scalar(cx.file, policy, &scope, scalar, &mut reported, out);
            }
        }
    }

    fn check_action(&self, cx: &Context, action: &CompositeAction, out: &mut Vec<Finding>) {
        let Some(policy) = cx.environments else {
            return;
        };
        // An action has no `environment:`, so only literals in its steps
        // can name a target.
        let mut targets = Vec::new();
        for step in &action.steps {
            step_targets(cx.file, policy, step, &mut targets);
        }
        let Some(first) = targets.first() else {
            return;
        };
        let Some(scope) = Scope::new(policy, "this action".to_string(), first) else {
            return;
        };
        report_conflicts(cx.file, &scope, &targets[1..], out);
        let mut reported = Vec::new();
        for step in &action.steps {
            for scalar in step_values(step) {
                search_scalar(cx.file, policy, &scope, scalar, &mut reported, out);
            }
        }
    }
}

/// A literal that names a configured environment as the target.
struct Target {
    environment: String,
    /// The literal as written, such as `environment: staging` or
    /// `--env staging`.
    literal: String,
    /// Location of the literal, such as `the job's env`, when the literal
    /// alone does not show it.
    place: Option<&'static str>,
    /// Byte range of the environment name in the file.
    span: Range<usize>,
}

impl Target {
    /// Describes the literal for a message: `` `DEPLOY_ENV: staging` in
    /// the job's env ``.
    fn describe(&self) -> String {
        match self.place {
            Some(place) => format!("`{}` in {place}", self.literal),
            None => format!("`{}`", self.literal),
        }
    }
}

/// The job or action being checked, the environment it deploys to and
/// the matcher for that environment.
struct Scope<'p, 't> {
    label: String,
    target: &'t Target,
    matcher: GuardMatcher<'p>,
}

impl<'p, 't> Scope<'p, 't> {
    /// Returns `None` for a target that is not configured. Targets come
    /// from [`environment_named`], which returns only configured names.
    fn new(policy: &'p GuardPolicy, label: String, target: &'t Target) -> Option<Self> {
        let matcher = GuardMatcher::new(policy, &target.environment).ok()?;
        Some(Scope {
            label,
            target,
            matcher,
        })
    }
}

/// Collects every literal target of a job, most specific first: its
/// `environment:`, `DEPLOY_ENV` in its `env:`, its steps' literals, then
/// the workflow's `DEPLOY_ENV`.
fn job_targets(
    file: &SourceFile,
    policy: &GuardPolicy,
    workflow: &Workflow,
    job: &Job,
) -> Vec<Target> {
    let mut targets = Vec::new();

    if let Some(name) = job.environment_name()
        && let Some(environment) = environment_named(policy, &name.value, true)
    {
        targets.push(Target {
            environment,
            literal: format!("environment: {}", name.value),
            place: None,
            span: name.span.start..name.span.end,
        });
    }
    env_map_target(policy, &job.env, "the job's env", &mut targets);
    for step in &job.steps {
        step_targets(file, policy, step, &mut targets);
    }
    env_map_target(policy, &workflow.env, "the workflow's env", &mut targets);
    targets
}

/// Adds the literal targets of one step: `DEPLOY_ENV` in its `env:`, and
/// `--env NAME` or `DEPLOY_ENV=NAME` in its `run:` script.
fn step_targets(file: &SourceFile, policy: &GuardPolicy, step: &Step, targets: &mut Vec<Target>) {
    env_map_target(policy, &step.env, "a step's env", targets);

    let Some(run) = &step.run else {
        return;
    };
    let offsets = value_offsets(&file.text, run);
    for (range, name, written) in script_targets(&run.value) {
        if let Some(environment) = environment_named(policy, name, false) {
            targets.push(Target {
                environment,
                literal: written.to_string(),
                place: None,
                span: source_range(&offsets, range),
            });
        }
    }
}

fn env_map_target(
    policy: &GuardPolicy,
    env: &EnvMap,
    place: &'static str,
    targets: &mut Vec<Target>,
) {
    let Some((_, node)) = env.entries.iter().find(|(key, _)| key.value == ENV_VAR) else {
        return;
    };
    let Some(value) = node.as_scalar() else {
        return;
    };
    if let Some(environment) = environment_named(policy, &value.value, false) {
        targets.push(Target {
            environment,
            literal: format!("{ENV_VAR}: {}", value.value),
            place: Some(place),
            span: value.span.start..value.span.end,
        });
    }
}

/// Returns the configured environment that `name` selects.
///
/// `greenlight` compares names exactly, but GitHub treats environment
/// names without regard to case, so `environment: Staging` is matched
/// ignoring case when `ignore_case` is set.
fn environment_named(policy: &GuardPolicy, name: &str, ignore_case: bool) -> Option<String> {
    let name = name.trim();
    if name.is_empty() || name.contains("${{") {
        return None;
    }
    let names = policy.names();
    if let Some(exact) = names.iter().find(|configured| *configured == name) {
        return Some(exact.clone());
    }
    if !ignore_case {
        return None;
    }
    let mut same_but_case = names
        .iter()
        .filter(|configured| configured.eq_ignore_ascii_case(name));
    match (same_but_case.next(), same_but_case.next()) {
        (Some(only), None) => Some(only.clone()),
        _ => None,
    }
}

/// Finds `--env NAME`, `--env=NAME` and `DEPLOY_ENV=NAME` in a script and
/// returns the byte range of each NAME (quotes stripped), the NAME and the
/// whole literal as written.
fn script_targets(script: &str) -> Vec<(Range<usize>, &str, &str)> {
    let bytes = script.as_bytes();
    let mut found = Vec::new();
    for (marker, separators) in [(ENV_FLAG, &[b' ', b'\t', b'='][..]), (ENV_VAR, &[b'='][..])] {
        for (start, _) in script.match_indices(marker) {
            let before = start.checked_sub(1).map(|i| bytes[i]);
            let starts_word = before.is_none_or(|byte| {
                byte.is_ascii_whitespace() || matches!(byte, b';' | b'(' | b'"' | b'\'')
            });
            if !starts_word {
                continue;
            }
            let mut cursor = start + marker.len();
            let Some(&separator) = bytes.get(cursor) else {
                continue;
            };
            if !separators.contains(&separator) {
                continue;
            }
            cursor += 1;
            while separator != b'=' && matches!(bytes.get(cursor), Some(b' ' | b'\t')) {
                cursor += 1;
            }
            let Some((range, quoted)) = word_at(script, cursor) else {
                continue;
            };
            let name = &script[range.clone()];
            let written_end = if quoted { range.end + 1 } else { range.end };
            let written = script.get(start..written_end).unwrap_or(name);
            found.push((range, name, written));
        }
    }
    found
}

/// Returns the range of the shell word at `start` without its quotes, and
/// whether it was quoted, when it is a plain literal: no expansion, no
/// expression.
fn word_at(script: &str, start: usize) -> Option<(Range<usize>, bool)> {
    let bytes = script.as_bytes();
    let quote = match bytes.get(start) {
        Some(b'"') => Some(b'"'),
        Some(b'\'') => Some(b'\''),
        _ => None,
    };
    let begin = start + usize::from(quote.is_some());
    let mut end = begin;
    while let Some(&byte) = bytes.get(end) {
        let stops = match quote {
            Some(q) => byte == q,
            None => {
                byte.is_ascii_whitespace()
                    || matches!(byte, b';' | b')' | b'&' | b'|' | b'"' | b'\'')
            }
        };
        if stops {
            break;
        }
        end += 1;
    }
    let word = &script[begin..end];
    let literal = !word.is_empty() && !word.contains('$') && !word.contains('`');
    literal.then_some((begin..end, quote.is_some()))
}

/// Collects the scalars of a job that the rule searches: the workflow's
/// and the job's `env:`, the container's `env:`, the environment's `url:`,
/// the job's own `with:` and every step's `env:`, `with:` and `run:`.
fn job_values<'w>(workflow: &'w Workflow, job: &'w Job) -> Vec<&'w Scalar> {
    let mut scalars = Vec::new();
    for env in [&workflow.env, &job.env, &job.container_env] {
        for (_, value) in &env.entries {
            collect_scalars(value, &mut scalars);
        }
    }
    if let Some(url) = job.environment.as_ref().and_then(|node| node.get("url")) {
        collect_scalars(url, &mut scalars);
    }
    // Inputs of a job that calls a reusable workflow.
    if let Some(with) = job.node.get("with") {
        collect_scalars(with, &mut scalars);
    }
    for step in &job.steps {
        scalars.extend(step_values(step));
    }
    scalars
}

fn step_values(step: &Step) -> Vec<&Scalar> {
    let mut scalars = Vec::new();
    for (_, value) in &step.env.entries {
        collect_scalars(value, &mut scalars);
    }
    for (_, value) in &step.with {
        collect_scalars(value, &mut scalars);
    }
    scalars.extend(step.run.as_ref());
    scalars
}

/// Collects every scalar value under `node`, leaving out mapping keys.
fn collect_scalars<'n>(node: &'n Node, scalars: &mut Vec<&'n Scalar>) {
    match node {
        Node::Scalar(scalar) => scalars.push(scalar),
        Node::Sequence(items, _) => {
            for item in items {
                collect_scalars(item, scalars);
            }
        }
        Node::Mapping(entries, _) => {
            for (_, value) in entries {
                collect_scalars(value, scalars);
            }
        }
        Node::Null(_) => {}
    }
}

/// Reports each literal that names another environment than the first.
fn report_conflicts(file: &SourceFile, scope: &Scope, others: &[Target], out: &mut Vec<Finding>) {
    let first = scope.target;
    for other in others {
        if other.environment == first.environment {
            continue;
        }
        let message = format!(
            "{} deploys to {} ({}), but {} selects {}",
            scope.label,
            first.environment,
            first.describe(),
            other.describe(),
            other.environment
        );
        let help = format!(
            "split the {} and {} deploys into separate jobs, each with its own `environment:`",
            first.environment, other.environment
        );
        out.push(
            Finding::at(
                ID,
                Severity::Error,
                file,
                other.span.start,
                other.span.end,
                message,
            )
            .with_help(help),
        );
    }
}

/// Searches one scalar and reports each foreign identifier in it.
fn search_scalar(
    file: &SourceFile,
    policy: &GuardPolicy,
    scope: &Scope,
    scalar: &Scalar,
    reported: &mut Vec<Range<usize>>,
    out: &mut Vec<Finding>,
) {
    let target = &scope.target.environment;
    let found = scope.matcher.find(&scalar.value);
    if found.is_empty() {
        return;
    }
    let offsets = value_offsets(&file.text, scalar);
    for reference in found {
        let span = source_range(&offsets, reference.span.clone());
        if reported.contains(&span) {
            continue;
        }
        reported.push(span.clone());

        let matched = &scalar.value[reference.span.clone()];
        let mut message = format!(
            "{} deploys to {target} ({}), but this references {} {} `{}`",
            scope.label,
            scope.target.describe(),
            reference.environment,
            reference.kind,
            reference.identifier
        );
        if !matched.eq_ignore_ascii_case(&reference.identifier) {
            message.push_str(&format!(" (as `{matched}`)"));
        }
        let help = help_for(policy, target, &reference);
        out.push(
            Finding::at(ID, Severity::Error, file, span.start, span.end, message).with_help(help),
        );
    }
}

/// Suggests the target's own value of the same kind when there is exactly
/// one, or the target's secret of the same name under its own prefix.
fn help_for(policy: &GuardPolicy, target: &str, reference: &ForeignMatch) -> String {
    let shared = format!(
        "or add `{}` to `shared` if both environments use it on purpose",
        reference.identifier
    );
    match counterpart(policy, target, reference) {
        Some(value) => format!("use the {target} {} `{value}`, {shared}", reference.kind),
        None => format!("use a {target} value instead, {shared}"),
    }
}

fn counterpart(policy: &GuardPolicy, target: &str, reference: &ForeignMatch) -> Option<String> {
    let own = policy.environment(target)?;
    let owner = policy.environment(&reference.environment)?;
    let candidates: Vec<String> = match reference.kind {
        IdentifierKind::Cluster => own.clusters.clone(),
        IdentifierKind::Service => own.services.clone(),
        IdentifierKind::Host => own.hosts.clone(),
        IdentifierKind::Other => own.other.clone(),
        IdentifierKind::AccountId => own.account_id.iter().cloned().collect(),
        IdentifierKind::SecretPrefix => own.secret_prefixes.clone(),
        IdentifierKind::SecretName => {
            // `afu9/prod/smoke-key` under `afu9/prod/` becomes
            // `afu9/stage/smoke-key` under `afu9/stage/`, if declared.
            let renamed: Vec<String> = owner
                .secret_prefixes
                .iter()
                .filter_map(|prefix| reference.identifier.strip_prefix(prefix.as_str()))
                .flat_map(|rest| {
                    own.secret_prefixes
                        .iter()
                        .map(move |prefix| format!("{prefix}{rest}"))
                })
                .filter(|name| own.secret_names.contains(name))
                .collect();
            if renamed.is_empty() {
                own.secret_names.clone()
            } else {
                renamed
            }
        }
    };
    match candidates.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// Maps a byte range of a scalar's value to a byte range of the file.
fn source_range(offsets: &[usize], range: Range<usize>) -> Range<usize> {
    let at = |i: usize| offsets.get(i).copied().unwrap_or(0);
    let start = at(range.start);
    let end = if range.end > range.start {
        at(range.end - 1) + 1
    } else {
        start
    };
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::script_targets;

    fn names(script: &str) -> Vec<&str> {
        script_targets(script)
            .into_iter()
            .map(|(_, name, _)| name)
            .collect()
    }

    #[test]
    fn script_targets_take_literals_only() {
        assert_eq!(names("greenlight deploy --env staging"), ["staging"]);
        assert_eq!(
            names("greenlight deploy --env=\"production\" x"),
            ["production"]
        );
        assert_eq!(names("export DEPLOY_ENV=staging"), ["staging"]);
        assert_eq!(names("echo 'DEPLOY_ENV=qa' >> \"$GITHUB_ENV\""), ["qa"]);
        assert!(names("greenlight deploy --env \"$TARGET\"").is_empty());
        assert!(names("if [ \"$DEPLOY_ENV\" = \"production\" ]; then").is_empty());
        assert!(names("echo ${DEPLOY_ENV=staging}").is_empty());
        assert!(names("tool --environment staging").is_empty());
    }

    #[test]
    fn script_target_range_skips_quotes() {
        let script = "x --env 'staging'";
        let found = script_targets(script);
        assert_eq!(found.len(), 1);
        assert_eq!(&script[found[0].0.clone()], "staging");
        assert_eq!(found[0].2, "--env 'staging'");

        let script = "echo \"DEPLOY_ENV=production\" >> \"$GITHUB_ENV\"";
        let found = script_targets(script);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, "production");
        assert_eq!(found[0].2, "DEPLOY_ENV=production");
    }
}
