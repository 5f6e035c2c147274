"""Writes a generated GitHub Actions workflow with 300 bash run: steps.

Each step mixes what the unbound-variable analysis has to follow: env:
at three levels, $GITHUB_ENV writes read by later steps, functions,
branches, loops, arithmetic and guarded expansions.
Usage: gen_workflow.py OUTPUT_FILE [STEPS]
"""

import sys

JOBS = 6


def step_script(job: int, index: int) -> str:
    lines = [
        "set -euo pipefail",
        f'echo "STEP_{job}_{index}=done" >> "$GITHUB_ENV"',
        f"count_{index}=0",
        f"for item in alpha beta gamma; do count_{index}=$((count_{index} + 1)); done",
        f'if [ "$GITHUB_REF_NAME" = main ]; then target=prod; else target=stage; fi',
        'echo "deploying $SERVICE to $target with ${EXTRA_FLAGS:-none}"',
        "render() {",
        "  local name=$1",
        '  printf "%s-%s\\n" "$name" "$IMAGE_TAG"',
        "}",
        'render "svc"',
        f'echo "{"${{ github.sha }}"} $STEP_LEVEL ${{#target}}"',
    ]
    if index > 0:
        lines.append(f'echo "previous: $STEP_{job}_{index - 1}"')
    if index % 7 == 0:
        lines.append('case "$target" in prod) region=eu ;; *) region=us ;; esac')
        lines.append('echo "$region"')
    return "\n".join(lines)


def main() -> None:
    output = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    per_job = steps // JOBS
    out = [
        "name: generated",
        "on: push",
        "env:",
        "  SERVICE: web",
        "jobs:",
    ]
    for job in range(JOBS):
        out += [
            f"  job-{job}:",
            "    runs-on: ubuntu-latest",
            "    env:",
            "      IMAGE_TAG: ${{ github.sha }}",
            "    steps:",
        ]
        for index in range(per_job):
            out += [
                f"      - name: step {job}-{index}",
                "        env:",
                f"          STEP_LEVEL: s{index}",
                "        run: |",
            ]
            out += ["          " + line for line in step_script(job, index).splitlines()]
    with open(output, "w", encoding="utf-8") as handle:
        handle.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
