//! The `render`, `plan`, `guard`, `deploy` and `verify` commands: the
//! order of steps, with every decision delegated to the core.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use greenlight_core::arn::SecretRef;
use greenlight_core::config::{Config, Environment};
use greenlight_core::guard::{check_account, collect_json_strings};
use greenlight_core::render::{
    RenderInput, Rendered, container_named, diff, pretty, registrable, render,
};
use greenlight_core::report::{Report, Verdict, to_json, to_markdown, to_text};
use greenlight_core::rollout::ServiceView;
use greenlight_core::verify::{
    Check, SmokeObservation, judge_gate, judge_health, judge_images, judge_secret_binding,
    judge_smoke,
};
use serde_json::Value;

use crate::aws::{Aws, ResolveError, connect, resolve_all};
use crate::cli::{PlanArgs, RenderArgs, ReportFormat, SmokeArgs, VerifyArgs};
use crate::context::{
    Loaded, configured_values, enforce_guard, input_error, load_config, observed, select,
};
use crate::gates::run_gate;
use crate::progress::Progress as ProgressLog;
use crate::smoke::{SmokeClient, SmokeClientOptions};

/// `greenlight render`: described JSON in, registrable JSON out, offline.
pub fn render_command(config_path: Option<&Path>, args: &RenderArgs) -> Result<u8> {
    let loaded = load_config(config_path)?;
    let described = read_json_input(&args.input)?;
    let mut arns = BTreeMap::new();
    for pair in &args.secret_arns {
        let Some((key, arn)) = pair.split_once('=') else {
            return Err(input_error(format!(
                "--secret-arn \"{pair}\" is invalid; write KEY=ARN, for example \
                 smoke_key=arn:aws:secretsmanager:eu-central-1:123456789012:secret:app/smoke-AbCdEf"
            )));
        };
        let parsed =
            SecretRef::parse(arn).map_err(|e| input_error(format!("--secret-arn {key}: {e}")))?;
        // A task can only read secrets of its own partition.
        let expected = greenlight_core::arn::partition_of_region(&loaded.config.region);
        if parsed.partition != expected {
            return Err(input_error(format!(
                "--secret-arn {key}: \"{arn}\" is in partition {}, but region {} is in \
                 partition {expected}; give the ARN of the secret in this partition",
                parsed.partition, loaded.config.region
            )));
        }
        if parsed.json_key.is_some() || parsed.version_stage.is_some() || arn != parsed.arn {
            return Err(input_error(format!(
                "--secret-arn {key}: \"{arn}\" has fields after the secret name; give the \
                 bare ARN, and set json_key in [[secrets]] for a JSON key"
            )));
        }
        let configured: Vec<&String> = loaded
            .config
            .environments
            .values()
            .filter_map(|env| env.secrets.get(key))
            .collect();
        if configured.is_empty() {
            return Err(input_error(format!(
                "--secret-arn {key}: no environment configures a secret \"{key}\"; use a key of \
                 [environments.<env>.secrets]"
            )));
        }
        let name = parsed.name_without_suffix();
        if !configured.iter().any(|c| c.as_str() == name) {
            let names: Vec<&str> = configured.iter().map(|c| c.as_str()).collect();
            return Err(input_error(format!(
                "--secret-arn {key}: \"{arn}\" names the secret \"{name}\", but \"{key}\" is \
                 configured as {}; give the ARN of that secret",
                names.join(" or ")
            )));
        }
        if arns.insert(key.to_string(), arn.to_string()).is_some() {
            return Err(input_error(format!(
                "--secret-arn {key} is given twice; give each secret once"
            )));
        }
    }
    for binding in &loaded.config.secrets {
        if !arns.contains_key(&binding.secret) {
            return Err(input_error(format!(
                "secret \"{}\" is bound to {}/{} but no ARN was given; add --secret-arn {}=ARN",
                binding.secret, binding.container, binding.variable, binding.secret
            )));
        }
    }
    let input = RenderInput {
        config: &loaded.config,
        tag: &args.tag,
        secret_arns: &arns,
    };
    let rendered = render(&described, &input).map_err(|e| input_error(e.to_string()))?;
    for change in &rendered.changes {
        tracing::info!("{change}");
    }
    let text = pretty(&rendered.task_definition);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| input_error(format!("cannot write --output {}: {e}", path.display())))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(0)
}

