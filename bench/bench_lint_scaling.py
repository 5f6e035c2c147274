"""Lint scaling: how each linter's cost grows with the number of bash steps
in one workflow file (gen_bash_steps.py).

For every size, each tool runs up to 3 times under GNU time for CPU time
and peak RSS. Then it runs up to `--runs` times for the wall time (with
hyperfine when installed): as many as fit in `--budget` seconds, judged by
its first run.
So the slowest tool on the largest file runs at least twice and the
series stays bounded.

Usage: bench_lint_scaling.py --greenlight BIN --venv DIR --output FILE
       [--sizes 10,100,1000] [--runs 5] [--budget 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from harness import REPO, actionlint_binary, median_wall, run_measured, summarize, write_json

GENERATOR = os.path.join(REPO, "bench", "gen_bash_steps.py")


def linters(greenlight: str, venv: str, path: str) -> list[tuple[str, list[str]]]:
    actionlint = actionlint_binary(venv)
    shellcheck = os.path.join(venv, "bin", "shellcheck")
    return [
        ("greenlight lint", [greenlight, "lint", path]),
        ("actionlint, no shellcheck", [actionlint, "-shellcheck=", "-pyflakes=", path]),
        ("actionlint + shellcheck", [actionlint, f"-shellcheck={shellcheck}", "-pyflakes=", path]),
        ("zizmor --offline", [os.path.join(venv, "bin", "zizmor"), "--offline", path]),
    ]


def measure_bounded(command: list[str], runs: int, budget: float) -> dict:
    """Measures CPU time and peak RSS in up to 3 runs under GNU time, then
    the wall time in as many of `runs` runs as fit in `budget` seconds,
    judged by the first run (at least 1)."""
    timeout = max(budget * 5, 120.0)
    results = [run_measured(command, timeout=timeout)]
    started = time.monotonic()
    while len(results) < min(3, runs) and time.monotonic() - started < budget / 2:
        results.append(run_measured(command, timeout=timeout))
    wall_runs = max(1, min(runs, int(budget / max(results[0].wall_seconds, 0.001))))
    wall, method = median_wall(command, wall_runs, warmup=1)
    summary = summarize(results)
    summary.update(
        exit_codes=sorted({run.exit_code for run in results}),
        wall_seconds=wall,
        wall_method=method,
        runs=wall_runs,
        resource_runs=len(results),
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--greenlight", required=True)
    parser.add_argument("--venv", required=True, help="venv with actionlint, shellcheck and zizmor")
    parser.add_argument("--output", required=True)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per tool and size")
    args = parser.parse_args()

    sizes = [int(size) for size in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-lint-") as scratch:
        for size in sizes:
            path = os.path.join(scratch, f"steps-{size}.yml")
            subprocess.run([sys.executable, GENERATOR, path, str(size)], check=True)
            file_bytes = os.path.getsize(path)
            for name, command in linters(args.greenlight, args.venv, path):
                summary = measure_bounded(command, args.runs, args.budget)
                summary.update(tool=name, steps=size, file_bytes=file_bytes)
                print(
                    f"  {size:>5} steps  {name:28} {summary['wall_seconds'] * 1000:9.1f} ms "
                    f"{summary['max_rss_kib'] / 1024:7.1f} MiB  ({summary['runs']} runs)",
                    file=sys.stderr,
                )
                results.append(summary)
    write_json(args.output, {"runs": args.runs, "budget_seconds": args.budget, "results": results})


if __name__ == "__main__":
    main()
