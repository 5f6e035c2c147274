//! Table-driven tests of how the guard matches identifiers in values of
//! many shapes. The tables cover names that are prefixes or suffixes of
//! each other, ARNs in every partition, and secret ARNs with and without
//! suffix and JSON key. They also cover URLs with ports, paths and userinfo,
//! and mixed case.

mod guard_common;

use greenlight_core::guard::{
    EnvironmentIdentifiers, GuardPolicy, IdentifierKind, Violation, check,
};
use guard_common::{example_policy, observed, strings};

/// Values that a staging deploy may use.
const STAGING_OK: &[&str] = &[
    // Services: the production name is a prefix of these.
    "afu9-control-center-staging",
    "--service afu9-control-center-staging",
    "service=afu9-control-center-staging",
    "arn:aws:ecs:eu-central-1:123456789012:service/afu9-cluster/afu9-control-center-staging",
    "arn:aws-cn:ecs:cn-north-1:123456789012:service/afu9-control-center-staging",
    "arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task-definition/afu9-control-center-staging:41",
    "afu9-control-center-staging:41",
    // Other ECS names that only look like the production service.
    "afu9-control-center_old",
    "xafu9-control-center",
    "afu9-control-centers",
    "control-center",
    "afu9/control-center",
    "123456789012.dkr.ecr.eu-central-1.amazonaws.com/afu9/control-center:3f9c2e1",
    // The shared cluster.
    "afu9-cluster",
    "arn:aws:ecs:eu-central-1:123456789012:cluster/afu9-cluster",
    "aws ecs update-service --cluster afu9-cluster --service afu9-control-center-staging",
    // Hosts: the production host is a suffix of these.
    "stage.afu-9.com",
    "STAGE.AFU-9.COM",
    "stage.afu-9.com.",
    "https://stage.afu-9.com",
    "https://stage.afu-9.com:8443/api/timeline/chain?limit=1",
    "https://user:pw@Stage.Afu-9.Com/x",
    "api.stage.afu-9.com",
    "https://api.stage.afu-9.com/health",
    // A name under the staging host belongs to staging, even when one of
    // its labels is the production service name.
    "http://afu9-control-center.stage.afu-9.com:3000",
    // Other hosts that only look like the production host.
    "my-afu-9.com",
    "afu-9.community",
    "afu-9.com-backup",
    "afu-9.co",
    // Secrets by name and by ARN.
    "afu9/stage/smoke-key",
    "afu9/stage/database",
    "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/smoke-key-Qm3xT1",
    "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/smoke-key",
    "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/database-Hk82Lp:url::",
    "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:afu9/stage/smoke-key-Qm3xT1",
    "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:afu9/stage/smoke-key-Qm3xT1:key:AWSCURRENT:",
    // Secret names that only look like production ones.
    "afu9/production/x",
    "afu9/prodx/key",
    // A secret named after a `/` is a different secret, so it does not match.
    "vault/afu9/prod/smoke-key",
    // Log groups.
    "/ecs/afu9-control-center-staging",
    // Environment names are not identifiers.
    "production",
    "NODE_ENV=production",
    "",
];