fn read_json_input(path: &Path) -> Result<Value> {
    let bytes = if path.as_os_str() == "-" {
        let mut buffer = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buffer)?;
        buffer
    } else {
        std::fs::read(path)
            .map_err(|e| input_error(format!("cannot read {}: {e}", path.display())))?
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        input_error(format!(
            "{} is not valid JSON: {e}; give the output of `aws ecs describe-task-definition`",
            path.display()
        ))
    })
}

/// Everything gathered read-only before a deploy changes anything.
pub(crate) struct Prepared {
    pub(crate) aws: Aws,
    pub(crate) env_name: String,
    pub(crate) env: Environment,
    pub(crate) service: ServiceView,
    pub(crate) live_arn: String,
    pub(crate) live: Value,
    pub(crate) rendered: Rendered,
    pub(crate) tag: String,
}

/// Runs the read-only half shared by `plan`, `guard` and `deploy`. It
/// selects the environment, checks the account, reads the service and its
/// task definition, resolves secrets by name, renders, and runs the guard.
pub(crate) async fn prepare(
    loaded: &Loaded,
    env_flag: Option<&str>,
    tag: Option<&str>,
) -> Result<Prepared> {
    let config = &loaded.config;
    let (env_name, env) = select(config, env_flag)?;
    if let Some(tag) = tag {
        greenlight_core::render::validate_tag(tag).map_err(|e| input_error(e.to_string()))?;
    }

    let mut observed_values = configured_values(config, &env_name, env);
    if let Some(tag) = tag {
        observed_values.push(observed(tag, "--tag"));
    }
    enforce_guard(config, &env_name, &observed_values)?;

    let region = config.region_of(env).to_string();
    let aws = connect(&region, &config.aws).await;
    check_caller(&aws, config, &env_name, &region).await?;

    let service = aws.describe_service(&env.cluster, &env.service).await?;
    let live_arn = service.task_definition.clone();
    let live = aws.describe_task_definition(&live_arn).await?;

    let resolved = resolve_secrets(&aws, config, env).await?;
    let tag = match tag {
        Some(tag) => tag.to_string(),
        None => current_tag(config, &live).ok_or_else(|| {
            input_error("cannot tell the image tag the service runs now; pass --tag")
        })?,
    };
    let input = RenderInput {
        config,
        tag: &tag,
        secret_arns: &resolved,
    };
    let rendered = render(&live, &input).map_err(|e| input_error(e.to_string()))?;

    let mut everything = observed_values;
    everything.extend(collect_json_strings(
        &rendered.task_definition,
        "taskDefinition",
    ));
    if let Some(host) = env.hosts.first() {
        everything.push(observed(
            &format!("https://{host}{}", config.smoke.path),
            "smoke URL",
        ));
    }
    enforce_guard(config, &env_name, &everything)?;

    Ok(Prepared {
        aws,
        env_name,
        env: env.clone(),
        service,
        live_arn,
        live,
        rendered,
        tag,
    })
}

async fn check_caller(aws: &Aws, config: &Config, env_name: &str, region: &str) -> Result<()> {
    let policy = crate::context::guard_policy(config);
    let needs_account = policy.environments.iter().any(|e| e.account_id.is_some());
    if !needs_account {
        return Ok(());
    }
    let account = aws.caller_account().await?;
    let violations = check_account(&policy, env_name, &account, region);
    crate::context::reject_violations(env_name, &violations)
}

