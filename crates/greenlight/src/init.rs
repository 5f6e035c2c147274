//! `greenlight init`: reads a live service and its task definition (both
//! read-only) and writes a starting `greenlight.toml`.
//!
//! What the task definition shows is written as values: containers and
//! their image repositories, the registry, secret bindings with the secret
//! names (the random ARN suffix removed), log groups, the account. What it
//! cannot show (hosts, the smoke request, other environments, gates) is
//! written as comments and placeholders that fail `Config::parse` until
//! they are filled in, so an unfinished file cannot deploy.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use aws_config::meta::region::RegionProviderChain;
use greenlight_core::arn::{SecretRef, is_secrets_manager};
use greenlight_core::config::AwsSettings;
use serde_json::Value;

use crate::aws::connect;
use crate::cli::InitArgs;
use crate::context::input_error;

/// Runs `greenlight init`.
pub async fn init_command(args: &InitArgs) -> Result<u8> {
    // The name becomes a bare TOML key in `[environments.NAME]`.
    let bare_key = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if args.env.is_empty() || !args.env.chars().all(bare_key) {
        return Err(input_error(format!(
            "--env \"{}\" is invalid; use letters, digits, - and _, like staging",
            args.env
        )));
    }

    // Checked before any AWS call, so a kept file costs nothing.
    if args.output.exists() && !args.force {
        return Err(input_error(format!(
            "{} already exists; pass --force to overwrite it, or --output to write elsewhere",
            args.output.display()
        )));
    }
    let region = match &args.region {
        Some(region) => region.clone(),
        None => RegionProviderChain::default_provider()
            .region()
            .await
            .map(|r| r.to_string())
            .ok_or_else(|| {
                input_error("no AWS region is configured; pass --region or set AWS_REGION")
            })?,
    };

    let aws = connect(&region, &AwsSettings::default()).await;
    let service = aws.describe_service(&args.cluster, &args.service).await?;
    let described = aws
        .describe_task_definition(&service.task_definition)
        .await?;
    let task_definition = described.get("taskDefinition").unwrap_or(&described);

    let seen = LiveService {
        cluster: &args.cluster,
        service: &args.service,
        env_name: &args.env,
        region: &region,
        task_definition_arn: &service.task_definition,
        task_definition,
    };
    let text = render_config(&seen);
    write_output(&args.output, &text, args.force)?;
    eprintln!(
        "wrote {}; replace every TODO, then run `greenlight plan --env {}`",
        args.output.display(),
        args.env
    );
    Ok(0)
}

/// Writes the file; without `force`, an existing file is never replaced,
/// even one created since the check at the start.
fn write_output(path: &Path, text: &str, force: bool) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            input_error(format!(
                "{} already exists; pass --force to overwrite it",
                path.display()
            ))
        } else {
            anyhow::Error::new(e).context(format!("cannot write {}", path.display()))
        }
    })?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The live service and task definition that `init` read from AWS.
pub struct LiveService<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    pub env_name: &'a str,
    pub region: &'a str,
    pub task_definition_arn: &'a str,
    /// The `taskDefinition` object of `DescribeTaskDefinition`.
    pub task_definition: &'a Value,
}

/// An image reference split into registry host and repository.
#[derive(Debug, PartialEq, Eq)]
struct ImageRef {
    registry: Option<String>,
    repository: String,
}

/// Splits `host/path/name:tag` or `...@sha256:...` the way docker does:
/// the first segment is a registry host only when it contains a dot or a
/// colon or is `localhost`.
fn parse_image(image: &str) -> ImageRef {
    let without_digest = image.split('@').next().unwrap_or(image);
    let (first, rest) = match without_digest.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first.to_string()), rest)
        }
        _ => (None, without_digest),
    };
    // A colon after the last slash starts the tag.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let repository = match rest[last_slash..].find(':') {
        Some(colon) => &rest[..last_slash + colon],
        None => rest,
    };
    ImageRef {
        registry: first,
        repository: repository.to_string(),
    }
}

/// One container as the task definition has it.
struct SeenContainer {
    name: String,
    image: String,
    image_ref: ImageRef,
    has_health_check: bool,
}

/// One `secrets[]` entry of a container.
struct SeenSecret {
    container: String,
    variable: String,
    value_from: String,
}

/// Returns a TOML basic string. JSON string escapes are a subset of TOML's.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{}\"", text.escape_default()))
}

fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// Turns a secret name into a key for `[environments.<env>.secrets]`:
/// its last path segment in snake case, like `smoke_key` for
/// `afu9/stage/smoke-key`.
fn secret_key(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    let mut key: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
        key.insert_str(0, "secret_");
    }
    key
}

