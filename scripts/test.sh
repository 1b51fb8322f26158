#!/usr/bin/env bash
# The project's one test command (README, .ci/run). Installs what it needs, starts PostgreSQL and runs:
#   1. the whole suite in .venv (Airflow 3 + this package), against SQLite and PostgreSQL, with a real browser,
#      then the dbt Cloud provider's own unit tests run on our hook, operator and sensor (about a minute);
#   2. the lint gates (bash scripts/lint.sh: ruff check, ruff format --check, mypy) with .venv's tools;
#   3. the core tests in .venv-core, `pip install -e .` + test tools and NO extra (no Airflow, PostgreSQL driver,
#      FastAPI or prometheus-client), proving the core works without them and that each missing extra is
#      reported in one line;
#   4. the Airflow, store, monitor, web, CLI and collector tests again in .venv-airflow2 with Airflow 2.11
#      (the dbt Cloud provider's minimum) and SQLAlchemy 1.4, PostgreSQL through psycopg2
#      (skip with DATABAND_DBT_SKIP_AIRFLOW2=1);
#   5. a check that the run left every tracked file as it was.
# Every venv installs exactly the versions pinned in constraints/ (scripts/update_constraints.sh makes them).
# A failed pytest run (exit 5, no tests collected, included) fails the command after the remaining steps ran.
# Extra arguments go to the first pytest run (e.g. `bash scripts/test.sh -k collector`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# shellcheck source=scripts/venvs.sh
source scripts/venvs.sh

STEP_NAME="" STEP_START=$SECONDS
FAILURES=() WARNINGS=()

step() {  # step TITLE: close the previous step with its duration, then announce this one
    [ -z "$STEP_NAME" ] || printf '=== %s: %ds ===\n' "$STEP_NAME" $((SECONDS - STEP_START))
    STEP_NAME=$1 STEP_START=$SECONDS
    [ -z "$STEP_NAME" ] || printf '\n=== [%dm%02ds] %s ===\n' $((SECONDS / 60)) $((SECONDS % 60)) "$STEP_NAME"
}

make_venv() {  # make_venv NAME: create or update a test venv from its constraints file
    local name=$1 dir=${VENV_DIR[$1]} constraints
    constraints=$(constraints_file "$name" "$PYTHON")
    if [ ! -f "$constraints" ]; then
        echo "no $constraints for this Python: run 'bash scripts/update_constraints.sh' or set PYTHON" >&2
        exit 1
    fi
    [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
    pip_quiet "$dir/bin/python" -c "$constraints" --upgrade pip
    # shellcheck disable=SC2086  # the requirements are a word list
    pip_quiet "$dir/bin/python" -c "$constraints" -e ".[${VENV_EXTRAS[$name]}]" ${VENV_REQUIREMENTS[$name]}
    "$dir/bin/python" -c "import airflow_provider_databand_dbt"
    local unpinned
    unpinned=$(comm -13 <(package_names < "$constraints") \
        <("$dir/bin/python" -m pip freeze --all --exclude airflow-provider-databand-dbt | package_names) | xargs)
    if [ -n "$unpinned" ]; then  # a dependency was added without regenerating the pins
        WARNINGS+=("$constraints does not pin: $unpinned (run bash scripts/update_constraints.sh $name)")
        echo "WARNING: ${WARNINGS[-1]}" >&2
    fi
}

package_names() {  # normalised names of the "name==version" lines on stdin
    grep -E '^[A-Za-z0-9]' | cut -d= -f1 | tr 'A-Z_.' 'a-z--' | sort -u
}

run_pytest() {  # run_pytest NAME VENV PYTEST ARGS...: a failure (any non-zero exit) is recorded, not fatal
    local name=$1 dir=$2 rc=0
    "$dir/bin/python" -m pytest -q -p no:cacheprovider "${@:3}" || rc=$?
    if [ "$rc" = 5 ]; then
        echo "pytest collected no tests in '$name': counted as a failure" >&2
    fi
    if [ "$rc" != 0 ]; then FAILURES+=("$name (pytest exit $rc)"); fi
}

tree_state() {  # what git sees as changed (tracked or new files); empty outside a git checkout
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git status --porcelain --untracked-files=all
        git diff HEAD | sha256sum
    fi
}
TREE_BEFORE=$(tree_state)

step "installing .venv (package + Airflow 3 + test tools)"
make_venv airflow3

step "installing a headless browser (Debian chromium)"
bash scripts/install_browser.sh

step "starting PostgreSQL"
PG_URL=$(bash scripts/start_postgres.sh | tail -n 1)
trap 'bash scripts/stop_postgres.sh >/dev/null 2>&1 || true' EXIT
export DATABAND_DBT_TEST_POSTGRES_URL="$PG_URL"
echo "PostgreSQL at $PG_URL"

step "full suite (SQLite + PostgreSQL, Airflow, browser)"
run_pytest "full suite" .venv "$@"

step "the dbt Cloud provider's own unit tests with our classes substituted (.venv, allow-list: tests/airflow/upstream_allowlist.txt)"
.venv/bin/python scripts/upstream_provider_tests.py || FAILURES+=("the dbt Cloud provider's own tests (scripts/upstream_provider_tests.py)")

step "lint: ruff + mypy (bash scripts/lint.sh)"
LINT_PYTHON=.venv/bin/python bash scripts/lint.sh || FAILURES+=("lint (bash scripts/lint.sh; --fix formats and fixes)")

step "core install without any extra (.venv-core)"
make_venv core
installed=$(.venv-core/bin/python -c "
from airflow_provider_databand_dbt.extras import installed_extras
print(' '.join(name for name, present in installed_extras().items() if present))")
if [ -n "$installed" ]; then
    echo "extras importable in .venv-core ($installed): the core-only check would prove nothing" >&2
    exit 1
fi
# The PostgreSQL runs need the [postgres] extra, the monitor and web tests theirs: tests/packaging checks the
# one-line message each gives here instead.
DATABAND_DBT_CORE_VENV=1 run_pytest "core" .venv-core -m "not airflow and not browser and not postgres" \
    tests/dbt_cloud tests/model tests/collector tests/tracking tests/sinks tests/cli tests/testing tests/packaging tests/test_token_never_leaks.py

if [ "${DATABAND_DBT_SKIP_AIRFLOW2:-0}" != 1 ]; then
    step "Airflow 2.11 + SQLAlchemy 1.4 (.venv-airflow2)"
    make_venv airflow2
    DATABAND_DBT_TEST_POSTGRES_URL=${PG_URL/+psycopg:/+psycopg2:} run_pytest "airflow 2.11" .venv-airflow2 \
        -m "not browser" tests/airflow tests/model tests/tracking tests/sinks tests/monitor tests/www tests/cli tests/collector \
        tests/alerts tests/openlineage
fi

step "checking the run left the tree as it was"
if [ "$(tree_state)" != "$TREE_BEFORE" ]; then
    git status --short >&2
    FAILURES+=("the test run modified files tracked by git (or left new ones)")
fi
step ""

printf '\n=== total: %dm%02ds ===\n' $((SECONDS / 60)) $((SECONDS % 60))
[ ${#WARNINGS[@]} -eq 0 ] || printf 'WARNING: %s\n' "${WARNINGS[@]}" >&2
if [ ${#FAILURES[@]} -gt 0 ]; then
    printf 'FAILED: %s\n' "${FAILURES[@]}" >&2
    exit 1
fi
echo "all test runs passed"
