#!/usr/bin/env bash
# The project's one test command (README, .ci/run). Installs what it needs, starts PostgreSQL and runs:
#   1. the whole suite in .venv (Airflow 3 + this package), against SQLite and PostgreSQL, with a real browser;
#   2. the core tests in .venv-core, a venv WITHOUT Airflow, proving the core works without it.
# Extra arguments go to the first pytest run (e.g. `bash scripts/test.sh -k collector`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

step() { printf '\n=== %s ===\n' "$*"; }

make_venv() {  # make_venv DIR EXTRAS
    local dir=$1 extras=$2
    [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
    "$dir/bin/python" -m pip install -q -e ".[$extras]" 2>&1 | grep -v '^WARNING: Location' || true
    "$dir/bin/python" -c "import airflow_provider_databand_dbt" # fail loudly if the install did not work
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

step "core without Airflow (.venv-core)"
make_venv .venv-core "test"
if .venv-core/bin/python -c "import airflow" 2>/dev/null; then
    echo "Airflow is importable in .venv-core: the core-only check would prove nothing" >&2
    exit 1
fi
.venv-core/bin/python -m pytest -q -p no:cacheprovider -m "not airflow and not browser" \
    tests/dbt_cloud tests/collector tests/tracking tests/cli tests/monitor
