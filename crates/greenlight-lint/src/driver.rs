//! Reads the inputs, runs every rule on them and filters the findings.

use std::fs;
use std::path::Path;

use crate::discover::{InputKind, discover};
use crate::finding::{Finding, LintReport, Severity};
use crate::model::{CompositeAction, Workflow};
use crate::parallel;
use crate::rules::{Context, INVALID_INPUT, RULES};
use crate::source::SourceFile;
use crate::suppress::{glob_matches, is_suppressed};
use crate::yaml;
use crate::{ImageExpectation, LintOptions};

/// A file that was read, with what it parsed to.
struct Input {
    file: SourceFile,
    kind: InputKind,
}

pub fn lint(opts: &LintOptions) -> LintReport {
    let mut report = LintReport::default();
    let mut inputs = Vec::new();
    for (path, kind) in discover(&opts.paths) {
        let display = display_path(&path);
        if opts.ignore_paths.iter().any(|p| glob_matches(p, &display)) {
            continue;
        }
        match fs::read(&path) {
            Ok(bytes) => {
                let text = match String::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(err) => {
                        let file = SourceFile::new(path.clone(), display, String::new());
                        report.input_error = true;
                        report.findings.push(Finding::at(
                            INVALID_INPUT,
                            Severity::Error,
                            &file,
                            0,
                            0,
                            format!(
                                "file is not valid UTF-8 (byte {})",
                                err.utf8_error().valid_up_to()
                            ),
                        ));
                        continue;
                    }
                };
                inputs.push(Input {
                    file: SourceFile::new(path, display, text),
                    kind,
                });
            }
            Err(err) => {
                let file = SourceFile::new(path.clone(), display, String::new());
                report.input_error = true;
                report.findings.push(
                    Finding::at(
                        INVALID_INPUT,
                        Severity::Error,
                        &file,
                        0,
                        0,
                        format!("cannot read file: {err}"),
                    )
                    .with_help("check the path and its permissions"),
                );
            }
        }
    }

    // Containers of task definition files among the inputs, with the file
    // name a workflow must mention (for example in `task-definition:`) to
    // deploy that task definition.
    let mut task_definitions: Vec<(String, Vec<ImageExpectation>)> = Vec::new();
    for input in &inputs {
        if input.kind == InputKind::Json {
            let expectations = task_definition_images(&input.file.text);
            if !expectations.is_empty() {
                let name = input
                    .file
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                task_definitions.push((name, expectations));
            }
        }
    }

    let results = parallel::map(&inputs, |input| {
        let mut images = opts.images.clone();
        for (name, expectations) in &task_definitions {
            if input.kind == InputKind::Yaml && input.file.text.contains(name.as_str()) {
                for expectation in expectations {
                    if !images.iter().any(|i| i.container == expectation.container) {
                        images.push(expectation.clone());
                    }
                }
            }
        }
        lint_input(input, opts, &images)
    });
    for (input, (findings, input_error)) in inputs.iter().zip(results) {
        report.files_checked += 1;
        report.input_error |= input_error;
        for finding in findings {
            if opts.ignore_rules.iter().any(|r| r == finding.rule) {
                continue;
            }
            if is_suppressed(&input.file, finding.line, finding.rule) {
                continue;
            }
            report.findings.push(finding);
        }
    }
    report.findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.rule).cmp(&(&b.file, b.line, b.column, b.rule))
    });
    report
}

/// Runs every rule on one input and returns its findings, and whether the
/// input could not be parsed.
fn lint_input(
    input: &Input,
    opts: &LintOptions,
    images: &[ImageExpectation],
) -> (Vec<Finding>, bool) {
    let mut input_error = false;
    let cx = Context {
        file: &input.file,
        assume_nounset: opts.assume_nounset,
        images,
        environments: opts.environments.as_ref(),
    };
    let mut out = Vec::new();
    for rule in RULES {
        rule.check_file(&cx, &mut out);
    }
    match input.kind {
        InputKind::Script => {
            for rule in RULES {
                rule.check_script(&cx, &mut out);
            }
        }
        InputKind::Json => {
            if let Err(err) = serde_json::from_str::<serde_json::Value>(&input.file.text) {
                input_error = true;
                let offset = input.file.line_start(err.line()) + err.column().saturating_sub(1);
                out.push(Finding::at(
                    INVALID_INPUT,
                    Severity::Error,
                    &input.file,
                    offset,
                    offset,
                    format!("invalid JSON: {err}"),
                ));
            }
        }
        InputKind::Yaml => match yaml::parse(&input.file.text) {
            Err(err) => {
                input_error = true;
                out.push(
                    Finding::at(
                        INVALID_INPUT,
                        Severity::Error,
                        &input.file,
                        err.offset,
                        err.offset,
                        format!("invalid YAML: {}", err.message),
                    )
                    .with_help("fix the syntax; the file was not linted"),
                );
            }
            Ok(docs) => {
                for doc in &docs {
                    if let Some(workflow) = Workflow::from_node(doc) {
                        for rule in RULES {
                            rule.check_workflow(&cx, &workflow, &mut out);
                            for job in &workflow.jobs {
                                rule.check_job(&cx, &workflow, job, &mut out);
                            }
                        }
                    } else if let Some(action) = CompositeAction::from_node(doc) {
                        for rule in RULES {
                            rule.check_action(&cx, &action, &mut out);
                        }
                    }
                }
            }
        },
    }
    (out, input_error)
}

/// Returns the path as printed: without a leading `./`, with `/`.
fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_string).unwrap_or(text)
}

/// Reads the containers of an ECS task definition (registered or
/// described: `taskDefinition.containerDefinitions`) whose images come
/// from a private ECR registry, which the deploy workflow must build.
fn task_definition_images(text: &str) -> Vec<ImageExpectation> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let definition = value.get("taskDefinition").unwrap_or(&value);
    let Some(containers) = definition
        .get("containerDefinitions")
        .and_then(|c| c.as_array())
    else {
        return Vec::new();
    };
    containers
        .iter()
        .filter_map(|c| {
            let name = c.get("name")?.as_str()?;
            let image = c.get("image")?.as_str()?;
            let (registry, rest) = image.split_once('/')?;
            if !registry.contains(".dkr.ecr.") {
                return None;
            }
            let repository = rest.split(['@']).next()?;
            let repository = match repository.rfind(':') {
                Some(colon) => &repository[..colon],
                None => repository,
            };
            Some(ImageExpectation {
                container: name.to_string(),
                repository: repository.to_string(),
            })
        })
        .collect()
}
