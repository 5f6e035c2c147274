"""ECS service scheduler model: the deployments and tasks that moto 5.2.1 never runs.

moto stores clusters, services and task definitions but never starts tasks,
leaves the PRIMARY deployment on the old revision after UpdateService and never
completes a rollout. This model does that work. The proxy patches moto's
service responses with it and serves ListTasks and DescribeTasks from it.

Time is simulated against the wall clock: every public method first calls
`advance()`, which applies every transition that is due, so results do not
depend on how often the background ticker runs.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional

LOG = logging.getLogger("testbed.scheduler")

RUNNER_HEALTH_VALUES = ("HEALTHY", "UNHEALTHY", "NONE")
ROLLOUT_VALUES = ("complete", "rollback", "stuck")

# Maximum number of service events kept per service (ECS returns the latest 100).
MAX_EVENTS = 100

DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


class BehaviourError(ValueError):
    """Invalid value in a behaviour change."""


@dataclass
class Behaviour:
    """Settings that decide how new deployments and the smoke endpoint behave."""

    runner_health: str = "HEALTHY"
    rollout: str = "complete"
    task_start_seconds: float = 0.5
    rollout_seconds: float = 1.0
    smoke_omit_headers: list[str] = field(default_factory=list)

    def update(self, changes: dict) -> None:
        """Validate `changes` and apply them, all or nothing.

        Raise BehaviourError naming the first invalid key or value.
        """
        if not isinstance(changes, dict):
            raise BehaviourError("behaviour must be a JSON object")
        staged = Behaviour(**self.to_json())
        for key, value in changes.items():
            if key == "runner_health":
                if value not in RUNNER_HEALTH_VALUES:
                    raise BehaviourError(f"runner_health must be one of {RUNNER_HEALTH_VALUES}, got {value!r}")
                staged.runner_health = value
            elif key == "rollout":
                if value not in ROLLOUT_VALUES:
                    raise BehaviourError(f"rollout must be one of {ROLLOUT_VALUES}, got {value!r}")
                staged.rollout = value
            elif key in ("task_start_seconds", "rollout_seconds"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise BehaviourError(f"{key} must be a non-negative number of seconds, got {value!r}")
                setattr(staged, key, float(value))
            elif key == "smoke_omit_headers":
                if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                    raise BehaviourError(f"smoke_omit_headers must be a list of header names, got {value!r}")
                staged.smoke_omit_headers = list(value)
            else:
                raise BehaviourError(f"unknown behaviour key {key!r}")
        self.__dict__.update(staged.__dict__)

    def to_json(self) -> dict:
        return {
            "runner_health": self.runner_health,
            "rollout": self.rollout,
            "task_start_seconds": self.task_start_seconds,
            "rollout_seconds": self.rollout_seconds,
            "smoke_omit_headers": list(self.smoke_omit_headers),
        }


@dataclass
class DeploymentPlan:
    """Behaviour captured when a deployment starts, so later changes do not alter it."""

    outcome: str
    runner_health: str
    task_start_seconds: float
    rollout_seconds: float


@dataclass
class Container:
    arn: str
    task_arn: str
    name: str
    image: str
    essential: bool
    health_checked: bool
    cpu: int
    memory: Optional[int]
    last_status: str = "PENDING"
    health_status: str = "UNKNOWN"
    exit_code: Optional[int] = None
    reason: Optional[str] = None

    def to_json(self) -> dict:
        body = {
            "containerArn": self.arn,
            "taskArn": self.task_arn,
            "name": self.name,
            "image": self.image,
            "lastStatus": self.last_status,
            "healthStatus": self.health_status,
            "networkBindings": [],
            "networkInterfaces": [],
            # ECS returns container cpu and memory as strings.
            "cpu": str(self.cpu),
        }
        if self.memory is not None:
            body["memory"] = str(self.memory)
        if self.exit_code is not None:
            body["exitCode"] = self.exit_code
        if self.reason is not None:
            body["reason"] = self.reason
        return body


@dataclass
class Task:
    arn: str
    cluster_arn: str
    service_name: str
    deployment_id: str
    task_definition_arn: str
    cpu: str
    memory: str
    containers: list[Container]
    created_at: float
    start_at: float
    health_at: float
    # "run" starts the containers, "exit" makes the essential containers exit
    # at start time, "stuck" keeps the task PENDING.
    fate: str
    runner_health: str
    runner_container: str
    task_definition: dict = field(repr=False)
    last_status: str = "PENDING"
    desired_status: str = "RUNNING"
    health_status: str = "UNKNOWN"
    started_at: Optional[float] = None
    stopped_at: Optional[float] = None
    stopped_reason: Optional[str] = None
    stop_code: Optional[str] = None
    health_settled: bool = False
    version: int = 1
    # Smoke key the app read at start, or None when it got none. Never logged.
    app_key: Optional[str] = field(default=None, repr=False)

    @property
    def task_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def to_json(self) -> dict:
        body = {
            "taskArn": self.arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.task_definition_arn,
            "lastStatus": self.last_status,
            "desiredStatus": self.desired_status,
            "healthStatus": self.health_status,
            "startedBy": self.deployment_id,
            "group": f"service:{self.service_name}",
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "availabilityZone": self.arn.split(":")[3] + "a",
            "connectivity": "CONNECTED",
            "connectivityAt": self.created_at,
            "cpu": self.cpu,
            "memory": self.memory,
            "createdAt": self.created_at,
            "version": self.version,
            "containers": [container.to_json() for container in self.containers],
            "attachments": [],
            "attributes": [],
            "overrides": {"containerOverrides": [], "inferenceAcceleratorOverrides": []},
            "tags": [],
            "enableExecuteCommand": False,
            "ephemeralStorage": {"sizeInGiB": 20},
        }
        if self.started_at is not None:
            body["startedAt"] = self.started_at
            body["pullStartedAt"] = self.created_at
            body["pullStoppedAt"] = self.started_at
        if self.stopped_at is not None:
            body["stoppedAt"] = self.stopped_at
            body["stoppingAt"] = self.stopped_at
            body["executionStoppedAt"] = self.stopped_at
        if self.stopped_reason is not None:
            body["stoppedReason"] = self.stopped_reason
        if self.stop_code is not None:
            body["stopCode"] = self.stop_code
        return body


@dataclass
class Deployment:
    id: str
    status: str
    task_definition: str
    desired_count: int
    created_at: float
    updated_at: float
    rollout_state: str
    rollout_state_reason: str
    plan: DeploymentPlan
    failed_tasks: int = 0
    is_rollback: bool = False

    @property
    def decide_at(self) -> float:
        """Time at which the rollout completes or the circuit breaker trips."""
        return self.created_at + self.plan.task_start_seconds + self.plan.rollout_seconds

    def to_json(self, tasks: list[Task], network_configuration: Optional[dict]) -> dict:
        own = [task for task in tasks if task.deployment_id == self.id and task.desired_status == "RUNNING"]
        body = {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired_count,
            "pendingCount": sum(1 for task in own if task.last_status == "PENDING"),
            "runningCount": sum(1 for task in own if task.last_status == "RUNNING"),
            "failedTasks": self.failed_tasks,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "rolloutState": self.rollout_state,
            "rolloutStateReason": self.rollout_state_reason,
        }
        if network_configuration:
            body["networkConfiguration"] = network_configuration
        return body


@dataclass
class Service:
    name: str
    arn: str
    cluster_name: str
    cluster_arn: str
    desired_count: int
    network_configuration: Optional[dict]
    deployments: list[Deployment] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    # Newest first, as DescribeServices returns them.
    events: list[dict] = field(default_factory=list)
    stable_deployment_id: Optional[str] = None
    stable_task_definition: Optional[str] = None
    smoke_counter: int = 0

    @property
    def primary(self) -> Deployment:
        return self.deployments[0]


def new_deployment_id() -> str:
    return "ecs-svc/" + "".join(random.choice("0123456789") for _ in range(19))


def name_from_arn(identifier: str) -> str:
    """Return the resource name of an ECS ARN, or the identifier itself when it is a name."""
    return identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier


def task_definition_label(arn: str) -> str:
    """Return `family:revision` for a task definition ARN."""
    return arn.rsplit("/", 1)[-1]


class Scheduler:
    """Deployments, tasks and events of the ECS services in one region.

    `describe_task_definition(identifier)` returns moto's described task
    definition (the `taskDefinition` object). `resolve_app_key(task_definition)`
    returns the smoke key the app would read at start, or None.
    """

    def __init__(
        self,
        region: str,
        account_id: str,
        behaviour: Behaviour,
        describe_task_definition: Callable[[str], dict],
        resolve_app_key: Callable[[dict], Optional[str]],
        runner_container: str = "mcp-runner",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.behaviour = behaviour
        self.describe_task_definition = describe_task_definition
        self.resolve_app_key = resolve_app_key
        self.runner_container = runner_container
        self.clock = clock
        self.lock = threading.RLock()
        self.services: dict[tuple[str, str], Service] = {}

    # ----- service lifecycle -------------------------------------------------

    def knows(self, cluster: str, service: str) -> bool:
        with self.lock:
            return (cluster, service) in self.services

    def adopt_service(self, described: dict) -> Service:
        """Model a service that moto already has as running and stable.

        Seeded services and services created directly in moto start this way:
        one PRIMARY COMPLETED deployment whose tasks are RUNNING and healthy.
        """
        with self.lock:
            now = self.clock()
            key = (name_from_arn(described["clusterArn"]), described["serviceName"])
            if key in self.services:
                return self.services[key]
            task_definition = self.describe_task_definition(described["taskDefinition"])
            service = self._new_service(described)
            behaviour = self.behaviour
            plan = DeploymentPlan(
                "complete", behaviour.runner_health, behaviour.task_start_seconds, behaviour.rollout_seconds
            )
            deployment = Deployment(
                id=new_deployment_id(),
                status="PRIMARY",
                task_definition=task_definition["taskDefinitionArn"],
                desired_count=service.desired_count,
                created_at=now,
                updated_at=now,
                rollout_state="COMPLETED",
                rollout_state_reason="",
                plan=plan,
            )
            deployment.rollout_state_reason = f"ECS deployment {deployment.id} completed."
            service.deployments.append(deployment)
            service.stable_deployment_id = deployment.id
            service.stable_task_definition = deployment.task_definition
            self.services[key] = service
            # The seeded tasks are already up: running, with settled health.
            self._launch_tasks(service, deployment, service.desired_count, now, already_started=True)
            self._advance_service(service, now)
            self._add_event(service, now, f"(service {service.name}) has reached a steady state.")
            LOG.info("adopted service %s on %s", service.name, task_definition_label(deployment.task_definition))
            return service

    def create_service(self, described: dict) -> Service:
        """Model a service that CreateService just created: its first deployment is IN_PROGRESS."""
        with self.lock:
            now = self.clock()
            key = (name_from_arn(described["clusterArn"]), described["serviceName"])
            task_definition = self.describe_task_definition(described["taskDefinition"])
            service = self._new_service(described)
            self.services[key] = service
            self._start_deployment(service, task_definition["taskDefinitionArn"], service.desired_count, now)
            return service

    def delete_service(self, cluster: str, service_name: str) -> None:
        with self.lock:
            service = self.services.pop((cluster, service_name), None)
            if service is None:
                return
            now = self.clock()
            for task in service.tasks:
                if task.desired_status == "RUNNING":
                    self._stop_task(task, now, "Service deleted.", "ServiceSchedulerInitiated")

    def update_service(
        self,
        cluster: str,
        service_name: str,
        task_definition_arn: Optional[str],
        force_new_deployment: bool,
        desired_count: Optional[int],
    ) -> Optional[Deployment]:
        """Apply an UpdateService that moto accepted and return the new deployment, if any.

        Like ECS, a new deployment starts only when the task definition changes
        or `force_new_deployment` is set. A change of desired count alone scales
        the PRIMARY deployment.
        """
        with self.lock:
            now = self.clock()
            self._advance_locked(now)
            service = self.services[(cluster, service_name)]
            if desired_count is not None:
                service.desired_count = desired_count
            target = task_definition_arn or service.primary.task_definition
            if force_new_deployment or target != service.primary.task_definition:
                return self._start_deployment(service, target, service.desired_count, now)
            service.primary.desired_count = service.desired_count
            service.primary.updated_at = now
            return None

    def clear(self) -> None:
        """Forget every service, for a reset of the whole testbed."""
        with self.lock:
            self.services.clear()

    def start_external_deployment(self, cluster: str, service_name: str) -> Deployment:
        """Start a deployment on the current revision, as another deployer would."""
        with self.lock:
            now = self.clock()
            self._advance_locked(now)
            service = self.services[(cluster, service_name)]
            return self._start_deployment(service, service.primary.task_definition, service.desired_count, now)

    # ----- reads ----------------------------------------------------------

    def patch_service(self, described: dict) -> dict:
        """Overwrite moto's deployment view of a described service with the model's."""
        with self.lock:
            self._advance_locked(self.clock())
            key = (name_from_arn(described.get("clusterArn", "default")), described.get("serviceName", ""))
            service = self.services.get(key)
            if service is None:
                return described
            live = [task for task in service.tasks if task.desired_status == "RUNNING"]
            described["deployments"] = [
                deployment.to_json(service.tasks, service.network_configuration) for deployment in service.deployments
            ]
            described["taskDefinition"] = service.primary.task_definition
            described["desiredCount"] = service.desired_count
            described["runningCount"] = sum(1 for task in live if task.last_status == "RUNNING")
            described["pendingCount"] = sum(1 for task in live if task.last_status == "PENDING")
            described["events"] = [dict(event) for event in service.events[:MAX_EVENTS]]
            if not described.get("deploymentConfiguration"):
                described["deploymentConfiguration"] = DEFAULT_DEPLOYMENT_CONFIGURATION
            return described

    def list_tasks(self, params: dict) -> list[str]:
        """Return task ARNs filtered like ECS ListTasks (cluster, serviceName, family, startedBy, desiredStatus)."""
        with self.lock:
            self._advance_locked(self.clock())
            cluster = name_from_arn(params.get("cluster") or "default")
            service_name = params.get("serviceName")
            service_name = name_from_arn(service_name) if service_name else None
            desired = params.get("desiredStatus") or "RUNNING"
            family = params.get("family")
            started_by = params.get("startedBy")
            arns = []
            for (cluster_name, name), service in self.services.items():
                if cluster_name != cluster or (service_name and name != service_name):
                    continue
                for task in service.tasks:
                    if task.desired_status != desired:
                        continue
                    if family and task_definition_label(task.task_definition_arn).split(":")[0] != family:
                        continue
                    if started_by and task.deployment_id != started_by:
                        continue
                    arns.append(task.arn)
            return arns

    def describe_tasks(self, params: dict) -> dict:
        """Return a DescribeTasks response body; unknown ARNs or ids become MISSING failures."""
        with self.lock:
            self._advance_locked(self.clock())
            cluster = name_from_arn(params.get("cluster") or "default")
            by_id = {}
            for (cluster_name, _), service in self.services.items():
                if cluster_name != cluster:
                    continue
                for task in service.tasks:
                    by_id[task.task_id] = task
            found, failures = [], []
            for identifier in params.get("tasks") or []:
                task = by_id.get(identifier.rsplit("/", 1)[-1])
                if task is None:
                    failures.append({"arn": identifier, "reason": "MISSING"})
                else:
                    found.append(task.to_json())
            return {"tasks": found, "failures": failures}

    def pick_answering_task(self, cluster: str, service_name: str) -> Optional[tuple[str, str, Optional[str]]]:
        """Pick the next RUNNING task of the service, round-robin, as a load balancer would.

        Returns (task ARN, task definition ARN, app key) or None when no task runs.
        """
        with self.lock:
            self._advance_locked(self.clock())
            service = self.services.get((cluster, service_name))
            if service is None:
                return None
            running = [
                task for task in service.tasks if task.desired_status == "RUNNING" and task.last_status == "RUNNING"
            ]
            if not running:
                return None
            task = running[service.smoke_counter % len(running)]
            service.smoke_counter += 1
            return task.arn, task.task_definition_arn, task.app_key

    def snapshot(self) -> dict:
        """Return the whole model as JSON for debugging and test assertions (no key values)."""
        with self.lock:
            self._advance_locked(self.clock())
            services = []
            for service in self.services.values():
                tasks = []
                for task in service.tasks:
                    body = task.to_json()
                    body["appKeyPresent"] = task.app_key is not None
                    tasks.append(body)
                services.append(
                    {
                        "serviceName": service.name,
                        "serviceArn": service.arn,
                        "clusterArn": service.cluster_arn,
                        "desiredCount": service.desired_count,
                        "stableTaskDefinition": service.stable_task_definition,
                        "deployments": [
                            dict(
                                deployment.to_json(service.tasks, None),
                                isRollback=deployment.is_rollback,
                                plan=deployment.plan.__dict__,
                            )
                            for deployment in service.deployments
                        ],
                        "tasks": tasks,
                        "events": service.events,
                    }
                )
            return {"behaviour": self.behaviour.to_json(), "services": services}

    # ----- time -----------------------------------------------------------

    def advance(self) -> None:
        with self.lock:
            self._advance_locked(self.clock())

    def _advance_locked(self, now: float) -> None:
        # A rollback deployment created in the past may itself be due, so
        # repeat until nothing changes.
        for _ in range(20):
            changed = False
            for service in list(self.services.values()):
                changed |= self._advance_service(service, now)
            if not changed:
                return

    def _advance_service(self, service: Service, now: float) -> bool:
        changed = False
        for task in service.tasks:
            if task.desired_status != "RUNNING":
                continue
            if task.last_status == "PENDING" and task.fate != "stuck" and now >= task.start_at:
                self._start_task(service, task)
                changed = True
            if task.last_status == "RUNNING" and not task.health_settled and now >= task.health_at:
                self._settle_health(service, task)
                changed = True
        changed |= self._settle(service, now)
        return changed

    def _settle(self, service: Service, now: float) -> bool:
        """Complete or fail the PRIMARY deployment when its decision time has come."""
        primary = service.primary
        if primary.rollout_state == "COMPLETED":
            return self._scale_primary(service, now)
        if primary.rollout_state != "IN_PROGRESS" or now < primary.decide_at:
            return False
        own = [task for task in service.tasks if task.deployment_id == primary.id and task.desired_status == "RUNNING"]
        healthy = [
            task
            for task in own
            if task.last_status == "RUNNING" and task.health_settled and task.health_status != "UNHEALTHY"
        ]
        if primary.failed_tasks > 0:
            self._fail_deployment(service, primary, primary.decide_at)
            return True
        if len(healthy) >= primary.desired_count:
            self._complete_deployment(service, primary, primary.decide_at)
            return True
        return False

    # ----- transitions ------------------------------------------------------

    def _new_service(self, described: dict) -> Service:
        network = described.get("networkConfiguration") or None
        return Service(
            name=described["serviceName"],
            arn=described["serviceArn"],
            cluster_name=name_from_arn(described["clusterArn"]),
            cluster_arn=described["clusterArn"],
            desired_count=int(described.get("desiredCount") or 0),
            network_configuration=network,
        )

    def _start_deployment(
        self,
        service: Service,
        task_definition_arn: str,
        desired_count: int,
        now: float,
        rollback_of: Optional[str] = None,
    ) -> Deployment:
        behaviour = self.behaviour
        outcome = "complete" if rollback_of else behaviour.rollout
        plan = DeploymentPlan(outcome, behaviour.runner_health, behaviour.task_start_seconds, behaviour.rollout_seconds)
        deployment = Deployment(
            id=new_deployment_id(),
            status="PRIMARY",
            task_definition=task_definition_arn,
            desired_count=desired_count,
            created_at=now,
            updated_at=now,
            rollout_state="IN_PROGRESS",
            rollout_state_reason="",
            plan=plan,
            is_rollback=rollback_of is not None,
        )
        deployment.rollout_state_reason = f"ECS deployment {deployment.id} in progress."
        scaling_reason = f"Scaling activity initiated by (deployment {deployment.id})"
        for previous in service.deployments:
            if previous.status == "PRIMARY":
                previous.status = "ACTIVE"
                previous.updated_at = now
            # A superseded deployment launches nothing more, so its PENDING tasks stop.
            for task in service.tasks:
                if task.deployment_id != previous.id or task.desired_status != "RUNNING":
                    continue
                if task.last_status == "PENDING":
                    self._stop_task(task, now, scaling_reason, "ServiceSchedulerInitiated")
        service.deployments.insert(0, deployment)
        self._launch_tasks(service, deployment, desired_count, now)
        LOG.info(
            "service %s: deployment %s started on %s (outcome %s)",
            service.name,
            deployment.id,
            task_definition_label(task_definition_arn),
            outcome,
        )
        return deployment

    def _launch_tasks(
        self, service: Service, deployment: Deployment, count: int, now: float, already_started: bool = False
    ) -> None:
        if count <= 0:
            return
        task_definition = self.describe_task_definition(deployment.task_definition)
        plan = deployment.plan
        start_at = now if already_started else now + plan.task_start_seconds
        health_at = now if already_started else start_at + plan.rollout_seconds / 2
        launched = []
        for _ in range(count):
            task = self._new_task(service, deployment, task_definition, now, start_at, health_at)
            service.tasks.append(task)
            launched.append(task)
        names = " ".join(f"(task {task.task_id})" for task in launched)
        self._add_event(service, now, f"(service {service.name}) has started {len(launched)} tasks: {names}.")

    def _new_task(
        self,
        service: Service,
        deployment: Deployment,
        task_definition: dict,
        now: float,
        start_at: float,
        health_at: float,
    ) -> Task:
        plan = deployment.plan
        task_id = uuid.uuid4().hex
        task_arn = f"arn:aws:ecs:{self.region}:{self.account_id}:task/{service.cluster_name}/{task_id}"
        container_prefix = f"arn:aws:ecs:{self.region}:{self.account_id}:container/{service.cluster_name}/{task_id}"
        containers = []
        for definition in task_definition.get("containerDefinitions", []):
            containers.append(
                Container(
                    arn=f"{container_prefix}/{uuid.uuid4()}",
                    task_arn=task_arn,
                    name=definition["name"],
                    image=definition.get("image", ""),
                    essential=definition.get("essential", True),
                    health_checked=bool(definition.get("healthCheck")),
                    cpu=int(definition.get("cpu") or 0),
                    memory=definition.get("memory"),
                )
            )
        fate = {"complete": "run", "rollback": "exit", "stuck": "stuck"}[plan.outcome]
        runner_essential = any(c.name == self.runner_container and c.essential for c in containers)
        if fate == "run" and plan.runner_health == "NONE" and runner_essential:
            # An essential container that never starts keeps the whole task PENDING.
            fate = "stuck"
        return Task(
            arn=task_arn,
            cluster_arn=service.cluster_arn,
            service_name=service.name,
            deployment_id=deployment.id,
            task_definition_arn=task_definition["taskDefinitionArn"],
            cpu=str(task_definition.get("cpu") or sum(c.cpu for c in containers) or 256),
            memory=str(task_definition.get("memory") or sum(c.memory or 0 for c in containers) or 512),
            containers=containers,
            created_at=now,
            start_at=start_at,
            health_at=health_at,
            fate=fate,
            runner_health=plan.runner_health,
            runner_container=self.runner_container,
            task_definition=task_definition,
        )

    def _start_task(self, service: Service, task: Task) -> None:
        at = task.start_at
        task.version += 1
        if task.fate == "exit":
            for container in task.containers:
                container.last_status = "STOPPED"
                container.exit_code = 1 if container.essential else 0
                if container.essential:
                    container.reason = "Essential container exited with code 1"
            self._stop_task(
                task,
                at,
                "Essential container in task exited",
                "EssentialContainerExited",
            )
            self._deployment(service, task.deployment_id).failed_tasks += 1
            return
        task.last_status = "RUNNING"
        task.started_at = at
        for container in task.containers:
            if container.name == task.runner_container and task.runner_health == "NONE":
                continue
            container.last_status = "RUNNING"
        try:
            task.app_key = self.resolve_app_key(task.task_definition)
        except Exception:  # The app starts without a key when Secrets Manager fails.
            LOG.exception("task %s: reading the smoke key failed", task.task_id)
            task.app_key = None
        LOG.info("task %s of %s is RUNNING", task.task_id, service.name)

    def _settle_health(self, service: Service, task: Task) -> None:
        task.health_settled = True
        task.version += 1
        for container in task.containers:
            if not container.health_checked or container.last_status != "RUNNING":
                continue
            if container.name == task.runner_container and task.runner_health == "UNHEALTHY":
                container.health_status = "UNHEALTHY"
            else:
                container.health_status = "HEALTHY"
        # Like ECS, only essential containers with a health check decide task health.
        essential = [c for c in task.containers if c.essential and c.health_checked]
        if any(c.health_status == "UNHEALTHY" for c in essential):
            task.health_status = "UNHEALTHY"
        elif essential and all(c.health_status == "HEALTHY" for c in essential):
            task.health_status = "HEALTHY"
        else:
            task.health_status = "UNKNOWN"
        if task.health_status == "UNHEALTHY":
            for container in task.containers:
                container.last_status = "STOPPED"
                container.exit_code = 137
            self._stop_task(task, task.health_at, "Task failed container health checks", "ServiceSchedulerInitiated")
            self._deployment(service, task.deployment_id).failed_tasks += 1

    def _complete_deployment(self, service: Service, deployment: Deployment, at: float) -> None:
        deployment.rollout_state = "COMPLETED"
        deployment.rollout_state_reason = f"ECS deployment {deployment.id} completed."
        deployment.updated_at = at
        stopped = []
        for task in service.tasks:
            if task.deployment_id != deployment.id and task.desired_status == "RUNNING":
                self._stop_task(
                    task, at, f"Scaling activity initiated by (deployment {deployment.id})", "ServiceSchedulerInitiated"
                )
                stopped.append(task)
        service.deployments = [deployment]
        service.stable_deployment_id = deployment.id
        service.stable_task_definition = deployment.task_definition
        if stopped:
            names = " ".join(f"(task {task.task_id})" for task in stopped)
            self._add_event(service, at, f"(service {service.name}) has stopped {len(stopped)} running tasks: {names}.")
        self._add_event(service, at, f"(service {service.name}) (deployment {deployment.id}) deployment completed.")
        self._add_event(service, at, f"(service {service.name}) has reached a steady state.")
        LOG.info("service %s: deployment %s completed", service.name, deployment.id)

    def _fail_deployment(self, service: Service, deployment: Deployment, at: float) -> None:
        deployment.rollout_state = "FAILED"
        deployment.rollout_state_reason = "ECS deployment circuit breaker: tasks failed to start."
        deployment.updated_at = at
        self._add_event(
            service,
            at,
            f"(service {service.name}) (deployment {deployment.id}) deployment failed: tasks failed to start.",
        )
        LOG.info("service %s: deployment %s failed", service.name, deployment.id)
        if deployment.is_rollback or service.stable_task_definition is None:
            return
        target = service.stable_task_definition
        self._add_event(
            service,
            at,
            f"(service {service.name}) (deployment {deployment.id}) deployment failed, rolling back to "
            f"deployment {service.stable_deployment_id} on {task_definition_label(target)}.",
        )
        rollback = self._start_deployment(service, target, service.desired_count, at, rollback_of=deployment.id)
        rollback.rollout_state_reason = (
            f"ECS deployment circuit breaker: rolling back to deployment {service.stable_deployment_id}."
        )

    def _scale_primary(self, service: Service, now: float) -> bool:
        """Start or stop tasks of a COMPLETED PRIMARY after a change of desired count."""
        primary = service.primary
        own = [task for task in service.tasks if task.deployment_id == primary.id and task.desired_status == "RUNNING"]
        if len(own) < primary.desired_count:
            self._launch_tasks(service, primary, primary.desired_count - len(own), now)
            return True
        if len(own) > primary.desired_count:
            for task in own[primary.desired_count :]:
                self._stop_task(task, now, "Scaling activity initiated by (service)", "ServiceSchedulerInitiated")
            return True
        return False

    def _stop_task(self, task: Task, at: float, reason: str, stop_code: str) -> None:
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        task.stopped_at = at
        task.stopped_reason = reason
        task.stop_code = stop_code
        task.version += 1
        for container in task.containers:
            if container.last_status != "STOPPED":
                container.last_status = "STOPPED"
                if container.exit_code is None and task.started_at is not None:
                    container.exit_code = 0

    def _deployment(self, service: Service, deployment_id: str) -> Deployment:
        for deployment in service.deployments:
            if deployment.id == deployment_id:
                return deployment
        # A removed deployment no longer counts failures, so return a throwaway.
        plan = DeploymentPlan("complete", "HEALTHY", 0, 0)
        return Deployment(deployment_id, "INACTIVE", "", 0, 0.0, 0.0, "FAILED", "", plan)

    def _add_event(self, service: Service, at: float, message: str) -> None:
        service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": at, "message": message})
        del service.events[MAX_EVENTS:]
