"""Tests of the testbed, run against a real testbed process: moto_server, proxy and smoke endpoint.

Run with `python3 -m unittest discover -s testbed -v`. Each test class starts
its own testbed (about 2 s each), so classes do not share scheduler state.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from typing import Callable, Optional

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import boto3  # noqa: E402 - after the environment setup above
import botocore.exceptions  # noqa: E402
from botocore.config import Config  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
STAGING = "afu9-control-center-staging"
PRODUCTION = "afu9-control-center"
CLUSTER = "afu9-cluster"
STAGE_HOST = "stage.afu-9.com"
PROD_HOST = "afu-9.com"
READY_TIMEOUT_SECONDS = 60
# Registrable fields of a described task definition.
REGISTER_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
)


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.1):
    """Poll `predicate` until it returns a truthy value and return that value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class Testbed:
    """A testbed process started for one test class."""

    def __init__(self, *extra_args: str) -> None:
        self.state_dir = tempfile.mkdtemp(prefix="greenlight-testbed-")
        self.process = subprocess.Popen(
            [
                sys.executable,
                os.path.join(HERE, "testbed.py"),
                "--state-dir",
                self.state_dir,
                "--exit-on-stdin-eof",
                *extra_args,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        ready_file = os.path.join(self.state_dir, "testbed.json")
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not os.path.exists(ready_file):
            if self.process.poll() is not None:
                raise RuntimeError(f"testbed exited early: {self.process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"testbed not ready within {READY_TIMEOUT_SECONDS} s; see {self.state_dir}")
            time.sleep(0.05)
        with open(ready_file, encoding="utf-8") as handle:
            self.info = json.load(handle)

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.info["region"]
        )
        # No retries, so that every injected fault surfaces.
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20)
        endpoint = self.info["aws_endpoint"]
        self.ecs = session.client("ecs", endpoint_url=endpoint, config=config)
        self.secretsmanager = session.client("secretsmanager", endpoint_url=endpoint, config=config)
        self.sts = session.client("sts", endpoint_url=endpoint, config=config)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stderr.close()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # ----- control API ------------------------------------------------------

    def control(self, method: str, route: str, body: object = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.info['control']}/{route}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def calls(self) -> list[str]:
        return [entry["operation"] for entry in self.control("GET", "calls")[1]]

    # ----- ECS helpers ------------------------------------------------------

    def raw_ecs(self, operation: str, body: dict) -> tuple[int, bytes]:
        """Send an unsigned ECS JSON request to the proxy and return (status, raw body)."""
        request = urllib.request.Request(
            self.info["aws_endpoint"] + "/",
            data=json.dumps(body).encode(),
            headers={
                "X-Amz-Target": f"AmazonEC2ContainerServiceV20141113.{operation}",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/eu-central-1/ecs/aws4_request, "
                "SignedHeaders=host, Signature=0",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def service(self, name: str) -> dict:
        return self.ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0]

    def task_definition(self, identifier: str) -> dict:
        return self.ecs.describe_task_definition(taskDefinition=identifier)["taskDefinition"]

    def register_fixed_revision(self, service_name: str = STAGING, secret_name: str = "afu9/stage/smoke-key") -> str:
        """Register a copy of the live revision whose smoke key is the current secret ARN, in secrets[]."""
        current = self.task_definition(self.service(service_name)["taskDefinition"])
        definition = {key: copy.deepcopy(current[key]) for key in REGISTER_FIELDS if key in current}
        arn = self.secretsmanager.describe_secret(SecretId=secret_name)["ARN"]
        for container in definition["containerDefinitions"]:
            if container["name"] != "control-center":
                continue
            container["environment"] = [e for e in container.get("environment", []) if e["name"] != "AFU9_SMOKE_KEY"]
            secrets = [s for s in container.get("secrets", []) if s["name"] != "AFU9_SMOKE_KEY"]
            container["secrets"] = secrets + [{"name": "AFU9_SMOKE_KEY", "valueFrom": arn}]
        return self.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]

    def wait_for_completed(self, service_name: str, timeout: float = 15.0) -> dict:
        def completed() -> Optional[dict]:
            service = self.service(service_name)
            deployments = service["deployments"]
            if len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED":
                return service
            return None

        return wait_until(completed, timeout)

    def tasks(self, service_name: str, desired_status: str = "RUNNING") -> list[dict]:
        arns = self.ecs.list_tasks(cluster=CLUSTER, serviceName=service_name, desiredStatus=desired_status)["taskArns"]
        if not arns:
            return []
        return self.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]

    # ----- smoke ------------------------------------------------------------

    def smoke(
        self, host: str, key: Optional[str], https: bool = True, host_header: Optional[str] = None
    ) -> tuple[int, dict[str, str]]:
        """Send the smoke request to the testbed on loopback, with SNI and Host set to `host`."""
        port = self.info["smoke_https_port"] if https else self.info["smoke_http_port"]
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if https:
            context = ssl.create_default_context(cafile=self.info["ca_file"])
            sock = context.wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.sock = sock
        headers = {"Host": host_header or host}
        if key is not None:
            headers["x-afu9-smoke-key"] = key
        try:
            connection.request("GET", "/api/timeline/chain?limit=1", headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, {name.lower(): value for name, value in response.getheaders()}
        finally:
            connection.close()

    def secret_value(self, name: str) -> str:
        return self.secretsmanager.get_secret_value(SecretId=name)["SecretString"]


def container(task: dict, name: str) -> dict:
    return next(c for c in task["containers"] if c["name"] == name)


class TestbedCase(unittest.TestCase):
    """Base class that starts one testbed per test class. Subclasses set `testbed_args`."""

    testbed_args: tuple[str, ...] = ()
    testbed: Testbed

    @classmethod
    def setUpClass(cls) -> None:
        cls.testbed = Testbed(*cls.testbed_args)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.testbed.stop()


class SeedingTest(TestbedCase):
    def test_ready_file_fields(self) -> None:
        info = self.testbed.info
        keys = ("aws_endpoint", "moto_endpoint", "control", "ca_file", "smoke_https_port", "smoke_http_port", "pid")
        for key in keys:
            self.assertIn(key, info)
        self.assertTrue(info["aws_endpoint"].startswith("http://127.0.0.1:"))
        self.assertTrue(info["moto_endpoint"].startswith("http://127.0.0.1:"))
        self.assertEqual(info["region"], "eu-central-1")
        self.assertEqual(info["account_id"], "123456789012")
        self.assertTrue(os.path.exists(info["ca_file"]))

    def test_stage_smoke_key_was_recreated(self) -> None:
        deleted = self.testbed.info["seed"]["deleted_secret_arns"]["afu9/stage/smoke-key"]
        current = self.testbed.secretsmanager.describe_secret(SecretId="afu9/stage/smoke-key")["ARN"]
        self.assertNotEqual(current, deleted)
        self.assertEqual(current.rsplit("-", 1)[0], deleted.rsplit("-", 1)[0])
        with self.assertRaises(botocore.exceptions.ClientError) as raised:
            self.testbed.secretsmanager.get_secret_value(SecretId=deleted)
        self.assertEqual(raised.exception.response["Error"]["Code"], "ResourceNotFoundException")

    def test_missing_secret_is_400(self) -> None:
        with self.assertRaises(botocore.exceptions.ClientError) as raised:
            self.testbed.secretsmanager.describe_secret(SecretId="afu9/stage/no-such-secret")
        self.assertEqual(raised.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.assertEqual(raised.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_other_secrets_exist(self) -> None:
        for name in ("afu9/prod/smoke-key", "afu9/stage/github-app", "afu9/prod/github-app", "afu9/prod/database"):
            self.assertTrue(self.testbed.secret_value(name))
        database = json.loads(self.testbed.secret_value("afu9/stage/database"))
        self.assertTrue(database["url"].startswith("postgres://"))

    def test_staging_pins_deleted_arn(self) -> None:
        service = self.testbed.service(STAGING)
        self.assertTrue(service["taskDefinition"].endswith(f"{STAGING}:3"))
        definition = self.testbed.task_definition(service["taskDefinition"])
        control_center = next(c for c in definition["containerDefinitions"] if c["name"] == "control-center")
        secrets = {s["name"]: s["valueFrom"] for s in control_center["secrets"]}
        deleted = self.testbed.info["seed"]["deleted_secret_arns"]["afu9/stage/smoke-key"]
        self.assertEqual(secrets["AFU9_SMOKE_KEY"], deleted)
        self.assertTrue(secrets["DATABASE_URL"].endswith(":url::"))

    def test_staging_runner_image_is_stale(self) -> None:
        definition = self.testbed.task_definition(self.testbed.service(STAGING)["taskDefinition"])
        images = {c["name"]: c["image"] for c in definition["containerDefinitions"]}
        self.assertEqual(
            sorted(images), ["control-center", "mcp-deploy", "mcp-github", "mcp-observability", "mcp-runner"]
        )
        registry = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
        self.assertEqual(images["mcp-runner"], f"{registry}/afu9/mcp-runner:0b71d4a")
        self.assertEqual(images["control-center"], f"{registry}/afu9/control-center:3f9c2e1")
        runner = next(c for c in definition["containerDefinitions"] if c["name"] == "mcp-runner")
        self.assertIn("healthCheck", runner)

    def test_production_uses_current_prod_secret(self) -> None:
        service = self.testbed.service(PRODUCTION)
        self.assertTrue(service["taskDefinition"].endswith(f"{PRODUCTION}:2"))
        definition = self.testbed.task_definition(service["taskDefinition"])
        control_center = next(c for c in definition["containerDefinitions"] if c["name"] == "control-center")
        secrets = {s["name"]: s["valueFrom"] for s in control_center["secrets"]}
        current = self.testbed.secretsmanager.describe_secret(SecretId="afu9/prod/smoke-key")["ARN"]
        self.assertEqual(secrets["AFU9_SMOKE_KEY"], current)

    def test_older_revisions_exist(self) -> None:
        arns = self.testbed.ecs.list_task_definitions(familyPrefix=STAGING)["taskDefinitionArns"]
        self.assertEqual(len([arn for arn in arns if arn.split("/")[-1].startswith(STAGING + ":")]), 3)

    def test_seeded_services_are_stable(self) -> None:
        for name in (STAGING, PRODUCTION):
            service = self.testbed.service(name)
            self.assertEqual(len(service["deployments"]), 1)
            deployment = service["deployments"][0]
            self.assertEqual(deployment["status"], "PRIMARY")
            self.assertEqual(deployment["rolloutState"], "COMPLETED")
            self.assertTrue(deployment["id"].startswith("ecs-svc/"))
            self.assertEqual(deployment["taskDefinition"], service["taskDefinition"])
            self.assertEqual(service["runningCount"], 1)
            self.assertEqual(service["pendingCount"], 0)

    def test_list_tasks_honours_service_name(self) -> None:
        staging = self.testbed.ecs.list_tasks(cluster=CLUSTER, serviceName=STAGING)["taskArns"]
        production = self.testbed.ecs.list_tasks(cluster=CLUSTER, serviceName=PRODUCTION)["taskArns"]
        every = self.testbed.ecs.list_tasks(cluster=CLUSTER)["taskArns"]
        self.assertEqual(len(staging), 1)
        self.assertEqual(len(production), 1)
        self.assertNotEqual(staging, production)
        self.assertEqual(sorted(every), sorted(staging + production))

    def test_describe_tasks_has_every_container(self) -> None:
        task = self.testbed.tasks(STAGING)[0]
        names = sorted(c["name"] for c in task["containers"])
        self.assertEqual(names, ["control-center", "mcp-deploy", "mcp-github", "mcp-observability", "mcp-runner"])
        self.assertEqual(task["lastStatus"], "RUNNING")
        self.assertEqual(task["group"], f"service:{STAGING}")
        self.assertEqual(task["startedBy"], self.testbed.service(STAGING)["deployments"][0]["id"])
        self.assertEqual(container(task, "mcp-runner")["healthStatus"], "HEALTHY")
        self.assertEqual(container(task, "mcp-github")["healthStatus"], "UNKNOWN")
        self.assertEqual(container(task, "control-center")["lastStatus"], "RUNNING")

    def test_describe_tasks_raw_types(self) -> None:
        arn = self.testbed.ecs.list_tasks(cluster=CLUSTER, serviceName=STAGING)["taskArns"][0]
        missing = "arn:aws:ecs:eu-central-1:123456789012:task/afu9-cluster/nope"
        status, payload = self.testbed.raw_ecs("DescribeTasks", {"cluster": CLUSTER, "tasks": [arn, missing]})
        self.assertEqual(status, 200)
        body = json.loads(payload)
        task = body["tasks"][0]
        self.assertIsInstance(task["cpu"], str)
        self.assertIsInstance(task["memory"], str)
        self.assertIsInstance(task["createdAt"], float)
        self.assertIsInstance(task["startedAt"], float)
        self.assertEqual(task["launchType"], "FARGATE")
        self.assertEqual(body["failures"], [{"arn": missing, "reason": "MISSING"}])


class CallLogAndFaultTest(TestbedCase):
    def setUp(self) -> None:
        self.testbed.control("DELETE", "faults")
        self.testbed.control("DELETE", "calls")

    def test_calls_log_records_operations_in_order(self) -> None:
        self.testbed.sts.get_caller_identity()
        self.testbed.secretsmanager.describe_secret(SecretId="afu9/stage/smoke-key")
        self.testbed.ecs.describe_services(cluster=CLUSTER, services=[STAGING])
        self.assertEqual(
            self.testbed.calls(), ["sts:GetCallerIdentity", "secretsmanager:DescribeSecret", "ecs:DescribeServices"]
        )
        entry = self.testbed.control("GET", "calls")[1][2]
        self.assertEqual(entry["target"], "AmazonEC2ContainerServiceV20141113.DescribeServices")
        self.assertEqual(entry["status"], 200)
        self.assertIsInstance(entry["at"], float)

    def test_calls_log_redacts_secret_values(self) -> None:
        self.testbed.secretsmanager.create_secret(Name="testbed/redaction", SecretString="do-not-log-me")
        _, entries = self.testbed.control("GET", "calls")
        self.assertNotIn("do-not-log-me", json.dumps(entries))
        self.assertEqual(entries[0]["params"]["SecretString"], "<redacted>")

    def test_calls_log_clears(self) -> None:
        self.testbed.sts.get_caller_identity()
        status, _ = self.testbed.control("DELETE", "calls")
        self.assertEqual(status, 200)
        self.assertEqual(self.testbed.calls(), [])

    def test_calls_log_filters_by_operation(self) -> None:
        self.testbed.sts.get_caller_identity()
        self.testbed.ecs.list_clusters()
        _, entries = self.testbed.control("GET", "calls?operation=ecs:*")
        self.assertEqual([e["operation"] for e in entries], ["ecs:ListClusters"])

    def test_concurrent_requests_all_logged(self) -> None:
        errors: list[Exception] = []

        def describe_five_times() -> None:
            try:
                for _ in range(5):
                    self.testbed.service(STAGING)
            except Exception as error:  # Collected and asserted below.
                errors.append(error)

        threads = [threading.Thread(target=describe_five_times) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(errors, [])
        self.assertEqual(self.testbed.calls().count("ecs:DescribeServices"), 100)

    def test_throttle_fires_given_times(self) -> None:
        fault = {"operation": "ecs:DescribeServices", "fault": "throttle", "times": 2}
        status, _ = self.testbed.control("POST", "faults", [fault])
        self.assertEqual(status, 200)
        for _ in range(2):
            with self.assertRaises(botocore.exceptions.ClientError) as raised:
                self.testbed.service(STAGING)
            self.assertEqual(raised.exception.response["Error"]["Code"], "ThrottlingException")
            self.assertEqual(raised.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(self.testbed.service(STAGING)["serviceName"], STAGING)
        _, entries = self.testbed.control("GET", "calls")
        self.assertEqual([e["fault"] for e in entries], ["throttle", "throttle", None])
        self.assertEqual(self.testbed.control("GET", "faults")[1], [])

    def test_sts_throttle_is_query_error(self) -> None:
        self.testbed.control("POST", "faults", [{"operation": "sts:GetCallerIdentity", "fault": "throttle"}])
        with self.assertRaises(botocore.exceptions.ClientError) as raised:
            self.testbed.sts.get_caller_identity()
        self.assertEqual(raised.exception.response["Error"]["Code"], "Throttling")
        self.assertEqual(self.testbed.sts.get_caller_identity()["Account"], "123456789012")

    def test_server_error_statuses(self) -> None:
        self.testbed.control(
            "POST",
            "faults",
            [
                {"operation": "secretsmanager:DescribeSecret", "fault": "5xx"},
                {"operation": "secretsmanager:DescribeSecret", "fault": "5xx", "status": 503},
            ],
        )
        for expected in (500, 503):
            with self.assertRaises(botocore.exceptions.ClientError) as raised:
                self.testbed.secretsmanager.describe_secret(SecretId="afu9/stage/smoke-key")
            self.assertEqual(raised.exception.response["ResponseMetadata"]["HTTPStatusCode"], expected)

    def test_failed_register_registers_nothing(self) -> None:
        before = self.testbed.ecs.list_task_definitions(familyPrefix=STAGING)["taskDefinitionArns"]
        self.testbed.control("POST", "faults", [{"operation": "ecs:RegisterTaskDefinition", "fault": "5xx"}])
        with self.assertRaises(botocore.exceptions.ClientError):
            self.testbed.register_fixed_revision()
        after = self.testbed.ecs.list_task_definitions(familyPrefix=STAGING)["taskDefinitionArns"]
        self.assertEqual(before, after)

    def test_drop_closes_connection(self) -> None:
        self.testbed.control("POST", "faults", [{"operation": "ecs:ListClusters", "fault": "drop"}])
        with self.assertRaises(botocore.exceptions.ConnectionClosedError):
            self.testbed.ecs.list_clusters()
        cluster_arn = f"arn:aws:ecs:eu-central-1:123456789012:cluster/{CLUSTER}"
        self.assertIn(cluster_arn, self.testbed.ecs.list_clusters()["clusterArns"])

    def test_malformed_body_is_invalid_json(self) -> None:
        # botocore tolerates invalid JSON bodies, so read the raw response.
        self.testbed.control("POST", "faults", [{"operation": "ecs:ListClusters", "fault": "malformed"}])
        status, payload = self.testbed.raw_ecs("ListClusters", {})
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(payload)
        status, payload = self.testbed.raw_ecs("ListClusters", {})
        self.assertIn("clusterArns", json.loads(payload))

    def test_slow_forwards_after_delay(self) -> None:
        fault = {"operation": "sts:GetCallerIdentity", "fault": "slow", "delay_seconds": 0.6}
        self.testbed.control("POST", "faults", [fault])
        started = time.monotonic()
        self.assertEqual(self.testbed.sts.get_caller_identity()["Account"], "123456789012")
        self.assertGreaterEqual(time.monotonic() - started, 0.6)

    def test_forever_fault_and_glob(self) -> None:
        self.testbed.control("POST", "faults", [{"operation": "ecs:List*", "fault": "5xx", "times": None}])
        for _ in range(3):
            with self.assertRaises(botocore.exceptions.ClientError):
                self.testbed.ecs.list_clusters()
        self.assertEqual(self.testbed.control("GET", "faults")[1][0]["fired"], 3)

    def test_invalid_fault_is_rejected(self) -> None:
        status, body = self.testbed.control("POST", "faults", [{"operation": "ecs:ListClusters", "fault": "explode"}])
        self.assertEqual(status, 400)
        self.assertIn("fault must be one of", body["error"])

    def test_invalid_behaviour_is_rejected(self) -> None:
        status, body = self.testbed.control("POST", "behaviour", {"rollout": "sideways"})
        self.assertEqual(status, 400)
        self.assertIn("rollout", body["error"])
        self.assertEqual(self.testbed.control("GET", "behaviour")[1]["rollout"], "complete")

    def test_unknown_control_route(self) -> None:
        status, _ = self.testbed.control("GET", "nothing-here")
        self.assertEqual(status, 404)


class RolloutTest(TestbedCase):
    testbed_args = ("--task-start-seconds", "0.2", "--rollout-seconds", "0.6")

    def setUp(self) -> None:
        self.testbed.control(
            "POST",
            "behaviour",
            {"rollout": "complete", "runner_health": "HEALTHY", "task_start_seconds": 0.2, "rollout_seconds": 0.6},
        )
        self.testbed.wait_for_completed(STAGING)

    def test_update_service_completes_on_new_revision(self) -> None:
        old = self.testbed.service(STAGING)
        old_task = self.testbed.tasks(STAGING)[0]
        revision = self.testbed.register_fixed_revision()
        response = self.testbed.ecs.update_service(
            cluster=CLUSTER, service=STAGING, taskDefinition=revision, forceNewDeployment=True
        )["service"]
        primary, previous = response["deployments"]
        self.assertEqual(primary["status"], "PRIMARY")
        self.assertEqual(primary["rolloutState"], "IN_PROGRESS")
        self.assertEqual(primary["taskDefinition"], revision)
        self.assertEqual(primary["runningCount"], 0)
        self.assertEqual(previous["status"], "ACTIVE")
        self.assertEqual(previous["id"], old["deployments"][0]["id"])
        self.assertEqual(response["taskDefinition"], revision)

        done = self.testbed.wait_for_completed(STAGING)
        self.assertEqual(done["taskDefinition"], revision)
        self.assertEqual(done["deployments"][0]["id"], primary["id"])
        self.assertEqual(done["runningCount"], 1)
        messages = [event["message"] for event in done["events"]]
        self.assertEqual(messages[0], f"(service {STAGING}) has reached a steady state.")
        self.assertIn(f"(service {STAGING}) (deployment {primary['id']}) deployment completed.", messages)

        tasks = self.testbed.tasks(STAGING)
        self.assertEqual(len(tasks), 1)
        self.assertEqual(tasks[0]["taskDefinitionArn"], revision)
        self.assertEqual(tasks[0]["startedBy"], primary["id"])
        self.assertEqual(len(tasks[0]["containers"]), 5)
        self.assertTrue(all(c["lastStatus"] == "RUNNING" for c in tasks[0]["containers"]))
        self.assertEqual(container(tasks[0], "mcp-runner")["healthStatus"], "HEALTHY")
        stopped = [t["taskArn"] for t in self.testbed.tasks(STAGING, "STOPPED")]
        self.assertIn(old_task["taskArn"], stopped)

    def test_force_without_revision_keeps_revision(self) -> None:
        current = self.testbed.service(STAGING)["taskDefinition"]
        response = self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, forceNewDeployment=True)
        self.assertEqual(response["service"]["deployments"][0]["taskDefinition"], current)
        done = self.testbed.wait_for_completed(STAGING)
        self.assertEqual(done["taskDefinition"], current)

    def test_family_name_resolves_to_latest_revision(self) -> None:
        revision = self.testbed.register_fixed_revision()
        response = self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, taskDefinition=STAGING)
        self.assertEqual(response["service"]["taskDefinition"], revision)
        self.testbed.wait_for_completed(STAGING)

    def test_unknown_revision_is_rejected(self) -> None:
        current = self.testbed.service(STAGING)["taskDefinition"]
        with self.assertRaises(botocore.exceptions.ClientError) as raised:
            self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, taskDefinition=f"{STAGING}:999")
        self.assertEqual(raised.exception.response["Error"]["Code"], "ClientException")
        self.assertEqual(self.testbed.service(STAGING)["taskDefinition"], current)

    def test_rollback_returns_to_previous_revision(self) -> None:
        stable = self.testbed.service(STAGING)["taskDefinition"]
        self.testbed.control("POST", "behaviour", {"rollout": "rollback"})
        revision = self.testbed.register_fixed_revision()
        failed_id = self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, taskDefinition=revision)[
            "service"
        ]["deployments"][0]["id"]

        def failed_seen() -> Optional[dict]:
            service = self.testbed.service(STAGING)
            return service if any(d["rolloutState"] == "FAILED" for d in service["deployments"]) else None

        during = wait_until(failed_seen)
        failed = next(d for d in during["deployments"] if d["id"] == failed_id)
        self.assertEqual(failed["rolloutState"], "FAILED")
        self.assertGreaterEqual(failed["failedTasks"], 1)
        self.assertIn("circuit breaker", failed["rolloutStateReason"])
        self.assertEqual(during["deployments"][0]["taskDefinition"], stable)

        done = self.testbed.wait_for_completed(STAGING)
        self.assertEqual(done["taskDefinition"], stable)
        self.assertTrue(any("rolling back" in event["message"] for event in done["events"]))
        stopped = [t for t in self.testbed.tasks(STAGING, "STOPPED") if t["taskDefinitionArn"] == revision]
        self.assertEqual(len(stopped), 1)
        self.assertEqual(stopped[0]["stopCode"], "EssentialContainerExited")
        self.assertIn("Essential container in task exited", stopped[0]["stoppedReason"])
        self.assertEqual(container(stopped[0], "control-center")["exitCode"], 1)

    def test_stuck_stays_pending(self) -> None:
        self.testbed.control("POST", "behaviour", {"rollout": "stuck"})
        self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, forceNewDeployment=True)
        time.sleep(1.2)
        service = self.testbed.service(STAGING)
        self.assertEqual(service["deployments"][0]["rolloutState"], "IN_PROGRESS")
        self.assertEqual(service["deployments"][0]["pendingCount"], 1)
        pending = [t for t in self.testbed.tasks(STAGING) if t["startedBy"] == service["deployments"][0]["id"]]
        self.assertEqual(pending[0]["lastStatus"], "PENDING")
        # A later deployment replaces the stuck one.
        self.testbed.control("POST", "behaviour", {"rollout": "complete"})
        self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, forceNewDeployment=True)
        self.testbed.wait_for_completed(STAGING)

    def test_unhealthy_runner_does_not_stop_rollout(self) -> None:
        self.testbed.control("POST", "behaviour", {"runner_health": "UNHEALTHY"})
        self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, forceNewDeployment=True)
        self.testbed.wait_for_completed(STAGING)
        task = self.testbed.tasks(STAGING)[0]
        self.assertEqual(container(task, "mcp-runner")["healthStatus"], "UNHEALTHY")
        self.assertEqual(container(task, "control-center")["healthStatus"], "HEALTHY")
        self.assertEqual(task["healthStatus"], "HEALTHY")

    def test_unhealthy_essential_runner_rolls_back(self) -> None:
        stable = self.testbed.service(STAGING)["taskDefinition"]
        current = self.testbed.task_definition(stable)
        definition = {key: copy.deepcopy(current[key]) for key in REGISTER_FIELDS if key in current}
        for container_definition in definition["containerDefinitions"]:
            if container_definition["name"] == "mcp-runner":
                container_definition["essential"] = True
        revision = self.testbed.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
        self.testbed.control("POST", "behaviour", {"runner_health": "UNHEALTHY"})
        self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, taskDefinition=revision)

        done = self.testbed.wait_for_completed(STAGING)
        self.assertEqual(done["taskDefinition"], stable)
        stopped = [t for t in self.testbed.tasks(STAGING, "STOPPED") if t["taskDefinitionArn"] == revision]
        self.assertEqual(len(stopped), 1)
        self.assertEqual(stopped[0]["healthStatus"], "UNHEALTHY")
        self.assertEqual(stopped[0]["stoppedReason"], "Task failed container health checks")

    def test_runner_none_stays_pending(self) -> None:
        self.testbed.control("POST", "behaviour", {"runner_health": "NONE"})
        self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, forceNewDeployment=True)
        self.testbed.wait_for_completed(STAGING)
        task = self.testbed.tasks(STAGING)[0]
        self.assertEqual(container(task, "mcp-runner")["lastStatus"], "PENDING")
        self.assertEqual(container(task, "mcp-runner")["healthStatus"], "UNKNOWN")

    def test_external_deployment_becomes_primary(self) -> None:
        current = self.testbed.service(STAGING)["taskDefinition"]
        status, body = self.testbed.control("POST", "external-deployment", {"service": STAGING})
        self.assertEqual(status, 200)
        service = self.testbed.service(STAGING)
        self.assertEqual(service["deployments"][0]["id"], body["deployment"])
        self.assertEqual(service["deployments"][0]["taskDefinition"], current)
        self.assertEqual(len(service["deployments"]), 2)
        self.testbed.wait_for_completed(STAGING)

    def test_production_untouched(self) -> None:
        before = self.testbed.service(PRODUCTION)
        self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, forceNewDeployment=True)
        self.testbed.wait_for_completed(STAGING)
        after = self.testbed.service(PRODUCTION)
        self.assertEqual(before["deployments"], after["deployments"])

    def test_desired_count_scales_without_deployment(self) -> None:
        deployment_id = self.testbed.service(STAGING)["deployments"][0]["id"]
        response = self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, desiredCount=2)["service"]
        self.assertEqual(len(response["deployments"]), 1)
        self.assertEqual(response["deployments"][0]["id"], deployment_id)
        self.assertEqual(response["desiredCount"], 2)
        wait_until(lambda: self.testbed.service(STAGING)["runningCount"] == 2)
        self.assertEqual(len(self.testbed.tasks(STAGING)), 2)
        self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, desiredCount=1)
        self.assertEqual(self.testbed.service(STAGING)["runningCount"], 1)

    def test_created_service_rolls_out(self) -> None:
        revision = self.testbed.service(STAGING)["taskDefinition"]
        created = self.testbed.ecs.create_service(
            cluster=CLUSTER, serviceName="testbed-created", taskDefinition=revision, desiredCount=1, launchType="FARGATE"
        )["service"]
        self.assertEqual(created["deployments"][0]["rolloutState"], "IN_PROGRESS")
        self.assertEqual(created["pendingCount"], 1)
        done = self.testbed.wait_for_completed("testbed-created")
        self.assertEqual(done["runningCount"], 1)
        self.testbed.ecs.delete_service(cluster=CLUSTER, service="testbed-created", force=True)
        self.assertEqual(self.testbed.tasks("testbed-created"), [])

    def test_state_snapshot_has_no_key_values(self) -> None:
        status, state = self.testbed.control("GET", "state")
        self.assertEqual(status, 200)
        names = {service["serviceName"] for service in state["services"]}
        self.assertIn(STAGING, names)
        self.assertIn(PRODUCTION, names)
        text = json.dumps(state)
        self.assertNotIn(self.testbed.secret_value("afu9/stage/smoke-key"), text)
        self.assertNotIn(self.testbed.secret_value("afu9/prod/smoke-key"), text)


