//! `unbound-variable`: a variable read in a bash `run:` step, composite
//! action step or shell script that may be unset at that line. Under
//! `set -u` bash stops the step there; without it the value is silently
//! empty.

use std::collections::{HashMap, HashSet};

use super::{Context, Rule};
use crate::finding::{Finding, Severity};
use crate::model::{CompositeAction, EnvMap, Job, Step, Workflow};
use crate::parallel;
use crate::run_script::{RunScript, ShellKind, classify_shell, resolve_shell, writes_env_file};
use crate::shell::analyze::{
    PendingUses, ScriptContext, UnsetUse, UseKind, analyze, assigned_names,
};
use crate::shell::github_env::{EnvWrites, writes};
use crate::shell::known_env::{
    action_exports_unknown, exported_by_action, exported_prefix_by_action, not_predefined_reason,
    predefined,
};
use crate::shell::syntax::Syntax;
use crate::shell::{self, new_parser, with_parser};

pub struct UnboundVariable;

impl Rule for UnboundVariable {
    fn id(&self) -> &'static str {
        "unbound-variable"
    }

    fn description(&self) -> &'static str {
        "a shell variable may be unset where a bash step reads it"
    }

    fn check_workflow(&self, cx: &Context, workflow: &Workflow, out: &mut Vec<Finding>) {
        // Every run: script of the file is parsed and analyzed on its own,
        // in parallel, and its syntax tree is dropped at once. The earlier
        // steps matter only through $GITHUB_ENV, so their exports filter
        // the pending uses per job afterwards.
        let mut pending: Vec<(usize, &Step, ShellKind)> = Vec::new();
        for (job_index, job) in workflow.jobs.iter().enumerate() {
            for step in job.steps.iter().filter(|s| s.run.is_some()) {
                let shell = resolve_shell(
                    step.shell.as_ref(),
                    job.default_shell.as_ref(),
                    workflow.default_shell.as_ref(),
                    job.runs_on_windows(),
                );
                pending.push((job_index, step, shell));
            }
        }
        let analyzed = parallel::map(&pending, |(job_index, step, shell)| {
            let job = &workflow.jobs[*job_index];
            with_parser(|parser| RunScript::prepare(step, *shell, parser))
                .flatten()
                .map(|script| {
                    (
                        *job_index,
                        AnalyzedScript::new(script, cx, workflow, job, step),
                    )
                })
        });
        let mut per_job: Vec<Vec<AnalyzedScript>> =
            workflow.jobs.iter().map(|_| Vec::new()).collect();
        for (job_index, script) in analyzed.into_iter().flatten() {
            per_job[job_index].push(script);
        }
        let jobs: Vec<JobScripts> = workflow
            .jobs
            .iter()
            .zip(per_job)
            .map(|(job, scripts)| JobScripts::new(job, scripts))
            .collect();

        for (job_index, job_scripts) in jobs.iter().enumerate() {
            let others: Vec<&JobScripts> = jobs
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != job_index)
                .map(|(_, s)| s)
                .collect();
            for script in &job_scripts.scripts {
                self.report_job_script(
                    cx,
                    workflow,
                    &workflow.jobs[job_index],
                    job_scripts,
                    script,
                    &others,
                    out,
                );
            }
        }
    }

    fn check_action(&self, cx: &Context, action: &CompositeAction, out: &mut Vec<Finding>) {
        let Some(mut parser) = new_parser() else {
            return;
        };
        let mut written: Vec<String> = Vec::new();
        let mut dynamic = false;
        for step in &action.steps {
            let shell = step
                .shell
                .as_ref()
                .map_or(ShellKind::Other, |s| classify_shell(&s.value));
            let Some(script) = RunScript::prepare(step, shell, &mut parser) else {
                continue;
            };
            let (ShellKind::Posix { nounset }, Some(tree)) = (script.shell, &script.tree) else {
                continue;
            };
            let assigned = assigned_names(tree, &script.script);
            // A composite action inherits the caller's environment, which
            // is unknown here: a name the script never assigns may come
            // from there, except `INPUT_*`, which composite actions never
            // get.
            let external = |name: &str| {
                if name.starts_with("INPUT_") {
                    return step.env.contains(name);
                }
                dynamic
                    || predefined(name, true).is_some()
                    || name == "GITHUB_ACTION_PATH"
                    || step.env.contains(name)
                    || written.iter().any(|w| w == name)
                    || !assigned.contains(name)
            };
            let script_cx = ScriptContext {
                nounset: nounset || cx.assume_nounset,
                positionals_unknown: false,
                bash32: false,
            };
            let uses = analyze(tree, &script.script, script_cx).unless_set_by(external);
            for found in uses.into_uses() {
                let (start, end) = script.source_range(cx.file, found.start, found.end);
                let (message, help) = explain_action_use(&found, step, &assigned);
                out.push(
                    Finding::at(self.id(), severity(&found), cx.file, start, end, message)
                        .with_help(help),
                );
            }
            let step_writes = writes(tree, &script.original);
            dynamic |= step_writes.dynamic;
            written.extend(step_writes.names);
        }
    }

    fn check_script(&self, cx: &Context, out: &mut Vec<Finding>) {
        let Some(mut parser) = new_parser() else {
            return;
        };
        let Some(tree) = shell::parse(&mut parser, &cx.file.text) else {
            return;
        };
        let src = cx.file.text.as_str();
        let assigned = assigned_names(&tree, src);
        // A script's environment comes from its caller. Upper-case names
        // it never assigns are taken as environment variables; a
        // lower-case name it never assigns is most likely a typo.
        let external = |name: &str| {
            predefined(name, true).is_some()
                || (!assigned.contains(name) && !name.chars().any(|c| c.is_ascii_lowercase()))
        };
        let script_cx = ScriptContext {
            nounset: cx.assume_nounset,
            positionals_unknown: true,
            bash32: false,
        };
        let uses = analyze(&tree, src, script_cx).unless_set_by(external);
        for found in uses.into_uses() {
            let (message, help) = explain_script_use(&found, &assigned);
            out.push(
                Finding::at(
                    self.id(),
                    severity(&found),
                    cx.file,
                    found.start,
                    found.end,
                    message,
                )
                .with_help(help),
            );
        }
    }
}