async fn resolve_secrets(
    aws: &Aws,
    config: &Config,
    env: &Environment,
) -> Result<BTreeMap<String, String>> {
    let mut wanted = BTreeMap::new();
    for key in config
        .secrets
        .iter()
        .map(|b| &b.secret)
        .chain(std::iter::once(&config.smoke.secret))
    {
        if let Some(name) = env.secrets.get(key) {
            wanted.insert(key.clone(), name.clone());
        }
    }
    let (resolved, errors) = resolve_all(aws, &wanted).await;
    if errors.is_empty() {
        return Ok(resolved);
    }
    let mut input_errors = Vec::new();
    for error in errors {
        match error {
            ResolveError::NotFound(message) => input_errors.push(message),
            ResolveError::Other(message) if message.contains("failed:") => {
                return Err(anyhow!(message));
            }
            ResolveError::Other(message) => input_errors.push(message),
        }
    }
    Err(input_error(format!(
        "cannot resolve secrets by name; nothing was changed:\n  {}",
        input_errors.join("\n  ")
    )))
}

/// Returns the tag of the first configured container's image.
fn current_tag(config: &Config, described: &Value) -> Option<String> {
    let task = described.get("taskDefinition").unwrap_or(described);
    let first = config.containers.first()?;
    let image = container_named(task, &first.name)?.get("image")?.as_str()?;
    let without_digest = image.split('@').next()?;
    let last_segment = without_digest.rsplit('/').next()?;
    last_segment.split_once(':').map(|(_, tag)| tag.to_string())
}

/// `greenlight plan`: the diff between the live and the rendered task
/// definition.
pub async fn plan_command(config_path: Option<&Path>, args: &PlanArgs, color: bool) -> Result<u8> {
    let loaded = load_config(config_path)?;
    let prepared = prepare(&loaded, args.env.env.as_deref(), args.tag.as_deref()).await?;
    let live = registrable(&prepared.live).map_err(|e| input_error(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "plan {} ({}/{}), tag {}",
        prepared.env_name, prepared.env.cluster, prepared.env.service, prepared.tag
    )?;
    for change in &prepared.rendered.changes {
        writeln!(out, "  change: {change}")?;
    }
    if live == prepared.rendered.task_definition {
        writeln!(
            out,
            "no task definition change: {} would be reused, with a forced new deployment",
            prepared.live_arn
        )?;
        return Ok(0);
    }
    let text = diff(
        &mask_plaintext_secrets(&live, &loaded.config),
        &mask_plaintext_secrets(&prepared.rendered.task_definition, &loaded.config),
        &prepared.live_arn,
        "rendered",
    );
    write_diff(&mut out, &text, color)?;
    writeln!(
        out,
        "deploy would register a new revision of {} and force a new deployment of {}",
        live.get("family").and_then(Value::as_str).unwrap_or("?"),
        prepared.env.service
    )?;
    Ok(0)
}

/// Returns a copy in which plaintext environment values that may be
/// secrets are replaced. That covers every variable bound to a secret in
/// the configuration, because its old plaintext copy is the live secret,
/// and every name containing KEY, SECRET, TOKEN, PASSWORD or CREDENTIAL.
fn mask_plaintext_secrets(task_definition: &Value, config: &Config) -> Value {
    let bound: Vec<&str> = config.secrets.iter().map(|b| b.variable.as_str()).collect();
    let looks_secret = |name: &str| {
        let upper = name.to_ascii_uppercase();
        bound.contains(&name)
            || ["KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL"]
                .iter()
                .any(|word| upper.contains(word))
    };
    let mut masked = task_definition.clone();
    let containers = masked
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut);
    for container in containers.into_iter().flatten() {
        let environment = container
            .get_mut("environment")
            .and_then(Value::as_array_mut);
        for entry in environment.into_iter().flatten() {
            let secret = entry
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(looks_secret);
            if secret && entry.get("value").is_some() {
                entry["value"] = Value::String("(not shown)".into());
            }
        }
    }
    masked
}