class SmokeTest(TestbedCase):
    testbed_args = ("--task-start-seconds", "0.2", "--rollout-seconds", "2.0")

    def test_rotation_fix_turns_401_into_200(self) -> None:
        key = self.testbed.secret_value("afu9/stage/smoke-key")
        status, headers = self.testbed.smoke(STAGE_HOST, key)
        self.assertEqual(status, 401)
        self.assertNotIn("x-afu9-smoke-key-match", headers)
        self.assertNotIn("x-afu9-smoke-auth-used", headers)

        revision = self.testbed.register_fixed_revision()
        deployment = self.testbed.ecs.update_service(
            cluster=CLUSTER, service=STAGING, taskDefinition=revision, forceNewDeployment=True
        )["service"]["deployments"][0]["id"]

        # While the rollout runs, the old and the new task both serve requests.
        def new_task_running() -> bool:
            tasks = self.testbed.tasks(STAGING)
            return any(t["startedBy"] == deployment and t["lastStatus"] == "RUNNING" for t in tasks)

        wait_until(new_task_running)
        statuses = {self.testbed.smoke(STAGE_HOST, key)[0] for _ in range(2)}
        self.assertEqual(statuses, {200, 401})

        self.testbed.wait_for_completed(STAGING)
        status, headers = self.testbed.smoke(STAGE_HOST, key)
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-afu9-smoke-key-match"], "1")
        self.assertEqual(headers["x-afu9-smoke-auth-used"], "1")
        self.assertEqual(headers["x-testbed-task-definition"], revision)

        status, headers = self.testbed.smoke(STAGE_HOST, "wrong-key")
        self.assertEqual(status, 401)
        self.assertEqual(headers["x-afu9-smoke-key-match"], "0")

    def test_production_answers_with_prod_key(self) -> None:
        prod_key = self.testbed.secret_value("afu9/prod/smoke-key")
        status, headers = self.testbed.smoke(PROD_HOST, prod_key)
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-afu9-smoke-key-match"], "1")
        status, _ = self.testbed.smoke(PROD_HOST, prod_key, https=False, host_header=PROD_HOST + ":443")
        self.assertEqual(status, 200)

    def test_unknown_host_is_404(self) -> None:
        status, _ = self.testbed.smoke("other.afu-9.com", "x", https=False)
        self.assertEqual(status, 404)

    def test_certificate_rejects_other_names(self) -> None:
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.testbed.smoke("other.afu-9.com", "x")

    def test_omitted_header_is_left_out(self) -> None:
        prod_key = self.testbed.secret_value("afu9/prod/smoke-key")
        self.testbed.control("POST", "behaviour", {"smoke_omit_headers": ["x-afu9-smoke-auth-used"]})
        try:
            status, headers = self.testbed.smoke(PROD_HOST, prod_key)
        finally:
            self.testbed.control("POST", "behaviour", {"smoke_omit_headers": []})
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-afu9-smoke-key-match"], "1")
        self.assertNotIn("x-afu9-smoke-auth-used", headers)

    def test_running_task_keeps_key_read_at_start(self) -> None:
        prod_key = self.testbed.secret_value("afu9/prod/smoke-key")
        self.testbed.secretsmanager.put_secret_value(SecretId="afu9/prod/smoke-key", SecretString="rotated-value")
        try:
            status, _ = self.testbed.smoke(PROD_HOST, prod_key)
        finally:
            self.testbed.secretsmanager.put_secret_value(SecretId="afu9/prod/smoke-key", SecretString=prod_key)
        self.assertEqual(status, 200)


