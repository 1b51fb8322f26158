# What each test venv installs; sourced by scripts/test.sh and scripts/update_constraints.sh.
# Each venv installs this package with VENV_EXTRAS plus VENV_REQUIREMENTS, pinned by
# constraints/<name>-py<X.Y>.txt.
# shellcheck shell=bash disable=SC2034  # the arrays are read by the scripts that source this file
declare -A VENV_DIR=([airflow3]=.venv [core]=.venv-core [airflow2]=.venv-airflow2)
# [test] = the test tools + every extra but Airflow; the core venv gets the tools only ([test-tools]), so it is
# exactly what `pip install airflow-provider-databand-dbt` gives a user, and proves the core needs no extra.
declare -A VENV_EXTRAS=([airflow3]="all,test" [core]="test-tools" [airflow2]="airflow,test")
# Airflow 2.11 is the dbt Cloud provider's minimum; its SQLAlchemy 1.4 has no psycopg 3 dialect, hence psycopg2.
declare -A VENV_REQUIREMENTS=(
    [airflow3]=""
    [core]=""
    [airflow2]="apache-airflow==2.11.* apache-airflow-providers-dbt-cloud==4.11.* psycopg2-binary>=2.9"
)

python_version() {  # python_version PYTHON: "3.11"
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'
}

constraints_file() {  # constraints_file NAME PYTHON: the pins of venv NAME for that Python
    echo "constraints/$1-py$(python_version "$2").txt"
}

pip_quiet() {  # pip_quiet PYTHON ARGS...: pip install, quiet; a failed install still fails
    "$1" -m pip install -q "${@:2}" 2>&1 | { grep -v '^WARNING: Location' || true; }
    return "${PIPESTATUS[0]}"
}
