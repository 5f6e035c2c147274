//! The matcher behind `check`, used directly: byte ranges of each match in
//! its value, and the same verdicts as `check`.

mod guard_common;

use greenlight_core::guard::{
    GuardMatcher, GuardPolicy, IdentifierKind, Violation, check, collect_json_strings,
};
use guard_common::{example_policy, observed};

/// Returns each match as (kind, environment, matched text).
fn matches(
    policy: &GuardPolicy,
    target: &str,
    value: &str,
) -> Vec<(IdentifierKind, String, String)> {
    let matcher = GuardMatcher::new(policy, target).expect("target is configured");
    matcher
        .find(value)
        .into_iter()
        .map(|found| (found.kind, found.environment, value[found.span].to_string()))
        .collect()
}

#[test]
fn spans_cover_the_owning_name() {
    let policy = example_policy();
    let cases: &[(&str, IdentifierKind, &str)] = &[
        (
            "  target_service=afu9-control-center\n",
            IdentifierKind::Service,
            "afu9-control-center",
        ),
        (
            "--secret-id afu9/prod/smoke-key --query SecretString",
            IdentifierKind::SecretName,
            "afu9/prod/smoke-key",
        ),
        (
            "arn:aws:secretsmanager:eu-central-1:1:secret:afu9/prod/smoke-key-AbC123:url::",
            IdentifierKind::SecretName,
            "afu9/prod/smoke-key-AbC123",
        ),
        (
            "curl https://api.afu-9.com:8443/x",
            IdentifierKind::Host,
            "api.afu-9.com",
        ),
        ("afu9/prod/db", IdentifierKind::SecretPrefix, "afu9/prod/db"),
    ];
    for (value, kind, text) in cases {
        let found = matches(&policy, "staging", value);
        assert_eq!(
            found,
            vec![(*kind, "production".to_string(), text.to_string())],
            "value {value:?}"
        );
    }
}

#[test]
fn staging_traps_have_no_matches() {
    let policy = example_policy();
    for value in [
        "target_service=afu9-control-center-staging",
        "https://stage.afu-9.com/api/timeline/chain?limit=1",
        "afu9/stage/smoke-key",
        "afu9-cluster",
    ] {
        assert!(
            matches(&policy, "staging", value).is_empty(),
            "{value:?} must pass"
        );
    }
}

#[test]
fn unknown_target_is_an_error() {
    let policy = example_policy();
    let Err(violation) = GuardMatcher::new(&policy, "Staging") else {
        panic!("an unknown target must not give a matcher");
    };
    assert!(matches!(violation, Violation::UnknownTarget { .. }));
}

#[test]
fn matcher_agrees_with_check() {
    let policy = example_policy();
    let task_definition = serde_json::json!({
        "containerDefinitions": [{
            "name": "control-center",
            "environment": [
                {"name": "PUBLIC_URL", "value": "https://afu-9.com/x"},
                {"name": "OWN_URL", "value": "https://stage.afu-9.com/"},
            ],
            "secrets": [{
                "name": "AFU9_SMOKE_KEY",
                "valueFrom": "arn:aws:secretsmanager:eu-central-1:1:secret:afu9/prod/smoke-key-AbC123"
            }],
        }],
    });
    let values = collect_json_strings(&task_definition, "taskDefinition");
    let from_check = check(&policy, "staging", &values).len();
    let matcher = GuardMatcher::new(&policy, "staging").expect("target is configured");
    let from_matcher: usize = values
        .iter()
        .map(|item| matcher.find(&item.value).len())
        .sum();
    assert_eq!(from_check, 2);
    assert_eq!(from_matcher, from_check);
    assert!(check(&policy, "staging", &[observed("afu9-cluster", "cluster")]).is_empty());
}
