//! The AWS edge: SDK clients with explicit timeouts, and the few calls
//! greenlight makes, each returning plain data for the pure core.
//!
//! Task definitions travel as raw JSON in both directions. The SDK's typed
//! shapes drop fields they do not know, and re-registering a task
//! definition through them would silently lose whatever a newer ECS added.
//! So `DescribeTaskDefinition` responses are captured as the bytes the
//! service sent, and the `RegisterTaskDefinition` request body is replaced
//! by the rendered JSON before the SDK signs it. The SDK still does
//! credentials, endpoints, signing, retries and error parsing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow, bail};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecs::types::DesiredStatus;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use greenlight_core::config::AwsSettings;
use greenlight_core::rollout::{DeploymentView, EventView, ServiceView};
use greenlight_core::secret::SecretValue;
use greenlight_core::verify::ContainerObservation;
use serde_json::Value;

/// SDK clients for one region.
#[derive(Clone, Debug)]
pub struct Aws {
    pub ecs: aws_sdk_ecs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sts: aws_sdk_sts::Client,
}

/// Loads the standard credential and region chain with explicit timeouts
/// and retries from the `[aws]` table.
///
/// Without them, a server that accepts the connection and never responds
/// makes a call hang for a long time: the SDK applies no read or operation
/// timeout by default.
pub async fn connect(region: &str, settings: &AwsSettings) -> Aws {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout)
        .operation_attempt_timeout(settings.attempt_timeout)
        .operation_timeout(settings.operation_timeout)
        .build();
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
        .load()
        .await;
    Aws {
        ecs: aws_sdk_ecs::Client::new(&shared),
        secrets: aws_sdk_secretsmanager::Client::new(&shared),
        sts: aws_sdk_sts::Client::new(&shared),
    }
}

