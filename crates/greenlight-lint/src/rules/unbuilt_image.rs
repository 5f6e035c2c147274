//! `unbuilt-image`: a container the deploy expects whose image repository
//! no job of the workflow builds and pushes. The deploy would then roll
//! out a stale image for that container.

use super::{Context, Rule};
use crate::finding::{Finding, Severity};
use crate::model::{Job, Step, Workflow};
use crate::yaml::Span;

pub struct UnbuiltImage;

impl Rule for UnbuiltImage {
    fn id(&self) -> &'static str {
        "unbuilt-image"
    }

    fn description(&self) -> &'static str {
        "a configured container's image repository is never built and pushed by the workflow"
    }

    fn check_workflow(&self, cx: &Context, workflow: &Workflow, out: &mut Vec<Finding>) {
        if cx.images.is_empty() {
            return;
        }
        let pushes = collect_pushes(workflow);
        let deploys = workflow.jobs.iter().any(job_deploys_to_ecs);
        if pushes.is_empty() && !deploys {
            // Not a build or deploy workflow: nothing to expect of it.
            return;
        }
        // A pushed reference whose repository is still a variable could be
        // any repository, so nothing can be proven missing.
        if pushes.iter().any(|p| p.repository.contains('$')) {
            return;
        }
        let anchor = pushes
            .iter()
            .find_map(|p| p.anchor)
            .or_else(|| workflow.root.get_entry("jobs").map(|(k, _)| k.span))
            .unwrap_or_default();
        for expected in cx.images {
            let built = pushes
                .iter()
                .any(|p| repository_matches(&p.repository, &expected.repository));
            if built {
                continue;
            }
            let message = format!(
                "container `{}` expects image repository `{}`, which no job of this workflow builds and pushes",
                expected.container, expected.repository
            );
            let help = if pushes.iter().any(|p| p.from_matrix) {
                format!(
                    "add `{}` to the build matrix",
                    last_segment(&expected.repository)
                )
            } else {
                format!(
                    "add a step that builds and pushes `{}`",
                    expected.repository
                )
            };
            out.push(
                Finding::at(
                    self.id(),
                    Severity::Error,
                    cx.file,
                    anchor.start,
                    anchor.end,
                    message,
                )
                .with_help(help),
            );
        }
    }
}

/// An image reference that a step pushes.
#[derive(Debug)]
struct Push {
    /// Repository path without registry host, tag or digest.
    repository: String,
    /// Span that a finding about the workflow's builds points at.
    anchor: Option<Span>,
    from_matrix: bool,
}

fn last_segment(repository: &str) -> &str {
    repository.rsplit('/').next().unwrap_or(repository)
}

fn repository_matches(pushed: &str, expected: &str) -> bool {
    pushed == expected || pushed.ends_with(&format!("/{expected}"))
}

fn job_deploys_to_ecs(job: &Job) -> bool {
    job.steps.iter().any(|s| {
        s.uses
            .as_ref()
            .is_some_and(|u| u.value.contains("amazon-ecs-deploy-task-definition"))
            || s.run.as_ref().is_some_and(|r| {
                r.value.contains("ecs update-service")
                    || r.value.contains("ecs register-task-definition")
                    || r.value.contains("greenlight deploy")
            })
    })
}

fn collect_pushes(workflow: &Workflow) -> Vec<Push> {
    let mut pushes = Vec::new();
    for job in &workflow.jobs {
        for step in &job.steps {
            let env = |name: &str| -> Option<String> {
                step.env
                    .value(name)
                    .or_else(|| job.env.value(name))
                    .or_else(|| workflow.env.value(name))
                    .map(str::to_string)
            };
            let texts: Vec<(String, bool)> = step_push_refs(step)
                .into_iter()
                .flat_map(|raw| expand_matrix(&raw, job))
                .collect();
            for (reference, from_matrix) in texts {
                let resolved = resolve_variables(&reference, &env, step);
                let repository = repository_of(&resolved);
                if repository.is_empty() {
                    continue;
                }
                let anchor = if from_matrix {
                    matrix_anchor(job, &reference)
                } else {
                    step.run.as_ref().or(step.uses.as_ref()).map(|s| s.span)
                };
                pushes.push(Push {
                    repository,
                    anchor,
                    from_matrix,
                });
            }
        }
    }
    pushes
}