/// Returns the longest `prefix/` that every name starts with, if any.
fn common_prefix(names: &[&str]) -> Option<String> {
    let first = names.first()?;
    let mut prefix = match first.rfind('/') {
        Some(i) => &first[..=i],
        None => return None,
    };
    for name in names {
        while !name.starts_with(prefix) {
            let trimmed = prefix.trim_end_matches('/');
            prefix = match trimmed.rfind('/') {
                Some(i) => &trimmed[..=i],
                None => return None,
            };
        }
    }
    Some(prefix.to_string())
}

fn containers_of(task_definition: &Value) -> Vec<&Value> {
    task_definition
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

fn text_of<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Renders the starting configuration.
pub fn render_config(seen: &LiveService) -> String {
    let mut containers = Vec::new();
    let mut secrets = Vec::new();
    let mut log_groups: Vec<String> = Vec::new();
    let mut plain_secrets = Vec::new();
    for container in containers_of(seen.task_definition) {
        let name = text_of(container, "name").to_string();
        let image = text_of(container, "image").to_string();
        // Only the variable's name is kept: its value may be a secret.
        for entry in container
            .get("environment")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let variable = text_of(entry, "name");
            if looks_secret(variable) {
                plain_secrets.push((name.clone(), variable.to_string()));
            }
        }
        for entry in container
            .get("secrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            secrets.push(SeenSecret {
                container: name.clone(),
                variable: text_of(entry, "name").to_string(),
                value_from: text_of(entry, "valueFrom").to_string(),
            });
        }
        let group = container
            .pointer("/logConfiguration/options/awslogs-group")
            .and_then(Value::as_str);
        if let Some(group) = group
            && !log_groups.iter().any(|g| g == group)
        {
            log_groups.push(group.to_string());
        }
        containers.push(SeenContainer {
            image_ref: parse_image(&image),
            has_health_check: container.get("healthCheck").is_some_and(Value::is_object),
            name,
            image,
        });
    }

    let registry = main_registry(&containers);
    let account = seen
        .task_definition_arn
        .split(':')
        .nth(4)
        .unwrap_or_default();

    // Secret names by key, and each binding with its key.
    let mut names_by_key: BTreeMap<String, String> = BTreeMap::new();
    let mut bindings = Vec::new();
    let mut foreign = Vec::new();
    for secret in &secrets {
        let parsed = is_secrets_manager(&secret.value_from)
            .then(|| SecretRef::parse(&secret.value_from).ok())
            .flatten();
        let Some(parsed) = parsed else {
            foreign.push(secret);
            continue;
        };
        let name = parsed.name_without_suffix().to_string();
        let key = key_for(&mut names_by_key, &name);
        bindings.push((secret, key, parsed.json_key.clone()));
    }

    let mut out = String::new();
    write_header(&mut out, seen);
    write_top_level(&mut out, seen, registry.as_deref(), &containers);
    write_environment(&mut out, seen, account, &names_by_key, &log_groups);
    write_containers(&mut out, registry.as_deref(), &containers);
    write_secrets(&mut out, &bindings, &foreign);
    write_plain_secrets(&mut out, &plain_secrets);
    write_smoke(&mut out, seen, &names_by_key);
    write_footer(&mut out);
    out
}

/// Returns the registry most configured images come from.
fn main_registry(containers: &[SeenContainer]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for container in containers {
        if let Some(registry) = &container.image_ref.registry {
            *counts.entry(registry).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, count)| *count)
        .map(|(registry, _)| registry.to_string())
}

/// Returns the key of a secret name, adding it under a free key when new.
fn key_for(names_by_key: &mut BTreeMap<String, String>, name: &str) -> String {
    if let Some((key, _)) = names_by_key.iter().find(|(_, n)| n.as_str() == name) {
        return key.clone();
    }
    let base = secret_key(name);
    let mut key = base.clone();
    let mut n = 2;
    while names_by_key.contains_key(&key) {
        key = format!("{base}_{n}");
        n += 1;
    }
    names_by_key.insert(key.clone(), name.to_string());
    key
}

fn write_header(out: &mut String, seen: &LiveService) {
    let _ = writeln!(
        out,
        "# greenlight configuration, started by `greenlight init` from the service\n\
         # {} in cluster {}\n\
         # (task definition {}).\n\
         #\n\
         # Replace every TODO, then check the file with\n\
         #   greenlight plan --env {}\n\
         # Until then the file does not load, so nothing can deploy with it.\n\
         # For completion in editors: greenlight schema > greenlight.schema.json,\n\
         # then make `#:schema ./greenlight.schema.json` the first line.",
        seen.service, seen.cluster, seen.task_definition_arn, seen.env_name
    );
    out.push('\n');
}