/// Formats an SDK error with its whole source chain; plain `{e}` only prints
/// "dispatch failure" or "service error".
pub fn describe_error(operation: &str, error: &(dyn std::error::Error + 'static)) -> String {
    // Each level's Display, joined; DisplayErrorContext would append the
    // whole Debug dump, which is unreadable in a CI log. -vv logs the dump.
    tracing::debug!(operation, error = %DisplayErrorContext(error), "AWS call failed");
    let mut text = format!("{operation} failed: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A secret resolved by name.
#[derive(Debug, Clone)]
pub struct ResolvedSecret {
    pub arn: String,
}

/// Reason a secret could not be resolved; each is an input error, found
/// before anything changes.
#[derive(Debug)]
pub enum ResolveError {
    NotFound(String),
    Other(String),
}

impl Aws {
    /// Resolves a secret's current ARN by name with `DescribeSecret`.
    pub async fn resolve_secret(&self, name: &str) -> Result<ResolvedSecret, ResolveError> {
        let output = self
            .secrets
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| {
                let not_found = e
                    .as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                if not_found {
                    ResolveError::NotFound(format!(
                        "secret \"{name}\" was not found in Secrets Manager; create it, or fix \
                         the name in the configuration"
                    ))
                } else {
                    ResolveError::Other(describe_error("DescribeSecret", &e))
                }
            })?;
        let found_name = output.name().unwrap_or_default();
        if found_name != name {
            // DescribeSecret also matches partial ARNs: a name that ends in
            // a hyphen and six characters can find another secret.
            return Err(ResolveError::Other(format!(
                "DescribeSecret for \"{name}\" returned the secret \"{found_name}\"; greenlight \
                 needs an exact name match, so rename the secret or fix the configuration"
            )));
        }
        if let Some(deleted) = output.deleted_date() {
            return Err(ResolveError::Other(format!(
                "secret \"{name}\" is scheduled for deletion (since {deleted}); restore it with \
                 `aws secretsmanager restore-secret` or configure another secret"
            )));
        }
        let Some(arn) = output.arn() else {
            return Err(ResolveError::Other(format!(
                "DescribeSecret for \"{name}\" returned no ARN"
            )));
        };
        Ok(ResolvedSecret {
            arn: arn.to_string(),
        })
    }

    /// Reads a secret's current value; the value stays wrapped.
    pub async fn secret_value(&self, arn: &str, json_key: Option<&str>) -> Result<SecretValue> {
        let output = self
            .secrets
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("GetSecretValue", &e)))?;
        let Some(text) = output.secret_string() else {
            bail!("secret {arn} has no string value (binary secrets are not supported)");
        };
        let text = SecretValue::new(text.to_string());
        match json_key {
            None => Ok(text),
            Some(key) => {
                let parsed: Value = serde_json::from_str(text.expose()).map_err(|_| {
                    anyhow!("secret {arn} is not a JSON object, so key {key} cannot be read")
                })?;
                match parsed.get(key).and_then(Value::as_str) {
                    Some(value) => Ok(SecretValue::new(value.to_string())),
                    None => bail!("secret {arn} has no string key \"{key}\""),
                }
            }
        }
    }

    /// Returns the caller's account id (STS `GetCallerIdentity`).
    pub async fn caller_account(&self) -> Result<String> {
        let output = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("GetCallerIdentity", &e)))?;
        // An empty account would read as a guard violation (exit 2), but
        // the fault is in the response, not in the user's input.
        match output.account() {
            Some(account) if !account.is_empty() => Ok(account.to_string()),
            _ => bail!("GetCallerIdentity failed: the response carried no account id"),
        }
    }

    /// Describes one service.
    pub async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceView> {
        let output = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("DescribeServices", &e)))?;
        let Some(found) = output.services().first() else {
            let reason = output
                .failures()
                .first()
                .and_then(|f| f.reason())
                .unwrap_or("not returned");
            bail!(
                "service \"{service}\" in cluster \"{cluster}\" was not found ({reason}); check \
                 cluster and service in the configuration"
            );
        };
        if found.status() == Some("INACTIVE") {
            bail!("service \"{service}\" in cluster \"{cluster}\" is INACTIVE (deleted)");
        }
        let deployments = found
            .deployments()
            .iter()
            .map(|d| DeploymentView {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                task_definition: d.task_definition().unwrap_or_default().to_string(),
                rollout_state: d.rollout_state().map(|s| s.as_str().to_string()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_string),
                running: d.running_count(),
                desired: d.desired_count(),
                pending: d.pending_count(),
                failed_tasks: d.failed_tasks(),
            })
            .collect();
        let events = found
            .events()
            .iter()
            .map(|e| EventView {
                id: e.id().unwrap_or_default().to_string(),
                at: e.created_at().map(|t| t.as_secs_f64()).unwrap_or(0.0),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect();
        Ok(ServiceView {
            arn: found.service_arn().unwrap_or_default().to_string(),
            status: found.status().unwrap_or_default().to_string(),
            task_definition: found.task_definition().unwrap_or_default().to_string(),
            running: found.running_count(),
            desired: found.desired_count(),
            deployments,
            events,
        })
    }

    /// Returns a task definition exactly as the service sent it, as
    /// `{"taskDefinition": ..., "tags": [...]}`.
    pub async fn describe_task_definition(&self, task_definition: &str) -> Result<Value> {
        let capture = CaptureBody::default();
        self.ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .customize()
            .interceptor(capture.clone())
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("DescribeTaskDefinition", &e)))?;
        let bytes = capture
            .take()
            .context("DescribeTaskDefinition returned no body")?;
        serde_json::from_slice(&bytes)
            .context("DescribeTaskDefinition returned a body that is not JSON")
    }

    /// Registers a rendered task definition, sent byte for byte, and returns
    /// the new revision's ARN.
    pub async fn register_task_definition(&self, rendered: &Value) -> Result<String> {
        let family = rendered
            .get("family")
            .and_then(Value::as_str)
            .context("the rendered task definition has no family")?;
        let body = serde_json::to_vec(rendered)?;
        let output = self
            .ecs
            .register_task_definition()
            .family(family)
            .customize()
            .interceptor(ReplaceBody(Arc::new(body)))
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("RegisterTaskDefinition", &e)))?;
        output
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .map(str::to_string)
            .context("RegisterTaskDefinition returned no task definition ARN")
    }

    /// Lists the ACTIVE revisions of a family, newest first (one page of
    /// up to 100, which covers the revisions one deploy can add).
    pub async fn active_revisions(&self, family: &str) -> Result<Vec<String>> {
        let output = self
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .sort(aws_sdk_ecs::types::SortOrder::Desc)
            .max_results(100)
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("ListTaskDefinitions", &e)))?;
        Ok(output.task_definition_arns().to_vec())
    }

    /// Deregisters a revision that no service uses.
    pub async fn deregister_task_definition(&self, arn: &str) -> Result<()> {
        self.ecs
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("DeregisterTaskDefinition", &e)))?;
        Ok(())
    }

    /// Points the service at a task definition and forces a new deployment;
    /// returns the id of the PRIMARY deployment the response names.
    pub async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> Result<Option<String>> {
        let output = self
            .ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .task_definition(task_definition)
            .force_new_deployment(true)
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("UpdateService", &e)))?;
        let primary = output
            .service()
            .map(|s| s.deployments())
            .unwrap_or_default()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .and_then(|d| d.id())
            .map(str::to_string);
        Ok(primary)
    }

    /// Lists the service's tasks of one deployment (by `startedBy`, which
    /// ECS sets to the deployment id) with the desired status given, and
    /// describes their containers.
    pub async fn deployment_tasks(
        &self,
        cluster: &str,
        service: &str,
        deployment: Option<&str>,
        stopped: bool,
    ) -> Result<(Vec<String>, Vec<ContainerObservation>, Vec<String>)> {
        let status = if stopped {
            DesiredStatus::Stopped
        } else {
            DesiredStatus::Running
        };
        let listed = self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(status)
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("ListTasks", &e)))?;
        let arns = listed.task_arns().to_vec();
        if arns.is_empty() {
            return Ok((Vec::new(), Vec::new(), Vec::new()));
        }
        let described = self
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns))
            .send()
            .await
            .map_err(|e| anyhow!(describe_error("DescribeTasks", &e)))?;
        let mut tasks = Vec::new();
        let mut containers = Vec::new();
        let mut stopped_reasons = Vec::new();
        for task in described.tasks() {
            if let (Some(wanted), Some(started_by)) = (deployment, task.started_by())
                && wanted != started_by
            {
                continue;
            }
            let task_arn = task.task_arn().unwrap_or_default().to_string();
            if let Some(reason) = task.stopped_reason() {
                stopped_reasons.push(format!(
                    "task {}: {reason}",
                    greenlight_core::verify::short_id(&task_arn)
                ));
            }
            for container in task.containers() {
                containers.push(ContainerObservation {
                    task_arn: task_arn.clone(),
                    name: container.name().unwrap_or_default().to_string(),
                    image: container.image().unwrap_or_default().to_string(),
                    last_status: container.last_status().unwrap_or_default().to_string(),
                    health_status: container
                        .health_status()
                        .map(|h| h.as_str().to_string())
                        .unwrap_or_else(|| "UNKNOWN".into()),
                });
                if stopped && let Some(reason) = container.reason() {
                    stopped_reasons.push(format!(
                        "  container {}: {reason}",
                        container.name().unwrap_or_default()
                    ));
                }
            }
            tasks.push(task_arn);
        }
        Ok((tasks, containers, stopped_reasons))
    }
}

