"""Seed moto with the example environment: secrets, cluster, task definitions and services.

Seeding talks to moto directly, not through the proxy, so the proxy's call
log starts empty. Secret values are random per start and never logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field

LOG = logging.getLogger("testbed.seed")

SEED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seed")
PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")

CLUSTER = "afu9-cluster"
STAGING_SERVICE = "afu9-control-center-staging"
PRODUCTION_SERVICE = "afu9-control-center"
CURRENT_TAG = "3f9c2e1"
STALE_RUNNER_TAG = "0b71d4a"
OLDER_TAG = "9d1a7f0"
SCENARIOS = ("rotated", "no-runner")


@dataclass
class SeedResult:
    """Identifiers of what was seeded (no secret values), written to testbed.json."""

    scenario: str
    cluster: str = CLUSTER
    services: dict[str, str] = field(default_factory=dict)
    task_definitions: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    deleted_secret_arns: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return dict(self.__dict__)


def render_template(name: str, values: dict[str, str]) -> dict:
    """Load `seed/<name>` and replace every `${NAME}` placeholder; raise KeyError on an unknown one."""
    with open(os.path.join(SEED_DIR, name), encoding="utf-8") as handle:
        text = handle.read()

    def replace(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"seed/{name}: no value for placeholder ${{{key}}}")
        # The value lands inside a JSON string, so escape it as JSON.
        return json.dumps(values[key])[1:-1]

    return json.loads(PLACEHOLDER.sub(replace, text))


def create_secret(client, name: str, value: str, environment: str) -> str:
    response = client.create_secret(
        Name=name,
        SecretString=value,
        Tags=[{"Key": "project", "Value": "afu9"}, {"Key": "env", "Value": environment}],
    )
    return response["ARN"]


def seed_secrets(secretsmanager, scenario: str) -> SeedResult:
    """Create the example secrets and return their ARNs.

    The staging smoke key is created, force-deleted and created again, so the
    ARN that the staging task definition pins (old random suffix) no longer
    exists: the rotation failure that greenlight must repair.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
    result = SeedResult(scenario=scenario)

    stage_key_name = "afu9/stage/smoke-key"
    deleted_arn = create_secret(secretsmanager, stage_key_name, secrets.token_urlsafe(24), "staging")
    secretsmanager.delete_secret(SecretId=deleted_arn, ForceDeleteWithoutRecovery=True)
    result.deleted_secret_arns[stage_key_name] = deleted_arn

    secret_values = {
        "afu9/stage/smoke-key": (secrets.token_urlsafe(24), "staging"),
        "afu9/stage/database": (database_url_document("afu9_stage"), "staging"),
        "afu9/stage/github-app": (secrets.token_urlsafe(48), "staging"),
        "afu9/prod/smoke-key": (secrets.token_urlsafe(24), "production"),
        "afu9/prod/database": (database_url_document("afu9_prod"), "production"),
        "afu9/prod/github-app": (secrets.token_urlsafe(48), "production"),
    }
    for name, (value, environment) in secret_values.items():
        result.secrets[name] = create_secret(secretsmanager, name, value, environment)
    return result


def seed_ecs(ecs, region: str, account_id: str, result: SeedResult) -> None:
    """Register the task definitions, create cluster and services, and record them in `result`.

    Scenario "rotated" puts staging on a revision that pins the deleted smoke
    key ARN and a stale runner image. Scenario "no-runner" puts it on a
    revision without the runner and with a stale plaintext smoke key.
    """
    values = {
        "ACCOUNT_ID": account_id,
        "REGION": region,
        "REGISTRY": f"{account_id}.dkr.ecr.{region}.amazonaws.com",
        "STAGE_SMOKE_KEY_ARN": result.deleted_secret_arns["afu9/stage/smoke-key"],
        "STAGE_DATABASE_ARN": result.secrets["afu9/stage/database"],
        "STAGE_GITHUB_APP_ARN": result.secrets["afu9/stage/github-app"],
        # A key that was never the secret's value, as left behind by an old deploy.
        "STAGE_PLAINTEXT_SMOKE_KEY": "stale-" + secrets.token_urlsafe(18),
        "PROD_SMOKE_KEY_ARN": result.secrets["afu9/prod/smoke-key"],
        "PROD_DATABASE_ARN": result.secrets["afu9/prod/database"],
        "PROD_GITHUB_APP_ARN": result.secrets["afu9/prod/github-app"],
    }

    ecs.create_cluster(clusterName=CLUSTER)

    # Older revisions first, so the live ones have realistic revision numbers.
    staging_revisions = [
        ("staging-no-runner.json", OLDER_TAG, OLDER_TAG),
        ("staging-no-runner.json", CURRENT_TAG, CURRENT_TAG),
    ]
    if result.scenario == "rotated":
        staging_revisions.append(("staging-rotated.json", CURRENT_TAG, STALE_RUNNER_TAG))
    for template, tag, runner_tag in staging_revisions:
        definition = render_template(template, dict(values, IMAGE_TAG=tag, RUNNER_IMAGE_TAG=runner_tag))
        arn = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    result.task_definitions["staging"] = arn

    for tag in (OLDER_TAG, CURRENT_TAG):
        definition = render_template("production.json", dict(values, IMAGE_TAG=tag))
        arn = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    result.task_definitions["production"] = arn

    for key, service_name in (("staging", STAGING_SERVICE), ("production", PRODUCTION_SERVICE)):
        ecs.create_service(
            cluster=CLUSTER,
            serviceName=service_name,
            taskDefinition=result.task_definitions[key],
            desiredCount=1,
            launchType="FARGATE",
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
            tags=[{"key": "project", "value": "afu9"}, {"key": "env", "value": key}],
        )
        result.services[key] = service_name

    LOG.info(
        "seeded scenario %s: staging on %s, production on %s",
        result.scenario,
        result.task_definitions["staging"],
        result.task_definitions["production"],
    )


def database_url_document(user: str) -> str:
    # Loopback host: nothing connects to it, and no seeded value points off this machine.
    password = secrets.token_urlsafe(18)
    return json.dumps({"url": f"postgres://{user}:{password}@127.0.0.1:5432/afu9"})
