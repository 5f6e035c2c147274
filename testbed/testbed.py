#!/usr/bin/env python3
"""Start the local AWS testbed: moto_server, the scheduler proxy and the smoke endpoint.

Everything listens on 127.0.0.1 with free ports. When the example environment
is seeded, DIR/testbed.json is written atomically as the ready signal. The
process runs until SIGTERM or SIGINT (or stdin EOF, or the parent's exit,
when asked) and then stops moto_server. Logs go to DIR/testbed.log and
DIR/moto.log, never to stdout.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# boto3 and cryptography (via smoke) load inside main(), after moto_server was
# launched, so that their import time overlaps with moto's start-up.
from proxy import AwsProxy, ResetError  # noqa: E402 - after the path setup above
from scheduler import ROLLOUT_VALUES, RUNNER_HEALTH_VALUES, Behaviour, Scheduler  # noqa: E402
from seeding import SCENARIOS, SeedResult, seed_ecs, seed_secrets  # noqa: E402

if TYPE_CHECKING:
    from smoke import SmokeConfig

LOG = logging.getLogger("testbed")

REGION = "eu-central-1"
# moto's default account, which every seeded ARN uses.
ACCOUNT_ID = "123456789012"
LOOPBACK = "127.0.0.1"
MOTO_START_TIMEOUT_SECONDS = 20.0
MOTO_START_ATTEMPTS = 4
TICK_SECONDS = 0.05
PR_SET_PDEATHSIG = 1


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Local AWS testbed for greenlight: moto_server, an ECS scheduler proxy and a smoke endpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument

    add("--state-dir", required=True, metavar="DIR", help="directory for testbed.json, ca.pem and logs")
    add("--scenario", choices=SCENARIOS, default="rotated", help="seeded staging state")
    add(
        "--task-start-seconds",
        type=float,
        metavar="SECONDS",
        default=0.5,
        help="seconds from a deployment's start until its tasks run",
    )
    add(
        "--rollout-seconds",
        type=float,
        metavar="SECONDS",
        default=1.0,
        help="seconds from task start until the rollout completes or fails",
    )
    add(
        "--runner-health",
        choices=RUNNER_HEALTH_VALUES,
        default="HEALTHY",
        help="health of the runner container in new tasks; NONE keeps it PENDING",
    )
    add("--rollout", choices=ROLLOUT_VALUES, default="complete", help="outcome of new deployments")

    add(
        "--smoke-omit-header",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this header out of smoke responses (repeatable)",
    )
    add(
        "--smoke-host",
        action="append",
        default=[],
        metavar="HOST=SERVICE",
        help="map a smoke Host name to an ECS service (repeatable; replaces the two defaults)",
    )
    add("--smoke-container", metavar="NAME", default="control-center", help="container that reads the smoke key")
    add("--smoke-key-variable", metavar="NAME", default="AFU9_SMOKE_KEY", help="variable name of the smoke key")
    add("--smoke-key-header", metavar="HEADER", default="x-afu9-smoke-key", help="request header with the smoke key")
    add("--smoke-match-header", metavar="HEADER", default="x-afu9-smoke-key-match", help="response header: key matched")
    add("--smoke-auth-header", metavar="HEADER", default="x-afu9-smoke-auth-used", help="response header: auth used")

    add("--runner-container", metavar="NAME", default="mcp-runner", help="container that --runner-health applies to")
    add("--moto-server", metavar="PATH", default=default_moto_server(), help="moto_server executable")
    add("--exit-on-stdin-eof", action="store_true", help="stop at end of file on stdin (for a parent holding a pipe)")
    add("--exit-with-parent", action="store_true", help="stop when the parent process exits")

    args = parser.parse_args(argv)
    for value in ("task_start_seconds", "rollout_seconds"):
        if getattr(args, value) < 0:
            parser.error(f"--{value.replace('_', '-')} must not be negative")
    return args


def smoke_config_from(args: argparse.Namespace) -> "SmokeConfig":
    from smoke import SmokeConfig

    config = SmokeConfig(
        container=args.smoke_container,
        key_variable=args.smoke_key_variable,
        key_header=args.smoke_key_header,
        match_header=args.smoke_match_header,
        auth_used_header=args.smoke_auth_header,
    )
    if args.smoke_host:
        hosts = {}
        for mapping in args.smoke_host:
            host, separator, service = mapping.partition("=")
            if not separator or not host or not service:
                raise SystemExit(f"testbed: invalid --smoke-host {mapping!r}; expected HOST=SERVICE")
            hosts[host.lower()] = service
        config.hosts = hosts
    return config


# ----- moto_server ---------------------------------------------------------------


def default_moto_server() -> Optional[str]:
    """Return the moto_server beside this Python (skipping a pyenv shim's start-up), else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("moto_server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this child when the testbed exits, so moto_server never outlives it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # Not Linux: the testbed still stops moto on a normal exit.


def moto_responds(port: int) -> bool:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=1)
    try:
        connection.request("GET", "/moto-api/data.json")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


