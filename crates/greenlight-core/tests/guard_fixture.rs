//! The guard over a real described staging task definition: every string
//! in it passes for staging, and a production identifier planted in any
//! string is found at that string's JSON path.
//!
//! The task definitions are read from the directory in
//! `GREENLIGHT_AFU9_FIXTURES` or, by default, from the afu9 example
//! fixtures next to the workspace. When a file is absent, its tests pass
//! without checking anything and print the missing path to stderr.

mod guard_common;

use std::path::PathBuf;

use greenlight_core::guard::{
    IdentifierKind, KEY_SUFFIX, Observed, Violation, check, collect_json_strings,
};
use guard_common::example_policy;
use serde_json::Value;

/// Latest described staging task definition, with the runner sidecar.
const CURRENT: &str = "taskdef-staging-described.json";

/// Older staging revision without the runner and with the smoke key in
/// `environment[]`.
const OLDER: &str = "taskdef-staging-no-runner-described.json";

fn fixture_path(file: &str) -> PathBuf {
    let directory = match std::env::var_os("GREENLIGHT_AFU9_FIXTURES") {
        Some(directory) => PathBuf::from(directory),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/afu9"),
    };
    directory.join(file)
}

fn load_fixture(file: &str) -> Option<Value> {
    let path = fixture_path(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: no task definition at {}", path.display());
        return None;
    };
    match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(error) => panic!("{} is not valid JSON: {error}", path.display()),
    }
}

/// One string leaf of a document: its JSON pointer (for editing) and the
/// path that the guard is expected to report.
struct Leaf {
    pointer: String,
    path: String,
}

/// Lists every string leaf, building the expected paths independently of
/// `collect_json_strings`.
fn string_leaves(value: &Value, pointer: &str, path: &str, leaves: &mut Vec<Leaf>) {
    match value {
        Value::String(_) => leaves.push(Leaf {
            pointer: pointer.to_string(),
            path: path.to_string(),
        }),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let pointer = format!("{pointer}/{index}");
                let path = format!("{path}[{index}]");
                string_leaves(item, &pointer, &path, leaves);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let pointer = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                let plain = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let path = match (plain, path.is_empty()) {
                    (true, true) => key.clone(),
                    (true, false) => format!("{path}.{key}"),
                    (false, _) => format!("{path}[\"{key}\"]"),
                };
                string_leaves(member, &pointer, &path, leaves);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn describe(violations: &[Violation]) -> Vec<String> {
    violations.iter().map(ToString::to_string).collect()
}

#[test]
fn staging_taskdefs_pass_for_staging() {
    for file in [CURRENT, OLDER] {
        let Some(document) = load_fixture(file) else {
            continue;
        };
        let observed = collect_json_strings(&document, "");
        assert!(
            observed.len() > 100,
            "only {} strings in {file}",
            observed.len()
        );

        let violations = check(&example_policy(), "staging", &observed);
        assert!(
            violations.is_empty(),
            "{file}: {:#?}",
            describe(&violations)
        );
    }
}

#[test]
fn staging_taskdef_rejected_for_production() {
    let Some(document) = load_fixture(CURRENT) else {
        return;
    };
    let observed = collect_json_strings(&document, "");
    let violations = check(&example_policy(), "production", &observed);

    let found: Vec<(String, IdentifierKind)> = violations
        .iter()
        .filter_map(|violation| match violation {
            Violation::ForeignReference(reference) => {
                Some((reference.location.clone(), reference.kind))
            }
            _ => None,
        })
        .collect();
    let expected = [
        ("taskDefinition.family", IdentifierKind::Service),
        (
            "taskDefinition.containerDefinitions[0].environment[2].value",
            IdentifierKind::Host,
        ),
        (
            "taskDefinition.containerDefinitions[0].secrets[0].valueFrom",
            IdentifierKind::SecretName,
        ),
        (
            "taskDefinition.containerDefinitions[0].logConfiguration.options[\"awslogs-group\"]",
            IdentifierKind::Other,
        ),
    ];
    for (location, kind) in expected {
        assert!(
            found.contains(&(location.to_string(), kind)),
            "no {kind} reference at {location}; found {found:#?}"
        );
    }
}

/// Production identifiers to plant, each with the kind it must be reported
/// as.
const PLANTED: &[(&str, IdentifierKind)] = &[
    ("afu9-control-center", IdentifierKind::Service),
    ("https://afu-9.com/x", IdentifierKind::Host),
    ("api.afu-9.com", IdentifierKind::Host),
    ("afu9/prod/smoke-key", IdentifierKind::SecretName),
    (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/prod/smoke-key-AbC123:key::",
        IdentifierKind::SecretName,
    ),
    ("afu9/prod/database", IdentifierKind::SecretPrefix),
    ("/ecs/afu9-control-center", IdentifierKind::Other),
];

#[test]
fn planted_production_found_at_path() {
    let Some(document) = load_fixture(CURRENT) else {
        return;
    };
    let policy = example_policy();
    let mut leaves = Vec::new();
    string_leaves(&document, "", "", &mut leaves);
    assert!(leaves.len() > 100, "only {} string leaves", leaves.len());

    let mut checked = 0;
    for leaf in &leaves {
        for (planted, kind) in PLANTED {
            // Once as the whole value, once appended to the original text.
            for replace in [true, false] {
                let mut edited = document.clone();
                let Some(Value::String(text)) = edited.pointer_mut(&leaf.pointer) else {
                    panic!("no string at {}", leaf.pointer);
                };
                *text = if replace {
                    planted.to_string()
                } else {
                    format!("{text} {planted}")
                };

                let observed = collect_json_strings(&edited, "");
                let violations = check(&policy, "staging", &observed);
                assert_eq!(
                    violations.len(),
                    1,
                    "planting {planted:?} at {}: {:#?}",
                    leaf.path,
                    describe(&violations)
                );
                let Violation::ForeignReference(reference) = &violations[0] else {
                    panic!("expected a foreign reference, got {}", violations[0]);
                };
                assert_eq!(reference.location, leaf.path, "planting {planted:?}");
                assert_eq!(
                    reference.kind, *kind,
                    "planting {planted:?} at {}",
                    leaf.path
                );
                assert_eq!(reference.environment, "production");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, leaves.len() * PLANTED.len() * 2);
}

#[test]
fn planted_label_key_found() {
    let Some(mut document) = load_fixture(CURRENT) else {
        return;
    };
    let Some(container) = document.pointer_mut("/taskDefinition/containerDefinitions/0") else {
        panic!("the fixture has no first container");
    };
    let Some(container) = container.as_object_mut() else {
        panic!("the first container is not an object");
    };
    container.insert(
        "dockerLabels".to_string(),
        serde_json::json!({ "traefik.http.routers.app.rule=Host(`afu-9.com`)": "true" }),
    );

    let observed: Vec<Observed> = collect_json_strings(&document, "");
    let violations = check(&example_policy(), "staging", &observed);
    assert_eq!(violations.len(), 1, "{:#?}", describe(&violations));
    let Violation::ForeignReference(reference) = &violations[0] else {
        panic!("expected a foreign reference, got {}", violations[0]);
    };
    let expected = format!(
        "taskDefinition.containerDefinitions[0].dockerLabels[{:?}]{KEY_SUFFIX}",
        "traefik.http.routers.app.rule=Host(`afu-9.com`)"
    );
    assert_eq!(reference.location, expected);
}
