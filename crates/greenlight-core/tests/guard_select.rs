//! Selecting the target environment from `--env` and `DEPLOY_ENV`.

use greenlight_core::guard::{SelectionError, SelectionSource, select_environment};

fn configured() -> Vec<String> {
    vec!["staging".to_string(), "production".to_string()]
}

#[test]
fn flag_or_env_var_selects() {
    let names = configured();
    assert_eq!(
        select_environment(Some("staging"), None, &names),
        Ok("staging".to_string())
    );
    assert_eq!(
        select_environment(None, Some("production"), &names),
        Ok("production".to_string())
    );
    assert_eq!(
        select_environment(Some("staging"), Some("staging"), &names),
        Ok("staging".to_string())
    );
    // An empty DEPLOY_ENV counts as unset.
    assert_eq!(
        select_environment(Some("staging"), Some(""), &names),
        Ok("staging".to_string())
    );
}

#[test]
fn neither_set_rejected() {
    let error = select_environment(None, None, &configured());
    assert_eq!(
        error,
        Err(SelectionError::Missing {
            env_var_empty: false,
            configured: configured(),
        })
    );
    let Err(error) = error else { return };
    assert_eq!(
        error.to_string(),
        "no environment selected: pass `--env NAME` or set DEPLOY_ENV; configured \
         environments are: production, staging"
    );
}

#[test]
fn empty_env_var_named() {
    let Err(error) = select_environment(None, Some(""), &configured()) else {
        panic!("an empty DEPLOY_ENV selected an environment");
    };
    assert_eq!(
        error.to_string(),
        "no environment selected (DEPLOY_ENV is set but empty): pass `--env NAME` or set \
         DEPLOY_ENV; configured environments are: production, staging"
    );
}

#[test]
fn empty_flag_rejected() {
    let Err(error) = select_environment(Some(""), Some("staging"), &configured()) else {
        panic!("an empty --env selected an environment");
    };
    assert!(matches!(error, SelectionError::EmptyFlag { .. }));
    assert_eq!(
        error.to_string(),
        "`--env` is empty; pass one of the configured environments: production, staging"
    );
}

#[test]
fn unknown_name_rejected() {
    for (flag, env_var, source) in [
        (Some("prod"), None, SelectionSource::Flag),
        (None, Some("prod"), SelectionSource::EnvVar),
    ] {
        let result = select_environment(flag, env_var, &configured());
        assert_eq!(
            result,
            Err(SelectionError::Unknown {
                source,
                given: "prod".to_string(),
                configured: configured(),
            })
        );
    }
    let Err(error) = select_environment(None, Some("prod"), &configured()) else {
        panic!("an unknown name was selected");
    };
    assert_eq!(
        error.to_string(),
        "DEPLOY_ENV is \"prod\" but configured environments are: production, staging"
    );
}

#[test]
fn case_difference_rejected() {
    let Err(error) = select_environment(Some("Staging"), None, &configured()) else {
        panic!("a name differing in case was selected");
    };
    assert_eq!(
        error,
        SelectionError::CaseMismatch {
            source: SelectionSource::Flag,
            given: "Staging".to_string(),
            suggestion: "staging".to_string(),
            configured: configured(),
        }
    );
    assert_eq!(
        error.to_string(),
        "`--env` is \"Staging\" but configured environments are: production, staging (names \
         are case-sensitive; did you mean \"staging\"?)"
    );
}

#[test]
fn whitespace_is_not_trimmed() {
    let result = select_environment(Some("staging "), None, &configured());
    assert!(
        matches!(result, Err(SelectionError::Unknown { .. })),
        "{result:?}"
    );
}

#[test]
fn conflicting_sources_rejected() {
    for (flag, env_var) in [("staging", "production"), ("staging", "Staging")] {
        let result = select_environment(Some(flag), Some(env_var), &configured());
        assert_eq!(
            result,
            Err(SelectionError::Conflict {
                flag: flag.to_string(),
                env_var: env_var.to_string(),
            })
        );
    }
    let Err(error) = select_environment(Some("staging"), Some("production"), &configured()) else {
        panic!("conflicting names selected an environment");
    };
    assert_eq!(
        error.to_string(),
        "`--env` is \"staging\" but DEPLOY_ENV is \"production\"; they must name the same \
         environment, so set only one of them or make them equal"
    );
}

#[test]
fn no_configured_environments() {
    let result = select_environment(Some("staging"), None, &[]);
    assert_eq!(
        result,
        Err(SelectionError::NoEnvironments {
            source: SelectionSource::Flag,
            given: "staging".to_string(),
        })
    );
}
