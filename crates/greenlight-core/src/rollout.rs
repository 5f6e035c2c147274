//! Decides the state of a rollout from one `DescribeServices` observation.

/// A deployment of a service, as `DescribeServices` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeploymentView {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    /// IN_PROGRESS, COMPLETED or FAILED; absent on services without it.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub running: i32,
    pub desired: i32,
    pub pending: i32,
    pub failed_tasks: i32,
}

/// A service event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    pub id: String,
    /// Seconds since the epoch.
    pub at: f64,
    pub message: String,
}

/// A service, as `DescribeServices` reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceView {
    pub arn: String,
    pub status: String,
    pub task_definition: String,
    pub running: i32,
    pub desired: i32,
    pub deployments: Vec<DeploymentView>,
    /// Newest first, as ECS returns them.
    pub events: Vec<EventView>,
}

impl ServiceView {
    /// Returns the PRIMARY deployment.
    pub fn primary(&self) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }
}

/// State of a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still going; the text names the stage.
    Waiting(String),
    /// The PRIMARY deployment is ours, COMPLETED, with running = desired.
    Completed,
    /// The rollout cannot become ours any more.
    Failed(String),
}

/// Assesses a rollout of `ours` (a task definition ARN) started as
/// deployment `our_deployment` (when the `UpdateService` response named it).
pub fn assess(service: &ServiceView, ours: &str, our_deployment: Option<&str>) -> Progress {
    let Some(primary) = service.primary() else {
        return Progress::Waiting("no PRIMARY deployment yet".into());
    };
    let mine = service
        .deployments
        .iter()
        .find(|d| Some(d.id.as_str()) == our_deployment);

    if primary.task_definition != ours {
        if let Some(mine) = mine
            && mine.rollout_state.as_deref() == Some("FAILED")
        {
            return Progress::Failed(format!(
                "the rollout of {ours} failed ({}) and the service was rolled back to {}",
                mine.rollout_state_reason
                    .as_deref()
                    .unwrap_or("no reason given"),
                primary.task_definition
            ));
        }
        return Progress::Failed(format!(
            "the PRIMARY deployment {} runs {}, not {ours}: it was rolled back or replaced by \
             another deployment",
            primary.id, primary.task_definition
        ));
    }
    if let Some(expected) = our_deployment
        && primary.id != expected
    {
        return Progress::Failed(format!(
            "another deployment ({}) replaced ours ({expected}) while waiting; someone else \
                 deployed this service",
            primary.id
        ));
    }
    match primary.rollout_state.as_deref() {
        Some("FAILED") => {
            return Progress::Failed(format!(
                "the rollout failed: {}",
                primary
                    .rollout_state_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ));
        }
        Some("COMPLETED") if primary.running == primary.desired => return Progress::Completed,
        None if primary.running == primary.desired && service.deployments.len() == 1 => {
            return Progress::Completed;
        }
        _ => {}
    }
    let others = service.deployments.len().saturating_sub(1);
    let stage = if primary.running < primary.desired {
        format!(
            "starting tasks: running {}/{}, pending {}, failed {}",
            primary.running, primary.desired, primary.pending, primary.failed_tasks
        )
    } else if others > 0 {
        format!("draining {others} old deployment(s)")
    } else {
        format!(
            "waiting for the rollout to complete ({})",
            primary
                .rollout_state
                .as_deref()
                .unwrap_or("no rollout state")
        )
    };
    Progress::Waiting(stage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, status: &str, td: &str, state: &str, running: i32) -> DeploymentView {
        DeploymentView {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            rollout_state: Some(state.into()),
            running,
            desired: 1,
            ..DeploymentView::default()
        }
    }

    fn service(deployments: Vec<DeploymentView>) -> ServiceView {
        ServiceView {
            deployments,
            ..ServiceView::default()
        }
    }

    #[test]
    fn completed_primary_is_done() {
        let s = service(vec![deployment("d2", "PRIMARY", "td:2", "COMPLETED", 1)]);
        assert_eq!(assess(&s, "td:2", Some("d2")), Progress::Completed);
    }

    #[test]
    fn starting_tasks_is_waiting() {
        let s = service(vec![
            deployment("d2", "PRIMARY", "td:2", "IN_PROGRESS", 0),
            deployment("d1", "ACTIVE", "td:1", "COMPLETED", 1),
        ]);
        let Progress::Waiting(stage) = assess(&s, "td:2", Some("d2")) else {
            panic!("expected waiting");
        };
        assert!(stage.contains("running 0/1"), "{stage}");
    }

    #[test]
    fn circuit_breaker_rollback_fails() {
        let mut failed = deployment("d2", "ACTIVE", "td:2", "FAILED", 0);
        failed.rollout_state_reason = Some("tasks failed to start".into());
        let s = service(vec![
            deployment("d3", "PRIMARY", "td:1", "IN_PROGRESS", 1),
            failed,
        ]);
        let Progress::Failed(reason) = assess(&s, "td:2", Some("d2")) else {
            panic!("expected failure");
        };
        assert!(reason.contains("rolled back"), "{reason}");
        assert!(reason.contains("tasks failed to start"), "{reason}");
    }

    #[test]
    fn completed_rollback_is_never_green() {
        let s = service(vec![deployment("d3", "PRIMARY", "td:1", "COMPLETED", 1)]);
        assert!(matches!(
            assess(&s, "td:2", Some("d2")),
            Progress::Failed(_)
        ));
    }

    #[test]
    fn foreign_deployment_on_same_revision_fails() {
        let s = service(vec![deployment("d9", "PRIMARY", "td:2", "IN_PROGRESS", 0)]);
        let Progress::Failed(reason) = assess(&s, "td:2", Some("d2")) else {
            panic!("expected failure");
        };
        assert!(reason.contains("another deployment"), "{reason}");
    }

    #[test]
    fn completed_with_missing_tasks_waits() {
        let mut d = deployment("d2", "PRIMARY", "td:2", "COMPLETED", 0);
        d.desired = 2;
        let s = service(vec![d]);
        assert!(matches!(
            assess(&s, "td:2", Some("d2")),
            Progress::Waiting(_)
        ));
    }
}