/// Resolves every configured secret of an environment, collecting all
/// failures so one run reports every missing secret.
pub async fn resolve_all(
    aws: &Aws,
    secrets: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<ResolveError>) {
    let mut resolved = BTreeMap::new();
    let mut errors = Vec::new();
    for (key, name) in secrets {
        match aws.resolve_secret(name).await {
            Ok(secret) => {
                resolved.insert(key.clone(), secret.arn);
            }
            Err(error) => errors.push(error),
        }
    }
    (resolved, errors)
}

/// Captures the raw body of a response after the SDK read it.
#[derive(Debug, Clone, Default)]
struct CaptureBody(Arc<Mutex<Option<Vec<u8>>>>);

impl CaptureBody {
    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

impl Intercept for CaptureBody {
    fn name(&self) -> &'static str {
        "greenlight::CaptureBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if response.status().is_success()
            && let (Some(bytes), Ok(mut slot)) = (response.body().bytes(), self.0.lock())
        {
            *slot = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// Replaces a request's body with exact JSON before signing.
#[derive(Debug, Clone)]
struct ReplaceBody(Arc<Vec<u8>>);

impl Intercept for ReplaceBody {
    fn name(&self) -> &'static str {
        "greenlight::ReplaceBody"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        *request.body_mut() = SdkBody::from(self.0.as_slice().to_vec());
        request
            .headers_mut()
            .insert("content-length", self.0.len().to_string());
        Ok(())
    }
}