class NoRunnerScenarioTest(TestbedCase):
    testbed_args = ("--scenario", "no-runner", "--task-start-seconds", "0.1", "--rollout-seconds", "0.3")

    def test_staging_has_plaintext_key_and_no_runner(self) -> None:
        seeded = self.testbed.info["seed"]["task_definitions"]["staging"]
        self.assertTrue(seeded.endswith(f"{STAGING}:2"))
        definition = self.testbed.task_definition(seeded)
        names = [c["name"] for c in definition["containerDefinitions"]]
        self.assertNotIn("mcp-runner", names)
        control_center = next(c for c in definition["containerDefinitions"] if c["name"] == "control-center")
        plaintext = {e["name"]: e["value"] for e in control_center["environment"]}
        self.assertIn("AFU9_SMOKE_KEY", plaintext)
        self.assertNotEqual(plaintext["AFU9_SMOKE_KEY"], self.testbed.secret_value("afu9/stage/smoke-key"))
        self.assertNotIn("AFU9_SMOKE_KEY", {s["name"] for s in control_center.get("secrets", [])})

    def test_moving_key_to_secrets_fixes_smoke(self) -> None:
        key = self.testbed.secret_value("afu9/stage/smoke-key")
        status, headers = self.testbed.smoke(STAGE_HOST, key)
        self.assertEqual(status, 401)
        self.assertEqual(headers["x-afu9-smoke-key-match"], "0")
        revision = self.testbed.register_fixed_revision()
        self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, taskDefinition=revision)
        self.testbed.wait_for_completed(STAGING)
        status, headers = self.testbed.smoke(STAGE_HOST, key)
        self.assertEqual(status, 200)


