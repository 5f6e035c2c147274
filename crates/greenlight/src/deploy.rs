//! `greenlight deploy`: register, update, wait, verify, and leave no
//! half-done state behind when a step fails or the run is interrupted.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use greenlight_core::config::Environment;
use greenlight_core::render::registrable;
use greenlight_core::report::{Report, Verdict};
use greenlight_core::rollout::{Progress, ServiceView, assess};
use greenlight_core::verify::Check;
use serde_json::Value;

use crate::aws::Aws;
use crate::cli::DeployArgs;
use crate::commands::{
    Prepared, apply_smoke_overrides, emit_report, exit_code, prepare, smoke_client, verify_live,
};
use crate::context::{input_error, load_config};
use crate::interrupt::Interrupt;
use crate::progress::Progress as ProgressLog;

/// Runs `greenlight deploy`.
pub async fn deploy_command(config_path: Option<&Path>, args: &DeployArgs) -> Result<u8> {
    let interrupt = Interrupt::listen();
    let mut loaded = load_config(config_path)?;
    apply_smoke_overrides(&mut loaded, &args.smoke);
    let smoke = smoke_client(&args.smoke)?;
    let prepared = prepare(&loaded, args.env.env.as_deref(), Some(&args.tag)).await?;
    let config = &loaded.config;
    let env = &prepared.env;
    let aws = &prepared.aws;
    let log = ProgressLog::new();
    if interrupt.is_set() {
        return Err(input_error(
            "interrupted before any change; nothing was changed",
        ));
    }

    // Re-registering an identical definition would only add a revision.
    // The forced deployment still restarts tasks so they read secrets anew.
    let live = registrable(&prepared.live).map_err(|e| input_error(e.to_string()))?;
    let mut changes = prepared.rendered.changes.clone();
    let (task_definition_arn, registered_by_us) = if live == prepared.rendered.task_definition {
        log.line(&format!(
            "task definition unchanged, reusing {}",
            prepared.live_arn
        ));
        changes.push(format!("reused {} (no change)", prepared.live_arn));
        (prepared.live_arn.clone(), false)
    } else {
        let registered = aws
            .register_task_definition(&prepared.rendered.task_definition)
            .await;
        let arn = match registered {
            Ok(arn) => arn,
            Err(error) => {
                let left = remove_duplicates(aws, &prepared, None, &log).await;
                return Err(anyhow!("{error:#}\n{}", leftover_note(&left)));
            }
        };
        log.line(&format!("registered {arn}"));
        changes.push(format!("registered {arn}"));
        (arn, true)
    };

    if interrupt.is_set() {
        if registered_by_us {
            remove_duplicates(aws, &prepared, None, &log).await;
        }
        log.line("interrupted before the service was updated; the service is unchanged");
        return Ok(1);
    }
    let deployment = match aws
        .update_service(&env.cluster, &env.service, &task_definition_arn)
        .await
    {
        Ok(deployment) => deployment,
        Err(error) => {
            // A timed-out UpdateService may have been applied all the same,
            // so the service decides what happened, not the error.
            match update_outcome(aws, env, &task_definition_arn, &prepared.service).await {
                UpdateOutcome::Applied => {
                    log.line(&format!(
                        "UpdateService reported an error, but the service already has a new \
                         deployment on {task_definition_arn}; following it ({error:#})"
                    ));
                    // Retried attempts may each start a deployment, so no
                    // single deployment id can be called ours.
                    None
                }
                UpdateOutcome::NotApplied if registered_by_us => {
                    // NOTE: an attempt still in flight may be applied later.
                    // ECS rejects an update to an INACTIVE revision, so
                    // deregistering ours also fences such a late update.
                    let left = remove_duplicates(aws, &prepared, None, &log).await;
                    return Err(anyhow!("{error:#}\n{}", leftover_note(&left)));
                }
                UpdateOutcome::NotApplied => return Err(error),
                UpdateOutcome::Unknown(reason) => {
                    return Err(anyhow!(
                        "{error:#}\nthe service's state is unknown ({reason}), so \
                         {task_definition_arn} was kept; check it with `greenlight verify \
                         --env {} --tag {}`",
                        prepared.env_name,
                        args.tag
                    ));
                }
            }
        }
    };
    log.line(&format!(
        "updated service {} with a forced new deployment{}",
        env.service,
        deployment
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    ));
    changes.push(format!(
        "updated service {} to {task_definition_arn} (force new deployment)",
        env.service
    ));

    let deadline = args.rollout_deadline.unwrap_or(config.rollout.deadline);
    let rollout = RolloutWatch {
        aws,
        env,
        ours: &task_definition_arn,
        deployment: deployment.as_deref(),
        deadline,
        poll_interval: config.rollout.poll_interval,
        log: &log,
    };
    let mut checks = Vec::new();
    let waited = tokio::select! {
        waited = rollout.wait(&prepared.service) => waited,
        () = interrupt.wait() => {
            announce_interrupted(aws, env, &prepared.env_name, &args.tag, &prepared.live_arn, &log).await;
            checks.push(Check::fail("rollout", "interrupted while waiting for the rollout"));
            return finish(&prepared.env_name, env, task_definition_arn, changes, checks, args);
        }
    };
    let rollout_completed = waited.is_ok();
    match waited {
        Ok(()) => {
            checks.push(Check::pass(
                "rollout",
                format!("PRIMARY deployment on {task_definition_arn} COMPLETED"),
            ));
            let verification = verify_live(
                aws,
                &loaded,
                &prepared.env_name,
                env,
                Some(&prepared.tag),
                &smoke,
                args.skip_gates,
                &log,
            );
            tokio::select! {
                verified = verification => match verified {
                    Ok(verified) => checks.extend(verified),
                    Err(error) => checks.push(Check::fail("verify", format!("{error:#}"))),
                },
                () = interrupt.wait() => {
                    log.line("interrupted during verification; the new revision stays deployed");
                    checks.push(Check::fail("verify", "interrupted during verification"));
                }
            }
        }
        Err(check) => checks.push(check),
    }

    let red = greenlight_core::report::verdict_of(&checks) == Verdict::Red;
    let mut keep = Some(task_definition_arn.as_str());
    if red && args.rollback_on_failure && !interrupt.is_set() {
        let rollback = roll_back(
            aws,
            env,
            &prepared.live_arn,
            &task_definition_arn,
            rollout_completed,
            &rollout,
        )
        .await;
        // Only a completed rollback frees our revision: after a failed one
        // the service may still run it.
        if rollback.status == greenlight_core::verify::Status::Pass {
            keep = None;
        }
        checks.push(rollback);
        changes.push(format!(
            "rolled service {} back to {}",
            env.service, prepared.live_arn
        ));
    }
    if registered_by_us && !interrupt.is_set() {
        for arn in remove_duplicates(aws, &prepared, keep, &log).await {
            checks.push(Check::fail(
                "cleanup",
                format!("{arn} is registered but unused; deregister it by hand"),
            ));
        }
    }
    finish(
        &prepared.env_name,
        env,
        task_definition_arn,
        changes,
        checks,
        args,
    )
}

