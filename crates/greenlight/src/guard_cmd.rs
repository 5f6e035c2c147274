//! `greenlight guard`: the environment guard alone, with a list of what
//! it checked.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use greenlight_core::guard::collect_json_strings;
use serde_json::{Value, json};

use crate::cli::{GuardArgs, ReportFormat};
use crate::commands::{Prepared, prepare};
use crate::context::{Loaded, configured_values, guard_policy, load_config};

/// One group of values that the guard searched.
struct Source {
    name: &'static str,
    count: usize,
    detail: String,
}

/// The caller's account as STS returned it, and the account the target
/// environment declares.
struct Account {
    caller: Option<String>,
    expected: Option<String>,
}

/// Runs the read-only checks of `greenlight guard` and lists what was
/// checked. Every check runs in `prepare`, which returns an input error
/// (exit 2) on the first rejection, so reaching the listing means all
/// passed.
pub async fn guard_command(config_path: Option<&Path>, args: &GuardArgs) -> Result<u8> {
    let loaded = load_config(config_path)?;
    let prepared = prepare(&loaded, args.env.env.as_deref(), args.tag.as_deref()).await?;

    let sources = checked_sources(&loaded, &prepared, args.tag.as_deref());
    let account = caller_account(&loaded, &prepared).await?;
    let region = loaded.config.region_of(&prepared.env).to_string();

    let text = match args.format {
        ReportFormat::Text => to_text(&prepared.env_name, &sources, &account, &region),
        ReportFormat::Json => {
            let value = to_json(&prepared.env_name, &sources, &account, &region);
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(0)
}

/// Lists the sources of the values that `prepare` passed to the guard,
/// with their counts.
fn checked_sources(loaded: &Loaded, prepared: &Prepared, tag: Option<&str>) -> Vec<Source> {
    let config = &loaded.config;
    let configured = configured_values(config, &prepared.env_name, &prepared.env);
    let rendered = collect_json_strings(&prepared.rendered.task_definition, "taskDefinition");

    let tag_source = match tag {
        Some(tag) => Source {
            name: "--tag",
            count: 1,
            detail: tag.to_string(),
        },
        None => Source {
            name: "--tag",
            count: 0,
            detail: format!(
                "not given, so the running tag {} was rendered",
                prepared.tag
            ),
        },
    };
    let smoke_source = match prepared.env.hosts.first() {
        Some(host) => Source {
            name: "smoke URL",
            count: 1,
            detail: format!("https://{host}{}", config.smoke.path),
        },
        None => Source {
            name: "smoke URL",
            count: 0,
            detail: "the environment has no host".to_string(),
        },
    };

    vec![
        Source {
            name: "configuration",
            count: configured.len(),
            detail:
                "cluster, service, hosts, secret names, registry, image repositories and smoke path"
                    .to_string(),
        },
        tag_source,
        Source {
            name: "task definition",
            count: rendered.len(),
            detail: format!(
                "strings of the rendered task definition, from {}",
                prepared.live_arn
            ),
        },
        smoke_source,
    ]
}

/// Reads the caller's account for the listing when any environment
/// declares an account id, because only then did `prepare` compare it.
async fn caller_account(loaded: &Loaded, prepared: &Prepared) -> Result<Account> {
    let policy = guard_policy(&loaded.config);
    let any_declared = policy
        .environments
        .iter()
        .any(|env| env.account_id.is_some());
    let caller = if any_declared {
        Some(prepared.aws.caller_account().await?)
    } else {
        None
    };
    Ok(Account {
        caller,
        expected: prepared.env.account_id.clone(),
    })
}

fn to_text(environment: &str, sources: &[Source], account: &Account, region: &str) -> String {
    let mut text = format!(
        "guard {environment}: passed, no value references another environment's identifiers\n"
    );
    let width = sources.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for source in sources {
        text.push_str(&format!(
            "  {:<width$}  {:>4}  {}\n",
            source.name, source.count, source.detail
        ));
    }

    let account_line = match (&account.caller, &account.expected) {
        (Some(caller), Some(_)) => format!("{caller} (STS GetCallerIdentity), as configured"),
        (Some(caller), None) => format!(
            "{caller} (STS GetCallerIdentity); {environment} declares no account id, and no \
             other environment declares this one"
        ),
        (None, _) => "not checked, because no environment declares an account id".to_string(),
    };
    text.push_str(&format!("  {:<width$}        {account_line}\n", "account"));
    text.push_str(&format!(
        "  {:<width$}        {region}, the configured region that every AWS call uses\n",
        "region"
    ));
    text
}

fn to_json(environment: &str, sources: &[Source], account: &Account, region: &str) -> Value {
    let checked: Vec<Value> = sources
        .iter()
        .map(|source| {
            json!({
                "source": source.name,
                "count": source.count,
                "detail": source.detail,
            })
        })
        .collect();
    json!({
        "command": "guard",
        "environment": environment,
        "passed": true,
        "checked": checked,
        "account": {
            "checked": account.caller.is_some(),
            "caller": account.caller,
            "expected": account.expected,
        },
        "region": region,
    })
}