class ResetTest(TestbedCase):
    testbed_args = ("--task-start-seconds", "0.1", "--rollout-seconds", "0.2")

    def test_reset_restores_seeded_state(self) -> None:
        before = dict(self.testbed.info["seed"])
        revision = self.testbed.register_fixed_revision()
        self.testbed.ecs.update_service(cluster=CLUSTER, service=STAGING, taskDefinition=revision)
        self.testbed.wait_for_completed(STAGING)
        self.testbed.control("POST", "behaviour", {"rollout": "stuck"})
        self.testbed.control("POST", "faults", [{"operation": "ecs:ListClusters", "fault": "5xx", "times": None}])

        status, ready = self.testbed.control("POST", "reset", {})
        self.assertEqual(status, 200)

        self.assertEqual(self.testbed.calls(), [])
        self.assertEqual(self.testbed.control("GET", "faults")[1], [])
        self.assertEqual(self.testbed.control("GET", "behaviour")[1]["rollout"], "complete")
        self.assertNotEqual(ready["seed"]["secrets"], before["secrets"])
        with open(os.path.join(self.testbed.state_dir, "testbed.json"), encoding="utf-8") as handle:
            self.assertEqual(json.load(handle)["seed"], ready["seed"])
        service = self.testbed.service(STAGING)
        self.assertTrue(service["taskDefinition"].endswith(f"{STAGING}:3"))
        self.assertEqual(len(service["deployments"]), 1)
        self.assertEqual(service["deployments"][0]["rolloutState"], "COMPLETED")
        self.assertEqual(len(self.testbed.tasks(STAGING)), 1)
        self.assertEqual(self.testbed.tasks(STAGING, "STOPPED"), [])
        key = self.testbed.secret_value("afu9/stage/smoke-key")
        self.assertEqual(self.testbed.smoke(STAGE_HOST, key)[0], 401)

    def test_reset_switches_scenario(self) -> None:
        status, ready = self.testbed.control("POST", "reset", {"scenario": "no-runner"})
        self.assertEqual(status, 200)
        self.assertEqual(ready["seed"]["scenario"], "no-runner")
        definition = self.testbed.task_definition(self.testbed.service(STAGING)["taskDefinition"])
        self.assertNotIn("mcp-runner", [c["name"] for c in definition["containerDefinitions"]])
        self.testbed.control("POST", "reset", {"scenario": "rotated"})

    def test_reset_rejects_unknown_scenario(self) -> None:
        status, body = self.testbed.control("POST", "reset", {"scenario": "sideways"})
        self.assertEqual(status, 400)
        self.assertIn("scenario", body["error"])


