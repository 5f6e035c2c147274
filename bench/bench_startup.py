"""Start-up and memory: `greenlight --version` and `greenlight lint` on one
small workflow (5 bash steps, no findings), beside actionlint doing the
same. Wall time comes from hyperfine when it is installed, else from a
loop in this script. Peak RSS comes from separate runs (`os.wait4`).

Usage: bench_startup.py --greenlight BIN --venv DIR --output FILE [--runs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from harness import REPO, actionlint_binary, median, median_wall, run_measured, write_json

GENERATOR = os.path.join(REPO, "bench", "gen_bash_steps.py")
SMALL_STEPS = 5
RSS_RUNS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--greenlight", required=True)
    parser.add_argument("--venv", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    actionlint = actionlint_binary(args.venv)
    results = []
    with tempfile.TemporaryDirectory(prefix="greenlight-bench-startup-") as scratch:
        small = os.path.join(scratch, "small.yml")
        subprocess.run([sys.executable, GENERATOR, small, str(SMALL_STEPS)], check=True)
        commands = [
            ("greenlight --version", [args.greenlight, "--version"]),
            ("greenlight lint small.yml", [args.greenlight, "lint", small]),
            ("actionlint --version", [actionlint, "--version"]),
            ("actionlint small.yml (no shellcheck)", [actionlint, "-shellcheck=", "-pyflakes=", small]),
        ]
        for name, command in commands:
            wall, method = median_wall(command, args.runs, warmup=3)
            rss_runs = [run_measured(command) for _ in range(RSS_RUNS)]
            result = {
                "command": name,
                "wall_seconds": wall,
                "method": method,
                "runs": args.runs,
                "max_rss_kib": median([run.max_rss_kib for run in rss_runs]),
                "exit_codes": sorted({run.exit_code for run in rss_runs}),
            }
            print(
                f"  {name:40} {wall * 1000:8.2f} ms  {result['max_rss_kib'] / 1024:6.1f} MiB",
                file=sys.stderr,
            )
            results.append(result)
    write_json(args.output, {"small_workflow_steps": SMALL_STEPS, "results": results})


if __name__ == "__main__":
    main()