fn finish(
    env_name: &str,
    env: &Environment,
    task_definition_arn: String,
    changes: Vec<String>,
    checks: Vec<Check>,
    args: &DeployArgs,
) -> Result<u8> {
    let mut report = Report::new("deploy", env_name, &env.cluster, &env.service, checks);
    report.task_definition = Some(task_definition_arn);
    report.changes = changes;
    emit_report(&report, args.format)?;
    Ok(exit_code(report.verdict))
}

/// Returns the service to the task definition it ran before the deploy
/// and waits for that rollout. The result is the `rollback` check, which
/// never makes the report GREEN on its own.
async fn roll_back(
    aws: &Aws,
    env: &Environment,
    previous: &str,
    ours: &str,
    rollout_completed: bool,
    watch: &RolloutWatch<'_>,
) -> Check {
    let view = match aws.describe_service(&env.cluster, &env.service).await {
        Ok(view) => view,
        Err(error) => {
            return Check::fail("rollback", format!("cannot read the service: {error:#}"));
        }
    };
    let on_previous = view
        .primary()
        .is_some_and(|p| p.task_definition == previous);
    if !rollout_completed && on_previous {
        return Check::pass(
            "rollback",
            format!("ECS already rolled the service back to {previous}"),
        );
    }
    watch.log.line(&format!("rolling back to {previous}"));
    let deployment = match aws
        .update_service(&env.cluster, &env.service, previous)
        .await
    {
        Ok(deployment) => deployment,
        Err(error) => {
            return Check::fail(
                "rollback",
                format!("rolling back to {previous} failed: {error:#}; run it by hand"),
            );
        }
    };
    let back = RolloutWatch {
        ours: previous,
        deployment: deployment.as_deref(),
        ..*watch
    };
    match back.wait(&view).await {
        Ok(()) => Check::pass(
            "rollback",
            format!("service back on {previous} after {ours} failed"),
        ),
        Err(check) => Check::fail(
            "rollback",
            format!(
                "the rollback to {previous} did not complete: {}",
                check.summary
            ),
        )
        .with_details(check.details),
    }
}

