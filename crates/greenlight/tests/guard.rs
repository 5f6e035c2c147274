//! The environment guard end to end, against the loopback testbed: a run
//! that cannot name its environment, or whose values reference another
//! environment, exits 2 before anything changes.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{Run, Testbed, config_with, example_config, run};

/// Operations that change the deployed state.
const CHANGING: &[&str] = &[
    "ecs:RegisterTaskDefinition",
    "ecs:UpdateService",
    "ecs:DeregisterTaskDefinition",
];

/// The staging block's account line, which the production block repeats.
const STAGING_ACCOUNT: &str = "\"afu9-control-center-staging\"]\naccount_id = \"123456789012\"";

/// Every command that selects an environment, with the arguments each
/// needs besides `--env`.
const COMMANDS: &[&[&str]] = &[
    &["plan"],
    &["deploy", "--tag", "abc1234", "--skip-gates"],
    &["verify", "--skip-gates"],
    &["guard"],
];

fn changing_operations(testbed: &Testbed) -> Vec<String> {
    testbed
        .operations()
        .into_iter()
        .filter(|operation| CHANGING.contains(&operation.as_str()))
        .collect()
}

/// Runs one greenlight command with an optional `DEPLOY_ENV`.
fn greenlight(testbed: &Testbed, config: &Path, deploy_env: Option<&str>, args: &[&str]) -> Run {
    let mut command = testbed.greenlight(config);
    if let Some(value) = deploy_env {
        command.env("DEPLOY_ENV", value);
    }
    run(command.args(args))
}

/// Forgets the operations recorded so far, such as a test's own set-up.
fn clear_operations(testbed: &Testbed) {
    testbed.control("DELETE", "calls", None);
}

#[test]
fn selection_errors_stop_before_aws() {
    let testbed = Testbed::start(&[]);
    let config = example_config();

    // (extra arguments, DEPLOY_ENV, text the error must contain)
    let cases: &[(&[&str], Option<&str>, &[&str])] = &[
        (
            &[],
            None,
            &["no environment selected", "production, staging"],
        ),
        (
            &[],
            Some(""),
            &["DEPLOY_ENV is set but empty", "production, staging"],
        ),
        (
            &["--env", "prod"],
            None,
            &["\"prod\"", "production, staging"],
        ),
        (
            &[],
            Some("qa"),
            &["DEPLOY_ENV is \"qa\"", "production, staging"],
        ),
        (
            &["--env", "Staging"],
            None,
            &["\"Staging\"", "did you mean \"staging\""],
        ),
        (
            &[],
            Some("STAGING"),
            &["\"STAGING\"", "did you mean \"staging\""],
        ),
        (
            &["--env", "staging"],
            Some("production"),
            &["\"staging\"", "DEPLOY_ENV is \"production\""],
        ),
        (&["--env", ""], None, &["`--env` is empty"]),
    ];

    for command in COMMANDS {
        for (extra, deploy_env, expected) in cases {
            let args: Vec<&str> = command.iter().chain(extra.iter()).copied().collect();
            let result = greenlight(&testbed, &config, *deploy_env, &args);
            let label = format!("{args:?} with DEPLOY_ENV={deploy_env:?}");
            assert_eq!(result.code, 2, "{label}: {}", result.stderr);
            for text in *expected {
                assert!(
                    result.stderr.contains(text),
                    "{label}: stderr lacks {text:?}:\n{}",
                    result.stderr
                );
            }
            let operations = testbed.operations();
            assert!(
                operations.is_empty(),
                "{label}: AWS was called: {operations:?}"
            );
        }
    }
}

#[test]
fn agreeing_flag_and_variable_pass() {
    let testbed = Testbed::start(&[]);
    let config = example_config();

    let both = greenlight(
        &testbed,
        &config,
        Some("staging"),
        &["guard", "--env", "staging"],
    );
    assert_eq!(both.code, 0, "{}", both.stderr);

    let variable_only = greenlight(&testbed, &config, Some("staging"), &["guard"]);
    assert_eq!(variable_only.code, 0, "{}", variable_only.stderr);
    assert!(
        variable_only.stdout.starts_with("guard staging: passed"),
        "{}",
        variable_only.stdout
    );
}