fn severity(found: &UnsetUse) -> Severity {
    if found.nounset {
        Severity::Error
    } else {
        Severity::Warning
    }
}

/// The result of analyzing one `run:` script.
struct AnalyzedScript {
    /// The script, without its tree, to map positions back to the file.
    script: RunScript,
    /// Uses that the environment known without the other steps of the
    /// job does not set.
    uses: PendingUses,
    /// The syntax tree, kept while uses are left, to explain them.
    tree: Option<Syntax>,
    /// The names the script writes to `$GITHUB_ENV`, when it names that
    /// file.
    writes: Option<EnvWrites>,
}

impl AnalyzedScript {
    fn new(
        mut script: RunScript,
        cx: &Context,
        workflow: &Workflow,
        job: &Job,
        step: &Step,
    ) -> Self {
        let tree = script.tree.take();
        let mut analyzed = AnalyzedScript {
            uses: PendingUses::default(),
            tree: None,
            writes: None,
            script,
        };
        let Some(tree) = tree else {
            return analyzed;
        };
        let script = &analyzed.script;
        if writes_env_file(&script.original) {
            // The tree's offsets hold for the original text too, where
            // `${{ github.env }}` is still readable.
            analyzed.writes = Some(writes(&tree, &script.original));
        }
        let ShellKind::Posix { nounset } = script.shell else {
            return analyzed;
        };
        let hosted = job.runs_on.is_empty()
            || job
                .runs_on
                .iter()
                .any(|l| l.starts_with("ubuntu") || l.starts_with("macos") || l.contains("${{"));
        let env_maps: [&EnvMap; 3] = [&workflow.env, &job.env, &job.container_env];
        let dynamic = env_maps.iter().any(|e| e.dynamic) || step.env.dynamic;
        // A container image may set its own variables; upper-case names
        // the script never assigns are taken as those.
        let container_assigned = job
            .has_container
            .then(|| assigned_names(&tree, &script.script));
        let script_cx = ScriptContext {
            nounset: nounset || cx.assume_nounset,
            positionals_unknown: false,
            bash32: job.runs_on_macos(),
        };
        analyzed.uses = analyze(&tree, &script.script, script_cx).unless_set_by(|name| {
            dynamic
                || predefined(name, hosted).is_some()
                || env_maps.iter().any(|e| e.contains(name))
                || step.env.contains(name)
                || container_assigned.as_ref().is_some_and(|a| {
                    !a.contains(name) && !name.chars().any(|c| c.is_ascii_lowercase())
                })
        });
        if !analyzed.uses.is_empty() {
            analyzed.tree = Some(tree);
        }
        analyzed
    }
}