fn write_top_level(
    out: &mut String,
    seen: &LiveService,
    registry: Option<&str>,
    containers: &[SeenContainer],
) {
    let _ = writeln!(out, "region = {}", quote(seen.region));
    match registry {
        Some(registry) => {
            let _ = writeln!(out, "registry = {}", quote(registry));
        }
        None => {
            out.push_str(
                "# TODO: no image of the task definition names a registry host; write the\n\
                 # registry the deploy pushes to, like 123456789012.dkr.ecr.eu-central-1.amazonaws.com\n\
                 registry = \"TODO\"\n",
            );
        }
    }
    out.push_str(
        "\n# Identifiers that environments share on purpose, like a cluster that\n\
         # staging and production both run on.\n",
    );
    let _ = writeln!(out, "shared = []");

    let healthy: Vec<String> = containers
        .iter()
        .filter(|c| c.has_health_check && c.image_ref.registry.as_deref() == registry)
        .map(|c| c.name.clone())
        .collect();
    out.push_str(
        "\n# Containers that must be RUNNING and HEALTHY after a rollout. These are\n\
         # the ones with a health check in the task definition.\n",
    );
    let _ = writeln!(out, "healthy_containers = {}", quote_list(&healthy));
    out.push('\n');
}

fn write_environment(
    out: &mut String,
    seen: &LiveService,
    account: &str,
    names_by_key: &BTreeMap<String, String>,
    log_groups: &[String],
) {
    let _ = writeln!(out, "[environments.{}]", seen.env_name);
    let _ = writeln!(out, "cluster = {}", quote(seen.cluster));
    let _ = writeln!(out, "service = {}", quote(seen.service));

    out.push_str(
        "# TODO: the host names this environment serves, like [\"stage.example.com\"];\n\
         # the first one gets the smoke request.\n\
         hosts = []\n",
    );

    let names: Vec<&str> = names_by_key.values().map(String::as_str).collect();
    if let Some(prefix) = common_prefix(&names) {
        out.push_str("# The prefix all of this environment's secret names start with.\n");
        let _ = writeln!(out, "secret_prefixes = {}", quote_list(&[prefix]));
    }
    if !log_groups.is_empty() {
        out.push_str("# Log groups of the task definition, which the guard treats as this\n# environment's.\n");
        let _ = writeln!(out, "identifiers = {}", quote_list(log_groups));
    }
    if !account.is_empty() {
        out.push_str(
            "# The account the task definition lives in; STS must agree at deploy time.\n",
        );
        let _ = writeln!(out, "account_id = {}", quote(account));
    }

    out.push_str("# Secret names (no ARN, no random suffix), resolved to ARNs at deploy time.\n");
    let _ = writeln!(out, "[environments.{}.secrets]", seen.env_name);
    for (key, name) in names_by_key {
        let _ = writeln!(out, "{key} = {}", quote(name));
    }
    out.push_str(
        "\n# TODO: add the other environments, like [environments.production], with\n\
         # their own cluster, service, hosts and secret names. greenlight rejects a\n\
         # run that uses another environment's identifiers.\n\n",
    );
}

fn write_containers(out: &mut String, registry: Option<&str>, containers: &[SeenContainer]) {
    out.push_str(
        "# Containers whose image a deploy rewrites to <registry>/<repository>:<tag>.\n\
         # Give a container a [containers.sidecar] table to have it added to task\n\
         # definitions that lack it.\n",
    );
    for container in containers {
        if container.image_ref.registry.as_deref() != registry {
            let _ = writeln!(
                out,
                "# {} runs {}, which is not in the registry above; a deploy leaves\n\
                 # its image as it is.",
                container.name, container.image
            );
            continue;
        }
        let _ = writeln!(out, "[[containers]]");
        let _ = writeln!(out, "name = {}", quote(&container.name));
        let _ = writeln!(
            out,
            "repository = {}",
            quote(&container.image_ref.repository)
        );
        out.push('\n');
    }
}

/// Returns true for variable names that usually carry a secret, such as
/// `API_KEY`, `DB_PASSWORD` or `GITHUB_TOKEN`.
fn looks_secret(variable: &str) -> bool {
    let upper = variable.to_ascii_uppercase();
    ["KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL"]
        .iter()
        .any(|word| upper.contains(word))
}

/// Lists plain-text variables that look like secrets. A binding under
/// `[[secrets]]` makes a deploy move such a variable into `secrets[]`.
fn write_plain_secrets(out: &mut String, plain: &[(String, String)]) {
    if plain.is_empty() {
        return;
    }
    out.push_str(
        "# TODO: these variables are plain text in environment[] but look like\n\
         # secrets. Store each in Secrets Manager, add its name under\n\
         # [environments.*.secrets] and bind it here; a deploy then moves it\n\
         # from environment[] to secrets[].\n",
    );
    for (container, variable) in plain {
        let _ = writeln!(out, "#   {container}: {variable}");
    }
    out.push('\n');
}