/// Points at the matrix axis a reference uses, such as `image:`.
fn matrix_anchor(job: &Job, reference: &str) -> Option<Span> {
    let node = job.matrix.node.as_ref()?;
    node.entries()
        .iter()
        .find(|(key, _)| reference.contains(&format!("matrix.{}", key.value)))
        .map(|(key, _)| key.span)
        .or(Some(node.span()))
}

/// Returns the image references a step pushes, as written.
fn step_push_refs(step: &Step) -> Vec<String> {
    if let Some(uses) = &step.uses {
        if uses.value.starts_with("docker/build-push-action") {
            let push = step.with_value("push").map(|p| p.value.as_str());
            let pushes = match push {
                Some(p) => p == "true" || p.contains("${{"),
                None => false,
            };
            if !pushes {
                return Vec::new();
            }
            return step
                .with_value("tags")
                .map(|t| {
                    t.value
                        .split([',', '\n'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
        }
        if uses.value.starts_with("docker/bake-action") {
            return vec![UNKNOWN_REFERENCE.to_string()];
        }
        return Vec::new();
    }
    let Some(run) = &step.run else {
        return Vec::new();
    };
    docker_pushes(&run.value)
}

/// Stands for an image reference whose repository is not in the workflow.
const UNKNOWN_REFERENCE: &str = "${UNKNOWN_REPOSITORY}";

/// Finds `docker push REF` and `docker buildx build --push -t REF` in a
/// script, one logical line at a time.
///
/// NOTE: pushes inside a script file the step calls are not seen, so a
/// workflow that builds through `./build.sh` gets a finding per container.
fn docker_pushes(script: &str) -> Vec<String> {
    let joined = compact_expressions(&script.replace("\\\n", " "));
    let mut refs = Vec::new();
    for line in joined.lines() {
        for command in line.split(['|', ';']).flat_map(|c| c.split("&&")) {
            let words: Vec<String> = command
                .split_whitespace()
                .map(|w| w.trim_matches(['"', '\'']).to_string())
                .collect();
            let Some(start) = words.iter().position(|w| w == "docker" || w == "podman") else {
                continue;
            };
            let args = &words[start + 1..];
            let sub: Vec<&str> = args
                .iter()
                .filter(|w| !w.starts_with('-'))
                .map(String::as_str)
                .take(2)
                .collect();
            match sub.as_slice() {
                ["push", ..] | ["image", "push"] => {
                    if let Some(reference) = args
                        .iter()
                        .filter(|w| !w.starts_with('-'))
                        .nth(if sub.first() == Some(&"image") { 2 } else { 1 })
                    {
                        refs.push(reference.clone());
                    }
                }
                ["buildx", "build"] | ["build", ..] => {
                    let pushes = args.iter().any(|w| {
                        w == "--push" || w.contains("type=registry") || w.contains("push=true")
                    });
                    if pushes {
                        refs.extend(tags(args));
                    }
                }
                ["buildx", "bake"] | ["compose", "push"] | ["compose", "build"] => {
                    // The image names are in a bake or compose file this
                    // rule does not read, so any repository may be pushed.
                    refs.push(UNKNOWN_REFERENCE.to_string());
                }
                _ => {}
            }
        }
    }
    refs
}

/// Removes the spaces inside `${{ … }}`, so an expression stays one word.
fn compact_expressions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0;
    let mut rest = text;
    while !rest.is_empty() {
        if rest.starts_with("${{") {
            depth += 1;
            out.push_str("${{");
            rest = &rest[3..];
        } else if depth > 0 && rest.starts_with("}}") {
            depth -= 1;
            out.push_str("}}");
            rest = &rest[2..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            if !(depth > 0 && c.is_whitespace()) {
                out.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn tags(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "-t" || arg == "--tag" {
            if let Some(value) = args.get(i + 1) {
                out.push(value.clone());
            }
            i += 2;
            continue;
        }
        if let Some(value) = arg.strip_prefix("--tag=") {
            out.push(value.to_string());
        }
        i += 1;
    }
    out
}

/// Expands `${{ matrix.KEY }}` into one reference per matrix value.
fn expand_matrix(reference: &str, job: &Job) -> Vec<(String, bool)> {
    let mut results = vec![(reference.to_string(), false)];
    for (key, values) in &job.matrix.axes {
        let mut next = Vec::new();
        for (text, from_matrix) in results {
            let Some((start, end)) = find_expression(&text, &format!("matrix.{key}")) else {
                next.push((text, from_matrix));
                continue;
            };
            for value in values {
                next.push((
                    format!("{}{}{}", &text[..start], value.value, &text[end..]),
                    true,
                ));
            }
        }
        results = next;
    }
    results
}

/// Finds `${{ inner }}` (spaces optional) in `text`.
fn find_expression(text: &str, inner: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(pos) = text[from..].find("${{") {
        let start = from + pos;
        let end = text[start..].find("}}").map(|e| start + e + 2)?;
        if text[start + 3..end - 2].trim() == inner {
            return Some((start, end));
        }
        from = end;
    }
    None
}

/// Replaces `$NAME`, `${NAME}` and `${{ env.NAME }}` with literal values
/// from `env:` or from plain assignments in the step's script.
fn resolve_variables(reference: &str, env: &dyn Fn(&str) -> Option<String>, step: &Step) -> String {
    let lookup = |name: &str| -> Option<String> {
        env(name).or_else(|| {
            let script = step.run.as_ref()?;
            script.value.lines().find_map(|line| {
                let line = line.trim().trim_start_matches("export ");
                let value = line.strip_prefix(name)?.strip_prefix('=')?;
                let value = value.trim_matches(['"', '\'']);
                (!value.contains('$')).then(|| value.to_string())
            })
        })
    };
    let mut out = reference.to_string();
    for _ in 0..4 {
        let mut changed = false;
        let expression = out
            .find("${{")
            .and_then(|start| out[start..].find("}}").map(|e| (start, start + e + 2)));
        if let Some((start, end)) = expression
            && let Some(name) = out[start + 3..end - 2].trim().strip_prefix("env.")
            && let Some(value) = lookup(name)
        {
            out.replace_range(start..end, &value);
            changed = true;
        }
        if let Some((start, end, name)) = find_shell_variable(&out)
            && let Some(value) = lookup(&name)
        {
            out.replace_range(start..end, &value);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    out
}

fn find_shell_variable(text: &str) -> Option<(usize, usize, String)> {
    let mut from = 0;
    while let Some(pos) = text[from..].find('$') {
        let start = from + pos;
        let rest = &text[start + 1..];
        if let Some(inner) = rest.strip_prefix('{') {
            if inner.starts_with('{') {
                from = start + 1;
                continue;
            }
            let end = inner.find('}')?;
            return Some((start, start + 2 + end + 1, inner[..end].to_string()));
        }
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len > 0 {
            return Some((start, start + 1 + len, rest[..len].to_string()));
        }
        from = start + 1;
    }
    None
}

/// Returns the repository path of an image reference: without the
/// registry host (a first segment with `.` or `:` or a variable), the tag
/// and the digest.
fn repository_of(reference: &str) -> String {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let without_tag = match without_digest[last_slash..].find(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    };
    let mut segments: Vec<&str> = without_tag.split('/').collect();
    if segments.len() > 1 {
        let first = segments[0];
        if first.contains('.')
            || first.contains(':')
            || first.starts_with('$')
            || first == "localhost"
        {
            segments.remove(0);
        }
    }
    segments.join("/")
}

#[cfg(test)]
mod tests {
    use super::{docker_pushes, repository_of};

    #[test]
    fn repository_strips_registry_and_tag() {
        assert_eq!(
            repository_of("123.dkr.ecr.eu-central-1.amazonaws.com/afu9/mcp-runner:abc"),
            "afu9/mcp-runner"
        );
        assert_eq!(
            repository_of("$ECR_REGISTRY/afu9/control-center:1"),
            "afu9/control-center"
        );
        assert_eq!(repository_of("app@sha256:00"), "app");
    }

    #[test]
    fn bake_pushes_unknown_repository() {
        let refs = docker_pushes("docker buildx bake --push\ndocker compose push");
        assert_eq!(refs.len(), 2);
        assert!(refs.iter().all(|r| repository_of(r).contains('$')));
    }

    #[test]
    fn docker_push_and_buildx_found() {
        let refs = docker_pushes(
            "docker build -t a/b:1 .\ndocker push a/b:1\ndocker buildx build --push \\\n  -t r/c:2 .",
        );
        assert_eq!(refs, vec!["a/b:1".to_string(), "r/c:2".to_string()]);
    }
}
