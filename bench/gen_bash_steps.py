"""Writes a GitHub Actions workflow with exactly N bash `run:` steps, for
the lint scaling series.

The steps are spread over jobs of at most 50 steps each. Every step reads
variables from workflow, job and step `env:`, from `$GITHUB_ENV` written by
the step before it, and through guarded expansions, and every tenth step
reads one variable that nothing sets, so each linter has findings to report.

Usage: gen_bash_steps.py OUTPUT_FILE STEPS
"""

from __future__ import annotations

import sys

STEPS_PER_JOB = 50


def script_lines(job: int, step: int) -> list[str]:
    lines = [
        "set -euo pipefail",
        f'echo "BUILD_{step}=ok" >> "$GITHUB_ENV"',
        'mode="${DEPLOY_MODE:-rolling}"',
        "total=0",
        "for part in api web worker; do",
        '  total=$((total + ${#part}))',
        '  echo "$part in $REGION ($mode)"',
        "done",
        'if [[ "$GITHUB_REF" == refs/heads/main ]]; then',
        '  echo "image $REGISTRY/app:$IMAGE_TAG step $STEP_NAME"',
        "fi",
        "tag_for() {",
        '  local name="$1"',
        '  printf \'%s:%s\\n\' "$name" "$IMAGE_TAG"',
        "}",
        f'tag_for "job{job}-step{step}"',
    ]
    if step > 0:
        lines.append(f'echo "before me: $BUILD_{step - 1}"')
    if step % 10 == 9:
        lines.append('echo "unset on purpose: $READY_HOST"')
    return lines


def workflow(steps: int) -> str:
    out = [
        "name: generated scaling workflow",
        "on: push",
        "permissions:",
        "  contents: read",
        "env:",
        "  REGION: eu-central-1",
        "jobs:",
    ]
    written = 0
    job = 0
    while written < steps:
        in_job = min(STEPS_PER_JOB, steps - written)
        out += [
            f"  build-{job}:",
            "    runs-on: ubuntu-latest",
            "    env:",
            "      REGISTRY: registry.example.invalid",
            "      IMAGE_TAG: ${{ github.sha }}",
            "    steps:",
        ]
        for step in range(in_job):
            out += [
                f"      - name: step {job}-{step}",
                "        shell: bash",
                "        env:",
                f"          STEP_NAME: s{job}-{step}",
                "        run: |",
            ]
            out += ["          " + line for line in script_lines(job, step)]
        written += in_job
        job += 1
    return "\n".join(out) + "\n"


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: gen_bash_steps.py OUTPUT_FILE STEPS")
    with open(sys.argv[1], "w", encoding="utf-8") as handle:
        handle.write(workflow(int(sys.argv[2])))


if __name__ == "__main__":
    main()
