"""Loopback proxy in front of moto_server: call log, fault injection, ECS scheduler and control API.

Every AWS request is recorded as `service:Operation`, checked against the
injected faults and then forwarded to moto with its body and headers
unchanged (only Host, Content-Length and hop-by-hop headers are rewritten;
moto does not check SigV4 signatures). ECS operations that moto 5.2.1 gets
wrong are patched with, or served from, the scheduler model. Paths under
`/_testbed/` are the control API (plain JSON, no signing).
"""

from __future__ import annotations

import fnmatch
import http.client
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import parse_qsl, urlsplit

from scheduler import Behaviour, BehaviourError, Scheduler, name_from_arn

LOG = logging.getLogger("testbed.proxy")

ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
# X-Amz-Target prefix to the service name used in operation names.
TARGET_SERVICES = {
    ECS_TARGET_PREFIX: "ecs",
    "secretsmanager": "secretsmanager",
}
HOP_BY_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
# Response headers that send_response() sets itself, and moto's stray "status" header.
MOTO_ONLY_HEADERS = {"content-length", "server", "date", "status"}
REDACTED_PARAMETERS = {"SecretString", "SecretBinary"}
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
FAULT_KINDS = ("throttle", "5xx", "slow", "drop", "malformed")
# Delay of a "slow" fault unless the fault sets delay_seconds.
DEFAULT_SLOW_SECONDS = 30.0
# XML namespace of STS responses: an identifier in the body, never fetched.
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


@dataclass
class Operation:
    """An AWS request as the proxy identified it."""

    service: str
    name: str
    target: str
    protocol: str  # "json" (X-Amz-Target) or "query" (Action parameter)
    region: str
    params: dict

    @property
    def qualified_name(self) -> str:
        return f"{self.service}:{self.name}"


@dataclass
class Fault:
    """One injected fault. `remaining` is None for a fault that fires forever."""

    operation: str
    kind: str
    remaining: Optional[int]
    delay_seconds: float
    status: int
    fired: int = 0

    def to_json(self) -> dict:
        return {
            "operation": self.operation,
            "fault": self.kind,
            "times": self.remaining,
            "delay_seconds": self.delay_seconds,
            "status": self.status,
            "fired": self.fired,
        }


class MotoUnavailable(RuntimeError):
    """moto_server refused, dropped or timed out a forwarded request."""


class ResetError(ValueError):
    """Invalid reset request."""


class FaultError(ValueError):
    """Invalid fault specification."""


def parse_fault(spec: object) -> Fault:
    """Validate one fault object of `POST /_testbed/faults`; raise FaultError naming the bad field."""
    if not isinstance(spec, dict):
        raise FaultError(f"each fault must be a JSON object, got {spec!r}")
    unknown = set(spec) - {"operation", "fault", "times", "delay_seconds", "status"}
    if unknown:
        raise FaultError(f"unknown fault keys {sorted(unknown)}")
    operation = spec.get("operation")
    if not isinstance(operation, str) or not operation:
        raise FaultError("fault needs an operation such as 'ecs:UpdateService' (glob patterns allowed)")
    kind = spec.get("fault")
    if kind not in FAULT_KINDS:
        raise FaultError(f"fault must be one of {FAULT_KINDS}, got {kind!r}")
    # A missing "times" fires once; an explicit null fires forever.
    times = spec.get("times", 1)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise FaultError(f"times must be a positive integer or null, got {times!r}")
    delay = spec.get("delay_seconds", DEFAULT_SLOW_SECONDS)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise FaultError(f"delay_seconds must be a non-negative number, got {delay!r}")
    status = spec.get("status", 500)
    if kind != "5xx":
        status = 400 if kind == "throttle" else 200
    elif status not in (500, 502, 503, 504):
        raise FaultError(f"status of a 5xx fault must be 500, 502, 503 or 504, got {status!r}")
    return Fault(operation, kind, times, float(delay), int(status))