/// Says what state an interrupted deploy left and what to run next.
async fn announce_interrupted(
    aws: &Aws,
    env: &Environment,
    env_name: &str,
    tag: &str,
    previous: &str,
    log: &ProgressLog,
) {
    let state = match tokio::time::timeout(
        Duration::from_secs(5),
        aws.describe_service(&env.cluster, &env.service),
    )
    .await
    {
        Ok(Ok(view)) => match view.primary() {
            Some(primary) => format!(
                "PRIMARY deployment {} on {} is {} (running {}/{})",
                primary.id,
                primary.task_definition,
                primary.rollout_state.as_deref().unwrap_or("in progress"),
                primary.running,
                primary.desired
            ),
            None => "no PRIMARY deployment".to_string(),
        },
        _ => "its state could not be read".to_string(),
    };
    log.line(&format!(
        "interrupted: greenlight stopped waiting, but ECS goes on with the rollout of \
         service {}: {state}",
        env.service
    ));
    log.line(&format!(
        "next: `greenlight verify --env {env_name} --tag {tag}` to check it, or \
         `aws ecs update-service --cluster {} --service {} --task-definition {previous}` to go back",
        env.cluster, env.service
    ));
}

/// Deregisters every ACTIVE revision of the family that is newer than the
/// live one and identical to the rendered task definition, except `keep`,
/// and returns the ARNs that are left registered.
///
/// Identical content makes a revision ours: a `RegisterTaskDefinition`
/// attempt that timed out may still register one, and the SDK's retry then
/// registers another. Revisions that differ belong to someone else.
async fn remove_duplicates(
    aws: &Aws,
    prepared: &Prepared,
    keep: Option<&str>,
    log: &ProgressLog,
) -> Vec<String> {
    let rendered = &prepared.rendered.task_definition;
    let Some(family) = rendered.get("family").and_then(Value::as_str) else {
        return Vec::new();
    };
    let live_revision = revision_of(&prepared.live_arn).unwrap_or(0);
    let candidates = match aws.active_revisions(family).await {
        Ok(arns) => arns,
        Err(error) => {
            log.line(&format!(
                "cannot list the revisions of {family} to remove unused ones: {error:#}"
            ));
            return Vec::new();
        }
    };
    let mut left = Vec::new();
    for arn in candidates {
        let newer = revision_of(&arn).is_some_and(|r| r > live_revision);
        if !newer || Some(arn.as_str()) == keep {
            continue;
        }
        let identical = match aws.describe_task_definition(&arn).await {
            Ok(described) => registrable(&described).is_ok_and(|d| d == *rendered),
            Err(error) => {
                log.line(&format!("cannot read {arn}: {error:#}"));
                false
            }
        };
        if !identical {
            continue;
        }
        match aws.deregister_task_definition(&arn).await {
            Ok(()) => log.line(&format!("deregistered {arn}, which no service uses")),
            Err(error) => {
                log.line(&format!(
                    "could not deregister {arn}: {error:#}; deregister it by hand"
                ));
                left.push(arn);
            }
        }
    }
    left
}

/// Returns the revision number at the end of a task definition ARN.
fn revision_of(arn: &str) -> Option<u64> {
    arn.rsplit_once(':')?.1.parse().ok()
}

/// Effect of a failed `UpdateService` call, as the service shows it.
enum UpdateOutcome {
    /// The service has a new deployment on our revision.
    Applied,
    NotApplied,
    Unknown(String),
}

