//! Validation of the guard policy: overlaps, malformed identifiers and
//! environment names, with the messages a person reads.

mod guard_common;

use greenlight_core::guard::{
    EnvironmentIdentifiers, GuardPolicy, IdentifierKind, PolicyError, validate_policy,
};
use guard_common::{example_policy, strings};

fn errors(policy: &GuardPolicy) -> Vec<PolicyError> {
    match validate_policy(policy) {
        Ok(()) => Vec::new(),
        Err(errors) => errors,
    }
}

#[test]
fn example_policy_valid() {
    assert_eq!(validate_policy(&example_policy()), Ok(()));
}

#[test]
fn unshared_cluster_overlap_rejected() {
    let mut policy = example_policy();
    policy.shared.clear();
    let errors = errors(&policy);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let PolicyError::Overlap { value, owners } = &errors[0] else {
        panic!("expected an overlap, got {}", errors[0]);
    };
    assert_eq!(value, "afu9-cluster");
    assert_eq!(owners.len(), 2);
    assert_eq!(owners[0].environment, "staging");
    assert_eq!(owners[1].environment, "production");
    assert_eq!(
        errors[0].to_string(),
        "\"afu9-cluster\" is declared by more than one environment: staging (cluster), \
         production (cluster); an identifier must belong to one environment, so remove it \
         from all but one, or add it to `shared` if the environments use it on purpose"
    );
}

#[test]
fn overlap_across_kinds_and_case() {
    let mut policy = example_policy();
    policy.environments[0].other.push("AFU-9.com".to_string());
    let errors = errors(&policy);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let PolicyError::Overlap { owners, .. } = &errors[0] else {
        panic!("expected an overlap, got {}", errors[0]);
    };
    assert_eq!(owners[0].kind, IdentifierKind::Other);
    assert_eq!(owners[1].kind, IdentifierKind::Host);
}

#[test]
fn shared_arn_covers_cluster_name() {
    let mut policy = example_policy();
    policy.shared = strings(&["arn:aws:ecs:eu-central-1:123456789012:cluster/afu9-cluster"]);
    assert_eq!(validate_policy(&policy), Ok(()));
}

#[test]
fn same_account_and_region_allowed() {
    let policy = example_policy();
    assert_eq!(
        policy.environments[0].account_id,
        policy.environments[1].account_id
    );
    assert_eq!(validate_policy(&policy), Ok(()));
}

#[test]
fn cross_reference_rejected() {
    let mut policy = example_policy();
    // A staging log group that is really the production one.
    policy.environments[0].other = strings(&["/ecs/afu9-control-center"]);
    policy.environments[1].other.clear();
    let errors = errors(&policy);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let PolicyError::CrossReference {
        environment,
        kind,
        value,
        reference,
    } = &errors[0]
    else {
        panic!("expected a cross reference, got {}", errors[0]);
    };
    assert_eq!(environment, "staging");
    assert_eq!(*kind, IdentifierKind::Other);
    assert_eq!(value, "/ecs/afu9-control-center");
    assert_eq!(reference.environment, "production");
    assert_eq!(reference.identifier, "afu9-control-center");
    assert_eq!(
        errors[0].to_string(),
        "identifier \"/ecs/afu9-control-center\" of environment staging contains production \
         service `afu9-control-center` (as `afu9-control-center`), so a staging deploy using \
         it would reference production; change the value, or add `afu9-control-center` to \
         `shared` if both environments use it on purpose"
    );
}

#[test]
fn staging_secret_under_production_prefix() {
    let mut policy = example_policy();
    policy.environments[0]
        .secret_names
        .push("afu9/prod/shared-db".to_string());
    let errors = errors(&policy);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let PolicyError::CrossReference { reference, .. } = &errors[0] else {
        panic!("expected a cross reference, got {}", errors[0]);
    };
    assert_eq!(reference.kind, IdentifierKind::SecretPrefix);
}