class FaultBook:
    """Injected faults, matched in the order they were added."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[Fault] = []

    def add(self, specs: object) -> None:
        items = specs if isinstance(specs, list) else [specs]
        parsed = [parse_fault(spec) for spec in items]
        with self.lock:
            self.faults.extend(parsed)

    def take(self, operation: str) -> Optional[Fault]:
        """Return the first fault matching `operation` and count it as fired."""
        with self.lock:
            for fault in self.faults:
                if not fnmatch.fnmatchcase(operation, fault.operation):
                    continue
                fault.fired += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                return fault
            return None

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def to_json(self) -> list[dict]:
        with self.lock:
            return [fault.to_json() for fault in self.faults]


class CallLog:
    """Every AWS operation the proxy received, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[dict] = []

    def record(self, operation: Operation) -> dict:
        entry = {
            "operation": operation.qualified_name,
            "at": time.time(),
            "target": operation.target,
            "region": operation.region,
            "params": redact(operation.params),
            "status": None,
            "fault": None,
        }
        with self.lock:
            self.entries.append(entry)
        return entry

    def to_json(self, pattern: Optional[str]) -> list[dict]:
        with self.lock:
            return [dict(e) for e in self.entries if pattern is None or fnmatch.fnmatchcase(e["operation"], pattern)]

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


