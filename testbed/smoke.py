"""Smoke endpoint that behaves like the example app, plus the test CA behind its HTTPS listener.

The app reads its smoke key once, at task start (see `AppKeyResolver`), and
compares it with the request's key header. The scheduler model picks the
task that serves each request, round-robin over the service's RUNNING tasks.
"""

from __future__ import annotations

import datetime
import hmac
import ipaddress
import json
import logging
import os
import ssl
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scheduler import Behaviour, Scheduler

LOG = logging.getLogger("testbed.smoke")

SMOKE_PATH = "/api/timeline/chain"


@dataclass
class SmokeConfig:
    """Names the app uses; each is a CLI option with these defaults."""

    cluster: str = "afu9-cluster"
    container: str = "control-center"
    key_variable: str = "AFU9_SMOKE_KEY"
    key_header: str = "x-afu9-smoke-key"
    match_header: str = "x-afu9-smoke-key-match"
    auth_used_header: str = "x-afu9-smoke-auth-used"
    # Host name (without port) to ECS service name.
    hosts: dict[str, str] = field(
        default_factory=lambda: {
            "stage.afu-9.com": "afu9-control-center-staging",
            "afu-9.com": "afu9-control-center",
        }
    )


class AppKeyResolver:
    """Reads the smoke key that the app container gets at start.

    `get_secret_value` is a boto3 Secrets Manager client's method bound to
    moto. It raises for a secret that does not exist.
    """

    def __init__(self, config: SmokeConfig, get_secret_value: Callable[..., dict]) -> None:
        self.config = config
        self.get_secret_value = get_secret_value

    def __call__(self, task_definition: dict) -> Optional[str]:
        """Return the key the app would read, or None when it gets none.

        A `secrets[]` entry wins over an `environment[]` entry of the same name.
        """
        for container in task_definition.get("containerDefinitions", []):
            if container.get("name") != self.config.container:
                continue
            for secret in container.get("secrets") or []:
                if secret.get("name") == self.config.key_variable:
                    return self.read_secret(secret.get("valueFrom", ""))
            for variable in container.get("environment") or []:
                if variable.get("name") == self.config.key_variable:
                    return variable.get("value")
        return None

    def read_secret(self, value_from: str) -> Optional[str]:
        """Fetch the secret value that a `valueFrom` reference names, or return None when ECS could not resolve it.

        A full ARN may carry a `:json-key:version-stage:version-id` tail. The
        ARN must name the secret exactly: an ARN whose random suffix belongs to
        a deleted secret does not resolve, even when a secret of the same name
        exists again.
        """
        if not value_from.startswith("arn:aws:secretsmanager:"):
            # ECS reads Secrets Manager only by ARN (ECS API reference, Secret.valueFrom).
            # A bare name or an SSM ARN means a Parameter Store parameter, which the testbed does not model.
            LOG.info("secret reference %s is not a Secrets Manager ARN, so the app gets no key", value_from)
            return None
        # NOTE: a partial ARN without the random suffix resolves here as in GetSecretValue.
        # ECS documents only full ARNs, so a real task might fail to start instead.
        secret_id, json_key, version_stage, version_id = split_value_from(value_from)
        request = {"SecretId": secret_id}
        if version_stage:
            request["VersionStage"] = version_stage
        if version_id:
            request["VersionId"] = version_id
        try:
            response = self.get_secret_value(**request)
        except (BotoCoreError, ClientError) as error:
            LOG.info("secret %s did not resolve: %s", secret_id, type(error).__name__)
            return None
        if not arn_names_secret(secret_id, response.get("ARN", "")):
            LOG.info("secret %s resolved to a different secret %s", secret_id, response.get("ARN"))
            return None
        value = response.get("SecretString")
        if value is None:
            return None
        if json_key:
            try:
                document = json.loads(value)
            except ValueError:
                LOG.info("secret %s is not JSON, so key %s is missing", secret_id, json_key)
                return None
            extracted = document.get(json_key) if isinstance(document, dict) else None
            return extracted if isinstance(extracted, str) else None
        return value