fn write_secrets(
    out: &mut String,
    bindings: &[(&SeenSecret, String, Option<String>)],
    foreign: &[&SeenSecret],
) {
    if !bindings.is_empty() {
        out.push_str("# Secrets injected into containers, by key of [environments.*.secrets].\n");
    }
    for (secret, key, json_key) in bindings {
        let _ = writeln!(out, "[[secrets]]");
        let _ = writeln!(out, "container = {}", quote(&secret.container));
        let _ = writeln!(out, "variable = {}", quote(&secret.variable));
        let _ = writeln!(out, "secret = {}", quote(key));
        if let Some(json_key) = json_key {
            let _ = writeln!(out, "json_key = {}", quote(json_key));
        }
        out.push('\n');
    }
    for secret in foreign {
        let _ = writeln!(
            out,
            "# {} of {} comes from {}, which is not a Secrets Manager\n\
             # ARN; a deploy leaves it as it is.",
            secret.variable, secret.container, secret.value_from
        );
    }
    if !foreign.is_empty() {
        out.push('\n');
    }
}

fn write_smoke(out: &mut String, seen: &LiveService, names_by_key: &BTreeMap<String, String>) {
    out.push_str(
        "# The smoke request of the definition of done: GET https://<first host><path>\n\
         # with the value of `secret` in `header` must answer `expected_status`\n\
         # with `expected_headers`.\n\
         [smoke]\n\
         # TODO: path and query, starting with /, like \"/api/health\".\n\
         path = \"TODO\"\n",
    );
    let smoke_key = names_by_key
        .iter()
        .find(|(key, name)| key.contains("smoke") || name.contains("smoke"))
        .map(|(key, _)| key.clone());
    match smoke_key {
        Some(key) => {
            let _ = writeln!(
                out,
                "# The key of [environments.{}.secrets] whose value is sent.",
                seen.env_name
            );
            let _ = writeln!(out, "secret = {}", quote(&key));
        }
        None => {
            let _ = writeln!(
                out,
                "# TODO: a key of [environments.{}.secrets] whose value is sent; add the\n\
                 # secret there first.",
                seen.env_name
            );
            out.push_str("secret = \"TODO\"\n");
        }
    }
    out.push_str(
        "# TODO: the request header that carries the key, like \"x-smoke-key\".\n\
         header = \"TODO\"\n\
         expected_status = 200\n\
         # Response headers that must come back with these values, for example\n\
         # expected_headers = { x-smoke-key-match = \"1\" }\n\
         expected_headers = {}\n\n",
    );
}

fn write_footer(out: &mut String) {
    out.push_str(
        "# Repository gates run after the rollout, from the folder of this file:\n\
         # [[gates]]\n\
         # name = \"tests\"\n\
         # command = [\"npm\", \"test\"]\n\
         \n\
         # How long a deploy waits for the rollout, and how often it polls.\n\
         [rollout]\n\
         deadline = \"15m\"\n\
         poll_interval = \"5s\"\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_with_registry_and_tag() {
        let parsed =
            parse_image("123456789012.dkr.ecr.eu-central-1.amazonaws.com/afu9/web:3f9c2e1");
        assert_eq!(
            parsed.registry.as_deref(),
            Some("123456789012.dkr.ecr.eu-central-1.amazonaws.com")
        );
        assert_eq!(parsed.repository, "afu9/web");
    }

    #[test]
    fn image_without_registry() {
        let parsed = parse_image("library/nginx:1.27");
        assert_eq!(parsed.registry, None);
        assert_eq!(parsed.repository, "library/nginx");
    }

    #[test]
    fn image_with_port_and_digest() {
        let parsed = parse_image("localhost:5000/web@sha256:abcd");
        assert_eq!(parsed.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(parsed.repository, "web");
    }

    #[test]
    fn secret_like_variable_names() {
        assert!(looks_secret("AFU9_SMOKE_KEY"));
        assert!(looks_secret("db_password"));
        assert!(!looks_secret("PORT"));
        assert!(!looks_secret("PUBLIC_BASE_URL"));
    }

    #[test]
    fn secret_key_from_name() {
        assert_eq!(secret_key("afu9/stage/smoke-key"), "smoke_key");
        assert_eq!(secret_key("2fa"), "secret_2fa");
    }

    #[test]
    fn common_prefix_of_names() {
        assert_eq!(
            common_prefix(&["afu9/stage/a", "afu9/stage/b"]).as_deref(),
            Some("afu9/stage/")
        );
        assert_eq!(
            common_prefix(&["afu9/stage/a", "afu9/prod/b"]).as_deref(),
            Some("afu9/")
        );
        assert_eq!(common_prefix(&["a", "b"]), None);
    }
}