/// Values that a staging deploy must not use, with the kind and the text of
/// every reference that must be reported.
const STAGING_REJECTED: &[(&str, &[(IdentifierKind, &str)])] = &[
    // The bare production service, alone and in commands.
    (
        "afu9-control-center",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "AFU9-Control-Center",
        &[(IdentifierKind::Service, "AFU9-Control-Center")],
    ),
    (
        "--service afu9-control-center",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "--service=afu9-control-center",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "service=afu9-control-center",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "SERVICE='afu9-control-center'",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "{\"service\":\"afu9-control-center\"}",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "aws ecs update-service --cluster afu9-cluster --service afu9-control-center --force-new-deployment",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "afu9-control-center:12",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "http://afu9-control-center.internal:3000",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    // ECS ARNs in every partition match on their resource name.
    (
        "arn:aws:ecs:eu-central-1:123456789012:service/afu9-cluster/afu9-control-center",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "arn:aws-cn:ecs:cn-north-1:123456789012:service/afu9-control-center",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    (
        "arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task-definition/afu9-control-center:7",
        &[(IdentifierKind::Service, "afu9-control-center")],
    ),
    // The production host, alone, in URLs and as a parent domain.
    ("afu-9.com", &[(IdentifierKind::Host, "afu-9.com")]),
    ("AFU-9.COM", &[(IdentifierKind::Host, "AFU-9.COM")]),
    ("afu-9.com.", &[(IdentifierKind::Host, "afu-9.com")]),
    (
        "https://afu-9.com/x",
        &[(IdentifierKind::Host, "afu-9.com")],
    ),
    (
        "https://afu-9.com:443/x",
        &[(IdentifierKind::Host, "afu-9.com")],
    ),
    (
        "https://user:pw@AFU-9.com:8443/p?q=1#f",
        &[(IdentifierKind::Host, "AFU-9.com")],
    ),
    (
        "http://api.afu-9.com",
        &[(IdentifierKind::Host, "api.afu-9.com")],
    ),
    (
        "wss://evil-stage.afu-9.com/socket",
        &[(IdentifierKind::Host, "evil-stage.afu-9.com")],
    ),
    ("stage-afu-9.com", &[]),
    ("ops@afu-9.com", &[(IdentifierKind::Host, "afu-9.com")]),
    (
        "READY_HOST=afu-9.com",
        &[(IdentifierKind::Host, "afu-9.com")],
    ),
    (
        "https://stage.afu-9.com/login?next=https://afu-9.com/",
        &[(IdentifierKind::Host, "afu-9.com")],
    ),
    (
        "curl -fsS https://Afu-9.Com/api/health",
        &[(IdentifierKind::Host, "Afu-9.Com")],
    ),
    // The production smoke secret by name.
    (
        "afu9/prod/smoke-key",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key")],
    ),
    (
        "AFU9/PROD/SMOKE-KEY",
        &[(IdentifierKind::SecretName, "AFU9/PROD/SMOKE-KEY")],
    ),
    (
        "--secret-id=afu9/prod/smoke-key",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key")],
    ),
    (
        "read it from afu9/prod/smoke-key.",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key")],
    ),
    // The production smoke secret by ARN: with and without suffix, with a
    // JSON key, version stage and version id, in every partition.
    (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/prod/smoke-key-AbC123",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key-AbC123")],
    ),
    (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/prod/smoke-key",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key")],
    ),
    (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/prod/smoke-key-AbC123:password::",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key-AbC123")],
    ),
    (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/prod/smoke-key:password:AWSCURRENT:",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key")],
    ),
    (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/prod/smoke-key-AbC123:json-key:AWSPREVIOUS:0a1b2c3d",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key-AbC123")],
    ),
    (
        "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:afu9/prod/smoke-key-AbC123",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key-AbC123")],
    ),
    (
        "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:afu9/prod/smoke-key-AbC123:k::",
        &[(IdentifierKind::SecretName, "afu9/prod/smoke-key-AbC123")],
    ),
    // Any secret under the production prefix.
    (
        "afu9/prod/database",
        &[(IdentifierKind::SecretPrefix, "afu9/prod/database")],
    ),
    (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/prod/database-Xy12Ab:url::",
        &[(IdentifierKind::SecretPrefix, "afu9/prod/database-Xy12Ab")],
    ),
    // Outside an ARN, a suffix makes another name, which is still under the
    // production prefix.
    (
        "afu9/prod/smoke-key-AbC123",
        &[(IdentifierKind::SecretPrefix, "afu9/prod/smoke-key-AbC123")],
    ),
    // The production log group. The service name inside it is not reported
    // a second time.
    (
        "/ecs/afu9-control-center",
        &[(IdentifierKind::Other, "/ecs/afu9-control-center")],
    ),
    // Several references in one value are each reported.
    (
        "https://afu-9.com and afu9/prod/smoke-key",
        &[
            (IdentifierKind::Host, "afu-9.com"),
            (IdentifierKind::SecretName, "afu9/prod/smoke-key"),
        ],
    ),
];