class AppKeyResolverTest(unittest.TestCase):
    """The smoke key lookup alone, with a fake GetSecretValue in place of moto."""

    ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:afu9/stage/smoke-key-AbCdEf"

    def setUp(self) -> None:
        from smoke import AppKeyResolver, SmokeConfig

        self.requests: list[dict] = []
        self.secrets = {self.ARN: '{"key": "from-json"}'}

        def get_secret_value(**request) -> dict:
            self.requests.append(request)
            secret_id = request["SecretId"]
            for arn, value in self.secrets.items():
                if secret_id in (arn, arn[:-7]):
                    return {"ARN": arn, "SecretString": value}
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, "GetSecretValue"
            )

        self.resolver = AppKeyResolver(SmokeConfig(), get_secret_value)

    def definition(self, secrets: list[dict], environment: list[dict]) -> dict:
        container = {"name": "control-center", "secrets": secrets, "environment": environment}
        return {"containerDefinitions": [{"name": "mcp-runner"}, container]}

    def test_json_key_is_extracted(self) -> None:
        value_from = self.ARN + ":key::"
        key = self.resolver(self.definition([{"name": "AFU9_SMOKE_KEY", "valueFrom": value_from}], []))
        self.assertEqual(key, "from-json")
        self.assertEqual(self.requests, [{"SecretId": self.ARN}])

    def test_version_stage_is_passed(self) -> None:
        self.resolver.read_secret(self.ARN + "::AWSPREVIOUS:")
        self.assertEqual(self.requests, [{"SecretId": self.ARN, "VersionStage": "AWSPREVIOUS"}])

    def test_whole_value_without_json_key(self) -> None:
        self.assertEqual(self.resolver.read_secret(self.ARN), '{"key": "from-json"}')

    def test_deleted_suffix_gives_no_key(self) -> None:
        self.assertIsNone(self.resolver.read_secret(self.ARN[:-6] + "Zz9Zz9"))

    def test_partial_arn_resolves(self) -> None:
        self.assertEqual(self.resolver.read_secret(self.ARN[:-7]), '{"key": "from-json"}')

    def test_bare_name_gives_no_key(self) -> None:
        self.assertIsNone(self.resolver.read_secret("afu9/stage/smoke-key"))
        self.assertEqual(self.requests, [])

    def test_plaintext_environment_value(self) -> None:
        key = self.resolver(self.definition([], [{"name": "AFU9_SMOKE_KEY", "value": "plain"}]))
        self.assertEqual(key, "plain")

    def test_secret_wins_over_environment(self) -> None:
        definition = self.definition(
            [{"name": "AFU9_SMOKE_KEY", "valueFrom": self.ARN + ":key::"}],
            [{"name": "AFU9_SMOKE_KEY", "value": "plain"}],
        )
        self.assertEqual(self.resolver(definition), "from-json")

    def test_other_container_is_ignored(self) -> None:
        runner = {"name": "mcp-runner", "environment": [{"name": "AFU9_SMOKE_KEY", "value": "x"}]}
        definition = {"containerDefinitions": [runner]}
        self.assertIsNone(self.resolver(definition))


