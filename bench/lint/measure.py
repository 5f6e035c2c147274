"""Times each linter on the generated workflow and on the corpus and
prints the median wall-clock time, the median CPU time (user + system of
the child) and the ratio of each to greenlight's.
Reads RUNS, GREENLIGHT, VENV and WORK from the environment; the corpus
files are the arguments.
"""

import glob
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import actionlint_binary  # noqa: E402

RUNS = int(os.environ["RUNS"])
GREENLIGHT = os.environ["GREENLIGHT"]
VENV = os.environ["VENV"]
WORK = os.environ["WORK"]


def measure(command):
    walls, cpus = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def tools(files, scripts):
    # The Go binary itself: the venv's bin/actionlint is a Python entry
    # point, whose start-up would count as actionlint's time.
    actionlint = actionlint_binary(VENV)
    return [
        ("greenlight lint", [GREENLIGHT, *files]),
        ("actionlint (no shellcheck)", [actionlint, "-shellcheck=", "-pyflakes=", *files]),
        (
            "actionlint + shellcheck",
            [actionlint, f"-shellcheck={VENV}/bin/shellcheck", "-pyflakes=", *files],
        ),
        ("zizmor --offline", [f"{VENV}/bin/zizmor", "--offline", *files]),
        ("shellcheck (run: scripts)", [f"{VENV}/bin/shellcheck", "-S", "warning", *scripts]),
    ]


def report(title, files, scripts):
    print(f"\n{title}: {len(files)} files, {len(scripts)} bash run: scripts, median of {RUNS} runs")
    print(f"{'tool':30} {'wall ms':>9} {'cpu ms':>9} {'wall x':>8} {'cpu x':>8}")
    base = None
    for name, command in tools(files, scripts):
        wall, cpu = measure(command)
        if base is None:
            base = (wall, cpu)
        print(f"{name:30} {wall:9.1f} {cpu:9.1f} {wall / base[0]:8.2f} {cpu / base[1]:8.2f}")


def main():
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    generated_scripts = sorted(glob.glob(f"{WORK}/generated-scripts/*.sh"))
    report("generated workflow (300 steps)", [f"{WORK}/generated.yml"], generated_scripts)
    corpus = sys.argv[1:]
    if corpus:
        report("corpus", corpus, sorted(glob.glob(f"{WORK}/corpus-scripts/*.sh")))
    else:
        print("\ncorpus: skipped, folder absent")
    print("\nx: time divided by greenlight's; above 1.00 means slower than greenlight")


if __name__ == "__main__":
    main()