class MotoServer:
    """moto_server child process on a free loopback port.

    Picking a free port and binding it later can race with another process,
    so `wait_ready()` relaunches a moto_server that exits early on a new port.
    NOTE: if another server took the port first, its reply can pass the
    readiness probe before this moto_server exits. The main loop then stops
    the testbed with status 1 as soon as it detects that moto_server exited.
    """

    def __init__(self, executable: str, state_dir: str) -> None:
        self.executable = executable
        self.log = open(os.path.join(state_dir, "moto.log"), "ab")
        self.process: Optional[subprocess.Popen] = None
        self.port = 0

    def launch(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [self.executable, "-H", LOOPBACK, "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            env=dict(os.environ, MOTO_ACCOUNT_ID=ACCOUNT_ID),
            preexec_fn=die_with_parent,
        )

    def wait_ready(self) -> None:
        """Block until moto responds, and raise RuntimeError after MOTO_START_ATTEMPTS failed launches."""
        last_error = "not started"
        for attempt in range(1, MOTO_START_ATTEMPTS + 1):
            if self.process is None:
                self.launch()
            deadline = time.monotonic() + MOTO_START_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    last_error = f"moto_server exited with status {self.process.returncode} (see moto.log)"
                    break
                if moto_responds(self.port):
                    LOG.info("moto_server pid %d is ready on port %d", self.process.pid, self.port)
                    return
                time.sleep(0.02)
            else:
                last_error = f"moto_server did not respond within {MOTO_START_TIMEOUT_SECONDS} s"
            self.stop()
            self.process = None
            LOG.warning("moto_server start attempt %d failed: %s", attempt, last_error)
        raise RuntimeError(f"starting moto_server failed: {last_error}")

    def reset(self) -> None:
        """Drop every resource in moto (its `POST /moto-api/reset`)."""
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=30)
        try:
            connection.request("POST", "/moto-api/reset")
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"moto reset failed with HTTP {response.status}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ----- moto clients --------------------------------------------------------------