class ProcessTest(unittest.TestCase):
    def test_stdin_eof_stops_testbed_and_moto(self) -> None:
        testbed = Testbed()
        moto_pid = testbed.info["moto_pid"]
        ready_file = os.path.join(testbed.state_dir, "testbed.json")
        testbed.process.stdin.close()
        self.assertEqual(testbed.process.wait(timeout=15), 0)
        self.assertFalse(os.path.exists(ready_file))
        wait_until(lambda: not os.path.exists(f"/proc/{moto_pid}") or _is_zombie(moto_pid), timeout=5)
        testbed.stop()


    def test_killed_testbed_takes_moto_along(self) -> None:
        testbed = Testbed()
        moto_pid = testbed.info["moto_pid"]
        testbed.process.kill()
        testbed.process.wait(timeout=5)
        wait_until(lambda: not os.path.exists(f"/proc/{moto_pid}") or _is_zombie(moto_pid), timeout=5)
        testbed.stop()

    def test_moto_exit_stops_testbed(self) -> None:
        testbed = Testbed()
        os.kill(testbed.info["moto_pid"], signal.SIGKILL)
        self.assertEqual(testbed.process.wait(timeout=15), 1)
        testbed.stop()

    def test_stale_ready_file_is_replaced(self) -> None:
        first = Testbed()
        first.process.kill()
        first.process.wait(timeout=5)
        ready_file = os.path.join(first.state_dir, "testbed.json")
        self.assertTrue(os.path.exists(ready_file))
        process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "testbed.py"), "--state-dir", first.state_dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: _ready_pid(ready_file) == process.pid)
        finally:
            process.terminate()
            process.wait(timeout=15)
            first.stop()

    def test_parent_exit_stops_testbed(self) -> None:
        state_dir = tempfile.mkdtemp(prefix="greenlight-testbed-")
        ready_file = os.path.join(state_dir, "testbed.json")
        script = os.path.join(HERE, "testbed.py")
        # The shell is the testbed's parent and exits once the testbed is ready.
        shell = subprocess.Popen(
            [
                "sh",
                "-c",
                f'"{sys.executable}" "{script}" --state-dir "{state_dir}" --exit-with-parent & '
                f'while [ ! -f "{ready_file}" ]; do sleep 0.1; done; echo $!',
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            output, _ = shell.communicate(timeout=READY_TIMEOUT_SECONDS)
            testbed_pid = int(output)
            wait_until(lambda: not os.path.exists(f"/proc/{testbed_pid}") or _is_zombie(testbed_pid), timeout=10)
        finally:
            if shell.poll() is None:
                shell.kill()
                shell.wait()
            shutil.rmtree(state_dir, ignore_errors=True)

    def test_sigterm_exits_cleanly(self) -> None:
        testbed = Testbed()
        testbed.process.terminate()
        self.assertEqual(testbed.process.wait(timeout=15), 0)
        testbed.stop()


def _ready_pid(ready_file: str) -> Optional[int]:
    try:
        with open(ready_file, encoding="utf-8") as handle:
            return json.load(handle)["pid"]
    except (OSError, ValueError):
        return None


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


if __name__ == "__main__":
    unittest.main()