#[test]
fn production_values_in_config_rejected() {
    let testbed = Testbed::start(&[]);

    // (replacement, texts the error must contain)
    let cases: &[((&str, &str), &[&str])] = &[
        (
            ("hosts = [\"stage.afu-9.com\"]", "hosts = [\"afu-9.com\"]"),
            &["\"afu-9.com\"", "production (host)", "staging (host)"],
        ),
        (
            (
                "smoke_key = \"afu9/stage/smoke-key\"",
                "smoke_key = \"afu9/prod/smoke-key\"",
            ),
            &[
                "\"afu9/prod/smoke-key\"",
                "environment staging",
                "production secret prefix `afu9/prod/`",
            ],
        ),
        (
            (
                "service = \"afu9-control-center-staging\"",
                "service = \"afu9-control-center\"",
            ),
            &["\"afu9-control-center\"", "production (service)"],
        ),
    ];

    for ((from, to), expected) in cases {
        let config = config_with(&testbed, &[(from, to)]);
        for command in COMMANDS {
            let args: Vec<&str> = command
                .iter()
                .copied()
                .chain(["--env", "staging"])
                .collect();
            let result = greenlight(&testbed, &config, None, &args);
            let label = format!("{to} with {args:?}");
            assert_eq!(result.code, 2, "{label}: {}", result.stderr);
            assert!(
                result.stderr.contains("is invalid"),
                "{label}: {}",
                result.stderr
            );
            for text in *expected {
                assert!(
                    result.stderr.contains(text),
                    "{label}: stderr lacks {text:?}:\n{}",
                    result.stderr
                );
            }
            let operations = testbed.operations();
            assert!(operations.is_empty(), "{label}: {operations:?}");
        }
    }
}

#[test]
fn production_tag_rejected() {
    let testbed = Testbed::start(&[]);
    let config = example_config();

    for command in [
        &["plan"][..],
        &["deploy", "--skip-gates"],
        &["verify", "--skip-gates"],
        &["guard"],
    ] {
        let args: Vec<&str> = command
            .iter()
            .copied()
            .chain(["--env", "staging", "--tag", "afu9-control-center"])
            .collect();
        let result = greenlight(&testbed, &config, None, &args);
        assert_eq!(result.code, 2, "{args:?}: {}", result.stderr);
        let expected = "--tag references production service `afu9-control-center`";
        assert!(
            result.stderr.contains(expected),
            "{args:?}: {}",
            result.stderr
        );
        assert!(
            result.stderr.contains("this run targets staging"),
            "{args:?}: {}",
            result.stderr
        );
        let operations = testbed.operations();
        assert!(operations.is_empty(), "{args:?}: {operations:?}");
    }
}

#[test]
fn production_smoke_path_rejected() {
    let testbed = Testbed::start(&[]);
    let config = config_with(
        &testbed,
        &[(
            "path = \"/api/timeline/chain?limit=1\"",
            "path = \"/api/timeline/chain?limit=1&service=afu9-control-center\"",
        )],
    );

    for command in COMMANDS {
        let args: Vec<&str> = command
            .iter()
            .copied()
            .chain(["--env", "staging"])
            .collect();
        let result = greenlight(&testbed, &config, None, &args);
        assert_eq!(result.code, 2, "{args:?}: {}", result.stderr);
        assert!(
            result
                .stderr
                .contains("smoke.path references production service `afu9-control-center`"),
            "{args:?}: {}",
            result.stderr
        );
        let operations = testbed.operations();
        assert!(operations.is_empty(), "{args:?}: {operations:?}");
    }
}