/// The analyzed `run:` scripts of one job and what they write to
/// `$GITHUB_ENV`.
struct JobScripts {
    scripts: Vec<AnalyzedScript>,
    /// Names each step makes available to the steps after it, by step
    /// index: `$GITHUB_ENV` writes and variables exported by actions.
    exports: Vec<(usize, Vec<String>)>,
    /// Index of the first step after which any name may be set.
    dynamic_from: Option<usize>,
    /// The first step that exports each name, for fast lookups.
    first_export: HashMap<String, usize>,
    /// Name prefixes exported by actions, with the exporting step.
    prefix_exports: Vec<(usize, &'static str)>,
}

impl JobScripts {
    /// Collects what each step of `job` exports, from its analyzed scripts.
    fn new(job: &Job, scripts: Vec<AnalyzedScript>) -> Self {
        let mut exports = Vec::new();
        let mut prefix_exports = Vec::new();
        let mut dynamic_from = None;
        let mut next_script = scripts.iter().peekable();
        for step in &job.steps {
            if let Some(uses) = &step.uses {
                let names = exported_by_action(&uses.value);
                if !names.is_empty() {
                    exports.push((step.index, names.iter().map(|n| n.to_string()).collect()));
                }
                if let Some(prefix) = exported_prefix_by_action(&uses.value) {
                    prefix_exports.push((step.index, prefix));
                }
                if action_exports_unknown(&uses.value) && dynamic_from.is_none() {
                    dynamic_from = Some(step.index);
                }
                continue;
            }
            let Some(analyzed) = next_script.next_if(|s| s.script.step_index == step.index) else {
                continue;
            };
            if !writes_env_file(&analyzed.script.original) {
                continue;
            }
            match &analyzed.writes {
                Some(step_writes) => {
                    if step_writes.dynamic && dynamic_from.is_none() {
                        dynamic_from = Some(step.index);
                    }
                    exports.push((step.index, step_writes.names.clone()));
                }
                // A PowerShell or Python step that writes $GITHUB_ENV: its
                // names are not parsed, so any may be set afterwards.
                None if dynamic_from.is_none() => dynamic_from = Some(step.index),
                None => {}
            }
        }
        let mut first_export: HashMap<String, usize> = HashMap::new();
        for (index, names) in &exports {
            for name in names {
                first_export.entry(name.clone()).or_insert(*index);
            }
        }
        JobScripts {
            scripts,
            exports,
            dynamic_from,
            first_export,
            prefix_exports,
        }
    }

    fn exported_before(&self, step_index: usize, name: &str) -> bool {
        let exported = self
            .first_export
            .get(name)
            .is_some_and(|first| *first < step_index);
        exported
            || self
                .prefix_exports
                .iter()
                .any(|(index, prefix)| *index < step_index && name.starts_with(prefix))
    }