def redact(value: object) -> object:
    """Copy request parameters with secret values replaced, so the call log never contains them."""
    if isinstance(value, dict):
        return {k: "<redacted>" if k in REDACTED_PARAMETERS else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def identify_operation(headers, path: str, body: bytes) -> Optional[Operation]:
    """Identify the AWS operation of a request, or return None when it is not an AWS API call."""
    scope = CREDENTIAL_SCOPE.search(headers.get("Authorization") or "")
    query = dict(parse_qsl(urlsplit(path).query))
    if scope is None and "X-Amz-Credential" in query:
        scope = CREDENTIAL_SCOPE.search("Credential=" + query["X-Amz-Credential"])
    region, scope_service = (scope.group(1), scope.group(2)) if scope else ("", "")
    target = headers.get("X-Amz-Target")
    if target:
        prefix, _, name = target.rpartition(".")
        service = TARGET_SERVICES.get(prefix) or scope_service or prefix.lower()
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        return Operation(service, name, target, "json", region, params if isinstance(params, dict) else {})
    content_type = headers.get("Content-Type") or ""
    params = dict(query)
    if "application/x-www-form-urlencoded" in content_type:
        params.update(parse_qsl(body.decode("utf-8", "replace")))
    name = params.get("Action")
    if not name:
        return None
    return Operation(scope_service or "unknown", name, name, "query", region, params)


class AwsProxy(ThreadingHTTPServer):
    """HTTP server of the proxy, with the state its handlers share: call log, faults, scheduler and moto lookups."""

    daemon_threads = True
    # Listen backlog; socketserver's default of 5 is small for parallel SDK connections.
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        moto_address: tuple[str, int],
        scheduler: Scheduler,
        behaviour: Behaviour,
        describe_service: Callable[[str, str], Optional[dict]],
        find_task_definition: Callable[[str], Optional[dict]],
        default_cluster: str,
        reset: Callable[[dict], dict],
    ) -> None:
        super().__init__(address, ProxyHandler)
        self.default_cluster = default_cluster
        # Reseeds moto and the scheduler; returns the new testbed.json document.
        self.reset = reset
        self.moto_address = moto_address
        self.scheduler = scheduler
        self.behaviour = behaviour
        self.describe_service = describe_service
        self.find_task_definition = find_task_definition
        self.calls = CallLog()
        self.faults = FaultBook()


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # http.server writes headers and body separately, and with Nagle's algorithm
    # the client's delayed ACK then adds about 40 ms to every response.
    disable_nagle_algorithm = True
    server: AwsProxy
    timeout = 300

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature fixed by http.server
        LOG.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def do_PUT(self) -> None:
        self.handle_any()

    def do_DELETE(self) -> None:
        self.handle_any()

    def do_HEAD(self) -> None:
        self.handle_any()

    # ----- dispatch ---------------------------------------------------------

    def handle_any(self) -> None:
        body = self.read_body()
        if urlsplit(self.path).path.startswith("/_testbed"):
            self.handle_control(body)
            return
        operation = identify_operation(self.headers, self.path, body)
        if operation is None:
            self.forward_and_send(body)
            return
        entry = self.server.calls.record(operation)
        LOG.info("%s", operation.qualified_name)
        fault = self.server.faults.take(operation.qualified_name)
        if fault is not None:
            entry["fault"] = fault.kind
            LOG.info("%s: injecting fault %s", operation.qualified_name, fault.kind)
            if fault.kind == "slow":
                time.sleep(fault.delay_seconds)
            else:
                entry["status"] = self.send_fault(operation, fault)
                return
        try:
            if operation.service == "ecs" and operation.region in ("", self.server.scheduler.region):
                status = self.handle_ecs(operation, body)
            else:
                status = self.forward_and_send(body, operation)
        except MotoUnavailable as error:
            LOG.error("%s: %s", operation.qualified_name, error)
            status = self.send_json_error(operation, 502, "InternalFailure", str(error))
        except (ConnectionError, TimeoutError) as error:
            LOG.info("%s: client closed the connection: %s", operation.qualified_name, error)
            status = None
        except Exception as error:  # A scheduler bug must not hang the client.
            LOG.exception("%s failed in the proxy", operation.qualified_name)
            status = self.send_json_error(operation, 500, "ServerException", f"testbed proxy error: {error}")
        entry["status"] = status

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # ----- forwarding -------------------------------------------------------

    def forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send the request to moto and return (status, headers, body)."""
        host, port = self.server.moto_address
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in HOP_BY_HOP_HEADERS | {"host", "content-length", "accept-encoding", "expect"}
        }
        headers["Host"] = f"{host}:{port}"
        headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(host, port, timeout=120)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise MotoUnavailable(f"forwarding {self.command} {self.path} to moto_server failed: {error}") from error
        finally:
            connection.close()
        response_headers = [
            (name, value)
            for name, value in response.getheaders()
            if name.lower() not in HOP_BY_HOP_HEADERS | MOTO_ONLY_HEADERS
        ]
        return response.status, response_headers, payload

    def forward_and_send(self, body: bytes, operation: Optional[Operation] = None) -> int:
        try:
            status, headers, payload = self.forward(body)
        except MotoUnavailable as error:
            LOG.error("%s", error)
            self.send_raw(502, [("Content-Type", "text/plain")], str(error).encode())
            return 502
        # moto 5.2.1 returns HTTP 404 for a missing secret, where AWS returns 400.
        if operation is not None and operation.service == "secretsmanager" and status == 404:
            status = 400
        self.send_raw(status, headers, payload)
        return status

    def send_raw(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_json(self, status: int, body: object, extra_headers: Optional[list[tuple[str, str]]] = None) -> int:
        payload = json.dumps(body).encode()
        headers = [
            ("Content-Type", self.headers.get("Content-Type") or "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        self.send_raw(status, headers + (extra_headers or []), payload)
        return status

    def send_json_error(self, operation: Operation, status: int, code: str, message: str) -> int:
        if operation.protocol == "query":
            return self.send_query_error(status, code, message)
        return self.send_json(status, {"__type": code, "message": message}, [("x-amzn-ErrorType", code)])

    def send_query_error(self, status: int, code: str, message: str) -> int:
        kind = "Sender" if status < 500 else "Receiver"
        payload = (
            f'<ErrorResponse xmlns="{STS_NAMESPACE}"><Error><Type>{kind}</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        ).encode()
        self.send_raw(status, [("Content-Type", "text/xml")], payload)
        return status

    # ----- faults -----------------------------------------------------------

    def send_fault(self, operation: Operation, fault: Fault) -> Optional[int]:
        """Send the injected fault in place of moto's response and return the HTTP status sent (None for a drop)."""
        if fault.kind == "throttle":
            code = "Throttling" if operation.protocol == "query" else "ThrottlingException"
            return self.send_json_error(operation, 400, code, "Rate exceeded")
        if fault.kind == "5xx":
            if fault.status == 503:
                code = "ServiceUnavailable" if operation.protocol == "query" else "ServiceUnavailableException"
            elif operation.protocol == "query":
                code = "InternalFailure"
            else:
                code = {"ecs": "ServerException", "secretsmanager": "InternalServiceError"}.get(
                    operation.service, "InternalFailure"
                )
            return self.send_json_error(operation, fault.status, code, "injected internal error")
        if fault.kind == "drop":
            self.close_connection = True
            return None
        # malformed: a 200 whose body stops in the middle of a value.
        if operation.protocol == "query":
            payload = f'<{operation.name}Response xmlns="{STS_NAMESPACE}"><{operation.name}Result><Arn>arn:aws:'
            self.send_raw(200, [("Content-Type", "text/xml")], payload.encode())
        else:
            payload = '{"' + operation.name[0].lower() + operation.name[1:] + '": {"arn": "arn:aws:'
            content_type = self.headers.get("Content-Type") or "application/x-amz-json-1.1"
            headers = [("Content-Type", content_type), ("x-amzn-RequestId", str(uuid.uuid4()))]
            self.send_raw(200, headers, payload.encode())
        return 200

    # ----- ECS scheduler ----------------------------------------------------

    def handle_ecs(self, operation: Operation, body: bytes) -> Optional[int]:
        params = operation.params
        scheduler = self.server.scheduler
        cluster = name_from_arn(params.get("cluster") or "default")
        if operation.name == "ListTasks":
            return self.send_json(200, {"taskArns": scheduler.list_tasks(params)})
        if operation.name == "DescribeTasks":
            return self.send_json(200, scheduler.describe_tasks(params))
        if operation.name == "UpdateService":
            return self.update_service(operation, body, cluster)
        if operation.name not in ("DescribeServices", "CreateService", "DeleteService"):
            return self.forward_and_send(body)

        status, headers, payload = self.forward(body)
        if status != 200:
            self.send_raw(status, headers, payload)
            return status
        document = json.loads(payload)
        if operation.name == "DescribeServices":
            for described in document.get("services", []):
                if described.get("status") != "ACTIVE":
                    continue
                if not scheduler.knows(name_from_arn(described["clusterArn"]), described["serviceName"]):
                    scheduler.adopt_service(described)
                scheduler.patch_service(described)
        elif operation.name == "CreateService":
            scheduler.create_service(document["service"])
            scheduler.patch_service(document["service"])
        else:
            scheduler.delete_service(cluster, name_from_arn(params.get("service", "")))
        self.send_raw(status, headers, json.dumps(document).encode())
        return status

    def update_service(self, operation: Operation, body: bytes, cluster: str) -> Optional[int]:
        """Forward UpdateService to moto, then start the deployment in the scheduler model."""
        params = operation.params
        scheduler = self.server.scheduler
        service_name = name_from_arn(params.get("service") or "")
        if not scheduler.knows(cluster, service_name):
            described = self.server.describe_service(cluster, service_name)
            if described is not None:
                scheduler.adopt_service(described)

        # moto stores the requested value as given (a family name, say), so
        # resolve it to the revision ARN that ECS would deploy.
        task_definition_arn = None
        requested = params.get("taskDefinition")
        if requested:
            found = self.server.find_task_definition(requested)
            if found is None:
                LOG.info("UpdateService of %s rejected: task definition %s not found", service_name, requested)
                return self.send_json_error(operation, 400, "ClientException", "TaskDefinition not found.")
            task_definition_arn = found["taskDefinitionArn"]

        status, headers, payload = self.forward(body)
        if status != 200 or not scheduler.knows(cluster, service_name):
            self.send_raw(status, headers, payload)
            return status

        desired = params.get("desiredCount")
        scheduler.update_service(
            cluster,
            service_name,
            task_definition_arn,
            bool(params.get("forceNewDeployment")),
            int(desired) if desired is not None else None,
        )
        document = json.loads(payload)
        scheduler.patch_service(document["service"])
        self.send_raw(status, headers, json.dumps(document).encode())
        return status

    # ----- control API ------------------------------------------------------

    def handle_control(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        route = parts.path.rstrip("/")
        query = dict(parse_qsl(parts.query))
        try:
            request = json.loads(body) if body else None
        except ValueError as error:
            self.send_control(400, {"error": f"request body is not valid JSON: {error}"})
            return
        server = self.server
        method = self.command
        try:
            if route == "/_testbed/calls" and method == "GET":
                self.send_control(200, server.calls.to_json(query.get("operation")))
            elif route == "/_testbed/calls" and method == "DELETE":
                server.calls.clear()
                self.send_control(200, [])
            elif route == "/_testbed/behaviour" and method == "GET":
                self.send_control(200, server.behaviour.to_json())
            elif route == "/_testbed/behaviour" and method == "POST":
                with server.scheduler.lock:
                    server.behaviour.update(request or {})
                LOG.info("behaviour changed: %s", server.behaviour.to_json())
                self.send_control(200, server.behaviour.to_json())
            elif route == "/_testbed/faults" and method == "GET":
                self.send_control(200, server.faults.to_json())
            elif route == "/_testbed/faults" and method == "POST":
                server.faults.add(request)
                LOG.info("faults now: %s", server.faults.to_json())
                self.send_control(200, server.faults.to_json())
            elif route == "/_testbed/faults" and method == "DELETE":
                server.faults.clear()
                self.send_control(200, [])
            elif route == "/_testbed/external-deployment" and method == "POST":
                self.start_external_deployment(request)
            elif route == "/_testbed/state" and method == "GET":
                self.send_control(200, server.scheduler.snapshot())
            elif route == "/_testbed/reset" and method == "POST":
                self.send_control(200, server.reset(request or {}))
            else:
                self.send_control(404, {"error": f"no control route {method} {parts.path}"})
        except (BehaviourError, FaultError, ResetError) as error:
            self.send_control(400, {"error": str(error)})
        except Exception as error:  # The caller gets the error instead of a dropped connection.
            LOG.exception("control request %s %s failed", method, parts.path)
            self.send_control(500, {"error": f"{type(error).__name__}: {error}"})

    def start_external_deployment(self, request: object) -> None:
        if not isinstance(request, dict) or not isinstance(request.get("service"), str):
            self.send_control(400, {"error": 'body must be {"service": NAME} with an optional "cluster"'})
            return
        scheduler = self.server.scheduler
        cluster = name_from_arn(request.get("cluster") or self.server.default_cluster)
        service_name = name_from_arn(request["service"])
        if not scheduler.knows(cluster, service_name):
            described = self.server.describe_service(cluster, service_name)
            if described is None:
                self.send_control(404, {"error": f"service {service_name} not found in cluster {cluster}"})
                return
            scheduler.adopt_service(described)
        deployment = scheduler.start_external_deployment(cluster, service_name)
        LOG.info("external deployment %s started on %s", deployment.id, service_name)
        self.send_control(200, {"deployment": deployment.id, "taskDefinition": deployment.task_definition})

    def send_control(self, status: int, body: object) -> None:
        payload = json.dumps(body, indent=1).encode()
        self.send_raw(status, [("Content-Type", "application/json")], payload)
