//! Collecting every string of a JSON document with its path.

use greenlight_core::guard::{Observed, collect_json_strings};
use serde_json::json;

fn pairs(observed: &[Observed]) -> Vec<(&str, &str)> {
    observed
        .iter()
        .map(|item| (item.location.as_str(), item.value.as_str()))
        .collect()
}

#[test]
fn paths_for_members_and_elements() {
    let document = json!({
        "family": "app",
        "revision": 3,
        "essential": true,
        "missing": null,
        "containerDefinitions": [{
            "environment": [{ "name": "HOST", "value": "stage.afu-9.com" }],
            "command": ["run", "--fast"],
            "logConfiguration": { "options": { "awslogs-group": "/ecs/app" } }
        }]
    });
    let observed = collect_json_strings(&document, "");
    assert_eq!(
        pairs(&observed),
        vec![
            ("family (key)", "family"),
            ("family", "app"),
            ("revision (key)", "revision"),
            ("essential (key)", "essential"),
            ("missing (key)", "missing"),
            ("containerDefinitions (key)", "containerDefinitions"),
            ("containerDefinitions[0].environment (key)", "environment"),
            ("containerDefinitions[0].environment[0].name (key)", "name"),
            ("containerDefinitions[0].environment[0].name", "HOST"),
            (
                "containerDefinitions[0].environment[0].value (key)",
                "value"
            ),
            (
                "containerDefinitions[0].environment[0].value",
                "stage.afu-9.com"
            ),
            ("containerDefinitions[0].command (key)", "command"),
            ("containerDefinitions[0].command[0]", "run"),
            ("containerDefinitions[0].command[1]", "--fast"),
            (
                "containerDefinitions[0].logConfiguration (key)",
                "logConfiguration"
            ),
            (
                "containerDefinitions[0].logConfiguration.options (key)",
                "options"
            ),
            (
                "containerDefinitions[0].logConfiguration.options[\"awslogs-group\"] (key)",
                "awslogs-group"
            ),
            (
                "containerDefinitions[0].logConfiguration.options[\"awslogs-group\"]",
                "/ecs/app"
            ),
        ]
    );
}

#[test]
fn root_prefixes_every_path() {
    let document = json!({ "a": ["x"] });
    let observed = collect_json_strings(&document, "taskDefinition");
    assert_eq!(
        pairs(&observed),
        vec![
            ("taskDefinition.a (key)", "a"),
            ("taskDefinition.a[0]", "x")
        ]
    );
}

#[test]
fn scalar_and_array_roots() {
    assert_eq!(
        pairs(&collect_json_strings(&json!("x"), "")),
        vec![("$", "x")]
    );
    assert_eq!(
        pairs(&collect_json_strings(&json!("x"), "--tag")),
        vec![("--tag", "x")]
    );
    assert_eq!(
        pairs(&collect_json_strings(&json!(["a", ["b"]]), "")),
        vec![("[0]", "a"), ("[1][0]", "b")]
    );
    assert!(collect_json_strings(&json!(42), "").is_empty());
}

#[test]
fn unusual_keys_quoted() {
    let document = json!({ "": "empty", "with \"quote\"": "q", "1st": "digit", "_ok": "u" });
    let locations: Vec<String> = collect_json_strings(&document, "labels")
        .into_iter()
        .filter(|item| !item.location.ends_with(" (key)"))
        .map(|item| item.location)
        .collect();
    assert_eq!(
        locations,
        vec![
            "labels[\"\"]",
            "labels[\"with \\\"quote\\\"\"]",
            "labels[\"1st\"]",
            "labels._ok",
        ]
    );
}

#[test]
fn debug_hides_value() {
    let item = Observed {
        value: "hunter2-secret".to_string(),
        location: "containerDefinitions[0].environment[0].value".to_string(),
    };
    let debug = format!("{item:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("environment[0].value"), "{debug}");
}
