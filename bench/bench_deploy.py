"""Deploy benchmarks: greenlight deploy against bench/deploy/aws-cli-deploy.sh
on a fresh loopback testbed per run.

overhead:      the scheduler's simulated delays are zero, so the wall time
               is the tools' own cost: process start-up, AWS calls, waiting
               logic and the smoke request.
time-to-green: the rollout completes a known number of seconds after the
               deployment starts, a different fraction of greenlight's
               poll interval past the base duration in each run. The moment of completion is the COMPLETED
               deployment's updatedAt in the testbed's state. Each tool's
               notice time is when its progress line arrived on stderr.

Usage: bench_deploy.py --greenlight BIN --output FILE [--runs N]
       [--green-runs N] [--rollout-seconds S]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tomllib

from harness import REPO, Run, Testbed, count_operations, median, run_measured, summarize, write_json

SERVICE = "afu9-control-center-staging"
AWS_SCRIPT = os.path.join(REPO, "bench", "deploy", "aws-cli-deploy.sh")
CONFIG = os.path.join(REPO, "examples", "afu9", "greenlight.toml")
# Per-run limit, far above what either tool needs on the testbed.
RUN_TIMEOUT_SECONDS = 300.0

DEFAULT_POLL_INTERVAL = "2s"
# The stderr line each tool prints when it has seen the rollout complete.
NOTICE_LINES = {"greenlight": "rollout completed", "aws-cli": "services-stable returned"}


def tool_command(tool: str, greenlight: str, tag: str) -> list[str]:
    if tool == "greenlight":
        return [greenlight, "deploy", "--env", "staging", "--tag", tag, "--skip-gates"]
    return ["bash", AWS_SCRIPT, tag]


def deploy_once(tool: str, greenlight: str, tag: str, testbed_options: list[str]) -> dict:
    """Runs one deploy on a fresh testbed and returns its measurements."""
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-") as scratch, Testbed(*testbed_options) as testbed:
        env = testbed.environment(scratch)
        testbed.clear_calls()
        run = run_measured(tool_command(tool, greenlight, tag), env=env, timeout=RUN_TIMEOUT_SECONDS)
        calls = testbed.calls()
        service = testbed.service_state(SERVICE)
    return measure_deploy(tool, run, calls, service, tag)


def measure_deploy(tool: str, run: Run, calls: list[dict], service: dict, tag: str) -> dict:
    primary = service["deployments"][0]
    green = run.exit_code == 0 and run.stdout.strip().endswith("GREEN")
    completed = primary["rolloutState"] == "COMPLETED"
    if not (green and completed):
        sys.stderr.write(f"{tool} run failed (exit {run.exit_code}, rollout {primary['rolloutState']}):\n")
        sys.stderr.write(run.stdout[-2000:] + run.stderr_text()[-4000:])
    completed_at = primary["updatedAt"] if completed else None
    noticed_at = run.first_line_time(NOTICE_LINES[tool])
    updates = [call["at"] for call in calls if call["operation"] == "ecs:UpdateService"]
    update_at = updates[0] if updates else None
    describe = [call["at"] for call in calls if call["operation"] == "ecs:DescribeServices"]
    waiting = []
    if update_at is not None and noticed_at is not None:
        waiting = [at for at in describe if update_at < at <= noticed_at]
    return {
        "tool": tool,
        "ok": green and completed,
        "exit_code": run.exit_code,
        "wall_seconds": run.wall_seconds,
        "cpu_seconds": run.cpu_seconds,
        "max_rss_kib": run.max_rss_kib,
        "aws_calls": len(calls),
        "operations": count_operations(calls),
        "describe_services_while_waiting": len(waiting),
        "notice_after_completion": (noticed_at - completed_at) if noticed_at and completed_at else None,
        "end_after_completion": (run.ended_at - completed_at) if completed_at else None,
        "rollout_seconds": (completed_at - update_at) if completed_at and update_at else None,
    }


def series(tools: list[str], options_per_run: list[list[str]], greenlight: str, label: str) -> dict:
    """Runs each tool once per entry of `options_per_run` (the testbed's
    options), alternating the tools run by run so load changes hit both alike."""
    results: dict[str, list[dict]] = {tool: [] for tool in tools}
    runs = len(options_per_run)
    for index, testbed_options in enumerate(options_per_run):
        order = tools if index % 2 == 0 else list(reversed(tools))
        for tool in order:
            tag = f"bench{index}{tool[:2]}"
            result = deploy_once(tool, greenlight, tag, testbed_options)
            print(
                f"  {label} run {index + 1}/{runs} {tool}: {result['wall_seconds']:.2f} s wall, "
                f"{result['cpu_seconds']:.2f} s CPU, {result['aws_calls']} AWS calls, ok={result['ok']}",
                file=sys.stderr,
            )
            results[tool].append(result)
    return {tool: aggregate(entries) for tool, entries in results.items()}


def aggregate(entries: list[dict]) -> dict:
    ok = [entry for entry in entries if entry["ok"]]

    def med(key: str):
        return median([entry[key] for entry in ok if entry[key] is not None])

    runs = [
        Run(e["exit_code"], e["wall_seconds"], e["cpu_seconds"], e["max_rss_kib"], 0.0, 0.0) for e in ok
    ]
    summary = summarize(runs)
    summary.update(
        failed_runs=len(entries) - len(ok),
        aws_calls=med("aws_calls"),
        operations=ok[0]["operations"] if ok else {},
        describe_services_while_waiting=med("describe_services_while_waiting"),
        notice_after_completion=med("notice_after_completion"),
        notice_after_completion_max=max(
            (e["notice_after_completion"] for e in ok if e["notice_after_completion"] is not None), default=None
        ),
        end_after_completion=med("end_after_completion"),
        rollout_seconds=med("rollout_seconds"),
        all_runs=entries,
    )
    return summary


def seconds_of(duration: str) -> float:
    """Parses a greenlight duration such as "2s", "500ms" or "1m"."""
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if duration.endswith(suffix) and duration[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(duration[: -len(suffix)]) * factor
    raise ValueError(f"invalid duration in [rollout] poll_interval: {duration!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--greenlight", required=True, help="greenlight executable")
    parser.add_argument("--output", required=True, help="JSON results file")
    parser.add_argument("--runs", type=int, default=5, help="runs per tool with zero delays")
    parser.add_argument("--green-runs", type=int, default=3, help="runs per tool with a timed rollout")
    parser.add_argument(
        "--rollout-seconds",
        type=float,
        default=20.0,
        help="shortest simulated rollout in seconds; later runs add fractions of the poll interval",
    )
    args = parser.parse_args()

    with open(CONFIG, "rb") as handle:
        poll_interval = tomllib.load(handle).get("rollout", {}).get("poll_interval", DEFAULT_POLL_INTERVAL)

    tools = ["greenlight", "aws-cli"]
    print(f"deploy overhead: {args.runs} runs per tool, scheduler delays 0", file=sys.stderr)
    zero_delays = ["--task-start-seconds", "0", "--rollout-seconds", "0"]
    overhead = series(tools, [zero_delays] * args.runs, args.greenlight, "overhead")

    # A rollout that lasts a whole number of poll intervals completes just
    # before one of greenlight's polls, its best case. Spreading the
    # durations over one interval samples every phase instead.
    step = seconds_of(poll_interval) / args.green_runs
    rollouts = [round(args.rollout_seconds + index * step, 2) for index in range(args.green_runs)]
    print(f"time to GREEN: rollouts of {rollouts} s, one run per tool each", file=sys.stderr)
    green = series(
        tools,
        [["--task-start-seconds", "0", "--rollout-seconds", f"{seconds:g}"] for seconds in rollouts],
        args.greenlight,
        "time-to-green",
    )
    write_json(
        args.output,
        {
            "greenlight_command": "greenlight deploy --env staging --tag T --skip-gates",
            "aws_cli_command": "bench/deploy/aws-cli-deploy.sh T",
            "poll_interval": poll_interval,
            "rollout_seconds": rollouts,
            "overhead": overhead,
            "time_to_green": green,
        },
    )


if __name__ == "__main__":
    main()
