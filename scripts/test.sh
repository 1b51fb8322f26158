#!/usr/bin/env bash
# The project's one test command (README, .ci/run). Installs what it needs, starts PostgreSQL and runs:
#   1. the whole suite in .venv (Airflow 3 + this package), against SQLite and PostgreSQL, with a real browser,
#      then the dbt Cloud provider's own unit tests run on our hook, operator and sensor (about a minute);
#   2. the core tests in .venv-core, a venv WITHOUT Airflow, proving the core works without it;
#   3. the Airflow tests again in .venv-airflow2 with Airflow 2.11, the dbt Cloud provider's minimum
#      (skip with DATABAND_DBT_SKIP_AIRFLOW2=1).
# Extra arguments go to the first pytest run (e.g. `bash scripts/test.sh -k collector`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

step() { printf '\n=== %s ===\n' "$*"; }

pip_install() {  # pip_install VENV ARGS...: quiet, but a failed install stops the script
    local dir=$1; shift
    "$dir/bin/python" -m pip install -q "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }
    return "${PIPESTATUS[0]}"
}

make_venv() {  # make_venv DIR EXTRAS [PIP ARGS...]
    local dir=$1 extras=$2; shift 2
    [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
    pip_install "$dir" --upgrade pip
    pip_install "$dir" -e ".[$extras]" "$@"
    "$dir/bin/python" -c "import airflow_provider_databand_dbt"
}

step "installing .venv (package + Airflow 3 + test tools)"
make_venv .venv "airflow,test"

step "installing a headless browser (Debian chromium)"
bash scripts/install_browser.sh

step "starting PostgreSQL"
PG_URL=$(bash scripts/start_postgres.sh | tail -n 1)
trap 'bash scripts/stop_postgres.sh >/dev/null 2>&1 || true' EXIT
export DATABAND_DBT_TEST_POSTGRES_URL="$PG_URL"
echo "PostgreSQL at $PG_URL"

step "full suite (SQLite + PostgreSQL, Airflow, browser)"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"

step "the dbt Cloud provider's own unit tests with our classes substituted (.venv, allow-list: tests/airflow/upstream_allowlist.txt)"
.venv/bin/python scripts/upstream_provider_tests.py

step "core without Airflow (.venv-core)"
make_venv .venv-core "test"
if .venv-core/bin/python -c "import airflow" 2>/dev/null; then
    echo "Airflow is importable in .venv-core: the core-only check would prove nothing" >&2
    exit 1
fi
DATABAND_DBT_TEST_POSTGRES_URL= .venv-core/bin/python -m pytest -q -p no:cacheprovider -m "not airflow and not browser" \
    tests/dbt_cloud tests/collector tests/tracking tests/cli tests/monitor tests/test_token_never_leaks.py

if [ "${DATABAND_DBT_SKIP_AIRFLOW2:-0}" != 1 ]; then
    step "Airflow tests on Airflow 2.11 (.venv-airflow2)"
    make_venv .venv-airflow2 "airflow,test" "apache-airflow==2.11.*" "apache-airflow-providers-dbt-cloud==4.11.*"
    DATABAND_DBT_TEST_POSTGRES_URL= .venv-airflow2/bin/python -m pytest -q -p no:cacheprovider tests/airflow
fi
