"""Writes every bash run: script of the given workflow or action files to
OUTPUT_DIR as one .sh file each, with ${{ }} expressions replaced by a
placeholder, so shellcheck can check the same scripts greenlight does.
Usage: extract_scripts.py OUTPUT_DIR FILE...
"""

import os
import re
import sys

import yaml

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)


def steps_of(document):
    if not isinstance(document, dict):
        return
    jobs = document.get("jobs")
    if isinstance(jobs, dict):
        for job in jobs.values():
            if isinstance(job, dict):
                yield from job.get("steps") or []
    runs = document.get("runs")
    if isinstance(runs, dict):
        yield from runs.get("steps") or []


def main() -> None:
    output = sys.argv[1]
    os.makedirs(output, exist_ok=True)
    count = 0
    for path in sys.argv[2:]:
        try:
            with open(path, encoding="utf-8") as handle:
                document = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        for step in steps_of(document):
            if not isinstance(step, dict) or not isinstance(step.get("run"), str):
                continue
            shell = str(step.get("shell", "bash"))
            if not shell.startswith(("bash", "sh")):
                continue
            script = EXPRESSION.sub("EXPR", step["run"])
            with open(os.path.join(output, f"{count:05}.sh"), "w", encoding="utf-8") as handle:
                handle.write("#!/bin/bash\n" + script)
            count += 1


if __name__ == "__main__":
    main()