fn references(policy: &GuardPolicy, target: &str, value: &str) -> Vec<(IdentifierKind, String)> {
    check(policy, target, &[observed(value, "value")])
        .into_iter()
        .map(|violation| match violation {
            Violation::ForeignReference(reference) => (reference.kind, reference.matched),
            other => panic!("unexpected violation for {value:?}: {other}"),
        })
        .collect()
}

fn sorted(mut found: Vec<(IdentifierKind, String)>) -> Vec<(IdentifierKind, String)> {
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

#[test]
fn staging_values_pass() {
    let policy = example_policy();
    for value in STAGING_OK {
        let found = references(&policy, "staging", value);
        assert!(found.is_empty(), "{value:?} was rejected: {found:?}");
    }
}

#[test]
fn production_references_rejected() {
    let policy = example_policy();
    for (value, expected) in STAGING_REJECTED {
        let expected: Vec<(IdentifierKind, String)> = expected
            .iter()
            .map(|(kind, matched)| (*kind, matched.to_string()))
            .collect();
        let found = references(&policy, "staging", value);
        assert_eq!(sorted(found), sorted(expected), "value {value:?}");
    }
}

#[test]
fn rejection_names_owner_and_location() {
    let policy = example_policy();
    let violations = check(
        &policy,
        "staging",
        &[observed("https://afu-9.com/x", "--smoke-url")],
    );
    assert_eq!(violations.len(), 1);
    let Violation::ForeignReference(reference) = &violations[0] else {
        panic!("expected a foreign reference, got {}", violations[0]);
    };
    assert_eq!(reference.location, "--smoke-url");
    assert_eq!(reference.environment, "production");
    assert_eq!(reference.target, "staging");
    assert_eq!(reference.identifier, "afu-9.com");
    assert_eq!(
        violations[0].to_string(),
        "--smoke-url references production host `afu-9.com` (found `afu-9.com`), but this \
         run targets staging; use the staging value instead, or add `afu-9.com` to `shared` \
         if both environments use it on purpose"
    );
}

#[test]
fn production_target_rejects_staging() {
    let policy = example_policy();
    let cases: &[(&str, IdentifierKind, &str)] = &[
        (
            "afu9-control-center-staging",
            IdentifierKind::Service,
            "afu9-control-center-staging",
        ),
        (
            "https://stage.afu-9.com/x",
            IdentifierKind::Host,
            "stage.afu-9.com",
        ),
        (
            "https://api.stage.afu-9.com",
            IdentifierKind::Host,
            "api.stage.afu-9.com",
        ),
        (
            "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/smoke-key-Qm3xT1",
            IdentifierKind::SecretName,
            "afu9/stage/smoke-key-Qm3xT1",
        ),
        (
            "afu9/stage/database",
            IdentifierKind::SecretPrefix,
            "afu9/stage/database",
        ),
    ];
    for (value, kind, matched) in cases {
        let found = references(&policy, "production", value);
        assert_eq!(found, vec![(*kind, matched.to_string())], "value {value:?}");
    }
    for value in [
        "afu9-control-center",
        "https://afu-9.com/",
        "api.afu-9.com",
        "afu9-cluster",
    ] {
        let found = references(&policy, "production", value);
        assert!(found.is_empty(), "{value:?} was rejected: {found:?}");
    }
}

fn two_envs(staging_hosts: &[&str], production_hosts: &[&str]) -> GuardPolicy {
    GuardPolicy {
        environments: vec![
            EnvironmentIdentifiers {
                name: "staging".to_string(),
                hosts: strings(staging_hosts),
                ..EnvironmentIdentifiers::default()
            },
            EnvironmentIdentifiers {
                name: "production".to_string(),
                hosts: strings(production_hosts),
                ..EnvironmentIdentifiers::default()
            },
        ],
        shared: Vec::new(),
    }
}

#[test]
fn broad_target_host_excuses_nothing_specific() {
    // Staging owns the apex, production a subdomain of it.
    let policy = two_envs(&["afu-9.com"], &["prod.afu-9.com"]);
    assert_eq!(
        references(&policy, "staging", "https://prod.afu-9.com/"),
        vec![(IdentifierKind::Host, "prod.afu-9.com".to_string())]
    );
    assert_eq!(
        references(&policy, "staging", "https://api.prod.afu-9.com/"),
        vec![(IdentifierKind::Host, "api.prod.afu-9.com".to_string())]
    );
    assert!(references(&policy, "staging", "https://x.afu-9.com/").is_empty());
    assert!(references(&policy, "staging", "afu-9.com").is_empty());
}

#[test]
fn ecs_arns_in_policy_match_names() {
    let mut policy = example_policy();
    policy.environments[1].services = strings(&[
        "arn:aws:ecs:eu-central-1:123456789012:service/afu9-cluster/afu9-control-center",
    ]);
    assert_eq!(
        references(&policy, "staging", "--service afu9-control-center"),
        vec![(IdentifierKind::Service, "afu9-control-center".to_string())]
    );
    assert!(references(&policy, "staging", "afu9-control-center-staging").is_empty());
}

#[test]
fn secret_suffix_cannot_shadow_target() {
    // A staging secret whose name is the production name plus what looks
    // like a random suffix.
    let mut policy = example_policy();
    policy.environments[0].secret_names = strings(&["afu9/keys/smoke-AbCdEf"]);
    policy.environments[1].secret_names = strings(&["afu9/keys/smoke"]);
    let arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/keys/smoke-AbCdEf";
    assert!(references(&policy, "staging", arn).is_empty());
    let production_arn = format!("{arn}-Zz99Yy");
    assert!(references(&policy, "staging", &production_arn).is_empty());
    let production_plain =
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/keys/smoke-Qq11Rr";
    assert_eq!(
        references(&policy, "staging", production_plain),
        vec![(
            IdentifierKind::SecretName,
            "afu9/keys/smoke-Qq11Rr".to_string()
        )]
    );
}

#[test]
fn foreign_account_in_arns() {
    let mut policy = example_policy();
    policy.environments[1].account_id = Some("999999999999".to_string());
    let cases = [
        "arn:aws:iam::999999999999:role/afu9-prod-task-role",
        "999999999999.dkr.ecr.eu-central-1.amazonaws.com/afu9/control-center:3f9c2e1",
        "--account 999999999999",
    ];
    for value in cases {
        assert_eq!(
            references(&policy, "staging", value),
            vec![(IdentifierKind::AccountId, "999999999999".to_string())],
            "value {value:?}"
        );
    }
    for value in [
        "1999999999999",
        "arn:aws:iam::123456789012:role/x",
        "port 9999",
    ] {
        assert!(
            references(&policy, "staging", value).is_empty(),
            "{value:?}"
        );
    }
}

#[test]
fn shared_value_excuses_contained_reference() {
    let mut policy = example_policy();
    policy.shared.push("ops@afu-9.com".to_string());
    assert!(references(&policy, "staging", "NOTIFY=ops@afu-9.com").is_empty());
    assert_eq!(
        references(&policy, "staging", "NOTIFY=dev@afu-9.com"),
        vec![(IdentifierKind::Host, "afu-9.com".to_string())]
    );
}

#[test]
fn unknown_target_never_passes() {
    let policy = example_policy();
    let violations = check(&policy, "Staging", &[]);
    assert_eq!(violations.len(), 1);
    assert!(matches!(violations[0], Violation::UnknownTarget { .. }));
    assert_eq!(
        violations[0].to_string(),
        "environment \"Staging\" is not configured, so nothing could be checked; configured \
         environments are: production, staging"
    );
}

#[test]
fn repeated_reference_reported_once() {
    let policy = example_policy();
    // The same text twice, and once more in other letter case.
    let found = references(&policy, "staging", "afu-9.com afu-9.com AFU-9.com");
    assert_eq!(found, vec![(IdentifierKind::Host, "afu-9.com".to_string())]);
}