    fn exporter_at_or_after(&self, step_index: usize, name: &str) -> Option<usize> {
        self.exports
            .iter()
            .find(|(i, names)| *i >= step_index && names.iter().any(|n| n == name))
            .map(|(i, _)| *i)
    }
}

impl UnboundVariable {
    /// Reports the uses of one analyzed script that no earlier step of
    /// its job sets.
    #[allow(clippy::too_many_arguments)]
    fn report_job_script(
        &self,
        cx: &Context,
        workflow: &Workflow,
        job: &Job,
        scripts: &JobScripts,
        analyzed: &AnalyzedScript,
        other_jobs: &[&JobScripts],
        out: &mut Vec<Finding>,
    ) {
        if analyzed.uses.is_empty() {
            return;
        }
        let script = &analyzed.script;
        let step = &job.steps[script.step_index];
        let dynamic = scripts.dynamic_from.is_some_and(|d| d < step.index);
        let uses = analyzed
            .uses
            .clone()
            .unless_set_by(|name| dynamic || scripts.exported_before(step.index, name))
            .into_uses();
        if uses.is_empty() {
            return;
        }
        let assigned = analyzed
            .tree
            .as_ref()
            .map(|tree| assigned_names(tree, &script.script))
            .unwrap_or_default();
        for found in uses {
            let (start, end) = script.source_range(cx.file, found.start, found.end);
            let (message, help) = explain_job_use(
                &found,
                &JobUseContext {
                    job,
                    step,
                    scripts,
                    other_jobs,
                    workflow,
                },
                &assigned,
            );
            out.push(
                Finding::at(self.id(), severity(&found), cx.file, start, end, message)
                    .with_help(help),
            );
        }
    }
}

fn consequence(found: &UnsetUse) -> &'static str {
    if found.nounset {
        "set -u stops the step here"
    } else {
        "it expands to an empty string"
    }
}

fn default_help(name: &str) -> String {
    format!("use ${{{name}:-default}} where an empty value is fine")
}

/// Builds the message and fix for a use in a workflow job.
/// Where a use in a workflow job sits, for its message.
struct JobUseContext<'a> {
    job: &'a Job,
    step: &'a Step,
    scripts: &'a JobScripts,
    other_jobs: &'a [&'a JobScripts],
    workflow: &'a Workflow,
}

fn explain_job_use(
    found: &UnsetUse,
    at: &JobUseContext,
    assigned_anywhere: &HashSet<String>,
) -> (String, String) {
    let JobUseContext {
        job,
        step,
        scripts,
        other_jobs,
        workflow,
    } = *at;
    let name = &found.name;
    match found.kind {
        UseKind::Positional if found.in_function.is_some() => {
            let function = found.in_function.as_deref().unwrap_or_default();
            return (
                format!(
                    "${name} is not passed by every call of function {function}; {}",
                    consequence(found)
                ),
                format!("pass argument {name} at each call, or use ${{{name}:-}}"),
            );
        }
        UseKind::Positional => {
            return (
                format!(
                    "${name} is a positional parameter, and a run: script gets none; {}",
                    consequence(found)
                ),
                "pass the value through env: of this step and read it by name".to_string(),
            );
        }
        UseKind::EmptyArrayBash32 => {
            return (
                format!(
                    "`{name}[@]` may be empty, and bash 3.2 on macOS runners treats an empty array as unset under set -u"
                ),
                format!("write ${{{name}[@]+\"${{{name}[@]}}\"}} or give the array an element"),
            );
        }
        UseKind::Unset => {}
    }
    let step_label = step.label();
    let add_help = format!(
        "add {name} to env: of step {step_label} or of job `{}`, or {}",
        job.id.value,
        default_help(name)
    );
    if let Some(reason) = not_predefined_reason(name) {
        return (
            format!("{name} may be unset: {reason}; {}", consequence(found)),
            format!("use ${{{name}:-}}"),
        );
    }
    if let Some(explained) = explain_script_flow(found, consequence(found), assigned_anywhere) {
        return explained;
    }
    if let Some(other) = job
        .steps
        .iter()
        .find(|s| s.index != step.index && s.env.contains(name))
    {
        return (
            format!(
                "{name} is set only in env: of step {}, and a step's env: does not reach other steps; {}",
                other.label(),
                consequence(found)
            ),
            format!(
                "move {name} to env: of job `{}`, or add it to env: of step {step_label}",
                job.id.value
            ),
        );
    }
    if let Some(writer) = scripts.exporter_at_or_after(step.index, name) {
        let when = if writer == step.index {
            "this step writes it to $GITHUB_ENV, which takes effect only in later steps".to_string()
        } else {
            format!(
                "step {} writes it to $GITHUB_ENV, after this step",
                job.steps.get(writer).map(Step::label).unwrap_or_default()
            )
        };
        return (
            format!("{name} is not set yet: {when}; {}", consequence(found)),
            format!(
                "set {name} in this step before using it, or write it to $GITHUB_ENV in an earlier step"
            ),
        );
    }
    let other_job = other_jobs
        .iter()
        .zip(workflow.jobs.iter().filter(|j| j.id.value != job.id.value))
        .find(|(s, _)| {
            s.exports
                .iter()
                .any(|(_, names)| names.iter().any(|n| n == name))
        })
        .map(|(_, j)| j.id.value.clone());
    if let Some(other_job) = other_job {
        return (
            format!(
                "{name} is written to $GITHUB_ENV by job `{other_job}`, which does not reach other jobs; {}",
                consequence(found)
            ),
            format!(
                "pass {name} as an output of job `{other_job}` and map it in env: through needs"
            ),
        );
    }
    (
        format!(
            "{name} is not set by env:, by an earlier step or by the runner; {}",
            consequence(found)
        ),
        add_help,
    )
}

