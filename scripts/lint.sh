#!/usr/bin/env bash
# The lint gates of the test command, runnable alone: ruff (lint + format check) and mypy on the packages
# listed under [tool.mypy] in pyproject.toml (strict where they are clean). Configuration: pyproject.toml.
#   bash scripts/lint.sh          # check only; exit 1 when any gate fails, after running all three
#   bash scripts/lint.sh --fix    # let ruff format the code and fix what it can first, then check
# Uses $LINT_PYTHON (default: .venv/bin/python when it exists, else python3); it needs ruff and mypy
# (both in the [test-tools] extra).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${LINT_PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then LINT_PYTHON=.venv/bin/python; else LINT_PYTHON=python3; fi
fi

if [ "${1:-}" = "--fix" ]; then
    "$LINT_PYTHON" -m ruff format .
    "$LINT_PYTHON" -m ruff check --fix .
fi

failed=()
echo "--- ruff check"
"$LINT_PYTHON" -m ruff check . || failed+=("ruff check")
echo "--- ruff format --check"
"$LINT_PYTHON" -m ruff format --check . || failed+=("ruff format --check (run: bash scripts/lint.sh --fix)")
echo "--- mypy"
"$LINT_PYTHON" -m mypy --cache-dir "${MYPY_CACHE_DIR:-.cache/mypy}" || failed+=("mypy")

if [ ${#failed[@]} -gt 0 ]; then
    printf 'lint FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "lint passed"