fn write_diff(out: &mut impl Write, text: &str, color: bool) -> std::io::Result<()> {
    for line in text.lines() {
        let code = match line.as_bytes().first() {
            _ if !color => None,
            Some(b'+') if !line.starts_with("+++") => Some("32"),
            Some(b'-') if !line.starts_with("---") => Some("31"),
            Some(b'@') => Some("36"),
            _ => None,
        };
        match code {
            Some(code) => writeln!(out, "\x1b[{code}m{line}\x1b[0m")?,
            None => writeln!(out, "{line}")?,
        }
    }
    Ok(())
}

/// `greenlight verify`.
pub async fn verify_command(config_path: Option<&Path>, args: &VerifyArgs) -> Result<u8> {
    let mut loaded = load_config(config_path)?;
    apply_smoke_overrides(&mut loaded, &args.smoke);
    let smoke = smoke_client(&args.smoke)?;
    let config = &loaded.config;
    let (env_name, env) = select(config, args.env.env.as_deref())?;
    if let Some(tag) = &args.tag {
        greenlight_core::render::validate_tag(tag).map_err(|e| input_error(e.to_string()))?;
    }
    let mut values = configured_values(config, &env_name, env);
    if let Some(tag) = &args.tag {
        values.push(observed(tag, "--tag"));
    }
    enforce_guard(config, &env_name, &values)?;
    let region = config.region_of(env).to_string();
    let aws = connect(&region, &config.aws).await;
    check_caller(&aws, config, &env_name, &region).await?;
    let log = ProgressLog::new();
    let checks = verify_live(
        &aws,
        &loaded,
        &env_name,
        env,
        args.tag.as_deref(),
        &smoke,
        args.skip_gates,
        &log,
    )
    .await?;
    let service = aws.describe_service(&env.cluster, &env.service).await.ok();
    let mut report = Report::new("verify", &env_name, &env.cluster, &env.service, checks);
    report.task_definition = service
        .as_ref()
        .and_then(|s| s.primary())
        .map(|d| d.task_definition.clone());
    emit_report(&report, args.format)?;
    Ok(exit_code(report.verdict))
}

pub(crate) fn apply_smoke_overrides(loaded: &mut Loaded, args: &SmokeArgs) {
    if let Some(deadline) = args.smoke_deadline {
        loaded.config.smoke.deadline = deadline;
    }
}

pub(crate) fn smoke_client(args: &SmokeArgs) -> Result<SmokeClient> {
    SmokeClient::new(SmokeClientOptions {
        connect_to: args.connect_to.clone(),
        ca_file: args.ca_file.clone(),
        plain_http: args.plain_http,
    })
    .map_err(|e| input_error(format!("{e:#}")))
}

