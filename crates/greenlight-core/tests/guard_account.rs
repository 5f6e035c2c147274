//! Comparing the caller's AWS account and region with the target
//! environment's.

mod guard_common;

use greenlight_core::guard::{Violation, check_account};
use guard_common::{ACCOUNT, example_policy};

#[test]
fn matching_account_and_region_pass() {
    let policy = example_policy();
    assert!(check_account(&policy, "staging", ACCOUNT, "eu-central-1").is_empty());
    assert!(check_account(&policy, "staging", " 123456789012\n", "EU-CENTRAL-1").is_empty());
}

#[test]
fn account_mismatch_rejected() {
    let policy = example_policy();
    let violations = check_account(&policy, "staging", "999999999999", "eu-central-1");
    assert_eq!(
        violations,
        vec![Violation::AccountMismatch {
            target: "staging".to_string(),
            expected: ACCOUNT.to_string(),
            actual: "999999999999".to_string(),
        }]
    );
    assert_eq!(
        violations[0].to_string(),
        "the AWS credentials belong to account 999999999999, but environment staging is \
         configured for account 123456789012; use credentials for account 123456789012"
    );
}

#[test]
fn region_mismatch_rejected() {
    let policy = example_policy();
    let violations = check_account(&policy, "staging", ACCOUNT, "us-east-1");
    assert_eq!(
        violations,
        vec![Violation::RegionMismatch {
            target: "staging".to_string(),
            expected: "eu-central-1".to_string(),
            actual: "us-east-1".to_string(),
        }]
    );
    assert_eq!(
        violations[0].to_string(),
        "the region is us-east-1, but environment staging is configured for region \
         eu-central-1; set the region to eu-central-1 (for example with AWS_REGION)"
    );
}

#[test]
fn both_mismatches_reported() {
    let policy = example_policy();
    let violations = check_account(&policy, "staging", "999999999999", "us-east-1");
    assert_eq!(violations.len(), 2, "{violations:?}");
}

#[test]
fn other_environments_account_rejected() {
    let mut policy = example_policy();
    policy.environments[0].account_id = None;
    policy.environments[0].region = None;
    policy.environments[1].account_id = Some("999999999999".to_string());

    let violations = check_account(&policy, "staging", "999999999999", "us-east-1");
    assert_eq!(
        violations,
        vec![Violation::ForeignAccount {
            target: "staging".to_string(),
            owner: "production".to_string(),
            account: "999999999999".to_string(),
        }]
    );
    assert_eq!(
        violations[0].to_string(),
        "the AWS credentials belong to account 999999999999, which is configured for \
         environment production, but this run targets staging; use staging credentials, \
         or declare staging's account id if both environments share this account"
    );
    assert!(check_account(&policy, "staging", ACCOUNT, "us-east-1").is_empty());
}

#[test]
fn unconfigured_account_and_region_pass() {
    let mut policy = example_policy();
    for env in &mut policy.environments {
        env.account_id = None;
        env.region = None;
    }
    assert!(check_account(&policy, "staging", "999999999999", "ap-south-1").is_empty());
}

#[test]
fn unknown_target_rejected() {
    let policy = example_policy();
    let violations = check_account(&policy, "stage", ACCOUNT, "eu-central-1");
    assert_eq!(
        violations,
        vec![Violation::UnknownTarget {
            target: "stage".to_string(),
            configured: vec!["staging".to_string(), "production".to_string()],
        }]
    );
}
