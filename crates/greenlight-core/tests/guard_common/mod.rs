//! The example policy that the guard tests share: staging and production
//! of the afu9 app, whose names contain each other, with the cluster
//! shared on purpose.

#![allow(dead_code)]

use greenlight_core::guard::{EnvironmentIdentifiers, GuardPolicy, Observed};

pub const ACCOUNT: &str = "123456789012";

pub fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| value.to_string()).collect()
}

pub fn staging() -> EnvironmentIdentifiers {
    EnvironmentIdentifiers {
        name: "staging".to_string(),
        clusters: strings(&["afu9-cluster"]),
        services: strings(&["afu9-control-center-staging"]),
        hosts: strings(&["stage.afu-9.com"]),
        secret_names: strings(&["afu9/stage/smoke-key"]),
        secret_prefixes: strings(&["afu9/stage/"]),
        other: strings(&["/ecs/afu9-control-center-staging"]),
        account_id: Some(ACCOUNT.to_string()),
        region: Some("eu-central-1".to_string()),
    }
}

pub fn production() -> EnvironmentIdentifiers {
    EnvironmentIdentifiers {
        name: "production".to_string(),
        clusters: strings(&["afu9-cluster"]),
        services: strings(&["afu9-control-center"]),
        hosts: strings(&["afu-9.com"]),
        secret_names: strings(&["afu9/prod/smoke-key"]),
        secret_prefixes: strings(&["afu9/prod/"]),
        other: strings(&["/ecs/afu9-control-center"]),
        account_id: Some(ACCOUNT.to_string()),
        region: Some("eu-central-1".to_string()),
    }
}

/// Staging and production in one account and region, sharing the cluster.
pub fn example_policy() -> GuardPolicy {
    GuardPolicy {
        environments: vec![staging(), production()],
        shared: strings(&["afu9-cluster"]),
    }
}

pub fn observed(value: &str, location: &str) -> Observed {
    Observed {
        value: value.to_string(),
        location: location.to_string(),
    }
}