fn explain_action_use(
    found: &UnsetUse,
    step: &Step,
    assigned_anywhere: &HashSet<String>,
) -> (String, String) {
    let name = &found.name;
    if let Some(input) = name.strip_prefix("INPUT_") {
        let input = input.to_ascii_lowercase();
        return (
            format!(
                "{name} is not set: composite actions do not get INPUT_ variables; {}",
                consequence(found)
            ),
            format!(
                "add `{name}: ${{{{ inputs.{input} }}}}` to env: of step {}",
                step.label()
            ),
        );
    }
    explain_script_use(found, assigned_anywhere)
}

fn explain_script_use(found: &UnsetUse, assigned_anywhere: &HashSet<String>) -> (String, String) {
    let name = &found.name;
    let consequence = script_consequence(found);
    match found.kind {
        UseKind::Positional => (
            format!("${name} may be unset: no argument is passed; {consequence}"),
            format!("use ${{{name}:-}} or check $# first"),
        ),
        UseKind::EmptyArrayBash32 => (
            format!("`{name}[@]` may be empty, which bash 3.2 treats as unset under set -u"),
            format!("write ${{{name}[@]+\"${{{name}[@]}}\"}}"),
        ),
        UseKind::Unset => explain_script_flow(found, consequence, assigned_anywhere)
            .unwrap_or_else(|| {
                (
                    format!("{name} is never assigned before this line; {consequence}"),
                    format!("assign {name} first, or {}", default_help(name)),
                )
            }),
    }
}

fn script_consequence(found: &UnsetUse) -> &'static str {
    if found.nounset {
        "set -u stops the script here"
    } else {
        "it expands to an empty string"
    }
}

/// Explains a use of a variable the script itself assigns or removes, or
/// returns `None` when the script never does.
fn explain_script_flow(
    found: &UnsetUse,
    consequence: &str,
    assigned_anywhere: &HashSet<String>,
) -> Option<(String, String)> {
    let name = &found.name;
    if let Some(local) = &found.local_of {
        return Some((
            format!(
                "{name} was a local variable of function {local}, which has returned; {consequence}"
            ),
            format!("drop `local` for {name} in {local}, or assign it before this line"),
        ));
    }
    if found.declared_without_value {
        return Some((
            format!("{name} is declared without a value, which leaves it unset; {consequence}"),
            format!("give {name} a value where it is declared, e.g. `local {name}=\"\"`"),
        ));
    }
    if found.was_unset {
        return Some((
            format!("{name} was removed with `unset` before this line; {consequence}"),
            format!(
                "assign {name} again after `unset`, or {}",
                default_help(name)
            ),
        ));
    }
    if found.assigned_on_some_path {
        return Some((
            format!("{name} is assigned on some paths before this line, not all; {consequence}"),
            format!("assign {name} before the branch, or {}", default_help(name)),
        ));
    }
    if found.assigned_in_subshell {
        return Some((
            format!(
                "{name} is assigned only in a subshell or pipeline, which does not pass it back; {consequence}"
            ),
            format!(
                "assign {name} in the current shell, for example with `read -r {name} < <(command)`"
            ),
        ));
    }
    if assigned_anywhere.contains(name) {
        let place = match &found.in_function {
            Some(function) => format!("function {function} is called before {name} is assigned"),
            None => format!("{name} is read before the script assigns it"),
        };
        return Some((
            format!("{place}; {consequence}"),
            format!(
                "assign {name} before this line runs, or {}",
                default_help(name)
            ),
        ));
    }
    None
}