#[test]
fn environment_names_checked() {
    let mut policy = example_policy();
    let mut copy = policy.environments[0].clone();
    copy.name = "Staging".to_string();
    copy.services = strings(&["svc-a"]);
    copy.hosts.clear();
    copy.secret_names.clear();
    copy.secret_prefixes.clear();
    copy.other.clear();
    policy.environments.push(copy);
    let mut duplicate = EnvironmentIdentifiers {
        name: "production".to_string(),
        services: strings(&["svc-b"]),
        ..EnvironmentIdentifiers::default()
    };
    policy.environments.push(duplicate.clone());
    duplicate.name = " ".to_string();
    duplicate.services = strings(&["svc-c"]);
    policy.environments.push(duplicate);
    policy.shared.push("afu9-cluster".to_string());

    let errors = errors(&policy);
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        errors.contains(&PolicyError::NamesDifferInCase {
            first: "staging".to_string(),
            second: "Staging".to_string(),
        }),
        "{messages:#?}"
    );
    assert!(
        errors.contains(&PolicyError::DuplicateEnvironment {
            name: "production".to_string(),
        }),
        "{messages:#?}"
    );
    assert!(
        errors.contains(&PolicyError::EmptyEnvironmentName { index: 4 }),
        "{messages:#?}"
    );
}

#[test]
fn malformed_identifiers_rejected() {
    let mut policy = example_policy();
    let staging = &mut policy.environments[0];
    staging.hosts = strings(&[
        "https://stage.afu-9.com",
        "stage.afu-9.com:443",
        "*.stage.afu-9.com",
        "stage..afu-9.com",
        "stage afu-9.com",
        "stage.afu-9.com.",
    ]);
    staging.secret_names.push(
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/x-AbC123".to_string(),
    );
    staging
        .services
        .push("arn:aws:ecs:eu-central-1:123456789012:service/".to_string());
    staging.clusters.push(" ".to_string());
    staging.account_id = Some("12345".to_string());
    staging.region = Some("EU Central".to_string());
    policy.shared.push(String::new());
    // Otherwise the ARNs above would contain production's account id, which
    // is no longer staging's.
    policy.environments[1].account_id = None;

    let errors = errors(&policy);
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let invalid_hosts: Vec<&str> = errors
        .iter()
        .filter_map(|error| match error {
            PolicyError::InvalidHost { value, .. } => Some(value.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        invalid_hosts,
        vec![
            "https://stage.afu-9.com",
            "stage.afu-9.com:443",
            "*.stage.afu-9.com",
            "stage..afu-9.com",
            "stage afu-9.com",
        ],
        "{messages:#?}"
    );
    let count =
        |predicate: fn(&PolicyError) -> bool| errors.iter().filter(|e| predicate(e)).count();
    assert_eq!(
        count(|e| matches!(e, PolicyError::SecretNameIsArn { .. })),
        1
    );
    assert_eq!(count(|e| matches!(e, PolicyError::InvalidEcsArn { .. })), 1);
    assert_eq!(
        count(|e| matches!(e, PolicyError::EmptyIdentifier { .. })),
        1
    );
    assert_eq!(
        count(|e| matches!(e, PolicyError::InvalidAccountId { .. })),
        1
    );
    assert_eq!(count(|e| matches!(e, PolicyError::InvalidRegion { .. })), 1);
    assert_eq!(
        count(|e| matches!(e, PolicyError::EmptySharedValue { .. })),
        1
    );
    assert_eq!(errors.len(), 11, "{messages:#?}");
}

#[test]
fn malformed_messages_name_value() {
    let mut policy = example_policy();
    policy.environments[1].hosts = strings(&["https://afu-9.com"]);
    policy.environments[1].secret_names = strings(&[
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/prod/smoke-key-AbC123",
    ]);
    let messages: Vec<String> = errors(&policy).iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![
            "host \"https://afu-9.com\" of environment production is not a DNS name (it \
             contains a URL scheme); write the bare host name without scheme, port or path, \
             such as `stage.example.com`",
            "secret name \"arn:aws:secretsmanager:eu-central-1:123456789012:secret:\
             afu9/prod/smoke-key-AbC123\" of environment production is an ARN; write the \
             secret's name instead (the part after `secret:` without the random \
             six-character suffix), because the ARN changes whenever the secret is \
             re-created",
        ]
    );
}

#[test]
fn environment_without_identifiers() {
    let mut policy = example_policy();
    policy.environments.push(EnvironmentIdentifiers {
        name: "preview".to_string(),
        account_id: Some("123456789012".to_string()),
        ..EnvironmentIdentifiers::default()
    });
    assert_eq!(
        errors(&policy),
        vec![PolicyError::NoIdentifiers {
            environment: "preview".to_string(),
        }]
    );

    let single = GuardPolicy {
        environments: vec![EnvironmentIdentifiers {
            name: "only".to_string(),
            ..EnvironmentIdentifiers::default()
        }],
        shared: Vec::new(),
    };
    assert_eq!(validate_policy(&single), Ok(()));
}