class MotoClients:
    """boto3 clients bound to moto, for seeding and the testbed's own lookups (never logged as calls)."""

    def __init__(self, endpoint: str) -> None:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        config = Config(retries={"total_max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
        self.ecs = session.client("ecs", endpoint_url=endpoint, config=config)
        self.secretsmanager = session.client("secretsmanager", endpoint_url=endpoint, config=config)
        self.task_definitions: dict[str, dict] = {}
        self.lock = threading.Lock()

    def describe_task_definition(self, identifier: str) -> dict:
        """Return moto's task definition; full ARNs are cached because revisions never change."""
        with self.lock:
            cached = self.task_definitions.get(identifier)
        if cached is not None:
            return cached
        described = self.ecs.describe_task_definition(taskDefinition=identifier)["taskDefinition"]
        with self.lock:
            self.task_definitions[described["taskDefinitionArn"]] = described
        return described

    def clear_cache(self) -> None:
        """Forget cached task definitions, because a moto reset reuses their ARNs."""
        with self.lock:
            self.task_definitions.clear()

    def find_task_definition(self, identifier: str) -> Optional[dict]:
        """Return moto's task definition, or None when moto reports it as not found."""
        from botocore.exceptions import ClientError

        try:
            return self.describe_task_definition(identifier)
        except ClientError as error:
            LOG.info("task definition %s not found: %s", identifier, error.response["Error"]["Code"])
            return None

    def describe_service(self, cluster: str, service: str) -> Optional[dict]:
        response = self.ecs.describe_services(cluster=cluster, services=[service])
        for described in response.get("services", []):
            if described.get("status") == "ACTIVE":
                return json.loads(json.dumps(described, default=lambda value: value.timestamp()))
        return None


# ----- process lifecycle ---------------------------------------------------------


def write_json_atomically(path: str, document: dict) -> None:
    temporary = f"{path}.tmp.{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)


def serve_in_thread(server, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=name, daemon=True)
    thread.start()
    return thread


def watch_stdin(stop: threading.Event) -> None:
    # os.read on the descriptor, not sys.stdin: a daemon thread blocked inside
    # the buffered reader holds its lock and makes interpreter shutdown abort.
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    LOG.info("stdin reached EOF, stopping")
    stop.set()


def watch_parent(stop: threading.Event, parent_pid: int) -> None:
    while not stop.wait(0.5):
        if os.getppid() != parent_pid:
            LOG.info("parent process %d exited, stopping", parent_pid)
            stop.set()


def tick(scheduler: Scheduler, stop: threading.Event) -> None:
    """Advance the scheduler regularly, so secrets are read close to each task's start time."""
    while not stop.wait(TICK_SECONDS):
        try:
            scheduler.advance()
        except Exception:  # Keep ticking; the error is in the log.
            LOG.exception("scheduler tick failed")


def configure_logging(state_dir: str) -> None:
    handler = logging.FileHandler(os.path.join(state_dir, "testbed.log"), encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def adopt_seeded_services(clients: MotoClients, scheduler: Scheduler, seeded: SeedResult) -> None:
    for service_name in seeded.services.values():
        described = clients.describe_service(seeded.cluster, service_name)
        if described is None:
            raise RuntimeError(f"seeded service {service_name} is missing in moto")
        scheduler.adopt_service(described)


def warm_up_ecs(clients: MotoClients) -> None:
    try:
        clients.ecs.list_clusters()
    except Exception:  # Seeding repeats the call and reports the error.
        LOG.exception("warming up moto's ECS backend failed")


def seed_moto(clients: MotoClients, scenario: str) -> SeedResult:
    """Seed the example environment, loading moto's ECS backend while the secrets are created."""
    # moto loads its ECS backend on the first ECS request (0.7 s measured on
    # a 2-core machine), so warm it up while the secrets are seeded.
    warm_up = threading.Thread(target=warm_up_ecs, args=(clients,), name="ecs-warm-up", daemon=True)
    warm_up.start()
    seeded = seed_secrets(clients.secretsmanager, scenario)
    warm_up.join()
    seed_ecs(clients.ecs, REGION, ACCOUNT_ID, seeded)
    return seeded


def start_testbed(
    args: argparse.Namespace,
    state_dir: str,
    moto: MotoServer,
    servers: list,
    stop: threading.Event,
    ready_file: str,
) -> dict:
    """Start moto_server, seed it, start the proxy and smoke listeners, and return the testbed.json document.

    Every server that starts serving is appended to `servers`, so the caller
    can shut them down even when a later step fails. Background threads end
    when `stop` is set. A reset through the control API rewrites `ready_file`.
    """
    moto.launch()
    # Work that needs no moto runs while moto_server starts.
    smoke_config = smoke_config_from(args)
    from smoke import AppKeyResolver, SmokeServer, write_certificates

    certificates = write_certificates(state_dir, list(smoke_config.hosts))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificates["cert_file"], certificates["key_file"])
    moto.wait_ready()
    moto_endpoint = f"http://{LOOPBACK}:{moto.port}"
    clients = MotoClients(moto_endpoint)
    seeded = seed_moto(clients, args.scenario)

    behaviour = Behaviour(
        runner_health=args.runner_health,
        rollout=args.rollout,
        task_start_seconds=args.task_start_seconds,
        rollout_seconds=args.rollout_seconds,
        smoke_omit_headers=list(args.smoke_omit_header),
    )
    scheduler = Scheduler(
        region=REGION,
        account_id=ACCOUNT_ID,
        behaviour=behaviour,
        describe_task_definition=clients.describe_task_definition,
        resolve_app_key=AppKeyResolver(smoke_config, clients.secretsmanager.get_secret_value),
        runner_container=args.runner_container,
    )
    adopt_seeded_services(clients, scheduler, seeded)
    initial_behaviour = behaviour.to_json()

    def reset(request: dict) -> dict:
        """Reseed moto and the scheduler from scratch, as at start, and return the new testbed.json document."""
        if not isinstance(request, dict) or set(request) - {"scenario"}:
            raise ResetError('reset body must be {} or {"scenario": "rotated" | "no-runner"}')
        scenario = request.get("scenario", args.scenario)
        if scenario not in SCENARIOS:
            raise ResetError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
        began = time.monotonic()
        # Holding the scheduler lock keeps the ticker, the smoke endpoint and
        # ECS requests away from a half-seeded environment.
        with scheduler.lock:
            scheduler.clear()
            moto.reset()
            clients.clear_cache()
            reseeded = seed_moto(clients, scenario)
            behaviour.update(initial_behaviour)
            adopt_seeded_services(clients, scheduler, reseeded)
            proxy.calls.clear()
            proxy.faults.clear()
            ready["seed"] = reseeded.to_json()
            write_json_atomically(ready_file, ready)
        LOG.info("testbed reset to scenario %s in %.2f s", scenario, time.monotonic() - began)
        return ready

    proxy = AwsProxy(
        (LOOPBACK, 0),
        (LOOPBACK, moto.port),
        scheduler,
        behaviour,
        clients.describe_service,
        clients.find_task_definition,
        seeded.cluster,
        reset,
    )
    smoke_https = SmokeServer((LOOPBACK, 0), scheduler, behaviour, smoke_config, tls)
    smoke_http = SmokeServer((LOOPBACK, 0), scheduler, behaviour, smoke_config)
    for server, name in ((proxy, "proxy"), (smoke_https, "smoke-https"), (smoke_http, "smoke-http")):
        serve_in_thread(server, name)
        servers.append(server)
    threading.Thread(target=tick, args=(scheduler, stop), name="scheduler-tick", daemon=True).start()

    aws_endpoint = f"http://{LOOPBACK}:{proxy.server_address[1]}"
    ready = {
        "aws_endpoint": aws_endpoint,
        "moto_endpoint": moto_endpoint,
        "smoke_https_port": smoke_https.server_address[1],
        "smoke_http_port": smoke_http.server_address[1],
        "ca_file": certificates["ca_file"],
        "control": f"{aws_endpoint}/_testbed",
        "region": REGION,
        "account_id": ACCOUNT_ID,
        "pid": os.getpid(),
        "moto_pid": moto.process.pid,
        "smoke_hosts": smoke_config.hosts,
        "seed": seeded.to_json(),
    }
    return ready


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    state_dir = os.path.abspath(args.state_dir)
    os.makedirs(state_dir, exist_ok=True)
    configure_logging(state_dir)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    if args.moto_server is None:
        print("testbed: moto_server not found; install moto[server]==5.2.1 or pass --moto-server", file=sys.stderr)
        return 2

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        threading.Thread(target=watch_stdin, args=(stop,), name="stdin-watch", daemon=True).start()
    if args.exit_with_parent:
        threading.Thread(target=watch_parent, args=(stop, os.getppid()), name="parent-watch", daemon=True).start()

    started = time.monotonic()
    ready_file = os.path.join(state_dir, "testbed.json")
    # A ready file left by a killed testbed would signal "ready" at once.
    if os.path.exists(ready_file):
        LOG.info("removing stale %s", ready_file)
        os.remove(ready_file)
    moto = MotoServer(args.moto_server, state_dir)
    servers: list = []
    try:
        ready = start_testbed(args, state_dir, moto, servers, stop, ready_file)
        if stop.is_set():
            LOG.info("stop requested during start-up; not writing %s", ready_file)
            return 0
        write_json_atomically(ready_file, ready)
        LOG.info("testbed ready in %.2f s: proxy %s", time.monotonic() - started, ready["aws_endpoint"])
        while not stop.wait(0.5):
            if moto.process.poll() is not None:
                LOG.error("moto_server exited with status %s, stopping the testbed", moto.process.returncode)
                return 1
        LOG.info("stopping on request")
        return 0
    except Exception as error:
        LOG.exception("testbed failed")
        print(f"testbed: {error} (see {os.path.join(state_dir, 'testbed.log')})", file=sys.stderr)
        return 1
    finally:
        stop.set()
        try:
            os.remove(ready_file)
        except FileNotFoundError:
            pass
        for server in servers:
            server.shutdown()
            server.server_close()
        moto.stop()
        LOG.info("stopped")
        logging.shutdown()


if __name__ == "__main__":
    sys.exit(main())