/// Runs the definition of done against what is live now.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn verify_live(
    aws: &Aws,
    loaded: &Loaded,
    env_name: &str,
    env: &Environment,
    tag: Option<&str>,
    smoke: &SmokeClient,
    skip_gates: bool,
    log: &ProgressLog,
) -> Result<Vec<Check>> {
    let config = &loaded.config;
    let resolved = resolve_secrets(aws, config, env).await?;
    let service = aws.describe_service(&env.cluster, &env.service).await?;
    let Some(primary) = service.primary().cloned() else {
        return Ok(vec![Check::fail(
            "service",
            format!("{} has no PRIMARY deployment", env.service),
        )]);
    };
    let described = aws
        .describe_task_definition(&primary.task_definition)
        .await?;
    let task_definition = registrable(&described).map_err(|e| anyhow!(e.to_string()))?;
    // Judging another environment's values as this one's would be wrong.
    let live_values = collect_json_strings(&task_definition, "taskDefinition");
    enforce_guard(config, env_name, &live_values)?;

    let mut checks = Vec::new();
    checks.push(smoke_check(aws, config, env, &resolved, smoke, log).await);
    checks.push(judge_secret_binding(
        config,
        &task_definition,
        &primary.task_definition,
        &resolved,
    ));
    let (tasks, containers, _) = aws
        .deployment_tasks(&env.cluster, &env.service, Some(&primary.id), false)
        .await?;
    checks.extend(judge_health(config, &task_definition, &tasks, &containers));
    let tag = match tag {
        Some(tag) => Some(tag.to_string()),
        None => current_tag(config, &described),
    };
    match tag {
        Some(tag) => checks.push(judge_images(config, &tag, &task_definition, &containers)),
        None => checks.push(Check::fail(
            "images",
            "cannot tell the image tag of the first configured container; pass --tag",
        )),
    }
    if skip_gates {
        for gate in &config.gates {
            checks.push(Check {
                id: format!("gate:{}", gate.name),
                status: greenlight_core::verify::Status::Skip,
                summary: "skipped (--skip-gates)".into(),
                details: Vec::new(),
            });
        }
    } else {
        for gate in &config.gates {
            log.line(&format!("gate {}: {}", gate.name, gate.command.join(" ")));
            let outcome = run_gate(gate, &loaded.base_dir()).await;
            checks.push(judge_gate(&outcome));
        }
    }
    tracing::debug!(
        environment = env_name,
        checks = checks.len(),
        "verification done"
    );
    Ok(checks)
}

/// Sends the smoke request until it passes or its deadline passes, because
/// old tasks may still respond for a while after the rollout.
async fn smoke_check(
    aws: &Aws,
    config: &Config,
    env: &Environment,
    resolved: &BTreeMap<String, String>,
    smoke: &SmokeClient,
    log: &ProgressLog,
) -> Check {
    let Some(host) = env.hosts.first() else {
        return Check::fail("smoke", "the environment has no host");
    };
    let url = smoke.url(host, &config.smoke.path);
    let Some(arn) = resolved.get(&config.smoke.secret) else {
        return Check::fail("smoke", "the smoke secret was not resolved");
    };
    let key = match aws.secret_value(arn, None).await {
        Ok(key) => key,
        Err(error) => {
            return Check::fail("smoke", format!("cannot read the smoke key: {error:#}"));
        }
    };
    let started = Instant::now();
    let mut attempts = 0;
    let mut last_outcome = String::new();
    loop {
        attempts += 1;
        let observation = smoke
            .get(
                host,
                &config.smoke.path,
                &config.smoke.header,
                &key,
                config.smoke.request_timeout,
            )
            .await;
        let check = judge_smoke(config, &url, &observation);
        if check.status == greenlight_core::verify::Status::Pass {
            return check;
        }
        if started.elapsed() >= config.smoke.deadline {
            let mut check = check;
            check.summary = format!("{} (after {attempts} attempt(s))", check.summary);
            return check;
        }
        let status = match &observation {
            SmokeObservation::Response { status, .. } => status.to_string(),
            SmokeObservation::Error(message) => message.clone(),
        };
        // One line per change of outcome keeps a long retry readable.
        if status != last_outcome {
            log.line(&format!("smoke attempt {attempts}: {status}, retrying"));
            last_outcome = status;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

pub(crate) fn emit_report(report: &Report, format: ReportFormat) -> Result<()> {
    let text = match format {
        ReportFormat::Text => to_text(report),
        ReportFormat::Json => to_json(report),
    };
    // A spinner on the same terminal would be drawn over the report.
    crate::progress::clear();
    std::io::stdout().write_all(text.as_bytes())?;
    if let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY")
        && !path.is_empty()
    {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot append to GITHUB_STEP_SUMMARY {path}"))?;
        file.write_all(to_markdown(report).as_bytes())?;
    }
    Ok(())
}

pub(crate) fn exit_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Green => 0,
        Verdict::Red => 1,
    }
}