/// Registers a copy of the staging service's task definition with one
/// more environment value in `control-center` and rolls the service onto
/// it. Returns the new revision's ARN.
fn deploy_revision_with(testbed: &Testbed, name: &str, value: &str) -> String {
    let script = format!(
        "svc = ecs.describe_services(cluster='afu9-cluster', \
         services=['afu9-control-center-staging'])['services'][0]\n\
         td = ecs.describe_task_definition(taskDefinition=svc['taskDefinition'])['taskDefinition']\n\
         for key in ['taskDefinitionArn', 'revision', 'status', 'requiresAttributes', \
         'compatibilities', 'registeredAt', 'registeredBy', 'deregisteredAt']:\n\
         \x20   td.pop(key, None)\n\
         for container in td['containerDefinitions']:\n\
         \x20   if container['name'] == 'control-center':\n\
         \x20       container.setdefault('environment', []).append({{'name': {name:?}, 'value': {value:?}}})\n\
         arn = ecs.register_task_definition(**td)['taskDefinition']['taskDefinitionArn']\n\
         ecs.update_service(cluster='afu9-cluster', service='afu9-control-center-staging', \
         taskDefinition=arn)\n\
         print(arn)"
    );
    testbed.boto3(&script)
}

/// Waits until the scheduler state of the testbed mentions `arn`, which
/// happens once a deployment of that revision has started.
fn wait_for_primary(testbed: &Testbed, arn: &str) {
    let started = std::time::Instant::now();
    loop {
        let state = testbed.control("GET", "state", None);
        if state.to_string().contains(arn) {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the staging service never moved to {arn}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn production_url_in_task_definition_rejected() {
    let testbed = Testbed::start(&[]);
    let config = example_config();
    let arn = deploy_revision_with(&testbed, "PUBLIC_URL", "https://afu-9.com/x");
    wait_for_primary(&testbed, &arn);

    for command in [
        &["plan", "--env", "staging"][..],
        &[
            "deploy",
            "--env",
            "staging",
            "--tag",
            "abc1234",
            "--skip-gates",
        ],
        &["verify", "--env", "staging", "--skip-gates"],
        &["guard", "--env", "staging"],
    ] {
        clear_operations(&testbed);
        let result = greenlight(&testbed, &config, None, command);
        assert_eq!(result.code, 2, "{command:?}: {}", result.stderr);
        for text in [
            "the environment guard rejected this staging run",
            "taskDefinition.containerDefinitions[",
            "].environment[",
            "references production host `afu-9.com` (found `afu-9.com`)",
        ] {
            assert!(
                result.stderr.contains(text),
                "{command:?}: stderr lacks {text:?}:\n{}",
                result.stderr
            );
        }
        let changing = changing_operations(&testbed);
        assert!(changing.is_empty(), "{command:?}: {changing:?}");
    }
}

#[test]
fn staging_lookalikes_pass() {
    let testbed = Testbed::start(&[]);
    let config = example_config();
    let arn = deploy_revision_with(
        &testbed,
        "PUBLIC_URL",
        "https://api.stage.afu-9.com/x?service=afu9-control-center-staging",
    );
    wait_for_primary(&testbed, &arn);
    clear_operations(&testbed);

    let guard = greenlight(&testbed, &config, None, &["guard", "--env", "staging"]);
    assert_eq!(guard.code, 0, "{}", guard.stderr);
    assert!(
        guard
            .stdout
            .contains("https://stage.afu-9.com/api/timeline/chain"),
        "{}",
        guard.stdout
    );

    let plan = greenlight(
        &testbed,
        &config,
        None,
        &["plan", "--env", "staging", "--tag", "abc1234"],
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("afu9-control-center-staging"),
        "{}",
        plan.stdout
    );

    let changing = changing_operations(&testbed);
    assert!(changing.is_empty(), "{changing:?}");
}

/// The example's registry, which lives in the account that both example
/// environments declare.
const REGISTRY: &str = "registry = \"123456789012.dkr.ecr";

#[test]
fn account_mismatch_stops_before_changes() {
    let testbed = Testbed::start(&[]);
    // Staging in its own account, with its own registry. moto's STS
    // returns account 123456789012.
    let config = config_with(
        &testbed,
        &[
            (
                STAGING_ACCOUNT,
                "\"afu9-control-center-staging\"]\naccount_id = \"999999999999\"",
            ),
            (REGISTRY, "registry = \"999999999999.dkr.ecr"),
        ],
    );

    for command in COMMANDS {
        let args: Vec<&str> = command
            .iter()
            .copied()
            .chain(["--env", "staging"])
            .collect();
        clear_operations(&testbed);
        let result = greenlight(&testbed, &config, None, &args);
        assert_eq!(result.code, 2, "{args:?}: {}", result.stderr);
        assert!(
            result.stderr.contains("belong to account 123456789012"),
            "{args:?}: {}",
            result.stderr
        );
        assert!(
            result
                .stderr
                .contains("configured for account 999999999999"),
            "{args:?}: {}",
            result.stderr
        );
        let operations = testbed.operations();
        assert_eq!(
            operations,
            vec!["sts:GetCallerIdentity".to_string()],
            "{args:?}: only the caller identity may be read"
        );
    }
}

#[test]
fn registry_in_production_account_rejected() {
    let testbed = Testbed::start(&[]);
    // Staging moved to its own account, but the registry still lives in
    // the account that production declares.
    let config = config_with(
        &testbed,
        &[(
            STAGING_ACCOUNT,
            "\"afu9-control-center-staging\"]\naccount_id = \"999999999999\"",
        )],
    );

    for command in COMMANDS {
        let args: Vec<&str> = command
            .iter()
            .copied()
            .chain(["--env", "staging"])
            .collect();
        let result = greenlight(&testbed, &config, None, &args);
        assert_eq!(result.code, 2, "{args:?}: {}", result.stderr);
        assert!(
            result
                .stderr
                .contains("registry references production account id `123456789012`"),
            "{args:?}: {}",
            result.stderr
        );
        let operations = testbed.operations();
        assert!(operations.is_empty(), "{args:?}: {operations:?}");
    }
}

#[test]
fn foreign_account_stops_before_changes() {
    let testbed = Testbed::start(&[]);
    // Staging declares no account, and the caller's account is the one
    // production declares.
    let config = config_with(
        &testbed,
        &[
            (STAGING_ACCOUNT, "\"afu9-control-center-staging\"]"),
            (REGISTRY, "registry = \"555555555555.dkr.ecr"),
        ],
    );

    let result = greenlight(
        &testbed,
        &config,
        None,
        &[
            "deploy",
            "--env",
            "staging",
            "--tag",
            "abc1234",
            "--skip-gates",
        ],
    );
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(
        result
            .stderr
            .contains("account 123456789012, which is configured for environment production"),
        "{}",
        result.stderr
    );
    let operations = testbed.operations();
    assert_eq!(operations, vec!["sts:GetCallerIdentity".to_string()]);
}

#[test]
fn guard_lists_what_it_checked() {
    let testbed = Testbed::start(&[]);
    let config = example_config();

    let text = greenlight(
        &testbed,
        &config,
        None,
        &["guard", "--env", "staging", "--tag", "abc1234"],
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    for expected in [
        "guard staging: passed",
        "configuration",
        "--tag",
        "abc1234",
        "task definition",
        "afu9-control-center-staging:3",
        "smoke URL",
        "https://stage.afu-9.com/api/timeline/chain?limit=1",
        "123456789012 (STS GetCallerIdentity), as configured",
        "eu-central-1",
    ] {
        assert!(
            text.stdout.contains(expected),
            "stdout lacks {expected:?}:\n{}",
            text.stdout
        );
    }

    let json = greenlight(
        &testbed,
        &config,
        None,
        &["guard", "--env", "staging", "--format", "json"],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let report: Value = serde_json::from_str(&json.stdout).expect("guard JSON");
    assert_eq!(report["environment"], "staging");
    assert_eq!(report["passed"], true);
    assert_eq!(report["account"]["caller"], "123456789012");
    assert_eq!(report["account"]["expected"], "123456789012");
    assert_eq!(report["region"], "eu-central-1");
    let checked = report["checked"].as_array().expect("checked list");
    let count_of = |source: &str| {
        checked
            .iter()
            .find(|entry| entry["source"] == source)
            .and_then(|entry| entry["count"].as_u64())
    };
    // Cluster, service, one host, two secrets, registry, five image
    // repositories and the smoke path.
    assert_eq!(count_of("configuration"), Some(12));
    assert_eq!(count_of("--tag"), Some(0));
    assert_eq!(count_of("smoke URL"), Some(1));
    assert!(
        count_of("task definition").is_some_and(|count| count > 50),
        "{checked:?}"
    );

    let changing = changing_operations(&testbed);
    assert!(changing.is_empty(), "{changing:?}");
}