/// Decides from the service whether an update to `ours` was applied: a
/// deployment on `ours` that did not exist `before` the call shows it was.
async fn update_outcome(
    aws: &Aws,
    env: &Environment,
    ours: &str,
    before: &ServiceView,
) -> UpdateOutcome {
    let view = match aws.describe_service(&env.cluster, &env.service).await {
        Ok(view) => view,
        Err(error) => return UpdateOutcome::Unknown(format!("{error:#}")),
    };
    let is_new = |id: &str| before.deployments.iter().all(|d| d.id != id);
    let applied = view
        .deployments
        .iter()
        .any(|d| d.task_definition == ours && is_new(&d.id));
    if applied {
        UpdateOutcome::Applied
    } else {
        UpdateOutcome::NotApplied
    }
}

/// Says which unused revisions a failed deploy leaves behind.
fn leftover_note(left: &[String]) -> String {
    if left.is_empty() {
        return "nothing is left changed; the service was not updated".to_string();
    }
    format!(
        "the service was not updated, but {} could not be deregistered; run `aws ecs \
         deregister-task-definition --task-definition ARN` for each",
        left.join(", ")
    )
}

/// One rollout to wait for.
#[derive(Clone, Copy)]
struct RolloutWatch<'a> {
    aws: &'a Aws,
    env: &'a Environment,
    /// The task definition ARN the PRIMARY deployment must run.
    ours: &'a str,
    /// The deployment id `UpdateService` returned, when it did.
    deployment: Option<&'a str>,
    deadline: Duration,
    poll_interval: Duration,
    log: &'a ProgressLog,
}

impl RolloutWatch<'_> {
    /// Waits until the rollout completes. A failure is returned as the
    /// `rollout` check, with the service's latest events and stopped-task
    /// reasons as details.
    async fn wait(&self, before: &ServiceView) -> Result<(), Check> {
        let started = Instant::now();
        let earlier: BTreeSet<String> = before.events.iter().map(|e| e.id.clone()).collect();
        let mut seen_events = earlier.clone();
        let mut last_stage = String::new();
        let mut last_view: ServiceView;
        loop {
            let view = match self
                .aws
                .describe_service(&self.env.cluster, &self.env.service)
                .await
            {
                Ok(view) => view,
                Err(error) => {
                    return Err(Check::fail(
                        "rollout",
                        format!("cannot follow the rollout: {error:#}"),
                    ));
                }
            };
            for event in view.events.iter().rev() {
                if seen_events.insert(event.id.clone()) {
                    self.log.line(&format!("event: {}", event.message));
                }
            }

            match assess(&view, self.ours, self.deployment) {
                Progress::Completed => {
                    self.log.line(&format!(
                        "rollout completed after {:.1} s",
                        started.elapsed().as_secs_f64()
                    ));
                    return Ok(());
                }
                Progress::Failed(reason) => {
                    let details = self.failure_details(&view, &earlier).await;
                    return Err(Check::fail("rollout", reason).with_details(details));
                }
                Progress::Waiting(stage) => {
                    if stage != last_stage {
                        self.log.line(&format!(
                            "[{:>5.1}s] {stage}",
                            started.elapsed().as_secs_f64()
                        ));
                        last_stage = stage;
                    }
                }
            }

            last_view = view;
            if started.elapsed() + self.poll_interval > self.deadline {
                break;
            }
            tokio::time::sleep(self.poll_interval).await;
        }
        let details = self.failure_details(&last_view, &earlier).await;
        Err(Check::fail(
            "rollout",
            format!(
                "not complete after {:.0} s, stuck at: {last_stage}",
                self.deadline.as_secs_f64()
            ),
        )
        .with_details(details))
    }

    /// Collects the evidence of a failed rollout: the service events that
    /// came after `earlier` (the last five, oldest first) and the reasons
    /// of stopped tasks.
    async fn failure_details(&self, view: &ServiceView, earlier: &BTreeSet<String>) -> Vec<String> {
        let mut recent: Vec<String> = view
            .events
            .iter()
            .filter(|e| !earlier.contains(&e.id))
            .take(5)
            .map(|e| format!("event: {}", e.message))
            .collect();
        recent.reverse();
        let mut details = recent;
        match self
            .aws
            .deployment_tasks(&self.env.cluster, &self.env.service, self.deployment, true)
            .await
        {
            Ok((_, _, reasons)) => {
                details.extend(reasons.into_iter().take(10).map(|r| format!("stopped {r}")));
            }
            Err(error) => details.push(format!("stopped tasks unavailable: {error:#}")),
        }
        details
    }
}