def split_value_from(value_from: str) -> tuple[str, str, str, str]:
    """Split an ECS Secrets Manager ARN reference into (secret ARN, json key, version stage, version id)."""
    parts = value_from.split(":")
    # arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME has 7 parts.
    tail = parts[7:] + ["", "", ""]
    return ":".join(parts[:7]), tail[0], tail[1], tail[2]


def arn_names_secret(requested: str, actual: str) -> bool:
    """Tell whether a requested secret ARN (full or without the 6-character suffix) names `actual`."""
    if requested == actual:
        return True
    return actual.startswith(requested + "-") and len(actual) == len(requested) + 7


# ----- certificates -----------------------------------------------------------


def write_certificates(state_dir: str, host_names: list[str]) -> dict[str, str]:
    """Create a CA and a server certificate for `host_names`, and write them as PEM files.

    Returns the paths: `ca_file` (CA certificate only), `cert_file` and `key_file`.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(days=1)
    not_after = now + datetime.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "greenlight testbed CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in host_names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_names[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    paths = {
        "ca_file": os.path.join(state_dir, "ca.pem"),
        "cert_file": os.path.join(state_dir, "smoke-cert.pem"),
        "key_file": os.path.join(state_dir, "smoke-key.pem"),
    }
    with open(paths["ca_file"], "wb") as handle:
        handle.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["cert_file"], "wb") as handle:
        handle.write(server_cert.public_bytes(serialization.Encoding.PEM))
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(paths["key_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_pem)
    return paths


# ----- HTTP(S) server ----------------------------------------------------------


class SmokeServer(ThreadingHTTPServer):
    """Smoke endpoint listener. With `ssl_context` set, each connection does its TLS handshake in its own thread."""

    daemon_threads = True
    # Listen backlog; socketserver's default of 5 is small for parallel SDK connections.
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        scheduler: Scheduler,
        behaviour: Behaviour,
        config: SmokeConfig,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        super().__init__(address, SmokeHandler)
        self.scheduler = scheduler
        self.behaviour = behaviour
        self.config = config
        self.ssl_context = ssl_context

    def finish_request(self, request, client_address) -> None:
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(30)
        try:
            secure = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            LOG.info("TLS handshake with %s failed: %s", client_address, error)
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            secure.close()


class SmokeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # http.server writes headers and body separately, and with Nagle's algorithm
    # the client's delayed ACK then adds about 40 ms to every response.
    disable_nagle_algorithm = True
    server: SmokeServer
    timeout = 30

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature fixed by http.server
        LOG.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        config = self.server.config
        host = (self.headers.get("Host") or "").strip().lower()
        host_name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        service = config.hosts.get(host_name)
        if service is None:
            self.send_json(404, {"error": f"unknown host {host_name!r}"})
            return
        path = urlsplit(self.path).path
        if path == "/api/health":
            self.send_json(200, {"status": "ok"})
            return
        if path != SMOKE_PATH:
            self.send_json(404, {"error": f"no route for {path}"})
            return
        picked = self.server.scheduler.pick_answering_task(config.cluster, service)
        if picked is None:
            self.send_json(503, {"error": f"service {service} has no RUNNING task"})
            return
        task_arn, task_definition_arn, app_key = picked
        debug_headers = {"x-testbed-task-arn": task_arn, "x-testbed-task-definition": task_definition_arn}
        offered = self.headers.get(config.key_header)
        if app_key is None:
            LOG.info("smoke %s via task %s: 401, the app has no key", service, task_arn)
            self.send_json(401, {"error": "unauthorized"}, debug_headers)
            return
        if offered is None or not hmac.compare_digest(offered.encode(), app_key.encode()):
            LOG.info("smoke %s via task %s: 401, key mismatch", service, task_arn)
            self.send_json(401, {"error": "unauthorized"}, {config.match_header: "0", **debug_headers})
            return
        LOG.info("smoke %s via task %s: 200", service, task_arn)
        self.send_json(200, {"chain": []}, {config.match_header: "1", config.auth_used_header: "1", **debug_headers})

    def send_json(self, status: int, body: dict, headers: Optional[dict[str, str]] = None) -> None:
        omitted = {name.lower() for name in self.server.behaviour.smoke_omit_headers}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            if name.lower() not in omitted:
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
